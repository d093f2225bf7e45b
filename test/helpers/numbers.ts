/** Seeded random test inputs and numeric comparisons. Plain TypeScript: no TensorFlow.js, so runtime tests can use it. */

import { seededRandom } from '../../src/train/seeded.ts';

export { seededRandom };

/** Standard-normal samples (Box-Muller), like the latent codes a VAE decoder is fed. */
export function normalSamples(random: () => number, count: number): number[] {
  const out: number[] = [];
  while (out.length < count) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const theta = 2 * Math.PI * random();
    out.push(r * Math.cos(theta), r * Math.sin(theta));
  }
  return out.slice(0, count);
}

/** `n` values drawn uniformly from [-scale, scale). */
export function randomValues(n: number, random: () => number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Whether two arrays hold the same floats bit for bit (NaN equal to NaN, 0 unlike -0). */
export function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
