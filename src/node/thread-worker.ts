/** A helper thread of one shared decode (src/node/threads.ts): serves jobs until the decoder closes. */
import { parentPort, workerData } from 'node:worker_threads';
import { serveThread } from '../runtime/threads.ts';

const { module, memory, sync, thread } = workerData as { module: WebAssembly.Module; memory: WebAssembly.Memory; sync: number; thread: number };
serveThread(module, memory, sync, thread, () => parentPort!.postMessage('ready')).then(
  () => process.exit(0),
  (error: Error) => {
    parentPort!.postMessage(`${error.name}: ${error.message}`);
    process.exit(1);
  },
);
