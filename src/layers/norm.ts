/**
 * Group and layer normalization on NHWC values: scalar references in f64, straight from the
 * definitions, that the kernels (assembly/kernels/norm.ts) are held against within a tolerance (the
 * kernels normalize in f32). groupNormReference covers InstanceNorm (groups = C) and GroupNorm;
 * layerNormChannelsReference is PyTorch's nn.LayerNorm(C) on channels-last values.
 */
import { Act } from '../runtime/abi.ts';

/** The activations the norm kernels fuse (Act codes 0..4), in f64. */
export function activateReference(v: number, act: number, alpha: number): number {
  switch (act) {
    case Act.Linear: return v;
    case Act.Relu: return Math.max(v, 0);
    case Act.LeakyRelu: return v > 0 ? v : v * alpha;
    case Act.Sigmoid: return 1 / (1 + Math.exp(-v));
    case Act.Tanh: return Math.tanh(v);
    default: throw new RangeError(`the norm kernels fuse activations 0..4, got ${act}`);
  }
}

/**
 * x [batch, pixels, C]; per sample and group g (channels [g*C/G, (g+1)*C/G)): mean and biased
 * variance over pixels x C/G values, y = act((x - mean) / sqrt(var + epsilon) * gamma[c] + beta[c]).
 */
export function groupNormReference(
  x: Float32Array, batch: number, pixels: number, C: number, groups: number, epsilon: number,
  gamma: Float32Array, beta: Float32Array, act = 0, alpha = 0,
): Float64Array {
  if (C % groups !== 0) throw new RangeError(`groups ${groups} do not divide C ${C}`);
  const per = C / groups;
  const y = new Float64Array(x.length);
  for (let s = 0; s < batch; s++) {
    for (let g = 0; g < groups; g++) {
      const indices: number[] = [];
      for (let p = 0; p < pixels; p++) for (let c = g * per; c < (g + 1) * per; c++) indices.push((s * pixels + p) * C + c);
      let sum = 0;
      for (const i of indices) sum += x[i];
      const mean = sum / indices.length;
      let sq = 0;
      for (const i of indices) sq += (x[i] - mean) ** 2;
      const std = Math.sqrt(sq / indices.length + Math.fround(epsilon));
      for (const i of indices) {
        const c = i % C;
        y[i] = activateReference(((x[i] - mean) / std) * gamma[c] + beta[c], act, alpha);
      }
    }
  }
  return y;
}

/** x [rows, C]; per row, y = act((x - mean) / sqrt(var + epsilon) * gamma[c] + beta[c]) over its C values. */
export function layerNormChannelsReference(
  x: Float32Array, rows: number, C: number, epsilon: number, gamma: Float32Array, beta: Float32Array, act = 0, alpha = 0,
): Float64Array {
  return groupNormReference(x, rows, 1, C, 1, epsilon, gamma, beta, act, alpha);
}
