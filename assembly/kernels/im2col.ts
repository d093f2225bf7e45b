// Convolutions run on the GEMM kernels: im2col copies, for a tile of output pixels, every input value
// each pixel's taps read into one row (tap-major, then channel: the packed kernel's k order), with
// zeros where a tap reads padding or, for a transposed conv, falls between input pixels. The f32
// kernels gather f32 inputs; the int8 conv gathers the i16 values it quantized each sample to.
//
// Dilation spaces a kernel's taps d pixels apart. A grouped conv gathers one group's channels at a
// time: Cg of each input pixel's C, from channel c0 on, so a row is kh*kw*Cg long.
import { copyBytes, zeroBytes } from './copy';

/**
 * The input coordinate that tap `k` of output coordinate `o` reads, or -1 where it reads nothing.
 * A conv reads i = o*s + k*d - pad; a transposed conv is its gradient: o = i*s + k*d - pad.
 */
// @ts-ignore: decorator
@inline
export function sourceCoordinate(o: i32, k: i32, s: i32, d: i32, pad: i32, size: i32, transposed: bool): i32 {
  let i: i32;
  if (transposed) {
    // Integer division costs tens of cycles, and this runs for every tap of every output pixel:
    // strides 1 and 2, every transposed conv of the presets, go without.
    const t = o + pad - k * d;
    if (t < 0) return -1;
    if (s == 1) i = t;
    else if (s == 2) {
      if (t & 1) return -1;
      i = t >> 1;
    } else {
      if (t % s != 0) return -1;
      i = t / s;
    }
  } else {
    i = o * s + k * d - pad;
  }
  return i >= 0 && i < size ? i : -1;
}

/**
 * f32 rows for output pixels [first, first + count) of the flattened [batch, OH, OW] index space, each
 * kh*kw*C floats, written contiguously at dst.
 */
export function im2col(
  x: usize, dst: usize, first: i32, count: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
): void {
  im2colGeneral(x, dst, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed, 1, 1, 0, C);
}

/** `im2col` with dilation dh, dw, gathering Cg channels of each input pixel from channel c0 on. */
export function im2colGeneral(
  x: usize, dst: usize, first: i32, count: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  dh: i32, dw: i32, c0: i32, Cg: i32,
): void {
  const sampleBytes = <usize>(H * W * C) << 2;
  const rowBytes = <usize>(kh * kw * Cg) << 2;
  gatherRows<f32>(x, sampleBytes, i32.MAX_VALUE, dst, rowBytes, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, c0, Cg);
}

/**
 * i16 rows, as `im2col`, from quantized samples kept in `slots` slots of sampleBytes (sample b in
 * slot b % slots); each row is rowBytes long, zero after its kh*kw*C values (kh*kw*Cg for
 * im2colI16General).
 */
export function im2colI16(
  x: usize, sampleBytes: usize, slots: i32, dst: usize, rowBytes: usize, first: i32, count: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
): void {
  im2colI16General(x, sampleBytes, slots, dst, rowBytes, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed, 1, 1, 0, C);
}

/** `im2colI16` with dilation dh, dw, gathering Cg channels of each input pixel from channel c0 on. */
export function im2colI16General(
  x: usize, sampleBytes: usize, slots: i32, dst: usize, rowBytes: usize, first: i32, count: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  dh: i32, dw: i32, c0: i32, Cg: i32,
): void {
  gatherRows<i16>(x, sampleBytes, slots, dst, rowBytes, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, c0, Cg);
}

// @ts-ignore: decorator
@inline
function gatherRows<T>(
  x: usize, sampleBytes: usize, slots: i32, dst: usize, rowBytes: usize, first: i32, count: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  dh: i32, dw: i32, c0: i32, Cg: i32,
): void {
  const pixelBytes = <usize>C * sizeof<T>();
  const groupBytes = <usize>Cg * sizeof<T>();
  const padding = rowBytes - <usize>(kh * kw) * groupBytes;
  const imagePixels = OH * OW;
  let out = dst;
  // The output pixel (sample slot, oy, ox) of row m, stepped along rather than divided out each row.
  const rem = first % imagePixels;
  let slot = (first / imagePixels) % slots, oy = rem / OW, ox = rem % OW;
  for (let m = 0; m < count; m++) {
    const xb = x + <usize>slot * sampleBytes + <usize>c0 * sizeof<T>();
    for (let ky = 0; ky < kh; ky++) {
      const iy = sourceCoordinate(oy, ky, sh, dh, padTop, H, transposed);
      for (let kx = 0; kx < kw; kx++) {
        const ix = iy < 0 ? -1 : sourceCoordinate(ox, kx, sw, dw, padLeft, W, transposed);
        if (ix < 0) zeroBytes(out, groupBytes);
        else copyBytes(out, xb + <usize>(iy * W + ix) * pixelBytes, groupBytes);
        out += groupBytes;
      }
    }
    zeroBytes(out, padding);
    out += padding;
    if (++ox == OW) {
      ox = 0;
      if (++oy == OH) {
        oy = 0;
        if (++slot == slots) slot = 0;
      }
    }
  }
}
