// Dense layer: Y[rows, N] = act(X[rows, K] . W[K, N] * scale + bias), with W packed in panels of 8
// output columns (see packDense). Each output element is accumulated in the same order (k = 0..K-1,
// starting from zero) whether its row is computed in a block of four or alone, so a sample's result
// never depends on the batch it was decoded in.
import { finishLanes, storePanel } from './store';
import { loadHi, loadLo, panelRowBytes } from './weights';

/** Rows computed together: four rows share each panel load. */
const ROW_BLOCK: i32 = 4;

export function dense<W>(
  x: usize, y: usize, rows: i32, K: i32, N: i32,
  w: usize, bias: usize, scale: usize, act: i32, alpha: f32,
): void {
  const panels = (N + 7) >> 3;
  const panelBytes = <usize>K * panelRowBytes<W>();
  const xStride = <usize>K << 2;
  const yStride = <usize>N << 2;
  for (let p = 0; p < panels; p++) {
    const wp = w + <usize>p * panelBytes;
    const col = p << 3;
    const count = min(8, N - col);
    let r = 0;
    for (; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
      denseBlock4<W>(x + <usize>r * xStride, xStride, y + <usize>r * yStride + (<usize>col << 2), yStride, K, wp, bias, scale, col, count, act, alpha);
    }
    for (; r < rows; r++) {
      denseRow<W>(x + <usize>r * xStride, y + <usize>r * yStride + (<usize>col << 2), K, wp, bias, scale, col, count, act, alpha);
    }
  }
}

// @ts-ignore: decorator
@inline
function denseBlock4<W>(
  x: usize, xStride: usize, y: usize, yStride: usize, K: i32, wp: usize,
  bias: usize, scale: usize, col: i32, count: i32, act: i32, alpha: f32,
): void {
  let a0l = f32x4.splat(0), a0h = f32x4.splat(0), a1l = f32x4.splat(0), a1h = f32x4.splat(0);
  let a2l = f32x4.splat(0), a2h = f32x4.splat(0), a3l = f32x4.splat(0), a3h = f32x4.splat(0);
  const x1 = x + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
  let wk = wp;
  for (let k = 0; k < K; k++) {
    const lo = loadLo<W>(wk), hi = loadHi<W>(wk);
    const off = <usize>k << 2;
    const v0 = f32x4.splat(load<f32>(x + off));
    const v1 = f32x4.splat(load<f32>(x1 + off));
    const v2 = f32x4.splat(load<f32>(x2 + off));
    const v3 = f32x4.splat(load<f32>(x3 + off));
    a0l = f32x4.add(a0l, f32x4.mul(v0, lo)); a0h = f32x4.add(a0h, f32x4.mul(v0, hi));
    a1l = f32x4.add(a1l, f32x4.mul(v1, lo)); a1h = f32x4.add(a1h, f32x4.mul(v1, hi));
    a2l = f32x4.add(a2l, f32x4.mul(v2, lo)); a2h = f32x4.add(a2h, f32x4.mul(v2, hi));
    a3l = f32x4.add(a3l, f32x4.mul(v3, lo)); a3h = f32x4.add(a3h, f32x4.mul(v3, hi));
    wk += panelRowBytes<W>();
  }
  const q = isInteger<W>();
  const cb = <usize>col << 2;
  const bl = v128.load(bias + cb), bh = v128.load(bias + cb, 16);
  const scaleLo = q ? v128.load(scale + cb) : bl, scaleHi = q ? v128.load(scale + cb, 16) : bh;
  storePanel(y, finishLanes(a0l, scaleLo, bl, q, act, alpha), finishLanes(a0h, scaleHi, bh, q, act, alpha), count);
  storePanel(y + yStride, finishLanes(a1l, scaleLo, bl, q, act, alpha), finishLanes(a1h, scaleHi, bh, q, act, alpha), count);
  storePanel(y + 2 * yStride, finishLanes(a2l, scaleLo, bl, q, act, alpha), finishLanes(a2h, scaleHi, bh, q, act, alpha), count);
  storePanel(y + 3 * yStride, finishLanes(a3l, scaleLo, bl, q, act, alpha), finishLanes(a3h, scaleHi, bh, q, act, alpha), count);
}

// @ts-ignore: decorator
@inline
function denseRow<W>(
  x: usize, y: usize, K: i32, wp: usize,
  bias: usize, scale: usize, col: i32, count: i32, act: i32, alpha: f32,
): void {
  let al = f32x4.splat(0), ah = f32x4.splat(0);
  let wk = wp;
  for (let k = 0; k < K; k++) {
    const v = f32x4.splat(load<f32>(x + (<usize>k << 2)));
    al = f32x4.add(al, f32x4.mul(v, loadLo<W>(wk)));
    ah = f32x4.add(ah, f32x4.mul(v, loadHi<W>(wk)));
    wk += panelRowBytes<W>();
  }
  const q = isInteger<W>();
  const cb = <usize>col << 2;
  const bl = v128.load(bias + cb), bh = v128.load(bias + cb, 16);
  const scaleLo = q ? v128.load(scale + cb) : bl, scaleHi = q ? v128.load(scale + cb, 16) : bh;
  storePanel(y, finishLanes(al, scaleLo, bl, q, act, alpha), finishLanes(ah, scaleHi, bh, q, act, alpha), count);
}
