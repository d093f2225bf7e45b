// Lists of where a block of four packed rows is nonzero, for the kernels to skip what is zero in all
// four (gemm.ts for f32, gemm-i8.ts for int8 pairs). A decoder fed by ReLU has whole stretches of k
// that are zero in every sample: the shipped conv VAE, 60% of the (k, k+1) pairs its 12,544-input
// dense layer reads, in blocks of four samples. Entries are byte offsets e * 16 of 4-byte elements
// (an f32 value, or an int8 pair of i16), the element's place in a block packed as [element][4].

/** Set in a list's end when the kernel is to read only the listed elements. */
export const SPARSE_LIST: u32 = 1;

/**
 * A list's end, marked SPARSE_LIST where at most 7/8 of its `elements` are listed: below that the
 * extra offset load a listed element costs (about 4% an element, measured on int8) no longer pays.
 */
// @ts-ignore: decorator
@inline
export function listEnd(start: usize, end: usize, elements: i32): u32 {
  const listed = <i32>((end - start) >> 2);
  return <u32>end | (listed * 8 <= elements * 7 ? SPARSE_LIST : 0);
}

/**
 * Appends to the list at e those of elements first..first+3 whose lanes of `any` (the four rows'
 * vectors OR-ed) are nonzero; returns the list's new end. Branch-free, since a ReLU layer's zeros
 * follow no pattern a branch predictor could learn: every offset is stored, and the end moves past
 * the nonzero ones only. (A byte shuffle from a 16-entry table, one store for all four, needs static
 * memory, which the training module must not have: it works in the wasm backend's memory.)
 */
// @ts-ignore: decorator
@inline
export function listFour(e: usize, any: v128, first: i32): usize {
  const mask = <usize>i32x4.bitmask(i32x4.ne(any, i32x4.splat(0)));
  const at = <u32>first << 4;
  // Bit j of the mask, times 4 (an entry's bytes).
  store<u32>(e, at);
  e += (mask & 1) << 2;
  store<u32>(e, at + 16);
  e += (mask & 2) << 1;
  store<u32>(e, at + 32);
  e += mask & 4;
  store<u32>(e, at + 48);
  return e + ((mask >> 1) & 4);
}

/**
 * Appends element `k` to the list at e where `rows` (its value in each of the four rows, one per lane)
 * is nonzero in any row; returns the list's new end. Branch-free, as listFour.
 */
// @ts-ignore: decorator
@inline
export function listOne(e: usize, rows: v128, k: i32): usize {
  store<u32>(e, <u32>k << 4);
  return e + select<usize>(4, 0, v128.any_true(rows));
}
