/**
 * The middle that import and export share: a decoder planned as format layers with f32 weights still
 * in hand, before they are encoded in a dtype, and the folds applied to it (activations fused into the
 * layer before them, BatchNormalization folded into its weights).
 */
import type { ActivationLayer, ActivationName, ConcatenateLayer, ConvLayer, DenseLayer, FlattenLayer, ReshapeLayer } from '../format/spec.ts';

/** Weights in TensorFlow.js layout: dense [in, units]; conv2d [kh, kw, in, filters]; conv2dTranspose [kh, kw, filters, in]. */
export interface Weights {
  kernel: Float32Array;
  kernelShape: number[];
  bias: Float32Array;
}

export interface Fused {
  activation: ActivationName;
  alpha?: number;
}

export type WeightedSpec = Omit<DenseLayer, 'kernel' | 'bias' | 'scale'> | Omit<ConvLayer, 'kernel' | 'bias' | 'scale'>;

export type WeightlessSpec = ReshapeLayer | FlattenLayer | ConcatenateLayer | ActivationLayer;

/** A format layer before its weights are encoded into tensors. */
export type PlannedLayer =
  | { name?: string; spec: WeightedSpec; weights: Weights; fusedFrom?: string }
  | { name?: string; spec: WeightlessSpec; weights?: undefined };

export type PlannedWeighted = Extract<PlannedLayer, { weights: Weights }>;

/**
 * Fuses the activation into the previous layer when that layer computes a linear result (one pass over
 * memory instead of two); otherwise it becomes an activation layer of its own, named `sourceName`. A
 * linear activation is the identity and is dropped.
 */
export function applyActivation(plan: PlannedLayer[], fused: Fused, sourceName: string) {
  if (fused.activation === 'linear') return;
  const last = plan.at(-1);
  if (last?.weights && last.spec.activation === 'linear') {
    last.spec.activation = fused.activation;
    if (fused.alpha !== undefined) last.spec.alpha = fused.alpha;
    last.fusedFrom = sourceName;
    return;
  }
  plan.push({ name: sourceName, spec: { type: 'activation', ...fused } });
}

export function outputsOf(layer: PlannedWeighted): number {
  return layer.spec.type === 'dense' ? layer.spec.units : layer.spec.filters;
}

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
