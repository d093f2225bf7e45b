/**
 * edgevae/core: the runtime API without the embedded wasm copies, for bundles that must stay small
 * and load the wasm as a module of their own (Cloudflare Workers: `import wasm from 'edgevae/wasm'`,
 * then `Decoder.load(model, { wasm })`). Everything else is the same as `edgevae`.
 */
export { Decoder, PRIOR_CHOICES, type DecodeOptions, type DecoderInfo, type FromUrlOptions, type LoadOptions, type PriorChoice, type SampleOptions, type TraverseOptions } from './runtime/decoder.ts';
export { LATENT_LAYOUTS, toChannelsFirst, toChannelsLast, type LatentLayout } from './runtime/layout.ts';
export { toImageGrid, imageShape, type ImageGrid, type GridOptions } from './runtime/image.ts';
export { encodePng } from './runtime/png.ts';
export type { WasmSource, SimdMode } from './runtime/wasm.ts';
export { EdgeVaeError, FormatError, InputError, UnsupportedError, RuntimeError, type ErrorCode } from './errors.ts';
export { readModel, type ParsedModel } from './format/read.ts';
export type { ModelMeta, ModelHeader, LayerSpec, DType, ActivationName, MixturePrior } from './format/spec.ts';
