/** DecoderPool on Node's worker_threads: one worker thread per share of a batch. */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DecoderPool, type PoolOptions, type WorkerEndpoint } from '../runtime/pool.ts';

export interface NodePoolOptions extends Omit<PoolOptions, 'threads'> {
  /** Worker threads, each with its own copy of the model. Default: os.availableParallelism(). */
  threads?: number;
}

/** Starts the worker threads and loads the model in each; close() ends them. */
export function createNodePool(model: Uint8Array | ArrayBuffer, options: NodePoolOptions = {}): Promise<DecoderPool> {
  const { threads = availableParallelism(), ...rest } = options;
  return DecoderPool.start(model, { ...rest, threads }, () => nodeWorkerEndpoint(startPoolWorkerThread()));
}

/**
 * A thread running the pool worker (pool-worker beside this file: the .js once built, the .ts when run
 * from source). For DecoderPool.start with a spawn function of one's own, e.g. to watch the threads.
 */
export function startPoolWorkerThread(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = JSON.stringify(new URL(fromSource ? './pool-worker.ts' : './pool-worker.js', import.meta.url).href);
  // Started from a line of code rather than the file: the thread inherits the parent's Node options
  // (V8 flags such as --experimental-wasm-relaxed-simd included), and `--input-type`, which
  // `node --input-type=module -e` sets, is refused for a file but fine for code.
  // From source (tests, benchmarks) on Node 20, tsx hooks only the main thread, so the thread
  // registers it itself; without tsx, a runtime that strips types may still run the .ts.
  const tsxApi = fromSource ? resolveOrNull('tsx/esm/api') : null;
  const bootstrap = tsxApi ? `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${entry}); });` : `import(${entry});`;
  return new Worker(bootstrap, { eval: true });
}

function resolveOrNull(specifier: string): string | null {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return null;
  }
}

/** A worker thread as the pool sees it. */
export function nodeWorkerEndpoint(worker: Worker): WorkerEndpoint {
  return {
    send: (request, transfer) => worker.postMessage(request, transfer),
    listen(onReply, onFailure) {
      worker.on('message', onReply);
      worker.on('error', (error) => onFailure(`threw ${error.name}: ${error.message}`));
      worker.on('messageerror', (error) => onFailure(`sent a message that could not be read: ${error.message}`));
      worker.on('exit', (code) => onFailure(`exited with code ${code}`));
    },
    // An idle pool does not keep Node running on its own; close() is still what frees the threads.
    setIdle: (idle) => (idle ? worker.unref() : worker.ref()),
    terminate: () => worker.terminate(),
  };
}
