// Weight packing, done once at load time: from TensorFlow.js layouts to the 8-column panels the
// dense and conv kernels stream through. Columns past the last output channel are zero.

/** Dense W[K, N] (row-major) -> [panel][k][8]. */
export function packDense<W>(src: usize, dst: usize, K: i32, N: i32): void {
  const panels = (N + 7) >> 3;
  let out = dst;
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8; j++) {
        const n = (p << 3) + j;
        store<W>(out, n < N ? load<W>(src + (<usize>(k * N + n) << alignof<W>())) : <W>0);
        out += sizeof<W>();
      }
    }
  }
}

/**
 * Conv kernel -> [panel][tap][c][8]. conv2d stores [kh, kw, C, OC]; conv2dTranspose stores
 * [kh, kw, OC, C] (TensorFlow.js layouts).
 */
export function packConv<W>(src: usize, dst: usize, taps: i32, C: i32, OC: i32, transposed: bool): void {
  const panels = (OC + 7) >> 3;
  let out = dst;
  for (let p = 0; p < panels; p++) {
    for (let t = 0; t < taps; t++) {
      for (let c = 0; c < C; c++) {
        for (let j = 0; j < 8; j++) {
          const oc = (p << 3) + j;
          const index = transposed ? (t * OC + oc) * C + c : (t * C + c) * OC + oc;
          store<W>(out, oc < OC ? load<W>(src + (<usize>index << alignof<W>())) : <W>0);
          out += sizeof<W>();
        }
      }
    }
  }
}

/** Copies n floats and zero-fills up to the next multiple of 8 (biases and scales of a panel). */
export function padVector(src: usize, dst: usize, n: i32): void {
  const padded = (n + 7) & ~7;
  memory.copy(dst, src, <usize>n << 2);
  memory.fill(dst + (<usize>n << 2), 0, <usize>(padded - n) << 2);
}
