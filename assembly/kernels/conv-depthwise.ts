// Depthwise convolution (groups = C = OC): output channel c is input channel c's taps times their
// weights, so channels are independent and vectorize along NHWC's innermost axis, 8 at a time. The
// grouped GEMM would run C one-column products of K = kh*kw: 7/8 of every panel padding, an im2col
// gather per channel, and a 64-row tile per handful of multiply-adds. On a 64x64x32 input with a 3x3
// kernel this runs 15-33x faster than that GEMM, same bits (`node --experimental-wasm-relaxed-simd
// --import tsx bench/conv-depthwise.ts`, on a shared 2-core VM at load 7-9: strict f32 1.3-1.7 ms
// against 20-27 ms, int8 1.6 ms against 35-51 ms).
//
// Each output value is the sum the grouped GEMM computes, in its order: taps in (ky, kx) order from
// +0, a tap that reads padding skipped (the GEMM adds its 0 * w, which changes no sum that starts from
// +0). So f32 and f16 weights give the GEMM's bits, fused multiply-adds in the relaxed build
// included. int8 weights keep the int8 conv's arithmetic: the sample quantized to i16 with one scale
// (conv-i8.ts), exact i32 sums of q * w (kh*kw <= K_BLOCK taps, one of the GEMM's blocks), then
// sum * (sample scale * channel scale) + bias in f32, as gemm-i8.ts's finishRow does.
//
// Weights, packed by packDepthwise: [kh*kw][C rounded up to 8], zeros past C; f16 widened to f32 at
// pack time (the file still stores f16; these weights are a few KB), int8 left as int8.
import { finishPanel } from './store';
import { madd } from './simd';
import { quantizedRowLength, quantizeRows } from './gemm-i8';
import { K_BLOCK } from './i8-partials';
import { sourceCoordinate } from './im2col';
import { widenHalf } from './f16';
import { aligned16 } from './pack-f32';
import { WEIGHTS_F16, WEIGHTS_I8 } from './dense';

/** Whether convGeneral runs this kernel for a layer (and packConvKernel packs for it). */
// @ts-ignore: decorator
@inline
export function isDepthwise(C: i32, OC: i32, groups: i32, kh: i32, kw: i32): bool {
  return groups > 1 && C == groups && OC == groups && kh * kw <= K_BLOCK;
}

/** Channels rounded up to whole 8s: a tap's row of packed weights. */
// @ts-ignore: decorator
@inline
function paddedChannels(C: i32): i32 {
  return (C + 7) & ~7;
}

/** Bytes of the packed weights. */
export function depthwiseKernelBytes(weights: i32, taps: i32, C: i32): usize {
  return aligned16(<usize>taps * <usize>paddedChannels(C) << (weights == WEIGHTS_I8 ? 0 : 2));
}

/**
 * [taps][C] (a conv2d kernel [kh, kw, 1, C], or a conv2dTranspose one [kh, kw, 1, C]) to
 * [taps][C rounded up to 8]: f32 as is, f16 widened to f32, int8 as is.
 */
export function packDepthwise(weights: i32, src: usize, dst: usize, taps: i32, C: i32): void {
  const Cp = paddedChannels(C);
  for (let tap = 0; tap < taps; tap++) {
    for (let c = 0; c < Cp; c++) {
      const i = <usize>(tap * C + c), o = <usize>(tap * Cp + c);
      if (weights == WEIGHTS_I8) store<i8>(dst + o, c < C ? load<i8>(src + i) : 0);
      else if (weights == WEIGHTS_F16) store<f32>(dst + (o << 2), c < C ? widenHalf(load<u16>(src + (i << 1))) : 0);
      else store<f32>(dst + (o << 2), c < C ? load<f32>(src + (i << 2)) : 0);
    }
  }
}

/** Scratch bytes: the tap list, and for int8 a quantized sample and its scale. */
export function depthwiseScratchBytes(weights: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32): usize {
  const list = tapListBytes(kh, kw);
  if (weights != WEIGHTS_I8) return list;
  return list + quantizedSampleBytes(H * W * C) + 16;
}

// @ts-ignore: decorator
@inline
function tapListBytes(kh: i32, kw: i32): usize {
  return aligned16(<usize>(kh * kw) << 3);
}

/** A quantized sample, and 8 values of slack: the last pixel's last 8 channels load whole. */
// @ts-ignore: decorator
@inline
function quantizedSampleBytes(values: i32): usize {
  return aligned16(<usize>(quantizedRowLength(values) + 8) << 1);
}

/**
 * x: [batch, H, W, C] -> y: [batch, OH, OW, C], arguments as convGeneral's (conv.ts) with OC = groups
 * = C; w from packDepthwise, bias (and for int8 scale) C floats padded to whole 8s.
 */
export function convDepthwise(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool, dh: i32, dw: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): void {
  const list = scratch;
  const q = scratch + tapListBytes(kh, kw);
  const sampleScale = q + quantizedSampleBytes(H * W * C);
  const sampleValues = H * W * C;
  const int8 = weights == WEIGHTS_I8;
  // Byte strides of an input pixel and of a tap's packed weights.
  const pixelBytes = <usize>C << (int8 ? 1 : 2);
  const tapBytes = <usize>paddedChannels(C) << (int8 ? 0 : 2);
  for (let b = 0; b < batch; b++) {
    let xb = x + (<usize>b * <usize>sampleValues << 2);
    if (int8) {
      quantizeRows(xb, 0, 1, sampleValues, q, sampleScale);
      xb = q;
    }
    let yp = y + (<usize>b * <usize>(OH * OW * C) << 2);
    for (let oy = 0; oy < OH; oy++) {
      // Where every kx of ox reads inside the row, the taps of ox + 1 read the next input pixels
      // (the next sw of them; transposed, stride 1 only: the next one): the list built for the first
      // such ox serves the rest, moved along by `shift`.
      let end = list, listedOx = -1;
      for (let ox = 0; ox < OW; ox++) {
        const inside = rowInside(ox, kw, sw, dw, padLeft, W, transposed);
        let shift: usize = 0;
        if (inside && listedOx >= 0) {
          shift = <usize>((ox - listedOx) * (transposed ? 1 : sw)) * pixelBytes;
        } else {
          end = listTaps(list, oy, ox, H, W, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, pixelBytes, tapBytes);
          listedOx = inside ? ox : -1;
        }
        if (int8) pixelI8(xb + shift, list, end, C, w, bias, scale, load<f32>(sampleScale), yp, act, alpha);
        else pixelF32(xb + shift, list, end, C, w, bias, yp, act, alpha);
        yp += <usize>C << 2;
      }
    }
  }
}

/** Whether every tap kx of output column ox reads an input column (for a transposed conv, only with stride 1). */
// @ts-ignore: decorator
@inline
function rowInside(ox: i32, kw: i32, sw: i32, dw: i32, padLeft: i32, W: i32, transposed: bool): bool {
  if (transposed) {
    // ix = ox + padLeft - kx*dw for kx in [0, kw).
    return sw == 1 && ox + padLeft - (kw - 1) * dw >= 0 && ox + padLeft < W;
  }
  const first = ox * sw - padLeft;
  return first >= 0 && first + (kw - 1) * dw < W;
}

/**
 * Lists the taps of output pixel (oy, ox) that read an input pixel, in (ky, kx) order: the byte
 * offset of that pixel in the sample, then of the tap's weights. Returns the list's end.
 */
// @ts-ignore: decorator
@inline
function listTaps(
  list: usize, oy: i32, ox: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  padTop: i32, padLeft: i32, transposed: bool, dh: i32, dw: i32, pixelBytes: usize, tapBytes: usize,
): usize {
  let e = list;
  for (let ky = 0; ky < kh; ky++) {
    const iy = sourceCoordinate(oy, ky, sh, dh, padTop, H, transposed);
    if (iy < 0) continue;
    for (let kx = 0; kx < kw; kx++) {
      const ix = sourceCoordinate(ox, kx, sw, dw, padLeft, W, transposed);
      if (ix < 0) continue;
      store<u32>(e, <u32>(<usize>(iy * W + ix) * pixelBytes));
      store<u32>(e, <u32>(<usize>(ky * kw + kx) * tapBytes), 4);
      e += 8;
    }
  }
  return e;
}

/** One output pixel, f32 weights: 8 channels at a time, the last partial group loaded lane by lane. */
function pixelF32(x: usize, list: usize, end: usize, C: i32, w: usize, bias: usize, y: usize, act: i32, alpha: f32): void {
  const whole = C & ~7;
  for (let c = 0; c < whole; c += 8) {
    const xc = x + (<usize>c << 2), wc = w + (<usize>c << 2);
    let lo = f32x4.splat(0), hi = f32x4.splat(0);
    for (let e = list; e < end; e += 8) {
      const xp = xc + <usize>load<u32>(e), wp = wc + <usize>load<u32>(e, 4);
      lo = madd(v128.load(xp), v128.load(wp), lo);
      hi = madd(v128.load(xp, 16), v128.load(wp, 16), hi);
    }
    finishPanel(y + (<usize>c << 2), lo, hi, bias + (<usize>c << 2), 8, act, alpha);
  }
  const rest = C - whole;
  if (rest == 0) return;
  // The input pixel ends within these 8 channels (and the input may end with it): only its lanes load.
  const xc = x + (<usize>whole << 2), wc = w + (<usize>whole << 2);
  let lo = f32x4.splat(0), hi = f32x4.splat(0);
  for (let e = list; e < end; e += 8) {
    const xp = xc + <usize>load<u32>(e), wp = wc + <usize>load<u32>(e, 4);
    lo = madd(loadLanes(xp, min(rest, 4)), v128.load(wp), lo);
    if (rest > 4) hi = madd(loadLanes(xp + 16, rest - 4), v128.load(wp, 16), hi);
  }
  finishPanel(y + (<usize>whole << 2), lo, hi, bias + (<usize>whole << 2), rest, act, alpha);
}

/** The first n (1-4) floats at p, zeros after. */
// @ts-ignore: decorator
@inline
function loadLanes(p: usize, n: i32): v128 {
  if (n == 4) return v128.load(p);
  if (n == 1) return v128.load32_zero(p);
  const two = v128.load64_zero(p);
  return n == 2 ? two : v128.load32_lane(p, two, 2, 8);
}

/**
 * One output pixel, int8 weights, from the quantized sample q: exact i32 sums of 8 channels at a
 * time. Loads run up to 7 values past a pixel's last channel (into the next pixel, or the slack after
 * the sample): their weights are the packing's zeros, and their lanes are not stored.
 */
function pixelI8(q: usize, list: usize, end: usize, C: i32, w: usize, bias: usize, scale: usize, sampleScale: f32, y: usize, act: i32, alpha: f32): void {
  const s = f32x4.splat(sampleScale);
  for (let c = 0; c < C; c += 8) {
    const qc = q + (<usize>c << 1), wc = w + <usize>c;
    let lo = i32x4.splat(0), hi = i32x4.splat(0);
    for (let e = list; e < end; e += 8) {
      const qv = v128.load(qc + <usize>load<u32>(e));
      const wv = v128.load8x8_s(wc + <usize>load<u32>(e, 4));
      lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(qv, wv));
      hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(qv, wv));
    }
    // As finishRow (i8-partials.ts): the sum in f32 times (sample scale * channel scale).
    const sc = scale + (<usize>c << 2);
    const flo = f32x4.mul(f32x4.convert_i32x4_s(lo), f32x4.mul(s, v128.load(sc)));
    const fhi = f32x4.mul(f32x4.convert_i32x4_s(hi), f32x4.mul(s, v128.load(sc, 16)));
    finishPanel(y + (<usize>c << 2), flo, fhi, bias + (<usize>c << 2), min(8, C - c), act, alpha);
  }
}
