// The phases of a transposed conv with few output channels (OC <= 4: an RGB or grayscale image
// layer), computed directly, without im2col. conv-phases.ts's GEMM path fills 8-column panels, so one
// output channel left 7/8 of every multiply-add unused and three channels 5/8; and at so few columns
// per row, gathering and packing the rows cost as much as the arithmetic. DCGAN's 64 -> 3 layer ran
// at 2.9 GFLOP/s there against 27-30 for its wide layers (bench/real-conv.ts --layers, batch 16).
//
// Here the vector lanes are four neighbouring output pixels of a phase row instead of four columns.
// Each sample is first copied channel-major ([C][row][column], zero borders around it), so the four
// input values one tap reads for four neighbouring pixels are four neighbouring floats: one load, no
// gather. Per k, two such blocks of four pixels are multiplied by the weights of four output channels
// (splat loads): eight accumulators, 32 multiply-adds.
//
// Same bits as the GEMM path: each output value still sums its k = (ky, kx, c) in order from +0 by the
// same madd, a tap outside the input adding 0 * w (a zero from the border), which changes no sum that
// starts from +0; then bias and activation, sigmoid and tanh afterwards by activateInPlace, as the
// GEMM does. f16 weights are widened to f32 at pack time (these kernels hold a few thousand weights).
//
// int8 weights keep the int8 conv's arithmetic (conv-i8.ts): the sample quantized to i16 with one
// scale, exact i32 sums of q * w over each block of the phase's k (its block length, phaseBlockK in
// conv-phases.ts), the blocks added in f32, then sum * (sample scale * channel scale) + bias, as
// i8-partials.ts's finishRow does. Here a plane holds a pair of channels (c, c+1) per pixel, so one
// i32x4.dot_i16x8_s multiplies four pixels' pairs by a pair of weights (c, c+1) of one output channel.
// Pairs must not straddle a block's end: every block length is a multiple of 4 k, so with an even C
// they cannot; an odd C (its last pair padded with a zero channel) takes this path only where the
// whole kernel is one block.
import { madd } from './simd';
import { activateInPlace, activatesByCall, activateWithoutCall } from './activation';
import { WEIGHTS_F16, WEIGHTS_I8 } from './dense';
import { widenHalf } from './f16';
import { aligned16 } from './pack-f32';
import { phaseCount, phaseFirst, phaseTaps } from './phase-geometry';
import { quantizedRowLength, quantizeRows } from './gemm-i8';
import { addPartial, K_BLOCK, kBlock, PARTIALS } from './i8-partials';
import { phaseBlockK } from './conv-phases';

/** Output channels the accumulators of a block cover; wider layers run one group of 4 after another. */
const GROUP: i32 = 4;
/** Input channels up to which a layer runs this kernel whatever its output channels (see usesNarrowPhases). */
const FEW_CHANNELS: i32 = 4;

/**
 * Whether a layer that runs by phases runs this kernel (and packNarrowPhases packs for it): at most 4
 * output channels, or at most FEW_CHANNELS input channels, where a phase's k are too few (4 for the
 * README decoder's 1 -> 16 layer) for the GEMM's gathering, packing and scattering to pay.
 */
// @ts-ignore: decorator
@inline
export function usesNarrowPhases(weights: i32, kh: i32, kw: i32, C: i32, OC: i32): bool {
  return (OC <= GROUP || C <= FEW_CHANNELS) && (weights != WEIGHTS_I8 || (C & 1) == 0 || kh * kw * C <= K_BLOCK);
}

/** Channel pairs of an int8 layer: C rounded up to even, halved. */
// @ts-ignore: decorator
@inline
function channelPairs(C: i32): i32 {
  return (C + 1) >> 1;
}

/** Output channels rounded up to whole groups: a k's row of packed weights. */
// @ts-ignore: decorator
@inline
function groupedColumns(OC: i32): i32 {
  return (OC + GROUP - 1) & ~(GROUP - 1);
}

/**
 * Bytes packNarrowPhases writes: per phase, its K x OC weights as f32 [k][OC rounded up to 4], or for
 * int8 as i16 pairs [tap][channel pair][OC rounded up to 4][2].
 */
export function narrowPhasesKernelBytes(weights: i32, kh: i32, kw: i32, C: i32, OC: i32, sh: i32, sw: i32): usize {
  let taps = 0;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) taps += phaseTaps(kh, sh, ry) * phaseTaps(kw, sw, rx);
  }
  const perTap = weights == WEIGHTS_I8 ? channelPairs(C) : C;
  return <usize>taps * <usize>perTap * <usize>groupedColumns(OC) << 2;
}

/**
 * A conv2dTranspose kernel [kh, kw, OC, C] (f32, or f16 bits widened) as one [k][OC rounded up to 4]
 * f32 matrix per phase, k = (t, u, c) for the tap (ry + sh*t, rx + sw*u), zeros past OC.
 */
export function packNarrowPhases(weights: i32, src: usize, dst: usize, kh: i32, kw: i32, C: i32, OC: i32, sh: i32, sw: i32): void {
  if (weights == WEIGHTS_I8) {
    packNarrowPhasesI8(src, dst, kh, kw, C, OC, sh, sw);
    return;
  }
  const OCp = groupedColumns(OC);
  let out = dst;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) {
      const Ty = phaseTaps(kh, sh, ry), Tx = phaseTaps(kw, sw, rx);
      for (let t = 0; t < Ty; t++) {
        for (let u = 0; u < Tx; u++) {
          const tap = (ry + sh * t) * kw + rx + sw * u;
          for (let c = 0; c < C; c++) {
            for (let o = 0; o < OCp; o++) {
              const i = <usize>((tap * OC + o) * C + c);
              let v: f32 = 0;
              if (o < OC) v = weights == WEIGHTS_F16 ? widenHalf(load<u16>(src + (i << 1))) : load<f32>(src + (i << 2));
              store<f32>(out, v);
              out += 4;
            }
          }
        }
      }
    }
  }
}

/** int8 weights as i16 pairs: per phase, tap and channel pair (c, c+1), per column o (OC rounded up to 4), (w[c], w[c+1]); zeros past C and OC. */
function packNarrowPhasesI8(src: usize, dst: usize, kh: i32, kw: i32, C: i32, OC: i32, sh: i32, sw: i32): void {
  const OCp = groupedColumns(OC);
  let out = dst;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) {
      const Ty = phaseTaps(kh, sh, ry), Tx = phaseTaps(kw, sw, rx);
      for (let t = 0; t < Ty; t++) {
        for (let u = 0; u < Tx; u++) {
          const tap = (ry + sh * t) * kw + rx + sw * u;
          for (let c = 0; c < C; c += 2) {
            for (let o = 0; o < OCp; o++) {
              const at = <usize>((tap * OC + o) * C + c);
              store<i16>(out, o < OC ? <i16>load<i8>(src + at) : 0);
              store<i16>(out, o < OC && c + 1 < C ? <i16>load<i8>(src + at + 1) : 0, 2);
              out += 4;
            }
          }
        }
      }
    }
  }
}

// The channel-major copy of a sample: rows and columns of zeros before it (as many as a phase's taps
// reach back) and after it (as far as the last phase's last block of four pixels reads).

// @ts-ignore: decorator
@inline
function planeTop(kh: i32, sh: i32): i32 {
  return phaseTaps(kh, sh, 0) - 1;
}

/** Rows of the plane: its top border, then the input or as far as any phase's last output row reads, whichever is further. */
function planeRows(H: i32, OH: i32, padTop: i32, kh: i32, sh: i32): i32 {
  let end = H;
  for (let ry = 0; ry < sh; ry++) {
    const PH = phaseCount(OH, padTop, sh, ry);
    if (PH > 0) end = max(end, phaseFirst(padTop, sh, ry) + PH);
  }
  return planeTop(kh, sh) + end;
}

/** Columns of the plane: as planeRows, with each phase row's pixels rounded up to a whole 16 (narrowPhase1's steps). */
function planeColumns(W: i32, OW: i32, padLeft: i32, kw: i32, sw: i32): i32 {
  let end = W;
  for (let rx = 0; rx < sw; rx++) {
    const PW = phaseCount(OW, padLeft, sw, rx);
    if (PW > 0) end = max(end, phaseFirst(padLeft, sw, rx) + ((PW + 15) & ~15));
  }
  return planeTop(kw, sw) + end;
}

/** Scratch bytes convPhasesNarrow needs: one sample's planes (int8: the quantized sample first, then its planes of channel pairs). */
export function narrowPhasesScratchBytes(weights: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32): usize {
  const plane = <usize>planeRows(H, OH, padTop, kh, sh) * <usize>planeColumns(W, OW, padLeft, kw, sw) << 2;
  if (weights != WEIGHTS_I8) return aligned16(<usize>C * plane);
  return quantizedBytes(H * W * C) + aligned16(<usize>channelPairs(C) * plane);
}

/** A quantized sample (i16, quantizeRows's padding) and its scale, 16-aligned. */
// @ts-ignore: decorator
@inline
function quantizedBytes(values: i32): usize {
  return aligned16(<usize>quantizedRowLength(values) << 1) + 16;
}

/**
 * y = act(convTranspose(x, w) + bias) by phases for OC <= 4: arguments as conv-phases.ts's
 * convPhases, w packed by packNarrowPhases, scratch of narrowPhasesScratchBytes.
 */
export function convPhasesNarrow(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): void {
  if (weights == WEIGHTS_I8) {
    convPhasesNarrowI8(x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, w, bias, scale, scratch, act, alpha);
    return;
  }
  const top = planeTop(kh, sh), left = planeTop(kw, sw);
  const Hp = planeRows(H, OH, padTop, kh, sh), Wp = planeColumns(W, OW, padLeft, kw, sw);
  const planeBytes = <usize>(Hp * Wp) << 2;
  const kBytes = <usize>groupedColumns(OC) << 2;
  for (let b = 0; b < batch; b++) {
    toPlanes(x + (<usize>(b * H * W * C) << 2), scratch, H, W, C, top, left, Hp, Wp);
    const yb = y + (<usize>(b * OH * OW * OC) << 2);
    let wp = w;
    for (let ry = 0; ry < sh; ry++) {
      const Ty = phaseTaps(kh, sh, ry), PH = phaseCount(OH, padTop, sh, ry), q0 = phaseFirst(padTop, sh, ry);
      for (let rx = 0; rx < sw; rx++) {
        const Tx = phaseTaps(kw, sw, rx), PW = phaseCount(OW, padLeft, sw, rx), p0 = phaseFirst(padLeft, sw, rx);
        if (PH > 0 && PW > 0) {
          // The plane at the phase's first pixel, (q0, p0), and its first output pixel.
          const base = scratch + (<usize>((top + q0) * Wp + left + p0) << 2);
          const out = yb + (<usize>(((ry - padTop + sh * q0) * OW + rx - padLeft + sw * p0) * OC) << 2);
          const rowStride = <usize>(sh * OW * OC) << 2, pixelStride = <usize>(sw * OC) << 2;
          if (OC == 1) narrowPhase1(base, Wp, planeBytes, C, Ty, Tx, PH, PW, wp, kBytes, bias, out, rowStride, pixelStride, act, alpha);
          else {
            // Four output channels at a time: group g's weights are columns 4g.. of each k's row.
            for (let g = 0; g < OC; g += GROUP) {
              const at = <usize>g << 2;
              narrowPhase(base, Wp, planeBytes, C, Ty, Tx, PH, PW, wp + at, kBytes, bias + at, min(GROUP, OC - g), out + at, rowStride, pixelStride, act, alpha);
            }
          }
        }
        wp += <usize>(Ty * Tx * C) * kBytes;
      }
    }
  }
  // What the blocks' epilogue left undone (activateWithoutCall), as gemm.ts does after its blocks.
  if (activatesByCall(act)) activateInPlace(y, batch * OH * OW * OC, act, alpha);
}

/** x's sample [H, W, C] as C planes of Hp x Wp floats, the values at (top, left), zeros around. */
function toPlanes(x: usize, planes: usize, H: i32, W: i32, C: i32, top: i32, left: i32, Hp: i32, Wp: i32): void {
  const planeBytes = <usize>(Hp * Wp) << 2;
  memory.fill(planes, 0, <usize>C * planeBytes);
  for (let iy = 0; iy < H; iy++) {
    let src = x + (<usize>(iy * W * C) << 2);
    let dst = planes + (<usize>((top + iy) * Wp + left) << 2);
    for (let ix = 0; ix < W; ix++) {
      let d = dst;
      for (let c = 0; c < C; c++) {
        store<f32>(d, load<f32>(src + (<usize>c << 2)));
        d += planeBytes;
      }
      src += <usize>C << 2;
      dst += 4;
    }
  }
}

/**
 * One phase of one sample: PH rows of PW pixels, in blocks of four along a row (a row's last block
 * computes lanes past PW on the border's zeros and stores only its pixels), two blocks at a time.
 * `base` is the plane address of pixel (0, 0) of the phase; pixel (qi, pi) reads, through tap (t, u),
 * base + ((qi - t) * Wp + pi - u) * 4 in each channel's plane. Its output is at out + qi * rowStride +
 * pi * pixelStride.
 */
// @ts-ignore: decorator
@inline
function narrowPhase(
  base: usize, Wp: i32, planeBytes: usize, C: i32, Ty: i32, Tx: i32, PH: i32, PW: i32,
  w: usize, kBytes: usize, bias: usize, OC: i32, out: usize, rowStride: usize, pixelStride: usize, act: i32, alpha: f32,
): void {
  const rowBlocks = (PW + 3) >> 2;
  const blocks = PH * rowBlocks;
  const bl = v128.load(bias);
  for (let s = 0; s < blocks; s += 2) {
    // Block s, and s + 1 when there is one (else s again, computed twice and stored once).
    const s1 = s + 1 < blocks ? s + 1 : s;
    const q0 = s / rowBlocks, p0 = (s % rowBlocks) << 2;
    const q1 = s1 / rowBlocks, p1 = (s1 % rowBlocks) << 2;
    const a0 = base + (<usize>(q0 * Wp + p0) << 2), a1 = base + (<usize>(q1 * Wp + p1) << 2);
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
    let wk = w;
    for (let t = 0; t < Ty; t++) {
      for (let u = 0; u < Tx; u++) {
        const back = <usize>(t * Wp + u) << 2;
        let x0 = a0 - back, x1 = a1 - back;
        const end = x0 + <usize>C * planeBytes;
        for (; x0 < end; x0 += planeBytes, x1 += planeBytes) {
          const v0 = v128.load(x0), v1 = v128.load(x1);
          const w0 = v128.load32_splat(wk), w1 = v128.load32_splat(wk, 4), w2 = v128.load32_splat(wk, 8), w3 = v128.load32_splat(wk, 12);
          c00 = madd(v0, w0, c00); c01 = madd(v0, w1, c01); c02 = madd(v0, w2, c02); c03 = madd(v0, w3, c03);
          c10 = madd(v1, w0, c10); c11 = madd(v1, w1, c11); c12 = madd(v1, w2, c12); c13 = madd(v1, w3, c13);
          wk += kBytes;
        }
      }
    }
    storeBlock(c00, c01, c02, c03, bl, out + <usize>q0 * rowStride + <usize>p0 * pixelStride, pixelStride, min(4, PW - p0), OC, act, alpha);
    if (s1 != s) storeBlock(c10, c11, c12, c13, bl, out + <usize>q1 * rowStride + <usize>p1 * pixelStride, pixelStride, min(4, PW - p1), OC, act, alpha);
  }
}

/**
 * narrowPhase for one output channel (a grayscale image), where four channels' accumulators would be
 * three quarters waste: steps of two phase rows by 16 pixels (four blocks each, at constant offsets
 * from one pointer per row), eight accumulators of one channel. A phase row's last step computes
 * lanes past PW on the border's zeros (the plane is 16-pixel wide per phase row, planeColumns); an odd
 * last row is computed twice and stored once.
 */
// @ts-ignore: decorator
@inline
function narrowPhase1(
  base: usize, Wp: i32, planeBytes: usize, C: i32, Ty: i32, Tx: i32, PH: i32, PW: i32,
  w: usize, kBytes: usize, bias: usize, out: usize, rowStride: usize, pixelStride: usize, act: i32, alpha: f32,
): void {
  const bl = v128.load32_splat(bias);
  for (let q0 = 0; q0 < PH; q0 += 2) {
    const q1 = q0 + 1 < PH ? q0 + 1 : q0;
    for (let p = 0; p < PW; p += 16) {
      const a0 = base + (<usize>(q0 * Wp + p) << 2), a1 = base + (<usize>(q1 * Wp + p) << 2);
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
      let wk = w;
      for (let t = 0; t < Ty; t++) {
        for (let u = 0; u < Tx; u++) {
          const back = <usize>(t * Wp + u) << 2;
          let x0 = a0 - back, x1 = a1 - back;
          const end = x0 + <usize>C * planeBytes;
          for (; x0 < end; x0 += planeBytes, x1 += planeBytes) {
            const wv = v128.load32_splat(wk);
            c0 = madd(v128.load(x0), wv, c0); c1 = madd(v128.load(x0, 16), wv, c1);
            c2 = madd(v128.load(x0, 32), wv, c2); c3 = madd(v128.load(x0, 48), wv, c3);
            c4 = madd(v128.load(x1), wv, c4); c5 = madd(v128.load(x1, 16), wv, c5);
            c6 = madd(v128.load(x1, 32), wv, c6); c7 = madd(v128.load(x1, 48), wv, c7);
            wk += kBytes;
          }
        }
      }
      const o0 = out + <usize>q0 * rowStride + <usize>p * pixelStride, o1 = out + <usize>q1 * rowStride + <usize>p * pixelStride;
      const n = PW - p;
      storeLanes1(c0, bl, o0, pixelStride, n, act, alpha); storeLanes1(c1, bl, o0 + 4 * pixelStride, pixelStride, n - 4, act, alpha);
      storeLanes1(c2, bl, o0 + 8 * pixelStride, pixelStride, n - 8, act, alpha); storeLanes1(c3, bl, o0 + 12 * pixelStride, pixelStride, n - 12, act, alpha);
      if (q1 != q0) {
        storeLanes1(c4, bl, o1, pixelStride, n, act, alpha); storeLanes1(c5, bl, o1 + 4 * pixelStride, pixelStride, n - 4, act, alpha);
        storeLanes1(c6, bl, o1 + 8 * pixelStride, pixelStride, n - 8, act, alpha); storeLanes1(c7, bl, o1 + 12 * pixelStride, pixelStride, n - 12, act, alpha);
      }
    }
  }
}

/**
 * Four pixels of one channel: bias, activation, then the first `pixels` lanes (none when <= 0), one
 * pixel each. A call, as storeBlock is: inlined eight times over it made the module 2 KB larger, and
 * it runs once per step, after the products.
 */
function storeLanes1(c: v128, bias: v128, out: usize, pixelStride: usize, pixels: i32, act: i32, alpha: f32): void {
  if (pixels <= 0) return;
  const v = activateWithoutCall(f32x4.add(c, bias), act, alpha);
  store<f32>(out, f32x4.extract_lane(v, 0));
  if (pixels > 1) store<f32>(out + pixelStride, f32x4.extract_lane(v, 1));
  if (pixels > 2) store<f32>(out + 2 * pixelStride, f32x4.extract_lane(v, 2));
  if (pixels > 3) store<f32>(out + 3 * pixelStride, f32x4.extract_lane(v, 3));
}

/**
 * A block's four pixels (lanes) of four channels (accumulators): bias and activation per channel,
 * then transposed so each pixel's channels are one vector, of which OC lanes are stored. A call, not
 * inlined: it runs once per block after its products, and inlined in each kernel it took kilobytes.
 */
function storeBlock(c0: v128, c1: v128, c2: v128, c3: v128, bias: v128, out: usize, pixelStride: usize, pixels: i32, OC: i32, act: i32, alpha: f32): void {
  const r0 = activateWithoutCall(f32x4.add(c0, f32x4.splat(f32x4.extract_lane(bias, 0))), act, alpha);
  const r1 = activateWithoutCall(f32x4.add(c1, f32x4.splat(f32x4.extract_lane(bias, 1))), act, alpha);
  const r2 = activateWithoutCall(f32x4.add(c2, f32x4.splat(f32x4.extract_lane(bias, 2))), act, alpha);
  const r3 = activateWithoutCall(f32x4.add(c3, f32x4.splat(f32x4.extract_lane(bias, 3))), act, alpha);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  storePixel(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), OC);
  if (pixels > 1) storePixel(out + pixelStride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), OC);
  if (pixels > 2) storePixel(out + 2 * pixelStride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), OC);
  if (pixels > 3) storePixel(out + 3 * pixelStride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), OC);
}

/** Lanes [0, OC) of v at `at` (OC <= 4). */
// @ts-ignore: decorator
@inline
function storePixel(at: usize, v: v128, OC: i32): void {
  if (OC == 4) {
    v128.store(at, v);
    return;
  }
  store<f32>(at, f32x4.extract_lane(v, 0));
  if (OC > 1) store<f32>(at, f32x4.extract_lane(v, 1), 4);
  if (OC > 2) store<f32>(at, f32x4.extract_lane(v, 2), 8);
}

/** convPhasesNarrow for int8 weights (this file's head). */
function convPhasesNarrowI8(
  x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): void {
  const top = planeTop(kh, sh), left = planeTop(kw, sw);
  const Hp = planeRows(H, OH, padTop, kh, sh), Wp = planeColumns(W, OW, padLeft, kw, sw);
  const planeBytes = <usize>(Hp * Wp) << 2;
  const pairs = channelPairs(C);
  const values = H * W * C;
  const q = scratch, sampleScale = scratch + quantizedBytes(values) - 16;
  const planes = scratch + quantizedBytes(values);
  const kBytes = <usize>groupedColumns(OC) << 2;
  for (let b = 0; b < batch; b++) {
    quantizeRows(x + (<usize>(b * values) << 2), 0, 1, values, q, sampleScale);
    toPairPlanes(q, planes, H, W, C, top, left, Hp, Wp);
    const s = v128.load32_splat(sampleScale);
    const yb = y + (<usize>(b * OH * OW * OC) << 2);
    let wp = w;
    for (let ry = 0; ry < sh; ry++) {
      const Ty = phaseTaps(kh, sh, ry), PH = phaseCount(OH, padTop, sh, ry), q0 = phaseFirst(padTop, sh, ry);
      for (let rx = 0; rx < sw; rx++) {
        const Tx = phaseTaps(kw, sw, rx), PW = phaseCount(OW, padLeft, sw, rx), p0 = phaseFirst(padLeft, sw, rx);
        if (PH > 0 && PW > 0) {
          const base = planes + (<usize>((top + q0) * Wp + left + p0) << 2);
          const out = yb + (<usize>(((ry - padTop + sh * q0) * OW + rx - padLeft + sw * p0) * OC) << 2);
          // The phase's block length in pairs. With an odd C the whole kernel is one block (usesNarrowPhases),
          // and its padding pairs must not split it: one block whatever the count.
          const blockPairs = C & 1 ? i32.MAX_VALUE : phaseBlockK(kh, kw, C, sh, sw, ry, rx) >> 1;
          for (let g = 0; g < OC; g += GROUP) {
            const at = <usize>g << 2;
            // Per column: f32(sample scale * channel scale), as finishRow multiplies them.
            const scales = f32x4.mul(s, v128.load(scale + at));
            narrowPhaseI8(base, Wp, planeBytes, pairs, Ty, Tx, PH, PW, blockPairs, wp + at, kBytes, scales, bias + at, min(GROUP, OC - g), out + at, <usize>(sh * OW * OC) << 2, <usize>(sw * OC) << 2, act, alpha);
          }
        }
        wp += <usize>(Ty * Tx * pairs) * kBytes;
      }
    }
  }
  if (activatesByCall(act)) activateInPlace(y, batch * OH * OW * OC, act, alpha);
}

/** A quantized sample [H, W, C] (i16) as planes of channel pairs: plane cp holds (q[2cp], q[2cp + 1]) per pixel, zeros around and past C. */
function toPairPlanes(q: usize, planes: usize, H: i32, W: i32, C: i32, top: i32, left: i32, Hp: i32, Wp: i32): void {
  const planeBytes = <usize>(Hp * Wp) << 2;
  const pairs = channelPairs(C);
  memory.fill(planes, 0, <usize>pairs * planeBytes);
  for (let iy = 0; iy < H; iy++) {
    let src = q + (<usize>(iy * W * C) << 1);
    let dst = planes + (<usize>((top + iy) * Wp + left) << 2);
    for (let ix = 0; ix < W; ix++) {
      let d = dst;
      for (let c = 0; c < C; c += 2) {
        const lo = <u32>load<u16>(src + (<usize>c << 1));
        const hi = c + 1 < C ? <u32>load<u16>(src + (<usize>c << 1), 2) : 0;
        store<u32>(d, lo | (hi << 16));
        d += planeBytes;
      }
      src += <usize>C << 1;
      dst += 4;
    }
  }
}

/**
 * narrowPhase for int8: i32 sums of two blocks of four pixels by four columns over each block of
 * blockPairs channel pairs (a tap's pairs may be split between two blocks), added up in f32 in
 * PARTIALS, then scaled, biased and stored.
 */
// @ts-ignore: decorator
@inline
function narrowPhaseI8(
  base: usize, Wp: i32, planeBytes: usize, pairs: i32, Ty: i32, Tx: i32, PH: i32, PW: i32, blockPairs: i32,
  w: usize, kBytes: usize, scales: v128, bias: usize, OC: i32, out: usize, rowStride: usize, pixelStride: usize, act: i32, alpha: f32,
): void {
  const rowBlocks = (PW + 3) >> 2;
  const blocks = PH * rowBlocks;
  const bl = v128.load(bias);
  for (let s = 0; s < blocks; s += 2) {
    const s1 = s + 1 < blocks ? s + 1 : s;
    const q0 = s / rowBlocks, p0 = (s % rowBlocks) << 2;
    const q1 = s1 / rowBlocks, p1 = (s1 % rowBlocks) << 2;
    const a0 = base + (<usize>(q0 * Wp + p0) << 2), a1 = base + (<usize>(q1 * Wp + p1) << 2);
    let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c02 = i32x4.splat(0), c03 = i32x4.splat(0);
    let c10 = i32x4.splat(0), c11 = i32x4.splat(0), c12 = i32x4.splat(0), c13 = i32x4.splat(0);
    let wk = w;
    let left = blockPairs, first = true;
    for (let t = 0; t < Ty; t++) {
      for (let u = 0; u < Tx; u++) {
        const back = <usize>(t * Wp + u) << 2;
        let x0 = a0 - back, x1 = a1 - back;
        let done = 0;
        while (done < pairs) {
          const n = min(pairs - done, left);
          const end = x0 + <usize>n * planeBytes;
          for (; x0 < end; x0 += planeBytes, x1 += planeBytes) {
            const v0 = v128.load(x0), v1 = v128.load(x1);
            const w0 = v128.load32_splat(wk), w1 = v128.load32_splat(wk, 4), w2 = v128.load32_splat(wk, 8), w3 = v128.load32_splat(wk, 12);
            c00 = i32x4.add(c00, i32x4.dot_i16x8_s(v0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(v0, w1));
            c02 = i32x4.add(c02, i32x4.dot_i16x8_s(v0, w2)); c03 = i32x4.add(c03, i32x4.dot_i16x8_s(v0, w3));
            c10 = i32x4.add(c10, i32x4.dot_i16x8_s(v1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(v1, w1));
            c12 = i32x4.add(c12, i32x4.dot_i16x8_s(v1, w2)); c13 = i32x4.add(c13, i32x4.dot_i16x8_s(v1, w3));
            wk += kBytes;
          }
          done += n;
          left -= n;
          if (left == 0) {
            flushBlocks(c00, c01, c02, c03, c10, c11, c12, c13, first);
            c00 = i32x4.splat(0); c01 = i32x4.splat(0); c02 = i32x4.splat(0); c03 = i32x4.splat(0);
            c10 = i32x4.splat(0); c11 = i32x4.splat(0); c12 = i32x4.splat(0); c13 = i32x4.splat(0);
            left = blockPairs;
            first = false;
          }
        }
      }
    }
    if (left < blockPairs) flushBlocks(c00, c01, c02, c03, c10, c11, c12, c13, first);
    storeBlock(
      f32x4.mul(v128.load(PARTIALS), f32x4.splat(f32x4.extract_lane(scales, 0))), f32x4.mul(v128.load(PARTIALS, 16), f32x4.splat(f32x4.extract_lane(scales, 1))),
      f32x4.mul(v128.load(PARTIALS, 32), f32x4.splat(f32x4.extract_lane(scales, 2))), f32x4.mul(v128.load(PARTIALS, 48), f32x4.splat(f32x4.extract_lane(scales, 3))),
      bl, out + <usize>q0 * rowStride + <usize>p0 * pixelStride, pixelStride, min(4, PW - p0), OC, act, alpha,
    );
    if (s1 != s) {
      storeBlock(
        f32x4.mul(v128.load(PARTIALS, 64), f32x4.splat(f32x4.extract_lane(scales, 0))), f32x4.mul(v128.load(PARTIALS, 80), f32x4.splat(f32x4.extract_lane(scales, 1))),
        f32x4.mul(v128.load(PARTIALS, 96), f32x4.splat(f32x4.extract_lane(scales, 2))), f32x4.mul(v128.load(PARTIALS, 112), f32x4.splat(f32x4.extract_lane(scales, 3))),
        bl, out + <usize>q1 * rowStride + <usize>p1 * pixelStride, pixelStride, min(4, PW - p1), OC, act, alpha,
      );
    }
  }
}

/** One block's i32 sums of both pixel blocks into PARTIALS (i8-partials.ts: stored for the first block, added in f32 after). */
function flushBlocks(c00: v128, c01: v128, c02: v128, c03: v128, c10: v128, c11: v128, c12: v128, c13: v128, first: bool): void {
  addPartial(PARTIALS, c00, first); addPartial(PARTIALS + 16, c01, first); addPartial(PARTIALS + 32, c02, first); addPartial(PARTIALS + 48, c03, first);
  addPartial(PARTIALS + 64, c10, first); addPartial(PARTIALS + 80, c11, first); addPartial(PARTIALS + 96, c12, first); addPartial(PARTIALS + 112, c13, first);
}
