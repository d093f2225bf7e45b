/**
 * Randomness for training that a checkpoint can reproduce: every random draw is keyed by the run's
 * seed, the global step and a stream number, so nothing random is carried as state, and a resumed
 * run draws exactly what an uninterrupted one would have.
 */
import * as tf from '@tensorflow/tfjs';

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

/** Draws for one training step: each call to next() gives a fresh seed for a tf.random* op. */
export class StepRandom {
  private stream = 0;
  constructor(
    private readonly runSeed: number,
    readonly step: number,
  ) {}

  next(): number {
    return hashSeed(this.runSeed, this.step, this.stream++);
  }

  normal(shape: number[], stddev = 1): tf.Tensor {
    return tf.randomNormal(shape, 0, stddev, 'float32', this.next());
  }

  /** Inverted dropout, as Keras applies it while training: keep with probability 1 - rate, scale by 1 / (1 - rate). */
  dropout<T extends tf.Tensor>(x: T, rate: number): T {
    if (rate <= 0) return x;
    return tf.tidy(() => {
      const keep = tf.randomUniform(x.shape, 0, 1, 'float32', this.next()).greaterEqual(rate).toFloat();
      return x.mul(keep).div(1 - rate) as T;
    });
  }
}
