// Matrix transpose, f32: dst[cols, rows] = src[rows, cols]^T. Training calls it at run time on the
// operands a GEMM reads row by row (a transposed left operand, im2col columns of a filter
// gradient), so it works in 4x4 blocks of vector loads and shuffles; the ragged edges go one value
// at a time.

/** dst[c * rows + r] = src[r * cols + c] for every r < rows, c < cols. */
export function transposeF32(src: usize, dst: usize, rows: i32, cols: i32): void {
  const srcRow = <usize>cols << 2, dstRow = <usize>rows << 2;
  const rows4 = rows & ~3, cols4 = cols & ~3;
  for (let r = 0; r < rows4; r += 4) {
    const s = src + <usize>r * srcRow;
    for (let c = 0; c < cols4; c += 4) {
      transposeBlock4(s + (<usize>c << 2), srcRow, dst + <usize>c * dstRow + (<usize>r << 2), dstRow);
    }
  }
  // The right edge (columns past cols4, every row) and the bottom edge (rows past rows4).
  for (let r = 0; r < rows; r++) {
    for (let c = r < rows4 ? cols4 : 0; c < cols; c++) {
      store<f32>(dst + <usize>c * dstRow + (<usize>r << 2), load<f32>(src + <usize>r * srcRow + (<usize>c << 2)));
    }
  }
}

/** One 4x4 block: four rows in, four columns out, by two rounds of shuffles. */
// @ts-ignore: decorator
@inline
export function transposeBlock4(src: usize, srcStride: usize, dst: usize, dstStride: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + srcStride);
  const r2 = v128.load(src + 2 * srcStride), r3 = v128.load(src + 3 * srcStride);
  storeTransposed4(r0, r1, r2, r3, dst, dstStride);
}

/**
 * Four rows of four 4-byte values, already loaded, stored as four columns: for callers that also use
 * the rows themselves (the GEMMs' packing lists where they are nonzero).
 */
// @ts-ignore: decorator
@inline
export function storeTransposed4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, dstStride: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + dstStride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * dstStride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * dstStride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}
