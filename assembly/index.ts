// The wasm module's exports: the executor, load-time packing, scratch sizing, the latent sampler, and
// the kernels on their own so tests can hold each against a scalar reference. All pointers are into
// this module's memory, laid out by the host (src/runtime/); nothing here allocates.
import { packPairsI8, packPanels } from './kernels/pack';
import { ABI_VERSION, RECORD_WORDS } from '../src/runtime/abi';

export { run, failedRecord } from './executor';
export { fillNormal, fillUniform } from './random';
export { concatChannels, concatLabel } from './kernels/concat';
export { activate, activateInPlaceAny as activateInPlace } from './kernels/activation-extra';
export { binary } from './kernels/binary';
export { channelAffine } from './kernels/affine';
export { gatherSamples } from './kernels/gather';
export { padVector } from './kernels/pack';
export { dense, denseScratchBytes } from './kernels/dense';
export {
  conv, convScratchBytes, convGeneral, convGeneralScratchBytes, convKernelBytes, packConvKernel, convVectorBytes, packConvVector,
  convGroups, convGroupsScratchBytes, convGroupsKernelBytes, packConvKernelGroups,
} from './kernels/conv';
export { usesPhases } from './kernels/conv-phases';
export { usesDirectConv } from './kernels/conv-direct';
export { usesWinograd } from './kernels/conv-winograd';
export { gemmF32, gemmF32ScratchBytes } from './kernels/gemm';
export { gemmI8, packedQuantizedRowsBytes, quantizeRows, relaxedDotEnabled, relaxedDotSelfTest, setRelaxedDot } from './kernels/gemm-i8';
export { widenF16 } from './kernels/f16';
export { im2col, im2colI16, im2colGeneral, im2colI16General } from './kernels/im2col';
export { resizeNearest, resizeBilinear } from './kernels/resize';
export { groupNorm, groupNormScratchBytes, layerNormChannels } from './kernels/norm';
export { depthToSpace } from './kernels/depth-to-space';

/** The version of src/runtime/abi.ts this module was built from; the host refuses another. */
export function abiVersion(): i32 {
  return ABI_VERSION;
}

/** i32 words per op record (src/runtime/abi.ts), checked by the host with the version. */
export function recordWords(): i32 {
  return RECORD_WORDS;
}

/** First free byte after the module's static data; the host lays out memory from here. */
export function heapBase(): usize {
  return __heap_base;
}

/** True in the relaxed-SIMD build (fused multiply-add), false in the strict one. */
export function relaxedSimd(): bool {
  return ASC_FEATURE_RELAXED_SIMD;
}

/** Packs W[K, N] into 8-column panels; `channels` is C for a conv2dTranspose kernel, else 0. */
export function packPanelsF32(src: usize, dst: usize, K: i32, N: i32, channels: i32): void {
  packPanels<f32>(src, dst, K, N, channels);
}
export function packPanelsF16(src: usize, dst: usize, K: i32, N: i32, channels: i32): void {
  packPanels<u16>(src, dst, K, N, channels);
}
export function packPairsI8Panels(src: usize, dst: usize, K: i32, N: i32, channels: i32): void {
  packPairsI8(src, dst, K, N, channels);
}
