// The inverse gather of im2col: rows of per-tap values, one row per output pixel of a convolution,
// added back into the input positions those taps read. A convolution's input gradient is a product
// (dy times the transposed filter: one row of kh*kw*C values per dy pixel) followed by this scatter,
// which touches every input position once per tap that reads it and skips padding.

/**
 * For dy pixels [first, first + count) of the flattened [batch, OH, OW] index space, adds row
 * (pixel - first) of `cols` (kh*kw*C floats, tap-major then channel, as im2col lays them out) into
 * dx[batch, H, W, C] at the positions iy = oy*sh + ky - padTop, ix = ox*sw + kx - padLeft.
 */
export function col2im(
  cols: usize, dx: usize, first: i32, count: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  const pixelBytes = <usize>C << 2;
  const imagePixels = OH * OW;
  let row = cols;
  for (let m = first; m < first + count; m++) {
    const b = m / imagePixels, rem = m % imagePixels;
    const oy = rem / OW, ox = rem % OW;
    const dxb = dx + <usize>b * <usize>(H * W) * pixelBytes;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh + ky - padTop;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * sw + kx - padLeft;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) addPixel(dxb + <usize>(iy * W + ix) * pixelBytes, row, C);
        row += pixelBytes;
      }
    }
  }
}

/** dst[c] += src[c] for c < C. */
// @ts-ignore: decorator
@inline
function addPixel(dst: usize, src: usize, C: i32): void {
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const at = <usize>c << 2;
    v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(src + at)));
  }
  for (; c < C; c++) {
    const at = <usize>c << 2;
    store<f32>(dst + at, load<f32>(dst + at) + load<f32>(src + at));
  }
}
