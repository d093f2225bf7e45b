// 2-D convolution and transposed convolution on NHWC activations, lowered to the GEMM kernels: a tile
// of output pixels at a time is gathered into im2col rows (see im2col.ts) and multiplied by the packed
// kernel, whose k order is the rows' (tap, then input channel). Output pixels of a batch are one
// flattened index space, so tiles run across sample boundaries and small images fill whole tiles.
import { dense, denseScratchBytes, TILE_ROWS, WEIGHTS_I8 } from './dense';
import { convI8, convI8ScratchBytes } from './conv-i8';
import { im2col } from './im2col';

/**
 * x: [batch, H, W, C] -> y: [batch, OH, OW, OC]; kernel kh x kw, strides sh, sw; padTop/padLeft is
 * the padding before the first row/column (TensorFlow.js "same" puts any odd pixel after).
 * Returns false for an unknown weight type.
 */
export function conv(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): bool {
  if (weights == WEIGHTS_I8) {
    convI8(x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed, w, bias, scale, scratch, act, alpha);
    return true;
  }
  const K = kh * kw * C;
  const pixels = batch * OH * OW;
  const rowsScratch = scratch + columnBytes(K);
  for (let first = 0; first < pixels; first += TILE_ROWS) {
    const count = min(TILE_ROWS, pixels - first);
    im2col(x, scratch, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed);
    if (!dense(weights, scratch, y + (<usize>first * <usize>OC << 2), count, K, OC, w, bias, scale, rowsScratch, act, alpha)) return false;
  }
  return true;
}

/** Bytes of one tile of im2col rows, 16-aligned. */
// @ts-ignore: decorator
@inline
function columnBytes(K: i32): usize {
  return ((<usize>TILE_ROWS * <usize>K << 2) + 15) & ~15;
}

/** Scratch bytes `conv` needs for a layer of this geometry. The host sizes scratch with it (src/runtime/plan.ts). */
export function convScratchBytes(weights: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, kh: i32, kw: i32): usize {
  if (weights == WEIGHTS_I8) return convI8ScratchBytes(kh * kw * C, H, W, C, OH, OW);
  return floatConvScratchBytes(weights, kh * kw * C);
}

/** Scratch bytes of `conv` with f32 or f16 weights, for K = kh*kw*C (all the training kernels use). */
export function floatConvScratchBytes(weights: i32, K: i32): usize {
  return columnBytes(K) + denseScratchBytes(weights, K);
}
