// Joins a one-hot class label to each sample's flat activation (conditional decoders).

/** Returns false if a label is outside 0..classes-1 (the host checks first; this is a backstop). */
export function concatLabel(x: usize, y: usize, batch: i32, size: i32, labels: usize, classes: i32, labelFirst: bool): bool {
  const outSize = size + classes;
  for (let b = 0; b < batch; b++) {
    const label = load<i32>(labels + (<usize>b << 2));
    if (label < 0 || label >= classes) return false;
    const row = y + (<usize>(b * outSize) << 2);
    const features = labelFirst ? row + (<usize>classes << 2) : row;
    const oneHot = labelFirst ? row : row + (<usize>size << 2);
    memory.copy(features, x + (<usize>(b * size) << 2), <usize>size << 2);
    memory.fill(oneHot, 0, <usize>classes << 2);
    store<f32>(oneHot + (<usize>label << 2), 1.0);
  }
  return true;
}

/** n floats from src to dst as raw words: memory.copy for long runs, a plain loop for short ones. */
// @ts-ignore: decorator
@inline
function copyWords(dst: usize, src: usize, n: i32): void {
  if (n >= 32) {
    memory.copy(dst, src, <usize>n << 2);
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<u32>(dst + (<usize>i << 2), load<u32>(src + (<usize>i << 2)));
}

/**
 * Channels side by side: y[r] = [a[r, 0..CA), b[r, 0..CB)] for r < rows (NHWC values, rows = pixels
 * of all samples). Bits are copied unchanged. y must not overlap a or b.
 */
export function concatChannels(a: usize, b: usize, y: usize, rows: i32, CA: i32, CB: i32): void {
  if (rows <= 0) return;
  const CY = CA + CB;
  for (let r = 0; r < rows; r++) {
    const yr = y + (<usize>r * <usize>CY << 2);
    if (CA > 0) copyWords(yr, a + (<usize>r * <usize>CA << 2), CA);
    if (CB > 0) copyWords(yr + (<usize>CA << 2), b + (<usize>r * <usize>CB << 2), CB);
  }
}
