// What every int8 microkernel ends with: a block's exact i32 sums, added up in f32 block after block
// (2048 k at a time, see gemm-i8.ts), then scaled, biased and activated into a panel of the output.
import { finishLanesWithoutCall, storePanel } from './store';

/** k summed in i32 before a block's sums go to f32: the bound on i32 overflow (gemm-i8.ts, "Why 8191"). */
export const K_BLOCK: i32 = 2048;

/**
 * The block length the int8 GEMMs use: K_BLOCK, except while a transposed conv runs one of its phases
 * (conv-phases.ts). A phase reads a subset of the whole kernel's k, and its sums must split where the
 * whole kernel's 2048-k blocks do for the result to keep its bits: there the phase sets the shorter,
 * uniform length its k fall into (phaseBlockK), a multiple of 4, and puts K_BLOCK back after.
 */
let blockK: i32 = K_BLOCK;

/** The current int8 block length in k (K_BLOCK but inside a conv phase). */
// @ts-ignore: decorator
@inline
export function kBlock(): i32 {
  return blockK;
}

/** Sets the int8 block length for the calls that follow (k, a multiple of 4, at most K_BLOCK). */
export function setKBlock(k: i32): void {
  blockK = k;
}

/** Where a block's f32 partial sums wait while the next block accumulates: 4 rows x 8 columns. */
export const PARTIALS: usize = memory.data(128, 16);

/** Adds one block's i32 sums for four columns into the partials at `at` (stores them for the first block). */
// @ts-ignore: decorator
@inline
export function addPartial(at: usize, block: v128, first: bool): void {
  const sum = f32x4.convert_i32x4_s(block);
  v128.store(at, first ? sum : f32x4.add(v128.load(at), sum));
}

/**
 * Row i of the partials times rowScale * colScale, plus bias, into y (count columns), with ReLU or
 * leaky ReLU; sigmoid and tanh are the caller's pass after (activation.ts, activateWithoutCall).
 */
// @ts-ignore: decorator
@inline
export function finishRow(i: i32, rowScale: usize, colScale: usize, bias: usize, y: usize, count: i32, act: i32, alpha: f32): void {
  const partial = PARTIALS + (<usize>i << 5);
  const s = v128.load32_splat(rowScale);
  const lo = f32x4.mul(v128.load(partial), f32x4.mul(s, v128.load(colScale)));
  const hi = f32x4.mul(v128.load(partial, 16), f32x4.mul(s, v128.load(colScale, 16)));
  storePanel(y, finishLanesWithoutCall(lo, v128.load(bias), act, alpha), finishLanesWithoutCall(hi, v128.load(bias, 16), act, alpha), count);
}
