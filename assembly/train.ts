// The training module's exports: TensorFlow.js kernels (matrix products in every transpose
// combination, 2-d convolution and both of its gradients) on the runtime's f32 GEMM microkernel, and
// the optimizer's update fused into one pass (kernels/adam.ts).
//
// Unlike the runtime (index.ts), this module owns no memory: it imports tfjs-backend-wasm's, so it
// reads tensors where that backend keeps them and writes its outputs there, with no copies. For
// that it must not contain data segments (they would land on the backend's static data);
// scripts/embed-wasm.mjs refuses a build that has any. Operands, outputs and scratch are the host's
// allocations (src/train/edgevae-backend.ts); nothing here allocates.
import { conv, floatConvScratchBytes } from './kernels/conv';
import { dense, denseScratchBytes, WEIGHTS_F32 } from './kernels/dense';
import { padVector } from './kernels/pack';
import { aligned16, packColumnsF32, packRowsF32, panelBytes, panelVectorBytes } from './kernels/pack-f32';
import { transposeF32 } from './kernels/transpose';

export { convFilterGradient, convFilterGradientScratchBytes } from './kernels/conv-filter-gradient';
export { transposeF32 } from './kernels/transpose';
export { packColumnsF32, packRowsF32 } from './kernels/pack-f32';
export { adamUpdate } from './kernels/adam';
export { dropoutMask } from './kernels/dropout';
export { convBackpropInput, convBackpropInputScratchBytes } from './kernels/conv-backprop-input';

/** True in the relaxed-SIMD build (fused multiply-add), false in the strict one. */
export function relaxedSimd(): bool {
  return ASC_FEATURE_RELAXED_SIMD;
}

/**
 * y[M, N] = act(op(a) . op(b) + bias), op transposing when asked: a is [M, K] or, transposed,
 * [K, M]; b is [K, N] or, transposed, [N, K]. `bias` is N floats or 0 for none. `scratch` holds
 * matMulScratchBytes(M, K, N, transposeA) bytes.
 */
export function matMul(
  a: usize, b: usize, bias: usize, y: usize, M: i32, K: i32, N: i32,
  transposeA: bool, transposeB: bool, act: i32, alpha: f32, scratch: usize,
): void {
  let rows = a;
  let next = scratch;
  if (transposeA) {
    transposeF32(a, next, K, M);
    rows = next;
    next += aligned16(<usize>M * <usize>K << 2);
  }
  const packed = next;
  if (transposeB) packColumnsF32(b, packed, K, N);
  else packRowsF32(b, packed, K, N, N);
  next += panelBytes(K, N);
  const padded = paddedBias(bias, next, N);
  dense(WEIGHTS_F32, rows, y, M, K, N, packed, padded, 0, padded + panelVectorBytes(N), act, alpha);
}

export function matMulScratchBytes(M: i32, K: i32, N: i32, transposeA: bool): usize {
  return (transposeA ? aligned16(<usize>M * <usize>K << 2) : 0) + panelBytes(K, N) + panelVectorBytes(N) + denseScratchBytes(WEIGHTS_F32, K);
}

/**
 * Conv2D (with FusedConv2D's bias and activation): x [batch, H, W, C] with filter [kh, kw, C, OC]
 * -> y [batch, OH, OW, OC]. `scratch` holds conv2dScratchBytes(kh * kw * C, OC) bytes.
 */
export function conv2d(
  x: usize, filter: usize, bias: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, act: i32, alpha: f32, scratch: usize,
): void {
  const K = kh * kw * C;
  const packed = scratch;
  packRowsF32(filter, packed, K, OC, OC);
  const padded = paddedBias(bias, packed + panelBytes(K, OC), OC);
  conv(WEIGHTS_F32, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, false, packed, padded, 0, padded + panelVectorBytes(OC), act, alpha);
}

/** Scratch bytes of conv2d, for K = kh*kw*(input channels) and N output channels. */
export function conv2dScratchBytes(K: i32, N: i32): usize {
  return panelBytes(K, N) + panelVectorBytes(N) + floatConvScratchBytes(WEIGHTS_F32, K);
}

/** The bias padded to whole panels at `dst` (zeros when there is none); returns dst. */
function paddedBias(bias: usize, dst: usize, N: i32): usize {
  if (bias) padVector(bias, dst, N);
  else memory.fill(dst, 0, panelVectorBytes(N));
  return dst;
}
