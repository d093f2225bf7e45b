// y[s, i] = x[s, table[i]]: layout changes (NCHW <-> NHWC), transposes and permutations as one table
// of source indices per sample, built once by the host. Values move as raw 32-bit words, so every bit
// pattern (NaN payloads included) arrives unchanged.

/**
 * y[s * size + i] = x[s * inSize + table[i]] for s < batch, i < size. table: i32[size], every entry in
 * 0..inSize-1 (the host checks; nothing here does). y must not overlap x.
 */
export function gatherSamples(x: usize, y: usize, batch: i32, inSize: i32, size: i32, table: usize): void {
  if (batch <= 0 || size <= 0) return;
  for (let s = 0; s < batch; s++) {
    const xs = x + (<usize>s * <usize>inSize << 2);
    const ys = y + (<usize>s * <usize>size << 2);
    let i = 0;
    for (; i + 4 <= size; i += 4) {
      const at = <usize>i << 2;
      const t = v128.load(table + at);
      const w0 = load<u32>(xs + (<usize>i32x4.extract_lane(t, 0) << 2));
      const w1 = load<u32>(xs + (<usize>i32x4.extract_lane(t, 1) << 2));
      const w2 = load<u32>(xs + (<usize>i32x4.extract_lane(t, 2) << 2));
      const w3 = load<u32>(xs + (<usize>i32x4.extract_lane(t, 3) << 2));
      store<u32>(ys + at, w0);
      store<u32>(ys + at, w1, 4);
      store<u32>(ys + at, w2, 8);
      store<u32>(ys + at, w3, 12);
    }
    for (; i < size; i++) {
      const at = <usize>i << 2;
      store<u32>(ys + at, load<u32>(xs + (<usize>load<i32>(table + at) << 2)));
    }
  }
}
