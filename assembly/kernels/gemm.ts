// The f32 GEMM microkernel every f32 (and widened f16) layer runs on: Y = act(X . W + bias), where W
// is packed in panels of 8 output columns, [panel][k][8] (see pack.ts). Dense layers call it on their
// activations; convolutions call it on im2col tiles.
//
// Each output element is accumulated in the same order (k = 0..K-1, from zero) whether its row is
// computed in a block of four or alone, so a sample's result never depends on the batch it was
// decoded in.
import { madd, splatF32 } from './simd';
import { finishLanes, storePanel } from './store';

/** Rows computed together: four rows share each weight load (8 accumulators, 2 weight registers). */
const ROW_BLOCK: i32 = 4;
/** Bytes of one packed f32 panel row. */
export const F32_PANEL_ROW: usize = 32;

/** All panels of a packed f32 weight matrix: y[rows, N] from x[rows, K]. Strides in bytes. */
export function gemmF32(
  x: usize, xStride: usize, rows: i32, K: i32, N: i32,
  w: usize, bias: usize, y: usize, yStride: usize, act: i32, alpha: f32,
): void {
  const panelBytes = <usize>K * F32_PANEL_ROW;
  for (let col = 0; col < N; col += 8) {
    const p = <usize>(col >> 3);
    gemmPanelF32(x, xStride, rows, K, w + p * panelBytes, bias + (<usize>col << 2), y + (<usize>col << 2), yStride, min(8, N - col), act, alpha);
  }
}

/** One panel: 8 output columns (the first `count` stored) for every row. */
export function gemmPanelF32(
  x: usize, xStride: usize, rows: i32, K: i32,
  wp: usize, bias: usize, y: usize, yStride: usize, count: i32, act: i32, alpha: f32,
): void {
  const bl = v128.load(bias), bh = v128.load(bias, 16);
  let r = 0;
  for (; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
    block4(x + <usize>r * xStride, xStride, K, wp, bl, bh, y + <usize>r * yStride, yStride, count, act, alpha);
  }
  for (; r < rows; r++) {
    row1(x + <usize>r * xStride, K, wp, bl, bh, y + <usize>r * yStride, count, act, alpha);
  }
}

// @ts-ignore: decorator
@inline
function block4(
  x: usize, xStride: usize, K: i32, wp: usize, bl: v128, bh: v128,
  y: usize, yStride: usize, count: i32, act: i32, alpha: f32,
): void {
  let a0l = f32x4.splat(0), a0h = f32x4.splat(0), a1l = f32x4.splat(0), a1h = f32x4.splat(0);
  let a2l = f32x4.splat(0), a2h = f32x4.splat(0), a3l = f32x4.splat(0), a3h = f32x4.splat(0);
  const x1 = x + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
  const end = x + (<usize>K << 2);
  let wk = wp;
  for (let off: usize = 0; x + off < end; off += 4) {
    const lo = v128.load(wk), hi = v128.load(wk, 16);
    const v0 = splatF32(x + off), v1 = splatF32(x1 + off), v2 = splatF32(x2 + off), v3 = splatF32(x3 + off);
    a0l = madd(v0, lo, a0l); a0h = madd(v0, hi, a0h);
    a1l = madd(v1, lo, a1l); a1h = madd(v1, hi, a1h);
    a2l = madd(v2, lo, a2l); a2h = madd(v2, hi, a2h);
    a3l = madd(v3, lo, a3l); a3h = madd(v3, hi, a3h);
    wk += F32_PANEL_ROW;
  }
  storePanel(y, finishLanes(a0l, bl, act, alpha), finishLanes(a0h, bh, act, alpha), count);
  storePanel(y + yStride, finishLanes(a1l, bl, act, alpha), finishLanes(a1h, bh, act, alpha), count);
  storePanel(y + 2 * yStride, finishLanes(a2l, bl, act, alpha), finishLanes(a2h, bh, act, alpha), count);
  storePanel(y + 3 * yStride, finishLanes(a3l, bl, act, alpha), finishLanes(a3h, bh, act, alpha), count);
}

// @ts-ignore: decorator
@inline
function row1(x: usize, K: i32, wp: usize, bl: v128, bh: v128, y: usize, count: i32, act: i32, alpha: f32): void {
  let al = f32x4.splat(0), ah = f32x4.splat(0);
  let wk = wp;
  const end = x + (<usize>K << 2);
  for (let xp = x; xp < end; xp += 4) {
    const v = splatF32(xp);
    al = madd(v, v128.load(wk), al);
    ah = madd(v, v128.load(wk, 16), ah);
    wk += F32_PANEL_ROW;
  }
  storePanel(y, finishLanes(al, bl, act, alpha), finishLanes(ah, bh, act, alpha), count);
}
