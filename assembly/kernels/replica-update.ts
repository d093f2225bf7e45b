// The data-parallel optimizer step (src/train/replica-sync.ts): one replica's slice of an Adam
// update, straight from every replica's gradients. For each value i:
//   g = the sum over replicas q, in order, of shares[q] * gradient_q[i], in f64 from +0, rounded
//       once to f32: a fixed order, so a run on a given number of threads repeats bit for bit;
//   then Adam's step on w[i], m[i], v[i] in place, by the same per-element code as kernels/adam.ts
//   (so the same bits as the update one replica would apply to the summed gradient).
// The f64 sum of f32 values times f64 weights is exact per product up to one rounding, as
// JavaScript's doubles do it; the f32 rounding of demote is round-to-nearest-even, as a
// Float32Array store's.
import { adamStep1, adamStep4 } from './adam';

/**
 * n values: the gradients at `gradients` + q * `replicaStride` bytes for each of `replicas`
 * replicas, weighted by the f64 `shares`; w, m, v updated in place.
 */
export function replicaAdamUpdate(
  gradients: usize, replicaStride: usize, replicas: i32, shares: usize, w: usize, m: usize, v: usize, n: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, stepSize: f32, epsilon: f32,
): void {
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(oneMinusBeta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(oneMinusBeta2);
  const step = f32x4.splat(stepSize), eps = f32x4.splat(epsilon);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const g = weightedSum4(gradients + at, replicaStride, replicas, shares);
    adamStep4(w + at, g, m + at, v + at, w + at, m + at, v + at, b1, c1, b2, c2, step, eps);
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const g = weightedSum1(gradients + at, replicaStride, replicas, shares);
    adamStep1(w + at, g, m + at, v + at, w + at, m + at, v + at, beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, epsilon);
  }
}

/** Four consecutive values' weighted sums over the replicas, as f32. */
// @ts-ignore: decorator
@inline function weightedSum4(at: usize, replicaStride: usize, replicas: i32, shares: usize): v128 {
  let low = f64x2.splat(0);
  let high = f64x2.splat(0);
  for (let q = 0; q < replicas; q++) {
    const share = f64x2.splat(load<f64>(shares + (<usize>q << 3)));
    const p = at + <usize>q * replicaStride;
    low = f64x2.add(low, f64x2.mul(share, f64x2.promote_low_f32x4(v128.load64_zero(p))));
    high = f64x2.add(high, f64x2.mul(share, f64x2.promote_low_f32x4(v128.load64_zero(p + 8))));
  }
  return i32x4.shuffle(f32x4.demote_f64x2_zero(low), f32x4.demote_f64x2_zero(high), 0, 1, 4, 5);
}

/** One value's weighted sum over the replicas, as f32. */
// @ts-ignore: decorator
@inline function weightedSum1(at: usize, replicaStride: usize, replicas: i32, shares: usize): f32 {
  let sum: f64 = 0;
  for (let q = 0; q < replicas; q++) sum += load<f64>(shares + (<usize>q << 3)) * <f64>load<f32>(at + <usize>q * replicaStride);
  return <f32>sum;
}
