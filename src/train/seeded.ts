/**
 * Seeded integer hashing, a small PRNG and permutations: plain JavaScript, no TensorFlow.js, so tests
 * and tools can use them without loading it.
 */

/** A 32-bit hash of a few integers (murmur3's finaliser over a running mix). */
export function hashSeed(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    // fold the high part of values above 2^32 too
    h = Math.imul(h ^ Math.floor(v / 2 ** 32), 0x27d4eb2f);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** Mulberry32, for permutations and index draws in JavaScript. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An inverted-dropout mask of n values: 1 / (1 - rate) with probability 1 - rate, else 0. Drawn here
 * rather than by tf.randomUniform, whose per-value generator took about 9% of a conv-vae training
 * step on the edgevae backend (with the compare, cast and divide that turned it into a mask).
 */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const keepScale = 1 / (1 - rate);
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) if (random() >= rate) mask[i] = keepScale;
  return mask;
}

/** Fisher-Yates permutation of 0..n-1 from a seed. */
export function permutation(n: number, seed: number): Uint32Array {
  const random = seededRandom(seed);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
