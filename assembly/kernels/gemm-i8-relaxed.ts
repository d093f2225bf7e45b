// The int8 GEMM's relaxed-SIMD path: the same exact integer sums as gemm-i8.ts, from
// i32x4.relaxed_dot_i8x16_i7x16_add_s, which multiplies four int8 weights by four 7-bit values and
// adds them to an accumulator lane: 16 multiply-adds in one wasm instruction (a VNNI vpdpbusd, or
// pmaddubsw + pmaddwd + add, depending on the engine), where the strict path needs a dot_i16x8_s and
// an add for 8.
//
// The instruction's second operand must stay in 0..127 for the result to be the same on every CPU,
// and our activations are 14-bit signed integers q in -8191..8191. So each q becomes two 7-bit digits
// of u = q + 8192 (1..16383): hi = u >> 7 and lo = u & 127. Then, per column,
//   sum w*q = 128 * (sum w*hi - 64 * sum w) + sum w*lo,
// all in i32. The intermediate terms may wrap, but the true result fits in i32 (gemm-i8.ts: blocks of
// 2048 k), and wrapping arithmetic makes it come out exact: bit for bit the strict path's sums.
//
// Weights stay packed as the strict path has them (packPairsI8 in pack.ts), with whole quads of k per
// panel (pack.ts pads K to a multiple of 4); a byte shuffle of two consecutive pairs gives the
// [column][4 k] bytes the instruction wants, for columns 0-3 (the high bytes) and 4-7 (the low bytes,
// their +128 taken off by flipping the top bit).
//
// Two passes per block of four rows keep the register count at 8 accumulators: first the hi digits,
// then the lo ones into the same accumulators after scaling them by 128. Lone rows (batch 1, a
// batch's last rows) stay on the strict row1: a relaxed one, with one dot product per accumulator
// per four k, waited on the instruction's latency and measured 0.83-0.93x the strict one.
//
// Speed: the two digits double the dot products, so where the relaxed dot's peak is 2.2x the strict
// pair's (Deno 2.9.5, V8 15.0, on the 2026-11-22 Xeon) this path gains about 1.1x at batch 64
// (bench/int8-dot.ts). Blocks of 5 or 6 rows measured 3-10% faster in a scratch loop; not adopted.
//
// Only the relaxed build compiles this file's kernels, and the host switches them on
// (setRelaxedDot) only after relaxedDotSelfTest has matched the strict path bit for bit on this
// engine: Node 20's V8 computes the instruction wrong.
import { addPartial, kBlock, PARTIALS } from './i8-partials';
import { I8_PANEL_PAIR } from './pack';

/** Quads of k per integer block (i8-partials.ts, kBlock: a multiple of 4). */
// @ts-ignore: decorator
@inline
function blockQuads(): i32 {
  return kBlock() >> 2;
}
const OFFSET: i16 = 8192;
/** Bytes of one quad of a block's digits: four rows x four 7-bit digits. */
const QUAD_BYTES: usize = 16;
/** Bytes of one quad of a panel's weights: two pairs. */
const PANEL_QUAD: usize = I8_PANEL_PAIR << 1;

/** Quads of k in a row of K values. */
// @ts-ignore: decorator
@inline
function quadsOf(K: i32): i32 {
  return (K + 3) >> 2;
}

/** Bytes of a block's digits: [hi: quad][4 rows][4] then [lo: quad][4 rows][4]. */
// @ts-ignore: decorator
@inline
export function digitBlockBytes(K: i32): usize {
  return <usize>quadsOf(K) * (QUAD_BYTES << 1);
}

/** Bytes of one panel's column sums: [k block][8 columns] i32. */
// @ts-ignore: decorator
@inline
function columnSumsBytes(K: i32): usize {
  return <usize>((quadsOf(K) + blockQuads() - 1) / blockQuads()) << 5;
}

/** Bytes of quadPanel's output for K: column sums, then the panel's quads. */
// @ts-ignore: decorator
@inline
function quadPanelBytes(K: i32): usize {
  return columnSumsBytes(K) + <usize>quadsOf(K) * PANEL_QUAD;
}

/** Scratch bytes the relaxed path needs for `rows` rows of K values: their whole blocks' digits and one panel as quadPanel lays it out. */
export function relaxedScratchBytes(rows: i32, K: i32): usize {
  return <usize>(rows >> 2) * digitBlockBytes(K) + quadPanelBytes(K);
}

/** The digits of every whole block of four rows, one digit block after another at `dst`. */
export function packDigitBlocks(q: usize, qStride: usize, rows: i32, K: i32, dst: usize): void {
  const blockBytes = digitBlockBytes(K);
  for (let r = 0; r + 4 <= rows; r += 4) packDigits(q + <usize>r * qStride, qStride, K, dst + <usize>(r >> 2) * blockBytes);
}

/**
 * The digits of four quantized rows (i16, quantizedRowLength(K) values each, zeros past K) as one
 * digit block, row i in slot i: hi then lo, each [quad][4 rows][4 bytes]. Past K, q = 0 gives digits
 * (64, 0), which the weights' zero padding multiplies away.
 */
function packDigits(q: usize, qStride: usize, K: i32, dst: usize): void {
  const quads = quadsOf(K);
  const loBase = dst + <usize>quads * QUAD_BYTES;
  const offset = i16x8.splat(OFFSET);
  const low7 = i16x8.splat(127);
  for (let i = 0; i < 4; i++) {
    const qr = q + <usize>i * qStride;
    const slot = <usize>i << 2;
    // Eight k (two quads) at a time: the row is padded to a multiple of 8.
    for (let k = 0; k < quads << 2; k += 8) {
      const u = i16x8.add(v128.load(qr + (<usize>k << 1)), offset);
      const hi = i8x16.narrow_i16x8_u(i16x8.shr_u(u, 7), u);
      const lo = i8x16.narrow_i16x8_u(v128.and(u, low7), u);
      const at = <usize>(k >> 2) * QUAD_BYTES + slot;
      v128.store32_lane(dst + at, hi, 0);
      v128.store32_lane(loBase + at, lo, 0);
      if ((k >> 2) + 1 < quads) {
        v128.store32_lane(dst + at + QUAD_BYTES, hi, 1);
        v128.store32_lane(loBase + at + QUAD_BYTES, lo, 1);
      }
    }
  }
}

/** Columns 0-3 of a panel quad (two pairs at wk) as [column][4 k] bytes: the pairs' high bytes (pack.ts). */
// @ts-ignore: decorator
@inline
function lowColumns(wk: usize): v128 {
  return i8x16.shuffle(v128.load(wk), v128.load(wk, I8_PANEL_PAIR), 1, 3, 17, 19, 5, 7, 21, 23, 9, 11, 25, 27, 13, 15, 29, 31);
}

/** Columns 4-7 of a panel quad: the low bytes, their +128 undone by flipping the top bit. */
// @ts-ignore: decorator
@inline
function highColumns(wk: usize): v128 {
  const offset = i8x16.shuffle(v128.load(wk), v128.load(wk, I8_PANEL_PAIR), 0, 2, 16, 18, 4, 6, 20, 22, 8, 10, 24, 26, 12, 14, 28, 30);
  return v128.xor(offset, i8x16.splat(-128));
}

/**
 * One panel rearranged for block4Relaxed at `panel`: 64 * the sum of w over each k block ([k block][8
 * columns] i32), then each quad's columns 0-3 and 4-7 as [column][4 k] bytes, 32 bytes a quad. Done
 * once per panel for all the blocks of four rows that read it: the byte shuffles that pick the
 * columns out of the strict layout cost V8 several instructions each.
 */
export function quadPanel(wp: usize, K: i32, panel: usize): void {
  const quads = quadsOf(K);
  const ones = i8x16.splat(1);
  let out = panel + columnSumsBytes(K);
  for (let kq = 0; kq < quads; kq += blockQuads()) {
    let sl = i32x4.splat(0), sh = i32x4.splat(0);
    const wEnd = wp + <usize>min(quads, kq + blockQuads()) * PANEL_QUAD;
    for (let wk = wp + <usize>kq * PANEL_QUAD; wk < wEnd; wk += PANEL_QUAD) {
      const low = lowColumns(wk), high = highColumns(wk);
      v128.store(out, low);
      v128.store(out, high, 16);
      out += PANEL_QUAD;
      sl = i32x4.relaxed_dot_i8x16_i7x16_add_s(low, ones, sl);
      sh = i32x4.relaxed_dot_i8x16_i7x16_add_s(high, ones, sh);
    }
    const at = panel + (<usize>(kq / blockQuads()) << 5);
    v128.store(at, i32x4.shl(sl, 6));
    v128.store(at, i32x4.shl(sh, 6), 16);
  }
}

/** Sums a digit block of four rows against one panel, as quadPanel laid it out, into PARTIALS (row i at 32 * i bytes). */
export function block4Relaxed(digits: usize, K: i32, panel: usize): void {
  const quads = quadsOf(K);
  const loBase = digits + <usize>quads * QUAD_BYTES;
  const sums = panel;
  const wp = panel + columnSumsBytes(K);
  for (let kq = 0; kq < quads; kq += blockQuads()) {
    const quadsInBlock = <usize>(min(quads, kq + blockQuads()) - kq);
    let a0l = i32x4.splat(0), a0h = i32x4.splat(0), a1l = i32x4.splat(0), a1h = i32x4.splat(0);
    let a2l = i32x4.splat(0), a2h = i32x4.splat(0), a3l = i32x4.splat(0), a3h = i32x4.splat(0);
    for (let pass = 0; pass < 2; pass++) {
      let d = (pass == 0 ? digits : loBase) + <usize>kq * QUAD_BYTES;
      const dEnd = d + quadsInBlock * QUAD_BYTES;
      for (let wk = wp + <usize>kq * PANEL_QUAD; d < dEnd; d += QUAD_BYTES, wk += PANEL_QUAD) {
        const wl = v128.load(wk), wh = v128.load(wk, 16);
        const v0 = v128.load32_splat(d), v1 = v128.load32_splat(d, 4);
        const v2 = v128.load32_splat(d, 8), v3 = v128.load32_splat(d, 12);
        a0l = i32x4.relaxed_dot_i8x16_i7x16_add_s(wl, v0, a0l); a0h = i32x4.relaxed_dot_i8x16_i7x16_add_s(wh, v0, a0h);
        a1l = i32x4.relaxed_dot_i8x16_i7x16_add_s(wl, v1, a1l); a1h = i32x4.relaxed_dot_i8x16_i7x16_add_s(wh, v1, a1h);
        a2l = i32x4.relaxed_dot_i8x16_i7x16_add_s(wl, v2, a2l); a2h = i32x4.relaxed_dot_i8x16_i7x16_add_s(wh, v2, a2h);
        a3l = i32x4.relaxed_dot_i8x16_i7x16_add_s(wl, v3, a3l); a3h = i32x4.relaxed_dot_i8x16_i7x16_add_s(wh, v3, a3h);
      }
      if (pass == 0) {
        // 128 * (sum w*hi - 64 * sum w), before the lo digits add in.
        const s = sums + (<usize>(kq / blockQuads()) << 5);
        const cl = v128.load(s), ch = v128.load(s, 16);
        a0l = i32x4.shl(i32x4.sub(a0l, cl), 7); a0h = i32x4.shl(i32x4.sub(a0h, ch), 7);
        a1l = i32x4.shl(i32x4.sub(a1l, cl), 7); a1h = i32x4.shl(i32x4.sub(a1h, ch), 7);
        a2l = i32x4.shl(i32x4.sub(a2l, cl), 7); a2h = i32x4.shl(i32x4.sub(a2h, ch), 7);
        a3l = i32x4.shl(i32x4.sub(a3l, cl), 7); a3h = i32x4.shl(i32x4.sub(a3h, ch), 7);
      }
    }
    const first = kq == 0;
    addPartial(PARTIALS, a0l, first); addPartial(PARTIALS + 16, a0h, first);
    addPartial(PARTIALS + 32, a1l, first); addPartial(PARTIALS + 48, a1h, first);
    addPartial(PARTIALS + 64, a2l, first); addPartial(PARTIALS + 80, a2h, first);
    addPartial(PARTIALS + 96, a3l, first); addPartial(PARTIALS + 112, a3h, first);
  }
}
