/** DecoderPool on Node's worker_threads: one worker thread per share of a batch. */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { DecoderPool, type PoolOptions, type WorkerEndpoint } from '../runtime/pool.ts';
import { startModuleWorker } from './module-worker.ts';

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
 * A thread running the pool worker (pool-worker beside this file). For DecoderPool.start with a
 * spawn function of one's own, e.g. to watch the threads.
 */
export function startPoolWorkerThread(): Worker {
  return startModuleWorker(import.meta.url, './pool-worker');
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
