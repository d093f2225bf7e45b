/** edgevae: sample generative decoders at the edge. The runtime entry point (no Node-only imports), with both wasm builds embedded. */
import './runtime/embedded.ts';

export * from './core.ts';
export { relaxedSimdSupported } from './runtime/wasm.ts';
// Worker pools: the transport-agnostic core, for transports of one's own (edgevae/node and edgevae/web hold the usual two).
export { DecoderPool, DEFAULT_MIN_SHARE_MACS, type PoolOptions, type WorkerEndpoint } from './runtime/pool.ts';
export { serveDecoder, type PoolWorkerScope } from './runtime/pool-worker.ts';
export type { PoolRequest, PoolReply } from './runtime/pool-protocol.ts';
