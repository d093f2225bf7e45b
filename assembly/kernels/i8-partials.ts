// What every int8 microkernel ends with: a block's exact i32 sums, added up in f32 block after block
// (2048 k at a time, see gemm-i8.ts), then scaled, biased and activated into a panel of the output.
import { finishLanes, storePanel } from './store';

/** k summed in i32 before a block's sums go to f32: the bound on i32 overflow (gemm-i8.ts, "Why 8191"). */
export const K_BLOCK: i32 = 2048;

/** Where a block's f32 partial sums wait while the next block accumulates: 4 rows x 8 columns. */
export const PARTIALS: usize = memory.data(128, 16);

/** Adds one block's i32 sums for four columns into the partials at `at` (stores them for the first block). */
// @ts-ignore: decorator
@inline
export function addPartial(at: usize, block: v128, first: bool): void {
  const sum = f32x4.convert_i32x4_s(block);
  v128.store(at, first ? sum : f32x4.add(v128.load(at), sum));
}

/** Row i of the partials times rowScale * colScale, plus bias, activated, into y (count columns). */
// @ts-ignore: decorator
@inline
export function finishRow(i: i32, rowScale: usize, colScale: usize, bias: usize, y: usize, count: i32, act: i32, alpha: f32): void {
  const partial = PARTIALS + (<usize>i << 5);
  const s = v128.load32_splat(rowScale);
  const lo = f32x4.mul(v128.load(partial), f32x4.mul(s, v128.load(colScale)));
  const hi = f32x4.mul(v128.load(partial, 16), f32x4.mul(s, v128.load(colScale, 16)));
  storePanel(y, finishLanes(lo, v128.load(bias), act, alpha), finishLanes(hi, v128.load(bias, 16), act, alpha), count);
}
