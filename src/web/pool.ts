/**
 * DecoderPool on Web Workers (module workers), for browsers and Deno. The logic is the shared core
 * in src/runtime/pool.ts, which the Node tests exercise; this file only makes the workers.
 */
import { DecoderPool, type PoolOptions, type WorkerEndpoint } from '../runtime/pool.ts';

export interface WebPoolOptions extends Omit<PoolOptions, 'threads'> {
  /** Workers, each with its own copy of the model. Default: navigator.hardwareConcurrency. */
  threads?: number;
  /**
   * Where the worker script is served, when the bundler or CDN moves it away from this module (by
   * default pool-worker.js beside this file, as in the package's dist/web/ and dist/browser/). A
   * relative URL is resolved against the page, as `new Worker` does.
   */
  workerUrl?: string | URL;
}

export function createWebPool(model: Uint8Array | ArrayBuffer, options: WebPoolOptions = {}): Promise<DecoderPool> {
  const { threads = globalThis.navigator?.hardwareConcurrency ?? 1, workerUrl, ...rest } = options;
  // `new Worker(new URL('./…', import.meta.url), …)`, written out whole, is the pattern bundlers
  // (webpack 5, Vite, Parcel) recognise and bundle the worker for; a URL made apart from the Worker
  // is copied as a plain file, without the modules it imports. Unbundled, it is the file beside this one.
  const start = workerUrl === undefined
    ? () => new Worker(new URL('./pool-worker.js', import.meta.url), { type: 'module' })
    : () => new Worker(workerUrl, { type: 'module' });
  return DecoderPool.start(model, { ...rest, threads }, () => webWorkerEndpoint(start()));
}

/** A Web Worker as the pool sees it. */
export function webWorkerEndpoint(worker: Worker): WorkerEndpoint {
  return {
    send: (request, transfer) => worker.postMessage(request, transfer),
    listen(onReply, onFailure) {
      worker.addEventListener('message', (event) => onReply(event.data));
      // The worker answers every request, errors included; an uncaught error means it is broken
      // (or its script failed to load), and browsers give no other sign of a dead worker.
      worker.addEventListener('error', (event) => {
        event.preventDefault();
        onFailure(`failed: ${event.message || 'its script could not be loaded or threw'}`);
      });
      worker.addEventListener('messageerror', () => onFailure('sent a message that could not be read'));
    },
    terminate: () => worker.terminate(),
  };
}
