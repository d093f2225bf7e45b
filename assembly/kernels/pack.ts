// Weight packing, done once at load time: from TensorFlow.js layouts to the panels of 8 output
// columns the GEMM kernels stream through. Columns past the last output channel are zero.
//
// Every weighted layer is a matrix W[K, N] to the kernels: a dense kernel directly; a conv2d kernel
// [kh, kw, C, OC] is the same bytes with K = kh*kw*C (the im2col row order); a conv2dTranspose
// kernel [kh, kw, OC, C] needs its last two axes swapped on the way.
//
// A group of a grouped conv (conv-general.ts) is such a matrix cut out of the whole kernel: its
// columns out of rows OC long (conv2d [kh, kw, C/G, OC]), or its channels out of rows C long
// (conv2dTranspose [kh, kw, OC/G, C]). `stride` is that row length: N, or `channels`, when the
// matrix is the whole kernel.

/**
 * Index into the source tensor of element (k, n) of the K x N matrix. `channels` = the input
 * channels of a transposed conv (its k is tap * channels + c), else 0; `stride`: see above.
 */
// @ts-ignore: decorator
@inline
function sourceIndex(k: i32, n: i32, N: i32, channels: i32, stride: i32): i32 {
  if (channels == 0) return k * stride + n;
  const tap = k / channels, c = k % channels;
  return (tap * N + n) * stride + c;
}

/** The row length of the whole kernel, when the K x N matrix is all of it. */
// @ts-ignore: decorator
@inline
export function wholeStride(N: i32, channels: i32): i32 {
  return channels == 0 ? N : channels;
}

/** f32 or f16 (as u16 bits) -> [panel][k][8]. */
export function packPanels<T>(src: usize, dst: usize, K: i32, N: i32, channels: i32): void {
  packPanelsStrided<T>(src, dst, K, N, channels, wholeStride(N, channels));
}

/** packPanels of a matrix whose source rows are `stride` long (a group of a grouped conv's kernel). */
export function packPanelsStrided<T>(src: usize, dst: usize, K: i32, N: i32, channels: i32, stride: i32): void {
  let out = dst;
  for (let col = 0; col < N; col += 8) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8; j++) {
        const n = col + j;
        store<T>(out, n < N ? load<T>(src + (<usize>sourceIndex(k, n, N, channels, stride) << alignof<T>())) : <T>0);
        out += sizeof<T>();
      }
    }
  }
}

/** Bytes of one packed int8 panel row pair: 8 columns x (k, k+1) (see packPairsI8). */
export const I8_PANEL_PAIR: usize = 16;

/**
 * Pairs of k per int8 panel: K rounded up to a multiple of 4 (zeros past K), so the relaxed path
 * (gemm-i8-relaxed.ts) reads whole quads. Keep in step with src/runtime/plan.ts.
 */
// @ts-ignore: decorator
@inline
export function i8PanelPairs(K: i32): i32 {
  return ((K + 3) & ~3) >> 1;
}

/**
 * int8 -> [panel][k pair][8 i16 lanes], 16 bytes a pair: lane 2c + j holds the weight of k + j in
 * column c (0-3) as its high byte and the weight of k + j in column 4 + c, plus 128, as its low byte.
 * Read as i16 (no widening), a lane is 256 * hi + lo + 128: i16x8.shr_s by 8 gives columns 0-3
 * ready for i32x4.dot_i16x8_s, and the dot product of the whole lanes gives columns 4-7 once
 * 256 times the first and 128 times the activations' sum are taken off (gemm-i8.ts).
 */
export function packPairsI8(src: usize, dst: usize, K: i32, N: i32, channels: i32): void {
  packPairsI8Strided(src, dst, K, N, channels, wholeStride(N, channels));
}

/** packPairsI8 of a matrix whose source rows are `stride` long (a group of a grouped conv's kernel). */
export function packPairsI8Strided(src: usize, dst: usize, K: i32, N: i32, channels: i32, stride: i32): void {
  let out = dst;
  const paddedK = i8PanelPairs(K) << 1;
  for (let col = 0; col < N; col += 8) {
    for (let k = 0; k < paddedK; k += 2) {
      for (let lane = 0; lane < 8; lane++) {
        const kj = k + (lane & 1), c = col + (lane >> 1);
        store<u8>(out, <u8>(i8At(src, kj, c + 4, K, N, channels, stride) + 128));
        store<i8>(out + 1, i8At(src, kj, c, K, N, channels, stride));
        out += 2;
      }
    }
  }
}

/** Weight (k, n) of the int8 source, zero past K or N (the panels' padding). */
// @ts-ignore: decorator
@inline
function i8At(src: usize, k: i32, n: i32, K: i32, N: i32, channels: i32, stride: i32): i8 {
  return n < N && k < K ? load<i8>(src + <usize>sourceIndex(k, n, N, channels, stride)) : 0;
}

/** Copies n floats and zero-fills up to the next multiple of 8 (biases and scales of a panel). */
export function padVector(src: usize, dst: usize, n: i32): void {
  const padded = (n + 7) & ~7;
  memory.copy(dst, src, <usize>n << 2);
  memory.fill(dst + (<usize>n << 2), 0, <usize>(padded - n) << 2);
}
