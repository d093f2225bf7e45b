// Call-time packing of a GEMM's right operand into the panels of 8 output columns the f32
// microkernel streams ([panel][k][8], zeros past the last column; see pack.ts for the layout).
// pack.ts packs a decoder's weights once, at load time, one value at a time; training packs its
// operands at every call, so these copy whole vectors: a row-major B[K, N] 8 columns at a time, and
// a B stored transposed (B^T[N, K], as MatMul's transposeB) through 4x4 shuffle transposes.

/** Columns rounded up to whole panels of 8. */
// @ts-ignore: decorator
@inline
export function panelColumns(N: i32): i32 {
  return (N + 7) & ~7;
}

/** Bytes of the panels of a K x N matrix, 16-aligned. */
// @ts-ignore: decorator
@inline
export function panelBytes(K: i32, N: i32): usize {
  return aligned16(<usize>panelColumns(N) * <usize>K << 2);
}

/** Bytes of N floats padded to whole panels (a bias, or a row of zeros for none), 16-aligned. */
// @ts-ignore: decorator
@inline
export function panelVectorBytes(N: i32): usize {
  return aligned16(<usize>panelColumns(N) << 2);
}

/** `bytes` rounded up to a multiple of 16, so each scratch region starts vector-aligned. */
// @ts-ignore: decorator
@inline
export function aligned16(bytes: usize): usize {
  return (bytes + 15) & ~15;
}

/**
 * Rows of B[K, N] packed per pass over the panels. A panel at a time streams all of B once per panel,
 * using 32 bytes of every row it touches; a band of 64 rows (200 KB for the 12,544 x 784 weights of
 * conv-vae's last dense layer) stays in cache while each panel takes its 32 bytes of them. That
 * matrix packed in 11.8 ms instead of 15.2 here, the same bytes.
 */
const ROW_BAND: i32 = 64;

/** B[K, N] with rows `rowStride` floats apart -> [panel][k][8]. */
export function packRowsF32(src: usize, dst: usize, K: i32, N: i32, rowStride: i32): void {
  const stride = <usize>rowStride << 2;
  const panelStride = <usize>K << 5;
  const fullPanels = N >> 3;
  for (let k0 = 0; k0 < K; k0 += ROW_BAND) {
    const rows = min(ROW_BAND, K - k0);
    for (let p = 0; p < fullPanels; p++) {
      let s = src + <usize>k0 * stride + (<usize>p << 5);
      let out = dst + <usize>p * panelStride + (<usize>k0 << 5);
      for (let k = 0; k < rows; k++) {
        v128.store(out, v128.load(s));
        v128.store(out, v128.load(s, 16), 16);
        s += stride;
        out += 32;
      }
    }
  }
  const col = fullPanels << 3;
  if (col < N) packTail(src, stride, 4, dst + <usize>fullPanels * panelStride, K, col, N);
}

/** B^T stored as [N, K] (element (k, n) at n * K + k) -> the panels of B[K, N]. */
export function packColumnsF32(src: usize, dst: usize, K: i32, N: i32): void {
  const columnBytes = <usize>K << 2;
  const fullPanels = N >> 3;
  const K4 = K & ~3;
  let out = dst;
  for (let p = 0; p < fullPanels; p++) {
    const s = src + <usize>(p << 3) * columnBytes;
    let k = 0;
    for (; k < K4; k += 4) {
      packColumnsBlock(s + (<usize>k << 2), columnBytes, out);
      out += 128;
    }
    for (; k < K; k++) {
      for (let j = 0; j < 8; j++) store<f32>(out + (<usize>j << 2), load<f32>(s + <usize>j * columnBytes + (<usize>k << 2)));
      out += 32;
    }
  }
  const col = fullPanels << 3;
  if (col < N) packTail(src, 4, columnBytes, out, K, col, N);
}

/** Four k of one full panel: 4 values from each of 8 columns, transposed into 4 panel rows. */
// @ts-ignore: decorator
@inline
function packColumnsBlock(src: usize, columnBytes: usize, out: usize): void {
  const c0 = v128.load(src), c1 = v128.load(src + columnBytes);
  const c2 = v128.load(src + 2 * columnBytes), c3 = v128.load(src + 3 * columnBytes);
  const c4 = v128.load(src + 4 * columnBytes), c5 = v128.load(src + 5 * columnBytes);
  const c6 = v128.load(src + 6 * columnBytes), c7 = v128.load(src + 7 * columnBytes);
  const a0 = v128.shuffle<f32>(c0, c1, 0, 4, 1, 5), a1 = v128.shuffle<f32>(c0, c1, 2, 6, 3, 7);
  const a2 = v128.shuffle<f32>(c2, c3, 0, 4, 1, 5), a3 = v128.shuffle<f32>(c2, c3, 2, 6, 3, 7);
  const b0 = v128.shuffle<f32>(c4, c5, 0, 4, 1, 5), b1 = v128.shuffle<f32>(c4, c5, 2, 6, 3, 7);
  const b2 = v128.shuffle<f32>(c6, c7, 0, 4, 1, 5), b3 = v128.shuffle<f32>(c6, c7, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(a0, a2, 0, 1, 4, 5));
  v128.store(out, v128.shuffle<f32>(b0, b2, 0, 1, 4, 5), 16);
  v128.store(out, v128.shuffle<f32>(a0, a2, 2, 3, 6, 7), 32);
  v128.store(out, v128.shuffle<f32>(b0, b2, 2, 3, 6, 7), 48);
  v128.store(out, v128.shuffle<f32>(a1, a3, 0, 1, 4, 5), 64);
  v128.store(out, v128.shuffle<f32>(b1, b3, 0, 1, 4, 5), 80);
  v128.store(out, v128.shuffle<f32>(a1, a3, 2, 3, 6, 7), 96);
  v128.store(out, v128.shuffle<f32>(b1, b3, 2, 3, 6, 7), 112);
}

/** The last, partial panel (columns col..N-1, zeros after), one value at a time; strides in bytes. */
function packTail(src: usize, kStride: usize, nStride: usize, out: usize, K: i32, col: i32, N: i32): void {
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < 8; j++) {
      const n = col + j;
      store<f32>(out, n < N ? load<f32>(src + <usize>k * kStride + <usize>n * nStride) : 0);
      out += 4;
    }
  }
}
