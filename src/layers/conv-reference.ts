/**
 * The convolution specification: conv2d and conv2dTranspose on NHWC values with explicit padding,
 * strides, dilation and groups, in plain loops. It is what the wasm kernels (assembly/kernels/conv.ts,
 * conv-i8.ts, conv-depthwise.ts) compute, down to the order of the f32 operations, so the strict build
 * matches it bit for bit; the relaxed build fuses each multiply-add of f32 and f16 weights (a last-bit
 * difference per add) and matches int8 weights bit for bit.
 *
 * Geometry. Tap (ky, kx) of output pixel (oy, ox) reads input pixel (iy, ix) with
 *   conv2d:          iy = oy*sh + ky*dh - padTop                  (and the same along x)
 *   conv2dTranspose: oy = iy*sh + ky*dh - padTop, i.e. iy = (oy + padTop - ky*dh) / sh when whole
 * and reads nothing (a zero) where iy falls outside [0, H) or, transposed, between input rows. OH and
 * OW are given, so the padding after the last row/column is whatever they imply: PyTorch's
 * ConvTranspose2d(k, s, padding=p, output_padding=op, dilation=d) is padTop = p and
 * OH = (H - 1)*s - 2p + d*(k - 1) + op + 1.
 *
 * Groups. With G groups (dividing C and OC), output channel oc belongs to group g = oc / (OC/G) and
 * reads input channels g*C/G + ci, ci < C/G. Kernels, as stored:
 *   conv2d          [kh, kw, C/G, OC]:  weight (ky, kx, ci, oc)
 *   conv2dTranspose [kh, kw, OC/G, C]:  weight (ky, kx, oc mod OC/G, g*C/G + ci)
 * (TensorFlow.js's conv2dTranspose [kh, kw, OC, C] when G = 1; ONNX ConvTranspose's [C, OC/G, kh, kw]
 * with its axes in that order.)
 *
 * Arithmetic, per output value, over k = (ky, kx, ci) in that order:
 * - f32 weights (f16 widened exactly): acc = +0, then acc = f32(acc + f32(x * w)) for every tap that
 *   reads an input pixel (a tap reading nothing would add 0 * w, which changes no sum from +0);
 *   y = act(f32(acc + bias)).
 * - int8 weights with one scale per output channel: the sample's whole input [H, W, C] is quantized
 *   with one scale, as src/runtime/reference.ts specifies (quantizeActivations); q * w summed exactly
 *   in blocks of K_BLOCK k (padding taps count as k), each block's sum added in f32; then
 *   y = act(f32(f32(sum * f32(sampleScale * scale[oc])) + bias)). A depthwise layer's int8 kernel
 *   keeps this arithmetic (the file still stores int8 weights; see conv-depthwise.ts).
 * Activations here: linear, relu (max(v, 0)) and leakyRelu (v > 0 ? v : f32(v * alpha)).
 */
import { decodeF16 } from '../format/f16.ts';
import { quantizeActivations } from './weights.ts';
import type { ConvNodeGeometry } from './conv.ts';

/** A conv's geometry (conv.ts's, the one authority on padding) for a batch. */
export interface ConvShape extends ConvNodeGeometry {
  batch: number;
}

export type ConvWeights =
  | { dtype: 'f32'; values: Float32Array }
  | { dtype: 'f16'; bits: Uint16Array }
  | { dtype: 'i8'; values: Int8Array; scales: Float32Array };

export type ConvActivation = 'linear' | 'relu' | 'leakyRelu';

/** k the int8 kernels sum exactly in i32 before adding to f32 (assembly/kernels/i8-partials.ts). */
export const K_BLOCK = 2048;

/** The input coordinate tap k of output coordinate o reads along one axis, or -1 for none. */
export function sourceCoordinate(o: number, k: number, s: number, d: number, pad: number, size: number, transposed: boolean): number {
  let i: number;
  if (transposed) {
    const t = o + pad - k * d;
    if (t < 0 || t % s !== 0) return -1;
    i = t / s;
  } else {
    i = o * s + k * d - pad;
  }
  return i >= 0 && i < size ? i : -1;
}

/** Index in the stored kernel of the weight joining input channel c to output channel oc at tap (ky, kx). */
export function kernelIndex(shape: ConvShape, ky: number, kx: number, c: number, oc: number): number {
  const { C, OC, kw, groups, transposed } = shape;
  const Cg = C / groups, OCg = OC / groups;
  const tap = ky * kw + kx;
  return transposed ? (tap * OCg + (oc % OCg)) * C + c : (tap * Cg + (c % Cg)) * OC + oc;
}

/** y [batch, OH, OW, OC] from x [batch, H, W, C]; bias has OC values. */
export function convReference(
  shape: ConvShape, x: Float32Array, weights: ConvWeights, bias: Float32Array, activation: ConvActivation = 'linear', alpha = 0,
): Float32Array {
  const { batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, dh, dw, groups, transposed } = shape;
  if (!(groups >= 1 && C % groups === 0 && OC % groups === 0)) throw new RangeError(`groups ${groups} must divide C ${C} and OC ${OC}`);
  if (x.length !== batch * H * W * C) throw new RangeError(`x holds ${x.length} values, not ${batch}x${H}x${W}x${C}`);
  const Cg = C / groups, OCg = OC / groups;
  const f = Math.fround;
  const w = weights.dtype === 'f32' ? weights.values : weights.dtype === 'f16' ? decodeF16(weights.bits) : weights.values;
  const y = new Float32Array(batch * OH * OW * OC);
  for (let b = 0; b < batch; b++) {
    const sample = x.subarray(b * H * W * C, (b + 1) * H * W * C);
    const { q, scale: sampleScale } = weights.dtype === 'i8' ? quantizeActivations(sample) : { q: sample, scale: 1 };
    for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let oc = 0; oc < OC; oc++) {
      const g = Math.floor(oc / OCg);
      let acc = 0; // f32 sum (floats), or the int8 blocks' f32 sum
      let block = 0; // int8: the exact sum of the current block of K_BLOCK k
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
        const iy = sourceCoordinate(oy, ky, sh, dh, padTop, H, transposed);
        const ix = sourceCoordinate(ox, kx, sw, dw, padLeft, W, transposed);
        for (let ci = 0; ci < Cg; ci++) {
          const k = (ky * kw + kx) * Cg + ci;
          if (iy >= 0 && ix >= 0) {
            const c = g * Cg + ci;
            const v = q[(iy * W + ix) * C + c] * w[kernelIndex(shape, ky, kx, c, oc)];
            if (weights.dtype === 'i8') block += v;
            else acc = f(acc + f(v));
          }
          if (weights.dtype === 'i8' && (k % K_BLOCK === K_BLOCK - 1 || k === kh * kw * Cg - 1)) {
            acc = f(acc + f(block));
            block = 0;
          }
        }
      }
      const value = weights.dtype === 'i8' ? f(f(acc * f(sampleScale * weights.scales[oc])) + bias[oc]) : f(acc + bias[oc]);
      y[((b * OH + oy) * OW + ox) * OC + oc] = activate(value, activation, alpha);
    }
  }
  return y;
}

function activate(v: number, activation: ConvActivation, alpha: number): number {
  if (activation === 'relu') return Math.max(v, 0);
  if (activation === 'leakyRelu') return v > 0 ? v : Math.fround(v * Math.fround(alpha));
  return v;
}
