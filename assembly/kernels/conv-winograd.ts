// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2015, "Fast
// Algorithms for Convolutional Neural Networks"): each 2x2 block of output pixels ("tile") is
// computed from its 4x4 input patch d and the kernel g as Y = A^T [(G g G^T) . (B^T d B)] A, so the
// multiply-adds of a tile are the 16 products of the elementwise "." summed over the input channels,
// 16 C OC of them, where the direct conv spends 4 * 9 C OC: 2.25 times fewer.
//
// Summed over channels, the elementwise product is 16 matrix products, one per position xi of the 4x4
// transform: M[xi] (tiles x OC) = V[xi] (tiles x C) . U[xi] (C x OC). U = G g G^T is computed once,
// when the kernel is packed, as 16 panel sets in the f32 GEMM's layout; V = B^T d B is computed per
// block of TILES tiles into scratch, then each M[xi] by the f32 GEMM microkernel (gemm.ts), and each
// tile's M turned back into its 2x2 output pixels with bias and activation.
//
// The transforms add and subtract (and halve, in G), so the result differs from the direct conv's by
// rounding: its error is tested against the f64 reference (test/conv-kernels.test.ts). Every output
// pixel is computed the same way whatever the batch or the band of rows a thread computes, provided
// the tiles start at even rows (executor-threads.ts keeps its bands so).
import { gemmF32, gemmF32ScratchBytes } from './gemm';
import { WEIGHTS_F32 } from './dense';
import { activateInPlace, activatesByCall, activateWithoutCall } from './activation';
import { directChannels } from './conv-direct';

/** Tiles transformed and multiplied together: V and M of a block stay in the cache between the passes. */
const TILES: i32 = 64;
/** Positions of the 4x4 transform. */
const POSITIONS: i32 = 16;

/**
 * Whether convGeneral runs a layer this way: f32 weights, a 3x3 conv2d at stride 1 without dilation
 * or groups, channels in whole fours, at least 16 each way and more than the direct kernel takes
 * (conv-direct.ts: 16 x 16 ran as fast there; 24 x 24 ran 1.3 times faster here).
 */
export function usesWinograd(weights: i32, C: i32, OC: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, groups: i32, transposed: bool): bool {
  return weights == WEIGHTS_F32 && !transposed && groups == 1 && kh == 3 && kw == 3 && sh == 1 && sw == 1 && dh == 1 && dw == 1
    && C % 4 == 0 && OC % 4 == 0 && C >= 16 && OC >= 16 && !directChannels(weights, kh, kw, C, OC);
}

/** Bytes of one position's panels: C x OC in panels of 8 columns. */
// @ts-ignore: decorator
@inline
function positionBytes(C: i32, OC: i32): usize {
  return <usize>((OC + 7) & ~7) * <usize>C << 2;
}

/** Bytes packWinograd writes: 16 panel sets, then a zero bias for the GEMMs. */
export function winogradKernelBytes(C: i32, OC: i32): usize {
  return <usize>POSITIONS * positionBytes(C, OC) + (<usize>((OC + 7) & ~7) << 2);
}

/** U = G g G^T for every (c, oc) of a conv2d kernel [3, 3, C, OC] (f32), packed as 16 position panel sets. */
export function packWinograd(src: usize, dst: usize, C: i32, OC: i32): void {
  memory.fill(dst, 0, winogradKernelBytes(C, OC));
  const step = positionBytes(C, OC);
  for (let c = 0; c < C; c++) {
    for (let oc = 0; oc < OC; oc++) {
      const at = dst + (<usize>(oc >> 3) * <usize>C << 5) + (<usize>c << 5) + (<usize>(oc & 7) << 2);
      for (let i = 0; i < 4; i++) {
        // Row i of G g (over the kernel's rows, one per kernel column), then that row times G^T.
        const g0 = timesG(i, kernelAt(src, 0, 0, c, C, OC, oc), kernelAt(src, 1, 0, c, C, OC, oc), kernelAt(src, 2, 0, c, C, OC, oc));
        const g1 = timesG(i, kernelAt(src, 0, 1, c, C, OC, oc), kernelAt(src, 1, 1, c, C, OC, oc), kernelAt(src, 2, 1, c, C, OC, oc));
        const g2 = timesG(i, kernelAt(src, 0, 2, c, C, OC, oc), kernelAt(src, 1, 2, c, C, OC, oc), kernelAt(src, 2, 2, c, C, OC, oc));
        for (let j = 0; j < 4; j++) store<f32>(at + <usize>(i * 4 + j) * step, timesG(j, g0, g1, g2));
      }
    }
  }
}

/** Row i of G times (a, b, c): G's rows are [1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]. */
// @ts-ignore: decorator
@inline
function timesG(i: i32, a: f32, b: f32, c: f32): f32 {
  if (i == 0) return a;
  if (i == 1) return (a + b + c) * 0.5;
  if (i == 2) return (a - b + c) * 0.5;
  return c;
}

// @ts-ignore: decorator
@inline
function kernelAt(src: usize, ky: i32, kx: i32, c: i32, C: i32, OC: i32, oc: i32): f32 {
  return load<f32>(src + ((<usize>((ky * 3 + kx) * C + c) * <usize>OC + <usize>oc) << 2));
}

/**
 * Bytes from one position's matrix to the next in V (N = C) or M (N = OC): a block's rows, plus a
 * cache line, so that the 16 positions a tile's transform writes or reads do not all fall in the same
 * cache sets (a power-of-two stride made the transforms take a third of the layer's time).
 */
// @ts-ignore: decorator
@inline
function positionStride(N: i32): usize {
  return (<usize>TILES * N << 2) + 64;
}

/** Scratch bytes `convWinograd` needs: V and M of a block, and the GEMM's. */
export function winogradScratchBytes(C: i32, OC: i32): usize {
  return <usize>POSITIONS * positionStride(C) + <usize>POSITIONS * positionStride(OC) + gemmF32ScratchBytes(TILES, C);
}

/** y = act(conv(x, w) + bias) for a layer usesWinograd accepts; w packed by packWinograd, bias as packConvVector. */
export function convWinograd(
  x: usize, y: usize, batch: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  padTop: i32, padLeft: i32, w: usize, bias: usize, scratch: usize, act: i32, alpha: f32,
): void {
  const vStep = positionStride(C), mStep = positionStride(OC);
  const v = scratch;
  const m = v + <usize>POSITIONS * vStep;
  const gemmScratch = m + <usize>POSITIONS * mStep;
  const step = positionBytes(C, OC);
  const zeroBias = w + <usize>POSITIONS * step;
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  const tiles = batch * TH * TW;
  for (let first = 0; first < tiles; first += TILES) {
    const count = min(TILES, tiles - first);
    for (let t = 0; t < count; t++) {
      const tile = first + t;
      const n = tile / (TH * TW), rest = tile % (TH * TW);
      inputTile(x + <usize>n * H * W * C * 4, H, W, C, ((rest / TW) << 1) - padTop, ((rest % TW) << 1) - padLeft, v + (<usize>t * C << 2), vStep);
    }
    for (let p = 0; p < POSITIONS; p++) {
      gemmF32(v + <usize>p * vStep, <usize>C << 2, count, C, OC, w + <usize>p * step, zeroBias, m + <usize>p * mStep, <usize>OC << 2, 0, 0, gemmScratch);
    }
    for (let t = 0; t < count; t++) {
      const tile = first + t;
      const n = tile / (TH * TW), rest = tile % (TH * TW);
      outputTile(m + (<usize>t * OC << 2), mStep, y + <usize>n * OH * OW * OC * 4, OH, OW, OC, (rest / TW) << 1, (rest % TW) << 1, bias, act, alpha);
    }
  }
  // Sigmoid and tanh in a pass of their own (activation.ts, activateWithoutCall: a call to exp in the
  // output transform's loop would slow it whatever the activation).
  if (activatesByCall(act)) activateInPlace(y, batch * OH * OW * OC, act, alpha);
}

/** V = B^T d B of one tile, four channels at a time, d read from the input rows iy.. and columns ix.. (zeros outside). */
function inputTile(x: usize, H: i32, W: i32, C: i32, iy: i32, ix: i32, v: usize, vStep: usize): void {
  const pixelBytes = <usize>C << 2, rowBytes = <usize>W * pixelBytes;
  // A patch wholly inside the input loads without checks; one over an edge checks each tap.
  const inside = iy >= 0 && iy + 3 < H && ix >= 0 && ix + 3 < W;
  for (let c = 0; c < C; c += 4) {
    const base = x + (<usize>c << 2);
    const out = v + (<usize>c << 2);
    if (inside) {
      const p = base + <usize>iy * rowBytes + <usize>ix * pixelBytes;
      transformPatch(
        v128.load(p), v128.load(p + pixelBytes), v128.load(p + 2 * pixelBytes), v128.load(p + 3 * pixelBytes),
        v128.load(p + rowBytes), v128.load(p + rowBytes + pixelBytes), v128.load(p + rowBytes + 2 * pixelBytes), v128.load(p + rowBytes + 3 * pixelBytes),
        v128.load(p + 2 * rowBytes), v128.load(p + 2 * rowBytes + pixelBytes), v128.load(p + 2 * rowBytes + 2 * pixelBytes), v128.load(p + 2 * rowBytes + 3 * pixelBytes),
        v128.load(p + 3 * rowBytes), v128.load(p + 3 * rowBytes + pixelBytes), v128.load(p + 3 * rowBytes + 2 * pixelBytes), v128.load(p + 3 * rowBytes + 3 * pixelBytes),
        out, vStep,
      );
    } else {
      transformPatch(
        tap(base, rowBytes, pixelBytes, H, W, iy, ix), tap(base, rowBytes, pixelBytes, H, W, iy, ix + 1), tap(base, rowBytes, pixelBytes, H, W, iy, ix + 2), tap(base, rowBytes, pixelBytes, H, W, iy, ix + 3),
        tap(base, rowBytes, pixelBytes, H, W, iy + 1, ix), tap(base, rowBytes, pixelBytes, H, W, iy + 1, ix + 1), tap(base, rowBytes, pixelBytes, H, W, iy + 1, ix + 2), tap(base, rowBytes, pixelBytes, H, W, iy + 1, ix + 3),
        tap(base, rowBytes, pixelBytes, H, W, iy + 2, ix), tap(base, rowBytes, pixelBytes, H, W, iy + 2, ix + 1), tap(base, rowBytes, pixelBytes, H, W, iy + 2, ix + 2), tap(base, rowBytes, pixelBytes, H, W, iy + 2, ix + 3),
        tap(base, rowBytes, pixelBytes, H, W, iy + 3, ix), tap(base, rowBytes, pixelBytes, H, W, iy + 3, ix + 1), tap(base, rowBytes, pixelBytes, H, W, iy + 3, ix + 2), tap(base, rowBytes, pixelBytes, H, W, iy + 3, ix + 3),
        out, vStep,
      );
    }
  }
}

/** Four channels of input pixel (iy, ix), zeros outside the input. */
// @ts-ignore: decorator
@inline
function tap(base: usize, rowBytes: usize, pixelBytes: usize, H: i32, W: i32, iy: i32, ix: i32): v128 {
  return iy >= 0 && iy < H && ix >= 0 && ix < W ? v128.load(base + <usize>iy * rowBytes + <usize>ix * pixelBytes) : f32x4.splat(0);
}

/** B^T d B of one patch (d_rc: row r, column c), stored at positions 0..15, vStep apart. */
// @ts-ignore: decorator
@inline
function transformPatch(
  d00: v128, d01: v128, d02: v128, d03: v128, d10: v128, d11: v128, d12: v128, d13: v128,
  d20: v128, d21: v128, d22: v128, d23: v128, d30: v128, d31: v128, d32: v128, d33: v128, out: usize, vStep: usize,
): void {
  // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; then each row times B.
  transformRow(f32x4.sub(d00, d20), f32x4.sub(d01, d21), f32x4.sub(d02, d22), f32x4.sub(d03, d23), out, vStep);
  transformRow(f32x4.add(d10, d20), f32x4.add(d11, d21), f32x4.add(d12, d22), f32x4.add(d13, d23), out + 4 * vStep, vStep);
  transformRow(f32x4.sub(d20, d10), f32x4.sub(d21, d11), f32x4.sub(d22, d12), f32x4.sub(d23, d13), out + 8 * vStep, vStep);
  transformRow(f32x4.sub(d10, d30), f32x4.sub(d11, d31), f32x4.sub(d12, d32), f32x4.sub(d13, d33), out + 12 * vStep, vStep);
}

/** (t B) for one row t of B^T d: t0 - t2, t1 + t2, t2 - t1, t1 - t3, stored at positions i*4 .. i*4 + 3. */
// @ts-ignore: decorator
@inline
function transformRow(t0: v128, t1: v128, t2: v128, t3: v128, out: usize, vStep: usize): void {
  v128.store(out, f32x4.sub(t0, t2));
  v128.store(out + vStep, f32x4.add(t1, t2));
  v128.store(out + 2 * vStep, f32x4.sub(t2, t1));
  v128.store(out + 3 * vStep, f32x4.sub(t1, t3));
}

/** Y = A^T M A of one tile (A^T = [1, 1, 1, 0], [0, 1, -1, -1]) plus bias, with ReLU or leaky ReLU, stored where inside the output. */
function outputTile(m: usize, mStep: usize, y: usize, OH: i32, OW: i32, OC: i32, oy: i32, ox: i32, bias: usize, act: i32, alpha: f32): void {
  const pixelBytes = <usize>OC << 2, rowBytes = <usize>OW * pixelBytes;
  const right = ox + 1 < OW, below = oy + 1 < OH;
  const at = y + <usize>oy * rowBytes + <usize>ox * pixelBytes;
  for (let oc = 0; oc < OC; oc += 4) {
    const o = m + (<usize>oc << 2);
    // Columns: s_j0 = m_j0 + m_j1 + m_j2, s_j1 = m_j1 - m_j2 - m_j3 for each row j of M.
    const a0 = columnSum(o, 0, mStep), a1 = columnSum(o, 4, mStep), a2 = columnSum(o, 8, mStep), a3 = columnSum(o, 12, mStep);
    const b0 = columnDifference(o, 0, mStep), b1 = columnDifference(o, 4, mStep), b2 = columnDifference(o, 8, mStep), b3 = columnDifference(o, 12, mStep);
    const b = v128.load(bias + (<usize>oc << 2));
    const out = at + (<usize>oc << 2);
    v128.store(out, activateWithoutCall(f32x4.add(f32x4.add(f32x4.add(a0, a1), a2), b), act, alpha));
    if (right) v128.store(out + pixelBytes, activateWithoutCall(f32x4.add(f32x4.add(f32x4.add(b0, b1), b2), b), act, alpha));
    if (below) {
      v128.store(out + rowBytes, activateWithoutCall(f32x4.add(f32x4.sub(f32x4.sub(a1, a2), a3), b), act, alpha));
      if (right) v128.store(out + rowBytes + pixelBytes, activateWithoutCall(f32x4.add(f32x4.sub(f32x4.sub(b1, b2), b3), b), act, alpha));
    }
  }
}

// @ts-ignore: decorator
@inline
function columnSum(o: usize, row: i32, mStep: usize): v128 {
  const at = o + <usize>row * mStep;
  return f32x4.add(f32x4.add(v128.load(at), v128.load(at + mStep)), v128.load(at + 2 * mStep));
}

// @ts-ignore: decorator
@inline
function columnDifference(o: usize, row: i32, mStep: usize): v128 {
  const at = o + <usize>row * mStep;
  return f32x4.sub(f32x4.sub(v128.load(at + mStep), v128.load(at + 2 * mStep)), v128.load(at + 3 * mStep));
}
