// The int8 GEMM: Y = act(X . W * scale + bias) with int8 weights (per output channel scales) and
// activations quantized per row to 14-bit integers, multiplied in pairs by i32x4.dot_i16x8_s: eight
// multiply-adds per instruction where the f32 kernel does four in two.
//
// Why 8191: a pair of products is at most 2 * 8191 * 127, so a block of 1024 pairs (2048 k) sums to
// under 2^31 and the i32 accumulators cannot overflow; longer rows add their blocks up in f32.
// Integer sums are exact, so only the per-block order of the f32 adds fixes the result; it is the
// same for rows computed in a block of four or alone (a sample never depends on its batch).
//
// Whole blocks of four rows are first packed as [pair][4 rows] (packPairBlocks, treating each (k, k+1)
// pair of i16 as one 4-byte element): the block's four activations then load from one pointer at
// constant offsets, where four row pointers cost V8 an address computation per load. On a Sapphire
// Rapids-class Xeon that shares its cores with other guests, the int8 dense decoder ran 1.12-1.17x
// faster at batch 64 while the core was contended, and the same when it was quiet.
//
// The weights load as i16 lanes without widening (packPairsI8's layout: a shift gives columns 0-3, the
// whole lanes columns 4-7, see block4). Zero activations are skipped: a lone row multiplies only its
// nonzero pairs (rowAllPanelsI8), and a block of four, where enough pairs are zero in all four rows,
// only the others (packPairBlocks).
//
// In the relaxed build, whole blocks of four rows can go through relaxed SIMD's int8 dot product
// instead (gemm-i8-relaxed.ts), with the same bits; the host switches that on after
// relaxedDotSelfTest, at the bottom of this file.
import { addPartial, finishRow, kBlock, PARTIALS } from './i8-partials';
import { I8_PANEL_PAIR, i8PanelPairs, packPairsI8 } from './pack';
import { copyBytes, zeroBytes } from './copy';
import { roundToI32 } from './simd';
import { activateInPlace, activatesByCall } from './activation';
import { storeTransposed4 } from './transpose';
import { listEnd, listFour, SPARSE_LIST } from './nonzero-list';
import { block4Relaxed, digitBlockBytes, packDigitBlocks, quadPanel, relaxedScratchBytes } from './gemm-i8-relaxed';

/**
 * Whether gemmI8 takes the relaxed-SIMD path (gemm-i8-relaxed.ts). Off until the host has called
 * setRelaxedDot(relaxedDotSelfTest()); always off in the strict build.
 */
let relaxedDot = false;

export const Q_MAX: f32 = 8191;
/** Pairs of k per i32 block: 1024 (K_BLOCK), or fewer inside a transposed conv's phase (i8-partials.ts, kBlock). */
// @ts-ignore: decorator
@inline
function blockPairs(): i32 {
  return kBlock() >> 1;
}
/**
 * Rows of a tile from which its blocks of four take the relaxed path (gemm-i8-relaxed.ts): quadPanel
 * rearranges each panel once for all the blocks, which did not pay below 32 (Deno: 0.92-0.96x at
 * 16 rows, 1.06-1.08x at 64). relaxedDotSelfTest lowers it to reach the path with five rows.
 */
let relaxedMinRows: i32 = 32;

/** A zero-padded copy of a row's last (K mod 8) values, so the tail runs the vector code too. */
const TAIL: usize = memory.data(32, 16);

/** i16 values per quantized row: K rounded up to a multiple of 8 (the zero tail pairs with padding). */
// @ts-ignore: decorator
@inline
export function quantizedRowLength(K: i32): i32 {
  return (K + 7) & ~7;
}

/**
 * Quantizes `rows` rows of K f32 values (x, stride in bytes) to q[rows][quantizedRowLength(K)] i16
 * with scales[r] = max|x_r| / Q_MAX, so that x_r ~= q_r * scales[r]. An all-zero row gets scale 0.
 */
export function quantizeRows(x: usize, xStride: usize, rows: i32, K: i32, q: usize, scales: usize): void {
  const qStride = <usize>quantizedRowLength(K) << 1;
  const whole = K & ~7;
  const tailBytes = <usize>(K - whole) << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * xStride;
    const qr = q + <usize>r * qStride;
    zeroBytes(TAIL, 32);
    copyBytes(TAIL, xr + (<usize>whole << 2), tailBytes);
    const maxAbs = rowMaxAbs(xr, whole);
    store<f32>(scales + (<usize>r << 2), maxAbs / Q_MAX);
    // A row holding inf or NaN has a non-finite scale, so its outputs are NaN whatever q holds; zeros
    // keep them so (the rounding below is only exact for finite values).
    if (!isFinite(maxAbs)) {
      zeroBytes(qr, qStride);
      continue;
    }
    const inv = f32x4.splat(maxAbs > 0 ? Q_MAX / maxAbs : 0);
    for (let k = 0; k < whole; k += 8) v128.store(qr + (<usize>k << 1), quantize8(xr + (<usize>k << 2), inv));
    if (tailBytes) v128.store(qr + (<usize>whole << 1), quantize8(TAIL, inv));
  }
}

/**
 * max |x| over the row's first `whole` values and the TAIL copy of the rest. With the sign bit
 * cleared, floats order as their bits do as integers (NaN above inf), so one integer max an element
 * does the work: f32x4.max's NaN and signed-zero rules cost V8 about seven instructions on x64.
 */
// @ts-ignore: decorator
@inline
function rowMaxAbs(xr: usize, whole: i32): f32 {
  const magnitude = i32x4.splat(0x7fffffff);
  let m = i32x4.max_s(v128.and(v128.load(TAIL), magnitude), v128.and(v128.load(TAIL, 16), magnitude));
  for (let k = 0; k < whole; k += 4) m = i32x4.max_s(m, v128.and(v128.load(xr + (<usize>k << 2)), magnitude));
  const bits = max(max(i32x4.extract_lane(m, 0), i32x4.extract_lane(m, 1)), max(i32x4.extract_lane(m, 2), i32x4.extract_lane(m, 3)));
  return reinterpret<f32>(bits);
}

// @ts-ignore: decorator
@inline
function quantize8(src: usize, inv: v128): v128 {
  return i16x8.narrow_i32x4_s(roundToI32(f32x4.mul(v128.load(src), inv)), roundToI32(f32x4.mul(v128.load(src, 16), inv)));
}

/**
 * Scratch bytes gemmI8 needs for `rows` quantized rows of K values: their whole blocks of four,
 * packed, and their activation sums; then a lone row's list of nonzero pairs.
 */
// @ts-ignore: decorator
@inline
export function packedQuantizedRowsBytes(rows: i32, K: i32): usize {
  return packedBlocksBytes(rows, K) + rowSumsBytes(rows, K) + nonzeroPairsBytes(K);
}

// @ts-ignore: decorator
@inline
function packedBlocksBytes(rows: i32, K: i32): usize {
  const strict = <usize>(rows >> 2) * (pairBlockBytes(K) + pairListBytes(K));
  return ASC_FEATURE_RELAXED_SIMD ? max(strict, relaxedScratchBytes(rows, K)) : strict;
}

/** Bytes of the whole blocks' activation sums (packPairBlocks, as rowOffsetSums lays them out). */
// @ts-ignore: decorator
@inline
function rowSumsBytes(rows: i32, K: i32): usize {
  return <usize>(rows & ~3) * <usize>blocksOf((K + 1) >> 1) << 2;
}

/**
 * y[rows, N] = act(q . W * (rowScale * colScale) + bias) for quantized rows q (stride in bytes) and
 * int8 weights packed by packPairsI8 (pack.ts), i8PanelPairs(K) pairs a panel. `packed` holds
 * packedQuantizedRowsBytes(rows, K) of scratch.
 */
export function gemmI8(
  q: usize, qStride: usize, rowScales: usize, rows: i32, K: i32, N: i32,
  w: usize, colScale: usize, bias: usize, y: usize, yStride: usize, act: i32, alpha: f32, packed: usize,
): void {
  const panelBytes = <usize>i8PanelPairs(K) * I8_PANEL_PAIR;
  const blocks = rows & ~3;
  const rowSums = packed + packedBlocksBytes(rows, K);
  if (blocks > 0) gemmBlocksI8(q, qStride, rowScales, blocks, K, N, w, panelBytes, colScale, bias, y, yStride, act, alpha, packed, rowSums);
  // Lone rows always take the strict dot product: one per accumulator per k would leave the relaxed
  // instruction waiting on its own latency (measured slower at batch 1).
  const list = rowSums + rowSumsBytes(rows, K);
  for (let r = blocks; r < rows; r++) {
    rowAllPanelsI8(q + <usize>r * qStride, rowScales + (<usize>r << 2), K, N, w, panelBytes, colScale, bias, y + <usize>r * yStride, act, alpha, list);
  }
  // What finishRow left undone, as the f32 GEMM does (activation.ts, activateWithoutCall).
  if (activatesByCall(act)) {
    for (let r = 0; r < rows; r++) activateInPlace(y + <usize>r * yStride, N, act, alpha);
  }
}

/** The whole blocks of four rows (`rows` a multiple of four): [pair][4] for block4, or 7-bit digits for block4Relaxed. */
function gemmBlocksI8(
  q: usize, qStride: usize, rowScales: usize, rows: i32, K: i32, N: i32, w: usize, panelBytes: usize,
  colScale: usize, bias: usize, y: usize, yStride: usize, act: i32, alpha: f32, packed: usize, rowSums: usize,
): void {
  const pairs = (K + 1) >> 1;
  const relaxed = ASC_FEATURE_RELAXED_SIMD && relaxedDot && rows >= relaxedMinRows && !firstBlockSparse(q, qStride, K, packed, rowSums);
  const blockBytes = relaxed ? digitBlockBytes(K) : pairBlockBytes(K);
  const panel = packed + <usize>(rows >> 2) * blockBytes;
  // The strict path's lists go where the relaxed path's rearranged panel would.
  const lists = panel, listBytes = pairListBytes(K);
  if (relaxed) packDigitBlocks(q, qStride, rows, K, packed);
  else packPairBlocks(q, qStride, rows, K, packed, lists, rowSums);
  const sumsStride = <usize>blocksOf(pairs) << 2;
  for (let col = 0; col < N; col += 8) {
    const wp = w + <usize>(col >> 3) * panelBytes;
    const cb = <usize>col << 2;
    const count = min(8, N - col);
    if (relaxed) quadPanel(wp, K, panel);
    for (let r = 0; r < rows; r += 4) {
      if (relaxed) block4Relaxed(packed + <usize>(r >> 2) * blockBytes, K, panel);
      else block4(packed + <usize>(r >> 2) * blockBytes, lists + <usize>(r >> 2) * listBytes, pairs, wp, rowSums + <usize>r * sumsStride, sumsStride);
      for (let i = 0; i < 4; i++) finishRow(i, rowScales + (<usize>(r + i) << 2), colScale + cb, bias + cb, y + <usize>(r + i) * yStride + cb, count, act, alpha);
    }
  }
}

/**
 * Whether the first block of four rows lists any 2048-k block sparse (packPairBlocks, into `packed`).
 * The relaxed path multiplies every pair, so where a tile's zeros are shared (a trained ReLU decoder),
 * the strict path's skipping beats it: under Deno, conv-vae at batch 64 ran 0.87x on the relaxed
 * path and 1.01x on aae, whose blocks list dense (`-deno-strict-vs-relaxed.json`). The tile's first
 * block stands for the rest; either path gives the same bits.
 */
function firstBlockSparse(q: usize, qStride: usize, K: i32, packed: usize, rowSums: usize): bool {
  const list = packed + pairBlockBytes(K);
  packPairBlocks(q, qStride, 4, K, packed, list, rowSums);
  for (let b = 0; b < blocksOf((K + 1) >> 1); b++) if (load<u32>(list + (<usize>b << 2)) & SPARSE_LIST) return true;
  return false;
}

/**
 * 128 * the sum of each row's quantized values over each 2048-k block, [row][block] i32 (wrapping):
 * what the whole lanes' dot products add to columns 4-7 through the weights' +128 (offsetColumns).
 */
function rowOffsetSums(q: usize, qStride: usize, rows: i32, K: i32, dst: usize): void {
  const length = quantizedRowLength(K);
  for (let r = 0; r < rows; r++) {
    const qr = q + <usize>r * qStride;
    const block = kBlock();
    for (let k0 = 0; k0 < length; k0 += block) {
      let acc = i32x4.splat(0);
      const end = min(length, k0 + block);
      for (let k = k0; k < end; k += 8) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(v128.load(qr + (<usize>k << 1))));
      store<i32>(dst, offsetSum(acc));
      dst += 4;
    }
  }
}

/**
 * Columns 4-7 of a panel from `whole`, the dot products of the whole i16 lanes, and `high`, those of
 * columns 0-3: a lane is 256 * high + low + 128 (packPairsI8), so whole = 256 * high + low + 128 *
 * (sum of the activations). Wrapping i32 arithmetic: the terms may overflow, the result cannot.
 */
// @ts-ignore: decorator
@inline
function offsetColumns(whole: v128, high: v128, offsetSum: i32): v128 {
  return i32x4.sub(i32x4.sub(whole, i32x4.shl(high, 8)), i32x4.splat(offsetSum));
}

/** Bytes of a packed block of four quantized rows: [pair][4], 16 bytes a pair, padding included. */
// @ts-ignore: decorator
@inline
function pairBlockBytes(K: i32): usize {
  return <usize>quantizedRowLength(K) << 3;
}

/** Bytes of a block's list (packPairBlocks): where each 2048-k block's entries end, then an offset per pair at most. */
// @ts-ignore: decorator
@inline
function pairListBytes(K: i32): usize {
  return (<usize>blocksOf((K + 1) >> 1) << 2) + (<usize>quantizedRowLength(K) << 1);
}

/**
 * Packs whole blocks of four quantized rows as [pair][4] (treating each (k, k+1) pair of i16 as one
 * 4-byte element): the block's four activations then load from one pointer at constant offsets, where
 * four row pointers cost V8 an address computation per load. In the same pass, for each block and
 * 2048-k block:
 * - it lists the pairs that are nonzero in any of the four rows (nonzero-list.ts; `lists`,
 *   pairListBytes(K) a block: each 2048-k block's end, then the offsets), for block4 to skip the
 *   rest: in the shipped conv VAE, 60% of the pairs its 12,544-input dense layer reads, and 19-26%
 *   of its transposed convs' (neighbouring pixels share the dark background and the padding taps).
 * - it sums each row's values, as rowOffsetSums does for a lone row, into `rowSums` ([row][block]).
 * Branch-free: zeros follow no pattern a branch predictor could learn.
 */
function packPairBlocks(q: usize, qStride: usize, rows: i32, K: i32, packed: usize, lists: usize, rowSums: usize): void {
  const pairs = (K + 1) >> 1, blocks = blocksOf(pairs);
  // Quantized rows are zero-padded to a multiple of 4 pairs (quantizedRowLength): whole vectors, and
  // the padding pairs are never listed.
  const padded = quantizedRowLength(K) >> 1;
  const blockBytes = pairBlockBytes(K), listBytes = pairListBytes(K), sumsStride = <usize>blocks << 2;
  for (let r = 0; r < rows; r += 4) {
    const q0 = q + <usize>r * qStride, out = packed + <usize>(r >> 2) * blockBytes;
    const ends = lists + <usize>(r >> 2) * listBytes, offsets = ends + (<usize>blocks << 2);
    const sums = rowSums + <usize>r * sumsStride;
    for (let b = 0; b < blocks; b++) {
      const first = b * blockPairs(), last = min(padded, first + blockPairs());
      const start = offsets + (<usize>first << 2);
      let e = start;
      let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
      for (let p = first; p < last; p += 4) {
        const at = q0 + (<usize>p << 2);
        const r0 = v128.load(at), r1 = v128.load(at + qStride), r2 = v128.load(at + 2 * qStride), r3 = v128.load(at + 3 * qStride);
        storeTransposed4(r0, r1, r2, r3, out + (<usize>p << 4), 16);
        e = listFour(e, v128.or(v128.or(r0, r1), v128.or(r2, r3)), p);
        s0 = i32x4.add(s0, i32x4.extadd_pairwise_i16x8_s(r0)); s1 = i32x4.add(s1, i32x4.extadd_pairwise_i16x8_s(r1));
        s2 = i32x4.add(s2, i32x4.extadd_pairwise_i16x8_s(r2)); s3 = i32x4.add(s3, i32x4.extadd_pairwise_i16x8_s(r3));
      }
      store<u32>(ends + (<usize>b << 2), listEnd(start, e, min(pairs, last) - first));
      const at = sums + (<usize>b << 2);
      store<i32>(at, offsetSum(s0)); store<i32>(at + sumsStride, offsetSum(s1));
      store<i32>(at + 2 * sumsStride, offsetSum(s2)); store<i32>(at + 3 * sumsStride, offsetSum(s3));
    }
  }
}

/** 128 * the sum of a row's values over a 2048-k block, from its pairwise sums (see rowOffsetSums). */
// @ts-ignore: decorator
@inline
function offsetSum(pairSums: v128): i32 {
  const sum = i32x4.extract_lane(pairSums, 0) + i32x4.extract_lane(pairSums, 1) + i32x4.extract_lane(pairSums, 2) + i32x4.extract_lane(pairSums, 3);
  return sum << 7;
}

/**
 * Sums a packed block of four rows ([pair][4], 16 bytes a pair) against one panel into PARTIALS (row
 * i at 32 * i bytes). Each pair of the panel loads as one vector, unwidened: a shift gives columns
 * 0-3 and the whole lanes give columns 4-7 (offsetColumns), where widening each half of the int8
 * pair took a shuffle uop on the port the dot products also need (1.09-1.12x, scratch loop on
 * 64x1000x1000). A 2048-k block whose `list` (packPairBlocks) is sparse runs only its listed pairs:
 * a skipped pair adds zero to exact integer sums. `rowSums` holds the four rows' rowOffsetSums,
 * `sumsStride` bytes apart.
 */
function block4(a: usize, list: usize, pairs: i32, wp: usize, rowSums: usize, sumsStride: usize): void {
  const blocks = blocksOf(pairs);
  const offsets = list + (<usize>blocks << 2);
  for (let b = 0; b < blocks; b++) {
    let a0l = i32x4.splat(0), a0h = i32x4.splat(0), a1l = i32x4.splat(0), a1h = i32x4.splat(0);
    let a2l = i32x4.splat(0), a2h = i32x4.splat(0), a3l = i32x4.splat(0), a3h = i32x4.splat(0);
    const kb = b * blockPairs();
    const endWord = load<u32>(list + (<usize>b << 2));
    // The two loops differ only in where a pair's offset comes from; one loop choosing per pair
    // would branch in the kernel's innermost loop.
    if (endWord & SPARSE_LIST) {
      const end = <usize>(endWord & ~SPARSE_LIST);
      for (let e = offsets + (<usize>kb << 2); e < end; e += 4) {
        // A pair's 16 bytes in the block are its 16 bytes in the panel: one offset for both.
        const at = <usize>load<u32>(e);
        const whole = v128.load(wp + at), high = i16x8.shr_s(whole, 8);
        const ak = a + at;
        const v0 = v128.load32_splat(ak), v1 = v128.load32_splat(ak, 4);
        const v2 = v128.load32_splat(ak, 8), v3 = v128.load32_splat(ak, 12);
        a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v0, high)); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v0, whole));
        a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v1, high)); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v1, whole));
        a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v2, high)); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v2, whole));
        a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v3, high)); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v3, whole));
      }
    } else {
      const end = a + (<usize>min(pairs, kb + blockPairs()) << 4);
      let wk = wp + <usize>kb * I8_PANEL_PAIR;
      for (let ak = a + (<usize>kb << 4); ak < end; ak += 16) {
        const whole = v128.load(wk), high = i16x8.shr_s(whole, 8);
        const v0 = v128.load32_splat(ak), v1 = v128.load32_splat(ak, 4);
        const v2 = v128.load32_splat(ak, 8), v3 = v128.load32_splat(ak, 12);
        a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v0, high)); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v0, whole));
        a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v1, high)); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v1, whole));
        a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v2, high)); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v2, whole));
        a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v3, high)); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v3, whole));
        wk += I8_PANEL_PAIR;
      }
    }
    const first = b == 0;
    const s = rowSums + (<usize>b << 2);
    addPartial(PARTIALS, a0l, first); addPartial(PARTIALS + 16, offsetColumns(a0h, a0l, load<i32>(s)), first);
    addPartial(PARTIALS + 32, a1l, first); addPartial(PARTIALS + 48, offsetColumns(a1h, a1l, load<i32>(s + sumsStride)), first);
    addPartial(PARTIALS + 64, a2l, first); addPartial(PARTIALS + 80, offsetColumns(a2h, a2l, load<i32>(s + 2 * sumsStride)), first);
    addPartial(PARTIALS + 96, a3l, first); addPartial(PARTIALS + 112, offsetColumns(a3h, a3l, load<i32>(s + 3 * sumsStride)), first);
  }
}

/** Bytes of a lone row's list of nonzero pairs: a head per 2048-k block, then an 8-byte entry per pair at most. */
// @ts-ignore: decorator
@inline
function nonzeroPairsBytes(K: i32): usize {
  const pairs = (K + 1) >> 1;
  return listHeadBytes(pairs) + (<usize>pairs << 3);
}

/** Per 2048-k block, where its entries end; then per block, its rowOffsetSums value. */
// @ts-ignore: decorator
@inline
function listHeadBytes(pairs: i32): usize {
  return <usize>blocksOf(pairs) << 3;
}

// @ts-ignore: decorator
@inline
function blocksOf(pairs: i32): i32 {
  return (pairs + blockPairs() - 1) / blockPairs();
}

/**
 * Lists a quantized row's nonzero (k, k+1) pairs as [pair][byte offset of the pair in a panel]
 * entries, block by block, after a head holding each block's end (`blocks` u32) and then its
 * rowOffsetSums; returns where the entries start. Branch-free, as listNonzeroF32 in gemm.ts.
 */
function listNonzeroPairs(q: usize, K: i32, list: usize): usize {
  const pairs = (K + 1) >> 1, blocks = blocksOf(pairs);
  rowOffsetSums(q, 0, 1, K, list + (<usize>blocks << 2));
  const entries = list + listHeadBytes(pairs);
  let e = entries;
  for (let b = 0; b < blocks; b++) {
    const last = min(pairs, (b + 1) * blockPairs());
    for (let p = b * blockPairs(); p < last; p++) {
      const v = load<i32>(q + (<usize>p << 2));
      store<i32>(e, v);
      store<u32>(e, <u32>p * <u32>I8_PANEL_PAIR, 4);
      e += select<usize>(8, 0, v != 0);
    }
    store<u32>(list + (<usize>b << 2), <u32>e);
  }
  return entries;
}

/**
 * One quantized row against every panel, four panels at a time, multiplying only its nonzero pairs
 * (after ReLU about a quarter of a dense decoder's pairs are both zero). Integer sums do not change
 * for a skipped zero, so the result is block4's, bit for bit.
 */
function rowAllPanelsI8(
  q: usize, rowScale: usize, K: i32, N: i32, w: usize, panelBytes: usize,
  colScale: usize, bias: usize, y: usize, act: i32, alpha: f32, list: usize,
): void {
  const entries = listNonzeroPairs(q, K, list);
  const blocks = blocksOf((K + 1) >> 1);
  const offsetSums = list + (<usize>blocks << 2);
  let col = 0;
  for (; col + 24 < N; col += 32) {
    const w0 = w + <usize>(col >> 3) * panelBytes, w1 = w0 + panelBytes, w2 = w1 + panelBytes, w3 = w2 + panelBytes;
    let e = entries;
    for (let b = 0; b < blocks; b++) {
      const end = <usize>load<u32>(list + (<usize>b << 2)), offsetSum = load<i32>(offsetSums + (<usize>b << 2));
      let a0l = i32x4.splat(0), a0h = i32x4.splat(0), a1l = i32x4.splat(0), a1h = i32x4.splat(0);
      let a2l = i32x4.splat(0), a2h = i32x4.splat(0), a3l = i32x4.splat(0), a3h = i32x4.splat(0);
      for (; e < end; e += 8) {
        const v = v128.load32_splat(e), at = <usize>load<u32>(e, 4);
        const p0 = v128.load(w0 + at), p1 = v128.load(w1 + at), p2 = v128.load(w2 + at), p3 = v128.load(w3 + at);
        a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v, i16x8.shr_s(p0, 8))); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v, p0));
        a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v, i16x8.shr_s(p1, 8))); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v, p1));
        a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v, i16x8.shr_s(p2, 8))); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v, p2));
        a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v, i16x8.shr_s(p3, 8))); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v, p3));
      }
      const first = b == 0;
      addPartial(PARTIALS, a0l, first); addPartial(PARTIALS + 16, offsetColumns(a0h, a0l, offsetSum), first);
      addPartial(PARTIALS + 32, a1l, first); addPartial(PARTIALS + 48, offsetColumns(a1h, a1l, offsetSum), first);
      addPartial(PARTIALS + 64, a2l, first); addPartial(PARTIALS + 80, offsetColumns(a2h, a2l, offsetSum), first);
      addPartial(PARTIALS + 96, a3l, first); addPartial(PARTIALS + 112, offsetColumns(a3h, a3l, offsetSum), first);
    }
    for (let i = 0; i < 4; i++) {
      const cb = <usize>(col + 8 * i) << 2;
      finishRow(i, rowScale, colScale + cb, bias + cb, y + cb, min(8, N - col - 8 * i), act, alpha);
    }
  }
  for (; col < N; col += 8) {
    const wp = w + <usize>(col >> 3) * panelBytes;
    let e = entries;
    for (let b = 0; b < blocks; b++) {
      const end = <usize>load<u32>(list + (<usize>b << 2)), offsetSum = load<i32>(offsetSums + (<usize>b << 2));
      let al = i32x4.splat(0), ah = i32x4.splat(0);
      for (; e < end; e += 8) {
        const v = v128.load32_splat(e), p = v128.load(wp + <usize>load<u32>(e, 4));
        al = i32x4.add(al, i32x4.dot_i16x8_s(v, i16x8.shr_s(p, 8)));
        ah = i32x4.add(ah, i32x4.dot_i16x8_s(v, p));
      }
      addPartial(PARTIALS, al, b == 0);
      addPartial(PARTIALS + 16, offsetColumns(ah, al, offsetSum), b == 0);
    }
    const cb = <usize>col << 2;
    finishRow(0, rowScale, colScale + cb, bias + cb, y + cb, min(8, N - col), act, alpha);
  }
}

/** Whether gemmI8 takes the relaxed path. */
export function relaxedDotEnabled(): bool {
  return relaxedDot;
}

/** Switches the relaxed path on or off; returns whether it is on (never in the strict build). */
export function setRelaxedDot(on: bool): bool {
  relaxedDot = ASC_FEATURE_RELAXED_SIMD && on;
  return relaxedDot;
}

// The self-test's problem: 5 rows (a block of four and a lone row) of K = 30 (a quad half padding)
// against N = 12 columns (a full panel and a partial one), with weights over all of -128..127 and
// activations out to +-8191.
const TEST_ROWS: i32 = 5;
const TEST_K: i32 = 30;
const TEST_N: i32 = 12;
const TEST_Q: usize = memory.data(TEST_ROWS * 32 * 2, 16);
const TEST_W_SOURCE: usize = memory.data(TEST_K * TEST_N);
const TEST_W: usize = memory.data(2 * 16 * 16, 16);
const TEST_ONES: usize = memory.data(16 * 4, 16);
const TEST_ZEROS: usize = memory.data(16 * 4, 16);
const TEST_Y: usize = memory.data(2 * TEST_ROWS * TEST_N * 4, 16);
const TEST_SCRATCH: usize = memory.data(1024, 16);

/**
 * Whether the relaxed path reproduces the strict one bit for bit on this engine, on a problem that
 * reaches every branch of both: the host calls this before setRelaxedDot. False in the strict build.
 */
export function relaxedDotSelfTest(): bool {
  if (!ASC_FEATURE_RELAXED_SIMD) return false;
  const qStride: usize = 64;
  for (let r = 0; r < TEST_ROWS; r++) {
    for (let k = 0; k < 32; k++) store<i16>(TEST_Q + <usize>r * qStride + (<usize>k << 1), k < TEST_K ? <i16>((r * 3217 + k * 2741) % 16383 - 8191) : 0);
  }
  for (let i = 0; i < TEST_K * TEST_N; i++) store<i8>(TEST_W_SOURCE + i, <i8>((i * 37) % 256 - 128));
  packPairsI8(TEST_W_SOURCE, TEST_W, TEST_K, TEST_N, 0);
  for (let i = 0; i < 16; i++) {
    store<f32>(TEST_ONES + (<usize>i << 2), 1);
    store<f32>(TEST_ZEROS + (<usize>i << 2), 0);
  }
  const yStride = <usize>TEST_N << 2;
  const yRelaxed = TEST_Y + <usize>TEST_ROWS * yStride;
  const was = relaxedDot, minRows = relaxedMinRows;
  relaxedDot = false;
  relaxedMinRows = 4;
  gemmI8(TEST_Q, qStride, TEST_ONES, TEST_ROWS, TEST_K, TEST_N, TEST_W, TEST_ONES, TEST_ZEROS, TEST_Y, yStride, 0, 0, TEST_SCRATCH);
  relaxedDot = true;
  gemmI8(TEST_Q, qStride, TEST_ONES, TEST_ROWS, TEST_K, TEST_N, TEST_W, TEST_ONES, TEST_ZEROS, yRelaxed, yStride, 0, 0, TEST_SCRATCH);
  relaxedDot = was;
  relaxedMinRows = minRows;
  return memory.compare(TEST_Y, yRelaxed, <usize>TEST_ROWS * yStride) == 0;
}
