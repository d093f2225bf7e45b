// A weighted layer as a matrix product, for each stored weight type: y[rows, N] = act(x[rows, K] . W
// + bias). Rows go through in tiles of TILE_ROWS so the scratch space (quantized rows, a widened f16
// panel) does not grow with the batch, and a tile of activations stays in cache while the weights
// stream past it. Dense layers call this on their activations, convolutions on im2col tiles.
import { gemmF32, gemmF32ScratchBytes, gemmPanelF32, packedRowsBytes, packRows, rowListsOf, F32_PANEL_ROW } from './gemm';
import { gemmI8, packedQuantizedRowsBytes, quantizedRowLength, quantizeRows } from './gemm-i8';
import { widenF16 } from './f16';

import { Weights } from '../../src/runtime/abi';

// Stored weight types (src/runtime/abi.ts).
export const WEIGHTS_F32: i32 = Weights.F32;
export const WEIGHTS_F16: i32 = Weights.F16;
export const WEIGHTS_I8: i32 = Weights.I8;
/** Rows per tile. Keep in step with src/runtime/plan.ts (scratch sizing). */
export const TILE_ROWS: i32 = 64;

/** Returns false for an unknown weight type. `scratch` holds scratchBytes(K) of the host's sizing. */
export function dense(
  weights: i32, x: usize, y: usize, rows: i32, K: i32, N: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): bool {
  if (weights != WEIGHTS_F32 && weights != WEIGHTS_F16 && weights != WEIGHTS_I8) return false;
  const xStride = <usize>K << 2, yStride = <usize>N << 2;
  for (let r = 0; r < rows; r += TILE_ROWS) {
    const tile = min(TILE_ROWS, rows - r);
    denseTile(weights, x + <usize>r * xStride, xStride, tile, K, N, w, bias, scale, y + <usize>r * yStride, yStride, scratch, act, alpha);
  }
  return true;
}

/**
 * One tile of `dense` (rows <= TILE_ROWS), with strides in bytes: a grouped conv writes each group's
 * columns into rows of all the output channels. `weights` is one of the three known types.
 */
export function denseTile(
  weights: i32, x: usize, xStride: usize, rows: i32, K: i32, N: i32,
  w: usize, bias: usize, scale: usize, y: usize, yStride: usize, scratch: usize, act: i32, alpha: f32,
): void {
  if (weights == WEIGHTS_F32) gemmF32(x, xStride, rows, K, N, w, bias, y, yStride, act, alpha, scratch);
  else if (weights == WEIGHTS_F16) gemmF16(x, xStride, rows, K, N, w, bias, scratch, y, yStride, act, alpha);
  else {
    // Scratch: [quantized tile][row scales][the tile's rows packed for gemmI8].
    const qStride = <usize>quantizedRowLength(K) << 1;
    const rowScales = scratch + quantizedTileBytes(K);
    quantizeRows(x, xStride, rows, K, scratch, rowScales);
    gemmI8(scratch, qStride, rowScales, rows, K, N, w, scale, bias, y, yStride, act, alpha, rowScales + (<usize>TILE_ROWS << 2));
  }
}

/** f16 panels ([panel][k][8] halves) widened one at a time into scratch, then the f32 kernel. */
function gemmF16(
  x: usize, xStride: usize, rows: i32, K: i32, N: i32,
  w: usize, bias: usize, scratch: usize, y: usize, yStride: usize, act: i32, alpha: f32,
): void {
  const packed = scratch + (<usize>K * F32_PANEL_ROW);
  packRows(x, xStride, rows, K, packed);
  const lists = rowListsOf(packed, rows, K);
  const halfPanelBytes = <usize>K << 4;
  for (let col = 0; col < N; col += 8) {
    widenF16(w + <usize>(col >> 3) * halfPanelBytes, scratch, K << 3);
    gemmPanelF32(x, xStride, rows, K, packed, lists, scratch, bias + (<usize>col << 2), y + (<usize>col << 2), yStride, min(8, N - col), act, alpha);
  }
}

/** Scratch bytes `dense` needs for rows of K values. Keep in step with src/runtime/plan.ts. */
export function denseScratchBytes(weights: i32, K: i32): usize {
  if (weights == WEIGHTS_F32) return gemmF32ScratchBytes(TILE_ROWS, K);
  if (weights == WEIGHTS_F16) return <usize>K * F32_PANEL_ROW + packedRowsBytes(TILE_ROWS, K);
  return quantizedTileBytes(K) + (<usize>TILE_ROWS << 2) + packedQuantizedRowsBytes(TILE_ROWS, K);
}

/** A tile of quantized rows, 16-aligned. */
// @ts-ignore: decorator
@inline
function quantizedTileBytes(K: i32): usize {
  return (<usize>quantizedRowLength(K) * TILE_ROWS * 2 + 15) & ~15;
}
