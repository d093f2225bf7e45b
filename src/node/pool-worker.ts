/** Entry file of a Node pool worker thread (started by createNodePool). */
import { parentPort } from 'node:worker_threads';
// The embedded wasm builds, as `edgevae` registers them: a worker loads them unless given LoadOptions.wasm.
import '../runtime/embedded.ts';
import { serveDecoder } from '../runtime/pool-worker.ts';

const port = parentPort;
if (!port) throw new Error('edgevae pool-worker is the entry file of a worker thread started by createNodePool, not a script to run');
serveDecoder({
  post: (reply, transfer) => port.postMessage(reply, transfer),
  receive: (handler) => port.on('message', handler),
});
