/** edgevae: sample generative decoders at the edge. The runtime entry point (no Node-only imports), with both wasm builds embedded. */
import './runtime/embedded.ts';

export * from './core.ts';
export { relaxedSimdSupported } from './runtime/wasm.ts';
