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

/** Mulberry32's step: the state advances by a fixed odd constant. */
const MULBERRY_INCREMENT = 0x6d2b79f5;

/** Mulberry32's output for a state: a uint32. */
function mulberryMix(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** Mulberry32, for permutations and index draws in JavaScript. */
export function seededRandom(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + MULBERRY_INCREMENT) | 0;
    return mulberryMix(a) / 4294967296;
  };
}

/**
 * An inverted-dropout mask of n values: 1 / (1 - rate) with probability 1 - rate, else 0: value i
 * keeps where Mulberry32's (i + 1)th output is at least rate * 2^32. StepRandom.dropout draws it here
 * on backends other than edgevae, whose wasm kernel (assembly/kernels/dropout.ts) draws the same
 * values four at a time. Both replace tf.randomUniform and the compare, cast and divide that turned
 * it into a mask: about 9% of a conv-vae training step. The state stays in a local variable: in
 * seededRandom's closure V8 boxes it, about 10x slower.
 */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const keepScale = 1 / (1 - rate);
  const dropBelow = rate * 4294967296;
  const mask = new Float32Array(n);
  let state = seed | 0;
  for (let i = 0; i < n; i++) {
    state = (state + MULBERRY_INCREMENT) | 0;
    if (mulberryMix(state) >= dropBelow) mask[i] = keepScale;
  }
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
