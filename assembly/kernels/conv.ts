// 2-D convolution and transposed convolution on NHWC activations, one kernel for both: each output
// pixel gathers from the input pixels its taps reach. Weights are packed per 8 output channels as
// [panel][tap = ky*kw + kx][in channel][8] (see packConv). Accumulation order per output element is
// fixed (taps in order, then input channels), independent of the batch.
import { finishLanes, storePanel } from './store';
import { loadHi, loadLo, panelRowBytes } from './weights';

/**
 * The input coordinate that tap `k` of output coordinate `o` reads, or -1 where it reads padding.
 * A conv reads i = o*s + k - pad; a transposed conv is its gradient: o = i*s + k - pad.
 */
// @ts-ignore: decorator
@inline
function sourceIndex(o: i32, k: i32, s: i32, pad: i32, size: i32, transposed: bool): i32 {
  let i: i32;
  if (transposed) {
    const t = o + pad - k;
    if (t < 0 || t % s != 0) return -1;
    i = t / s;
  } else {
    i = o * s + k - pad;
  }
  return i >= 0 && i < size ? i : -1;
}

/**
 * x: [batch, H, W, C] -> y: [batch, OH, OW, OC]; kernel kh x kw, strides sh, sw; padTop/padLeft is
 * the padding before the first row/column (TensorFlow.js "same" puts any odd pixel after).
 */
export function conv<W>(
  x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  w: usize, bias: usize, scale: usize, act: i32, alpha: f32,
): void {
  const panels = (OC + 7) >> 3;
  const tapBytes = <usize>C * panelRowBytes<W>();
  const panelBytes = tapBytes * <usize>(kh * kw);
  const inPixelBytes = <usize>C << 2;
  const q = isInteger<W>();
  for (let p = 0; p < panels; p++) {
    const wp = w + <usize>p * panelBytes;
    const col = p << 3;
    const count = min(8, OC - col);
    const cb = <usize>col << 2;
    const bl = v128.load(bias + cb), bh = v128.load(bias + cb, 16);
    const scaleLo = q ? v128.load(scale + cb) : bl, scaleHi = q ? v128.load(scale + cb, 16) : bh;
    for (let b = 0; b < batch; b++) {
      const xb = x + <usize>b * <usize>(H * W) * inPixelBytes;
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let al = f32x4.splat(0), ah = f32x4.splat(0);
          for (let ky = 0; ky < kh; ky++) {
            const iy = sourceIndex(oy, ky, sh, padTop, H, transposed);
            if (iy < 0) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = sourceIndex(ox, kx, sw, padLeft, W, transposed);
              if (ix < 0) continue;
              const xp = xb + <usize>(iy * W + ix) * inPixelBytes;
              let wk = wp + <usize>(ky * kw + kx) * tapBytes;
              for (let c = 0; c < C; c++) {
                const v = f32x4.splat(load<f32>(xp + (<usize>c << 2)));
                al = f32x4.add(al, f32x4.mul(v, loadLo<W>(wk)));
                ah = f32x4.add(ah, f32x4.mul(v, loadHi<W>(wk)));
                wk += panelRowBytes<W>();
              }
            }
          }
          const yp = y + (<usize>((b * OH + oy) * OW + ox) * <usize>OC << 2) + cb;
          storePanel(yp, finishLanes(al, scaleLo, bl, q, act, alpha), finishLanes(ah, scaleHi, bh, q, act, alpha), count);
        }
      }
    }
  }
}
