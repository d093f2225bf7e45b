// The f32 GEMM microkernel every f32 (and widened f16) layer runs on: Y = act(X . W + bias), where W
// is packed in panels of 8 output columns, [panel][k][8] (see pack.ts). Dense layers call it on their
// activations; convolutions call it on im2col tiles.
//
// Rows are packed too, four at a time, as [k][4] (packRows): the kernel then reads a block's four
// activations at constant offsets from one pointer, where four row pointers cost V8 an address
// computation per load; that leaves the loop limited by the arithmetic, not by instruction issue.
//
// Each output element is accumulated in the same order (k = 0..K-1, from zero) whether its row is
// computed in a block of four or alone, so a sample's result never depends on the batch it was
// decoded in.
import { madd, splatF32 } from './simd';
import { finishLanesWithoutCall, finishPanel, storePanel } from './store';
import { activateInPlace, activatesByCall } from './activation';
import { storeTransposed4 } from './transpose';
import { listEnd, listFour, listOne, SPARSE_LIST } from './nonzero-list';

/** Rows computed together: four rows share each weight load (8 accumulators, 2 weight registers). */
const ROW_BLOCK: i32 = 4;
/** Bytes of one packed f32 panel row. */
export const F32_PANEL_ROW: usize = 32;

/**
 * All panels of a packed f32 weight matrix: y[rows, N] from x[rows, K] (strides in bytes). `packed`
 * holds gemmF32ScratchBytes(rows, K) of scratch: the rows in blocks of four, then a lone row's list.
 */
export function gemmF32(
  x: usize, xStride: usize, rows: i32, K: i32, N: i32,
  w: usize, bias: usize, y: usize, yStride: usize, act: i32, alpha: f32, packed: usize,
): void {
  packRows(x, xStride, rows, K, packed);
  gemmPackedF32(x, xStride, rows, K, N, w, bias, y, yStride, act, alpha, packed, rowListsOf(packed, rows, K));
}

/** Scratch bytes gemmF32 needs for `rows` rows of K values. */
// @ts-ignore: decorator
@inline
export function gemmF32ScratchBytes(rows: i32, K: i32): usize {
  return packedRowsBytes(rows, K) + nonzeroListBytes(K);
}

/**
 * gemmF32 on rows already in `packed` (as packRows lays them out): the whole blocks of four come from
 * there, with their nonzero lists at `lists` (0: none, every k is read), the rest (rows mod 4) from x,
 * each listing its nonzero values in `packed` past packedRowsBytes(rows, K). With rows a multiple of
 * four, x is never read and `packed` needs only the blocks.
 */
export function gemmPackedF32(
  x: usize, xStride: usize, rows: i32, K: i32, N: i32,
  w: usize, bias: usize, y: usize, yStride: usize, act: i32, alpha: f32, packed: usize, lists: usize,
): void {
  const panelBytes = <usize>K * F32_PANEL_ROW;
  const blocks = rows & ~(ROW_BLOCK - 1);
  for (let col = 0; col < N; col += 8) {
    const p = <usize>(col >> 3);
    gemmPanelF32(x, xStride, blocks, K, packed, lists, w + p * panelBytes, bias + (<usize>col << 2), y + (<usize>col << 2), yStride, min(8, N - col), act, alpha);
  }
  const list = packed + packedRowsBytes(rows, K);
  for (let r = blocks; r < rows; r++) rowAllPanels(x + <usize>r * xStride, K, N, w, bias, y + <usize>r * yStride, act, alpha, list);
}

/** Bytes of a lone row's nonzero list: at most one 8-byte entry per k. */
// @ts-ignore: decorator
@inline
function nonzeroListBytes(K: i32): usize {
  return <usize>K << 3;
}

/**
 * Lists x's nonzero values as [value][byte offset of its k in a panel] entries at `list`; returns
 * the list's end. Branch-free: every value is written and the cursor moves past the nonzero ones
 * only, since a ReLU layer's zeros follow no pattern a branch predictor could learn.
 */
function listNonzeroF32(x: usize, K: i32, list: usize): usize {
  let e = list;
  for (let k = 0; k < K; k++) {
    const v = load<f32>(x + (<usize>k << 2));
    store<f32>(e, v);
    store<u32>(e, <u32>k * <u32>F32_PANEL_ROW, 4);
    e += select<usize>(8, 0, v != 0);
  }
  return e;
}

/**
 * One row against every panel, two panels at a time: four accumulator chains where row1 has two, so a
 * lone row (batch 1) is less bound by the add latency. Only x's nonzero k are multiplied (after ReLU,
 * about half of a dense decoder's): a skipped term is 0 * w, and adding a zero changes no sum that
 * starts from +0, so each column gets the bits the in-order sum over every k gives (for finite
 * weights, which the loader checks).
 */
function rowAllPanels(x: usize, K: i32, N: i32, w: usize, bias: usize, y: usize, act: i32, alpha: f32, list: usize): void {
  const panelBytes = <usize>K * F32_PANEL_ROW;
  const end = listNonzeroF32(x, K, list);
  const end2 = list + ((end - list) & ~15);
  let col = 0;
  for (; col + 8 < N; col += 16) {
    const w0 = w + <usize>(col >> 3) * panelBytes, w1 = w0 + panelBytes;
    let a0l = f32x4.splat(0), a0h = f32x4.splat(0), a1l = f32x4.splat(0), a1h = f32x4.splat(0);
    let e = list;
    for (; e < end2; e += 16) {
      const v = splatF32(e), vk = <usize>load<u32>(e, 4);
      a0l = madd(v, v128.load(w0 + vk), a0l); a0h = madd(v, v128.load(w0 + vk, 16), a0h);
      a1l = madd(v, v128.load(w1 + vk), a1l); a1h = madd(v, v128.load(w1 + vk, 16), a1h);
      const u = splatF32(e + 8), uk = <usize>load<u32>(e, 12);
      a0l = madd(u, v128.load(w0 + uk), a0l); a0h = madd(u, v128.load(w0 + uk, 16), a0h);
      a1l = madd(u, v128.load(w1 + uk), a1l); a1h = madd(u, v128.load(w1 + uk, 16), a1h);
    }
    if (e < end) {
      const v = splatF32(e), vk = <usize>load<u32>(e, 4);
      a0l = madd(v, v128.load(w0 + vk), a0l); a0h = madd(v, v128.load(w0 + vk, 16), a0h);
      a1l = madd(v, v128.load(w1 + vk), a1l); a1h = madd(v, v128.load(w1 + vk, 16), a1h);
    }
    const b = bias + (<usize>col << 2), yc = y + (<usize>col << 2);
    finishPanel(yc, a0l, a0h, b, 8, act, alpha);
    finishPanel(yc + 32, a1l, a1h, b + 32, min(8, N - col - 8), act, alpha);
  }
  // An odd last panel alone.
  if (col < N) {
    const wp = w + <usize>(col >> 3) * panelBytes;
    let al = f32x4.splat(0), ah = f32x4.splat(0);
    for (let e = list; e < end; e += 8) {
      const v = splatF32(e), vk = <usize>load<u32>(e, 4);
      al = madd(v, v128.load(wp + vk), al);
      ah = madd(v, v128.load(wp + vk, 16), ah);
    }
    finishPanel(y + (<usize>col << 2), al, ah, bias + (<usize>col << 2), N - col, act, alpha);
  }
}

/** Bytes packRows writes for `rows` rows of K values: the whole blocks of four, then their lists. */
// @ts-ignore: decorator
@inline
export function packedRowsBytes(rows: i32, K: i32): usize {
  return packedBlocksBytes(rows, K) + <usize>(rows >> 2) * rowListBytes(K);
}

// @ts-ignore: decorator
@inline
function packedBlocksBytes(rows: i32, K: i32): usize {
  return <usize>(rows & ~(ROW_BLOCK - 1)) * <usize>K << 2;
}

/** Where packRows puts the blocks' lists. */
// @ts-ignore: decorator
@inline
export function rowListsOf(packed: usize, rows: i32, K: i32): usize {
  return packed + packedBlocksBytes(rows, K);
}

/** Bytes of a block's list: its end, then an offset per k at most. */
// @ts-ignore: decorator
@inline
export function rowListBytes(K: i32): usize {
  return 4 + (<usize>K << 2);
}

/**
 * Rows in whole blocks of four, each block as [k][4] (K * 16 bytes), one block after another: a 4x4
 * transpose per four k, then the last K mod 4 one value at a time. In the same pass, each block's
 * list of the k where any of its rows is nonzero (nonzero-list.ts), at rowListsOf(dst, rows, K): its
 * end, then offsets k * 16. -0 counts as nonzero there (its bits are not zero), which only lists it.
 */
export function packRows(x: usize, xStride: usize, rows: i32, K: i32, dst: usize): void {
  const blockBytes = <usize>K << 4;
  const K4 = K & ~3;
  const lists = rowListsOf(dst, rows, K);
  for (let r = 0; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
    const x0 = x + <usize>r * xStride;
    const out = dst + <usize>(r >> 2) * blockBytes;
    const list = lists + <usize>(r >> 2) * rowListBytes(K), start = list + 4;
    let e = start;
    for (let k = 0; k < K4; k += 4) {
      const at = x0 + (<usize>k << 2);
      const r0 = v128.load(at), r1 = v128.load(at + xStride), r2 = v128.load(at + 2 * xStride), r3 = v128.load(at + 3 * xStride);
      storeTransposed4(r0, r1, r2, r3, out + (<usize>k << 4), 16);
      e = listFour(e, v128.or(v128.or(r0, r1), v128.or(r2, r3)), k);
    }
    for (let k = K4; k < K; k++) {
      const at = x0 + (<usize>k << 2), to = out + (<usize>k << 4);
      store<f32>(to, load<f32>(at));
      store<f32>(to, load<f32>(at + xStride), 4);
      store<f32>(to, load<f32>(at + 2 * xStride), 8);
      store<f32>(to, load<f32>(at + 3 * xStride), 12);
      e = listOne(e, v128.load(to), k);
    }
    store<u32>(list, listEnd(start, e, K));
  }
}

/**
 * One panel: 8 output columns (the first `count` stored) for every row; whole blocks read from
 * `packed`, with their lists at `lists` (0: none).
 */
export function gemmPanelF32(
  x: usize, xStride: usize, rows: i32, K: i32, packed: usize, lists: usize,
  wp: usize, bias: usize, y: usize, yStride: usize, count: i32, act: i32, alpha: f32,
): void {
  const blockBytes = <usize>K << 4;
  let r = 0;
  for (; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
    const list = lists ? lists + <usize>(r >> 2) * rowListBytes(K) : 0;
    block4(packed + <usize>(r >> 2) * blockBytes, list, K, wp, bias, y + <usize>r * yStride, yStride, count, act, alpha);
  }
  // What block4's epilogue left undone (activation.ts, activateWithoutCall), while the panel is in cache.
  if (activatesByCall(act)) {
    for (let i = 0; i < r; i++) activateInPlace(y + <usize>i * yStride, count, act, alpha);
  }
  for (; r < rows; r++) {
    row1(x + <usize>r * xStride, K, wp, bias, y + <usize>r * yStride, count, act, alpha);
  }
}

/**
 * A block of four packed rows against one panel. Where the block's list is sparse it reads only the
 * listed k: a skipped k adds 0 * w to each sum, and adding a zero changes no sum that starts from +0,
 * so each column gets the bits of the sum over every k (for finite weights, which the loader checks).
 * Sigmoid and tanh are left to the caller (activateWithoutCall).
 */
// @ts-ignore: decorator
@inline
function block4(
  a: usize, list: usize, K: i32, wp: usize, bias: usize,
  y: usize, yStride: usize, count: i32, act: i32, alpha: f32,
): void {
  let a0l = f32x4.splat(0), a0h = f32x4.splat(0), a1l = f32x4.splat(0), a1h = f32x4.splat(0);
  let a2l = f32x4.splat(0), a2h = f32x4.splat(0), a3l = f32x4.splat(0), a3h = f32x4.splat(0);
  const bl = v128.load(bias), bh = v128.load(bias, 16);
  const listEndWord = list ? load<u32>(list) : 0;
  // Two loops that differ only in where a k's offset comes from, as in gemm-i8.ts's block4: one
  // loop choosing per k would branch in the innermost loop.
  if (listEndWord & SPARSE_LIST) {
    const end = <usize>(listEndWord & ~SPARSE_LIST);
    for (let e = list + 4; e < end; e += 4) {
      // Offset k * 16 in the block; a panel row is twice as long.
      const at = <usize>load<u32>(e);
      const ak = a + at, wk = wp + (at << 1);
      const lo = v128.load(wk), hi = v128.load(wk, 16);
      const v0 = v128.load32_splat(ak), v1 = v128.load32_splat(ak, 4), v2 = v128.load32_splat(ak, 8), v3 = v128.load32_splat(ak, 12);
      a0l = madd(v0, lo, a0l); a0h = madd(v0, hi, a0h);
      a1l = madd(v1, lo, a1l); a1h = madd(v1, hi, a1h);
      a2l = madd(v2, lo, a2l); a2h = madd(v2, hi, a2h);
      a3l = madd(v3, lo, a3l); a3h = madd(v3, hi, a3h);
    }
  } else {
    const end = a + (<usize>K << 4);
    let wk = wp;
    for (let ak = a; ak < end; ak += 16) {
      const lo = v128.load(wk), hi = v128.load(wk, 16);
      const v0 = v128.load32_splat(ak), v1 = v128.load32_splat(ak, 4), v2 = v128.load32_splat(ak, 8), v3 = v128.load32_splat(ak, 12);
      a0l = madd(v0, lo, a0l); a0h = madd(v0, hi, a0h);
      a1l = madd(v1, lo, a1l); a1h = madd(v1, hi, a1h);
      a2l = madd(v2, lo, a2l); a2h = madd(v2, hi, a2h);
      a3l = madd(v3, lo, a3l); a3h = madd(v3, hi, a3h);
      wk += F32_PANEL_ROW;
    }
  }
  storePanel(y, finishLanesWithoutCall(a0l, bl, act, alpha), finishLanesWithoutCall(a0h, bh, act, alpha), count);
  storePanel(y + yStride, finishLanesWithoutCall(a1l, bl, act, alpha), finishLanesWithoutCall(a1h, bh, act, alpha), count);
  storePanel(y + 2 * yStride, finishLanesWithoutCall(a2l, bl, act, alpha), finishLanesWithoutCall(a2h, bh, act, alpha), count);
  storePanel(y + 3 * yStride, finishLanesWithoutCall(a3l, bl, act, alpha), finishLanesWithoutCall(a3h, bh, act, alpha), count);
}

// @ts-ignore: decorator
@inline
function row1(x: usize, K: i32, wp: usize, bias: usize, y: usize, count: i32, act: i32, alpha: f32): void {
  let al = f32x4.splat(0), ah = f32x4.splat(0);
  let wk = wp;
  const end = x + (<usize>K << 2);
  for (let xp = x; xp < end; xp += 4) {
    const v = splatF32(xp);
    al = madd(v, v128.load(wk), al);
    ah = madd(v, v128.load(wk, 16), ah);
    wk += F32_PANEL_ROW;
  }
  finishPanel(y, al, ah, bias, count, act, alpha);
}
