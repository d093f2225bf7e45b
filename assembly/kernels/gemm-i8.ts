// The int8 GEMM: Y = act(X . W * scale + bias) with int8 weights (per output channel scales) and
// activations quantized per row to 14-bit integers, multiplied in pairs by i32x4.dot_i16x8_s: eight
// multiply-adds per instruction where the f32 kernel does four in two.
//
// Why 8191: a pair of products is at most 2 * 8191 * 127, so a block of 1024 pairs (2048 k) sums to
// under 2^31 and the i32 accumulators cannot overflow; longer rows add their blocks up in f32.
// Integer sums are exact, so only the per-block order of the f32 adds fixes the result; it is the
// same for rows computed in a block of four or alone (a sample never depends on its batch).
//
// Whole blocks of four rows are first packed as [pair][4 rows] (packRows, treating each (k, k+1)
// pair of i16 as one 4-byte element): the block's four activations then load from one pointer at
// constant offsets, where four row pointers cost V8 an address computation per load. On a Sapphire
// Rapids-class Xeon that shares its cores with other guests, the int8 dense decoder ran 1.12-1.17x
// faster at batch 64 while the core was contended, and the same when it was quiet.
import { finishLanes, storePanel } from './store';
import { packedRowsBytes, packRows } from './gemm';

export const Q_MAX: f32 = 8191;
const K_BLOCK_PAIRS: i32 = 1024;
/** Bytes of one packed int8 panel row pair: 8 columns x (k, k+1). */
export const I8_PANEL_PAIR: usize = 16;

/** Where a block's f32 partial sums wait while the next block accumulates (8 vectors). */
const PARTIALS: usize = memory.data(128, 16);
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
    memory.fill(TAIL, 0, 32);
    memory.copy(TAIL, xr + (<usize>whole << 2), tailBytes);
    const maxAbs = rowMaxAbs(xr, whole);
    const inv = f32x4.splat(maxAbs > 0 ? Q_MAX / maxAbs : 0);
    store<f32>(scales + (<usize>r << 2), maxAbs / Q_MAX);
    for (let k = 0; k < whole; k += 8) v128.store(qr + (<usize>k << 1), quantize8(xr + (<usize>k << 2), inv));
    if (tailBytes) v128.store(qr + (<usize>whole << 1), quantize8(TAIL, inv));
  }
}

/** max |x| over the row's first `whole` values and the TAIL copy of the rest. */
// @ts-ignore: decorator
@inline
function rowMaxAbs(xr: usize, whole: i32): f32 {
  let m = f32x4.max(f32x4.abs(v128.load(TAIL)), f32x4.abs(v128.load(TAIL, 16)));
  for (let k = 0; k < whole; k += 4) m = f32x4.max(m, f32x4.abs(v128.load(xr + (<usize>k << 2))));
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

// @ts-ignore: decorator
@inline
function quantize8(src: usize, inv: v128): v128 {
  const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src), inv)));
  const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src, 16), inv)));
  return i16x8.narrow_i32x4_s(a, b);
}

/** Scratch bytes gemmI8 needs to pack `rows` quantized rows of K values (their whole blocks of four). */
// @ts-ignore: decorator
@inline
export function packedQuantizedRowsBytes(rows: i32, K: i32): usize {
  return packedRowsBytes(rows, (K + 1) >> 1);
}

/**
 * y[rows, N] = act(q . W * (rowScale * colScale) + bias) for quantized rows q (stride in bytes) and
 * int8 weights packed as [panel][k pair][8 columns][2] (see pack.ts). `packed` holds
 * packedQuantizedRowsBytes(rows, K) of scratch.
 */
export function gemmI8(
  q: usize, qStride: usize, rowScales: usize, rows: i32, K: i32, N: i32,
  w: usize, colScale: usize, bias: usize, y: usize, yStride: usize, act: i32, alpha: f32, packed: usize,
): void {
  const pairs = (K + 1) >> 1;
  const panelBytes = <usize>pairs * I8_PANEL_PAIR;
  const blockBytes = <usize>pairs << 4;
  packRows(q, qStride, rows, pairs, packed);
  for (let col = 0; col < N; col += 8) {
    const wp = w + <usize>(col >> 3) * panelBytes;
    const cb = <usize>col << 2;
    const count = min(8, N - col);
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      block4(packed + <usize>(r >> 2) * blockBytes, pairs, wp);
      for (let i = 0; i < 4; i++) finishRow(i, rowScales + (<usize>(r + i) << 2), colScale + cb, bias + cb, y + <usize>(r + i) * yStride + cb, count, act, alpha);
    }
    for (; r < rows; r++) {
      row1(q + <usize>r * qStride, pairs, wp);
      finishRow(0, rowScales + (<usize>r << 2), colScale + cb, bias + cb, y + <usize>r * yStride + cb, count, act, alpha);
    }
  }
}

/** Sums a packed block of four rows ([pair][4], 16 bytes a pair) against one panel into PARTIALS (row i at 32 * i bytes). */
function block4(a: usize, pairs: i32, wp: usize): void {
  for (let kb = 0; kb < pairs; kb += K_BLOCK_PAIRS) {
    let a0l = i32x4.splat(0), a0h = i32x4.splat(0), a1l = i32x4.splat(0), a1h = i32x4.splat(0);
    let a2l = i32x4.splat(0), a2h = i32x4.splat(0), a3l = i32x4.splat(0), a3h = i32x4.splat(0);
    const end = a + (<usize>min(pairs, kb + K_BLOCK_PAIRS) << 4);
    let wk = wp + <usize>kb * I8_PANEL_PAIR;
    for (let ak = a + (<usize>kb << 4); ak < end; ak += 16) {
      const lo = v128.load8x8_s(wk), hi = v128.load8x8_s(wk, 8);
      const v0 = v128.load32_splat(ak), v1 = v128.load32_splat(ak, 4);
      const v2 = v128.load32_splat(ak, 8), v3 = v128.load32_splat(ak, 12);
      a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v0, lo)); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v0, hi));
      a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v1, lo)); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v1, hi));
      a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v2, lo)); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v2, hi));
      a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v3, lo)); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v3, hi));
      wk += I8_PANEL_PAIR;
    }
    const first = kb == 0;
    addPartial(PARTIALS, a0l, first); addPartial(PARTIALS + 16, a0h, first);
    addPartial(PARTIALS + 32, a1l, first); addPartial(PARTIALS + 48, a1h, first);
    addPartial(PARTIALS + 64, a2l, first); addPartial(PARTIALS + 80, a2h, first);
    addPartial(PARTIALS + 96, a3l, first); addPartial(PARTIALS + 112, a3h, first);
  }
}

/** One row against one panel into PARTIALS row 0. */
function row1(q: usize, pairs: i32, wp: usize): void {
  for (let kb = 0; kb < pairs; kb += K_BLOCK_PAIRS) {
    let al = i32x4.splat(0), ah = i32x4.splat(0);
    const end = q + (<usize>min(pairs, kb + K_BLOCK_PAIRS) << 2);
    let wk = wp + <usize>kb * I8_PANEL_PAIR;
    for (let qp = q + (<usize>kb << 2); qp < end; qp += 4) {
      const v = v128.load32_splat(qp);
      al = i32x4.add(al, i32x4.dot_i16x8_s(v, v128.load8x8_s(wk)));
      ah = i32x4.add(ah, i32x4.dot_i16x8_s(v, v128.load8x8_s(wk, 8)));
      wk += I8_PANEL_PAIR;
    }
    addPartial(PARTIALS, al, kb == 0);
    addPartial(PARTIALS + 16, ah, kb == 0);
  }
}

// @ts-ignore: decorator
@inline
function addPartial(at: usize, block: v128, first: bool): void {
  const sum = f32x4.convert_i32x4_s(block);
  v128.store(at, first ? sum : f32x4.add(v128.load(at), sum));
}

// @ts-ignore: decorator
@inline
function finishRow(i: i32, rowScale: usize, colScale: usize, bias: usize, y: usize, count: i32, act: i32, alpha: f32): void {
  const partial = PARTIALS + (<usize>i << 5);
  const s = v128.load32_splat(rowScale);
  const lo = f32x4.mul(v128.load(partial), f32x4.mul(s, v128.load(colScale)));
  const hi = f32x4.mul(v128.load(partial, 16), f32x4.mul(s, v128.load(colScale, 16)));
  storePanel(y, finishLanes(lo, v128.load(bias), act, alpha), finishLanes(hi, v128.load(bias, 16), act, alpha), count);
}
