/** Threads for one decode on Node: worker_threads running serveThread (src/runtime/threads.ts). */
import { readFile } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { RuntimeError } from '../errors.ts';
import { stopThreads, type ThreadGroup, type ThreadHost } from '../runtime/threads.ts';
import { startModuleWorker } from './module-worker.ts';

/** The threads build ships beside the plain builds; the same path from src/node and dist/node. */
const THREADS_WASM = new URL('../../build/edgevae-threads.wasm', import.meta.url);

export const nodeThreadHost: ThreadHost = {
  async wasm() {
    try {
      return await readFile(THREADS_WASM);
    } catch (err) {
      throw new RuntimeError(`cannot read the threads build ${THREADS_WASM.pathname} (run \`npm run build:wasm\` in a clone): ${(err as Error).message}`, { cause: err });
    }
  },

  async start(module, memory, sync, count) {
    const workers: Worker[] = [];
    const group: ThreadGroup = {
      async close() {
        stopThreads(memory, sync);
        await Promise.all(workers.map((worker) => worker.terminate()));
      },
    };
    try {
      for (let thread = 1; thread <= count; thread++) {
        const worker = startModuleWorker(import.meta.url, './thread-worker', { workerData: { module, memory, sync, thread } });
        workers.push(worker);
        // Blocked in Atomics.wait between decodes, a helper must not keep Node running on its own.
        worker.unref();
      }
      await Promise.all(workers.map((worker, i) => ready(worker, i + 1)));
    } catch (err) {
      await group.close();
      throw err;
    }
    return group;
  },
};

/** Resolves on the thread's 'ready', rejects, naming the thread, if it fails or exits first. */
function ready(worker: Worker, thread: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new RuntimeError(`decode thread ${thread} did not start: ${why}`));
    worker.once('message', (message) => (message === 'ready' ? resolve() : fail(String(message))));
    worker.once('error', (error) => fail(`${error.name}: ${error.message}`));
    worker.once('exit', (code) => fail(`it exited with code ${code}`));
  });
}
