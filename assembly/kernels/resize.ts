// Resize (upsampling and downsampling) of NHWC values [batch, H, W, C] -> [batch, OH, OW, C] through
// per-axis tables that the host computes once at load time (src/layers/resize.ts, resizeTables), so
// every ONNX coordinate_transformation_mode, nearest_mode and scale is only a different table and
// the kernels never round a coordinate.
//
// Tables (one per axis, rows for the OH output rows, cols for the OW output columns):
// - nearest: i32 source index per output index, in [0, H) or [0, W).
// - linear: 16 bytes per output index, {i32 i0, i32 i1, f32 w0, f32 w1} with w0 = 1 - w1 (rounded
//   to f32 by the host), i0 <= i1 both in range.
//
// A bilinear value is computed in f32 in this order, the order of PyTorch's CPU kernel, with plain
// multiplies and adds (no fused multiply-add, also in the relaxed build), so it has the same bits on
// every engine and in the scalar reference (resizeReference):
//   top    = wx0 * a + wx1 * b        a = x[y0, x0], b = x[y0, x1]
//   bottom = wx0 * c + wx1 * d        c = x[y1, x0], d = x[y1, x1]
//   value  = wy0 * top + wy1 * bottom
// Channels are the vector axis (contiguous in NHWC); the lanes past the last multiple of four go
// through the same f32 operations one at a time, so a value never depends on its channel's position.
import { copyBytes } from './copy';
import { RESIZE_LINEAR_ENTRY_BYTES } from '../../src/runtime/abi';

/**
 * Nearest-neighbour resize: y[s, oy, ox, :] = x[s, rows[oy], cols[ox], :]. A pure copy. An output row
 * whose source row is the previous one's is a copy of that output row (half the rows of a 2x
 * upsampling); when cols is the 2x table (cols[ox] = ox >> 1, OW = 2W), each source pixel is loaded
 * once and stored twice.
 */
export function resizeNearest(x: usize, y: usize, batch: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, rows: usize, cols: usize): void {
  const pixelBytes = <usize>C << 2;
  const inRowBytes = <usize>W * pixelBytes;
  const outRowBytes = <usize>OW * pixelBytes;
  const doubled = isDoubling(cols, W, OW);
  for (let s = 0; s < batch; s++) {
    const xs = x + <usize>s * <usize>H * inRowBytes;
    const ys = y + <usize>s * <usize>OH * outRowBytes;
    for (let oy = 0; oy < OH; oy++) {
      const r = load<i32>(rows + (<usize>oy << 2));
      const dst = ys + <usize>oy * outRowBytes;
      if (oy > 0 && r == load<i32>(rows + (<usize>(oy - 1) << 2))) {
        copyBytes(dst, dst - outRowBytes, outRowBytes);
        continue;
      }
      const src = xs + <usize>r * inRowBytes;
      if (doubled) doubleRow(src, dst, W, C);
      else {
        for (let ox = 0; ox < OW; ox++) {
          const c = load<i32>(cols + (<usize>ox << 2));
          copyBytes(dst + <usize>ox * pixelBytes, src + <usize>c * pixelBytes, pixelBytes);
        }
      }
    }
  }
}

/** Whether the column table repeats each source column twice in order (nearest, factor 2). */
function isDoubling(cols: usize, W: i32, OW: i32): bool {
  if (OW != 2 * W) return false;
  for (let ox = 0; ox < OW; ox++) if (load<i32>(cols + (<usize>ox << 2)) != ox >> 1) return false;
  return true;
}

/** dst[2w] = dst[2w + 1] = src[w] for the W pixels of a row (C floats each). */
function doubleRow(src: usize, dst: usize, W: i32, C: i32): void {
  if (C == 1) {
    // Four pixels per load, two stores of (a a b b) and (c c d d).
    let w = 0;
    for (; w + 4 <= W; w += 4) {
      const v = v128.load(src + (<usize>w << 2));
      const at = dst + (<usize>w << 3);
      v128.store(at, v128.shuffle<f32>(v, v, 0, 0, 1, 1));
      v128.store(at, v128.shuffle<f32>(v, v, 2, 2, 3, 3), 16);
    }
    for (; w < W; w++) {
      const v = load<f32>(src + (<usize>w << 2));
      const at = dst + (<usize>w << 3);
      store<f32>(at, v);
      store<f32>(at, v, 4);
    }
    return;
  }
  const pixelBytes = <usize>C << 2;
  for (let w = 0; w < W; w++) {
    const from = src + <usize>w * pixelBytes;
    const to = dst + (<usize>w * pixelBytes << 1);
    let c: usize = 0;
    for (; c + 16 <= pixelBytes; c += 16) {
      const v = v128.load(from + c);
      v128.store(to + c, v);
      v128.store(to + pixelBytes + c, v);
    }
    for (; c < pixelBytes; c += 4) {
      const v = load<f32>(from + c);
      store<f32>(to + c, v);
      store<f32>(to + pixelBytes + c, v);
    }
  }
}

/**
 * Bilinear resize through linear tables (16-byte entries {i0, i1, w0, w1}, see the file head): for
 * every output pixel, the four source pixels' channels blended in the documented f32 order.
 */
export function resizeBilinear(x: usize, y: usize, batch: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, rows: usize, cols: usize): void {
  const pixelBytes = <usize>C << 2;
  const inRowBytes = <usize>W * pixelBytes;
  const outRowBytes = <usize>OW * pixelBytes;
  for (let s = 0; s < batch; s++) {
    const xs = x + <usize>s * <usize>H * inRowBytes;
    let dst = y + <usize>s * <usize>OH * outRowBytes;
    for (let oy = 0; oy < OH; oy++) {
      const re = rows + <usize>oy * RESIZE_LINEAR_ENTRY_BYTES;
      const row0 = xs + <usize>load<i32>(re) * inRowBytes;
      const row1 = xs + <usize>load<i32>(re, 4) * inRowBytes;
      const wy0 = load<f32>(re, 8);
      const wy1 = load<f32>(re, 12);
      for (let ox = 0; ox < OW; ox++) {
        const ce = cols + <usize>ox * RESIZE_LINEAR_ENTRY_BYTES;
        const off0 = <usize>load<i32>(ce) * pixelBytes;
        const off1 = <usize>load<i32>(ce, 4) * pixelBytes;
        blendPixel(row0 + off0, row0 + off1, row1 + off0, row1 + off1, dst, C, load<f32>(ce, 8), load<f32>(ce, 12), wy0, wy1);
        dst += pixelBytes;
      }
    }
  }
}

/** One output pixel's C channels from its four source pixels a, b (top row), c, d (bottom row). */
// @ts-ignore: decorator
@inline
function blendPixel(a: usize, b: usize, c: usize, d: usize, dst: usize, C: i32, wx0: f32, wx1: f32, wy0: f32, wy1: f32): void {
  const vx0 = f32x4.splat(wx0), vx1 = f32x4.splat(wx1);
  const vy0 = f32x4.splat(wy0), vy1 = f32x4.splat(wy1);
  const bytes = <usize>C << 2;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) {
    const top = f32x4.add(f32x4.mul(vx0, v128.load(a + i)), f32x4.mul(vx1, v128.load(b + i)));
    const bottom = f32x4.add(f32x4.mul(vx0, v128.load(c + i)), f32x4.mul(vx1, v128.load(d + i)));
    v128.store(dst + i, f32x4.add(f32x4.mul(vy0, top), f32x4.mul(vy1, bottom)));
  }
  for (; i < bytes; i += 4) {
    const top: f32 = wx0 * load<f32>(a + i) + wx1 * load<f32>(b + i);
    const bottom: f32 = wx0 * load<f32>(c + i) + wx1 * load<f32>(d + i);
    store<f32>(dst + i, wy0 * top + wy1 * bottom);
  }
}
