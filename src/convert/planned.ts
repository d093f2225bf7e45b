/**
 * The middle that import and export share: a decoder planned as format layers with f32 weights still
 * in hand, before they are encoded in a dtype, and the BatchNormalization fold applied to its weights.
 */
import type { ActivationLayer, ConcatenateLayer, ConvLayer, DenseLayer, FlattenLayer, ReshapeLayer } from '../format/spec.ts';

/** Weights in TensorFlow.js layout: dense [in, units]; conv2d [kh, kw, in, filters]; conv2dTranspose [kh, kw, filters, in]. */
export interface Weights {
  kernel: Float32Array;
  kernelShape: number[];
  bias: Float32Array;
}

export type WeightedSpec = Omit<DenseLayer, 'kernel' | 'bias' | 'scale'> | Omit<ConvLayer, 'kernel' | 'bias' | 'scale'>;

export type WeightlessSpec = ReshapeLayer | FlattenLayer | ConcatenateLayer | ActivationLayer;

/** A format layer before its weights are encoded into tensors. */
export type PlannedLayer =
  | { name?: string; spec: WeightedSpec; weights: Weights }
  | { name?: string; spec: WeightlessSpec; weights?: undefined };

/** A batch normalization's statistics, one value per channel. */
export interface BatchNormStatistics {
  gamma: ArrayLike<number>;
  beta: ArrayLike<number>;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
}

/** y = (x - mean) * gamma / sqrt(var + eps) + beta as y = x * scale + shift, per channel, in f64. */
export function batchNormScaleShift({ gamma, beta, mean, variance }: BatchNormStatistics, epsilon: number): { scale: Float64Array; shift: Float64Array } {
  const channels = gamma.length;
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** w' = w * scale[c] along the output-channel axis; b' = b * scale + shift (= (b - mean) * f + beta). */
export function scaleOutputChannels(weights: Weights, axis: number, scale: ArrayLike<number>, shift: ArrayLike<number>) {
  const inner = weights.kernelShape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = weights.kernelShape[axis];
  for (let i = 0; i < weights.kernel.length; i++) weights.kernel[i] *= scale[Math.floor(i / inner) % channels];
  for (let c = 0; c < channels; c++) weights.bias[c] = weights.bias[c] * scale[c] + shift[c];
}
