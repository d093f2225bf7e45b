/** Entry file of a Web Worker in a DecoderPool (started by createWebPool as a module worker). */
// The embedded wasm builds, as `edgevae` registers them: a worker loads them unless given LoadOptions.wasm.
import '../runtime/embedded.ts';
import { serveDecoder } from '../runtime/pool-worker.ts';
import type { PoolReply, PoolRequest } from '../runtime/pool-protocol.ts';

/** The parts of DedicatedWorkerGlobalScope used here (the DOM library types `self` as a Window). */
interface WorkerScope {
  postMessage(message: PoolReply, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<PoolRequest>) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
serveDecoder({
  post: (reply, transfer) => scope.postMessage(reply, transfer),
  receive: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
});
