/**
 * Symmetric int8 quantization with one scale per output channel: the scheme the runtime's i8 kernels
 * expect (value = q * scale, no zero point), so dequantizing is one multiply per weight.
 */
import { InputError } from '../errors.ts';
import { product } from './spec.ts';

export interface Int8Quantized {
  /** Quantized values in [-127, 127], same layout as the input. -128 is never used, so the levels are symmetric about zero. */
  q: Int8Array;
  /** One scale per index along `axis`. */
  scales: Float32Array;
}

/**
 * Quantizes a row-major tensor with one scale per index of `axis`: scale = max|w| / 127 over that
 * channel, so the largest weight maps exactly to ±127 and every weight is off by at most scale / 2.
 * An all-zero channel gets scale 1 (not 0) so dequantizing never divides by or multiplies with zero.
 */
export function quantizeInt8PerChannel(data: Float32Array, shape: number[], axis: number): Int8Quantized {
  const { channels, inner } = channelLayout(data.length, shape, axis);
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (!Number.isFinite(value)) throw new InputError(`cannot quantize a non-finite value (${value}) at index ${i}`);
    const c = channelOf(i, inner, channels);
    maxAbs[c] = Math.max(maxAbs[c], Math.abs(value));
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = maxAbs[c] === 0 ? 1 : maxAbs[c] / 127;
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    // Divide by the f32-rounded scale actually stored, so the scale / 2 error bound holds for what the runtime sees.
    const level = roundHalfAwayFromZero(data[i] / scales[channelOf(i, inner, channels)]);
    q[i] = Math.min(127, Math.max(-127, level));
  }
  return { q, scales };
}

/** The inverse of quantizeInt8PerChannel: q * scale of the value's channel. */
export function dequantizeInt8PerChannel(q: Int8Array, scales: Float32Array, shape: number[], axis: number): Float32Array {
  const { channels, inner } = channelLayout(q.length, shape, axis);
  if (scales.length !== channels) {
    throw new InputError(`expected ${channels} scales for axis ${axis} of [${shape.join(', ')}], got ${scales.length}`);
  }
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scales[channelOf(i, inner, channels)];
  return out;
}

/** In row-major order, element i belongs to channel floor(i / inner) mod channels, inner being the product of the later axes. */
function channelLayout(length: number, shape: number[], axis: number): { channels: number; inner: number } {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new InputError(`axis ${axis} is out of range for shape [${shape.join(', ')}]`);
  }
  if (product(shape) !== length) throw new InputError(`${length} values do not fill shape [${shape.join(', ')}]`);
  return { channels: shape[axis], inner: product(shape.slice(axis + 1)) };
}

/** Math.round sends -2.5 to -2 but 2.5 to 3; rounding ties away from zero keeps q(-w) = -q(w). */
const roundHalfAwayFromZero = (x: number) => Math.sign(x) * Math.round(Math.abs(x));

const channelOf = (i: number, inner: number, channels: number) => Math.floor(i / inner) % channels;
