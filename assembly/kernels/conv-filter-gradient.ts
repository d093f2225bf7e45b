// The gradient of a 2-d convolution with respect to its filter (TensorFlow's Conv2DBackpropFilter):
//   dW[ky, kx, c, o] = sum over output pixels p of im2col(x)[p, (ky, kx, c)] * dy[p, o],
// i.e. dW[Kf, OC] = im2col(x)^T . dy, a GEMM whose inner dimension is the batch's output pixels.
// It runs on the f32 microkernel in chunks of CHUNK_PIXELS pixels: the microkernel reads the chunk's
// im2col columns as its rows (of length CHUNK_PIXELS), dy's rows for the chunk are packed into
// panels, and the chunk's partial product is added into dW. The add costs 1/CHUNK of the arithmetic,
// and a chunk's operands stay in cache.
//
// The microkernel takes its rows in blocks of four, [k][4]: four consecutive im2col columns at one
// pixel are 16 contiguous bytes of the im2col row, so when Kf is a multiple of four (every layer
// with 4 or 64 channels, or a 4x4 kernel) the blocks are copied straight out of the im2col rows,
// each with its list of the pixels where any of its four columns is nonzero (nonzero-list.ts): the
// kernel skips the others. Padding taps are zero in every channel, and so are a ReLU layer's
// inactive outputs in the gradients that reach it. Other filters transpose the rows first and let
// the kernel pack (and list) them.
import { dense, denseScratchBytes, TILE_ROWS, WEIGHTS_F32 } from './dense';
import { gemmPackedF32, rowListBytes } from './gemm';
import { listEnd, listOne } from './nonzero-list';
import { im2col } from './im2col';
import { aligned16, packRowsF32, panelBytes, panelVectorBytes } from './pack-f32';
import { transposeF32 } from './transpose';
import { ACT_LINEAR } from './activation';

/** Output pixels per chunk. */
const CHUNK_PIXELS: i32 = 256;

/**
 * x: [batch, H, W, C], dy: [batch, OH, OW, OC] -> dw: [kh, kw, C, OC], for a convolution with
 * strides sh, sw and padTop/padLeft before the first row/column. `scratch` holds
 * convFilterGradientScratchBytes(kh * kw * C, OC) bytes, 16-aligned.
 */
export function convFilterGradient(
  x: usize, dy: usize, dw: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, scratch: usize,
): void {
  const Kf = kh * kw * C;
  const cols = scratch;
  const colsT = cols + chunkBytes(Kf);
  const packed = colsT + chunkBytes(Kf);
  const zeroBias = packed + panelBytes(CHUNK_PIXELS, OC);
  const partial = zeroBias + panelVectorBytes(OC);
  const lists = partial + aligned16(<usize>Kf * <usize>OC << 2);
  const denseScratch = lists + tileListsBytes();
  memory.fill(zeroBias, 0, panelVectorBytes(OC));
  memory.fill(dw, 0, <usize>Kf * <usize>OC << 2);
  const pixels = batch * OH * OW;
  for (let first = 0; first < pixels; first += CHUNK_PIXELS) {
    const count = min(CHUNK_PIXELS, pixels - first);
    im2col(x, cols, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, false);
    packRowsF32(dy + (<usize>first * <usize>OC << 2), packed, count, OC, OC);
    if ((Kf & 3) == 0) {
      // Tiles of TILE_ROWS filter rows, as dense runs them, so a tile's blocks stay in cache across the panels.
      for (let r = 0; r < Kf; r += TILE_ROWS) {
        const tile = min(TILE_ROWS, Kf - r);
        blocksFromColumns(cols, Kf, count, r, tile, colsT, lists);
        gemmPackedF32(0, 0, tile, count, OC, packed, zeroBias, partial + (<usize>r * <usize>OC << 2), <usize>OC << 2, ACT_LINEAR, 0, colsT, lists);
      }
    } else {
      transposeF32(cols, colsT, count, Kf);
      dense(WEIGHTS_F32, colsT, partial, Kf, count, OC, packed, zeroBias, 0, denseScratch, ACT_LINEAR, 0);
    }
    addInPlace(dw, partial, Kf * OC);
  }
}

/**
 * Columns [first, first + rows) of the im2col rows (count rows of Kf floats) as the microkernel's
 * row blocks: block b holds columns first + 4b .. first + 4b + 3 as [pixel][4], and its list of
 * nonzero pixels at lists + b / 4 * rowListBytes(count). rows and first are multiples of four.
 */
function blocksFromColumns(cols: usize, Kf: i32, count: i32, first: i32, rows: i32, dst: usize, lists: usize): void {
  const rowBytes = <usize>Kf << 2;
  for (let b = 0; b < rows; b += 4) {
    const src = cols + (<usize>(first + b) << 2);
    const out = dst + <usize>b * (<usize>count << 2);
    const list = lists + <usize>(b >> 2) * rowListBytes(count), start = list + 4;
    let e = start;
    for (let p = 0; p < count; p++) {
      const v = v128.load(src + <usize>p * rowBytes);
      v128.store(out + (<usize>p << 4), v);
      e = listOne(e, v, p);
    }
    store<u32>(list, listEnd(start, e, count));
  }
}

/** Bytes of the lists of a tile's blocks of four rows, CHUNK_PIXELS long. */
// @ts-ignore: decorator
@inline
function tileListsBytes(): usize {
  return aligned16(<usize>(TILE_ROWS >> 2) * rowListBytes(CHUNK_PIXELS));
}

/** Scratch bytes convFilterGradient needs for a filter of Kf = kh*kw*C rows and OC columns. */
export function convFilterGradientScratchBytes(Kf: i32, OC: i32): usize {
  return 2 * chunkBytes(Kf) + panelBytes(CHUNK_PIXELS, OC) + panelVectorBytes(OC) + aligned16(<usize>Kf * <usize>OC << 2) + tileListsBytes() + denseScratchBytes(WEIGHTS_F32, CHUNK_PIXELS);
}

/** Bytes of CHUNK_PIXELS rows of `width` floats, 16-aligned. */
// @ts-ignore: decorator
@inline
function chunkBytes(width: i32): usize {
  return aligned16(<usize>CHUNK_PIXELS * <usize>width << 2);
}

/** dst[i] += src[i] for i < n. */
function addInPlace(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(src + at)));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(dst + (<usize>i << 2)) + load<f32>(src + (<usize>i << 2)));
}
