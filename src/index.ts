/** edgevae: sample generative decoders at the edge. The runtime entry point (no Node-only imports). */
export { Decoder, type DecoderInfo, type LoadOptions, type SampleOptions, type TraverseOptions } from './runtime/decoder.ts';
export { toImageGrid, imageShape, type ImageGrid, type GridOptions } from './runtime/image.ts';
export type { WasmSource } from './runtime/wasm.ts';
export { DecoderPool, DEFAULT_MIN_SHARE_MACS, type PoolOptions, type WorkerEndpoint } from './runtime/pool.ts';
export { serveDecoder, type PoolWorkerScope } from './runtime/pool-worker.ts';
export type { PoolRequest, PoolReply } from './runtime/pool-protocol.ts';
export { EdgeVaeError, FormatError, InputError, UnsupportedError, RuntimeError, type ErrorCode } from './errors.ts';
export { readModel, type ParsedModel } from './format/read.ts';
export type { ModelMeta, ModelHeader, LayerSpec, DType, ActivationName } from './format/spec.ts';
