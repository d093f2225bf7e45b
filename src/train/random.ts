/**
 * Randomness for training that a checkpoint can reproduce: every random draw is keyed by the run's
 * seed, the global step and a stream number, so nothing random is carried as state, and a resumed
 * run draws exactly what an uninterrupted one would have.
 */
import * as tf from '@tensorflow/tfjs';
import { DROPOUT_MASK_KERNEL } from './edgevae-backend.ts';
import { dropoutMask, hashSeed } from './seeded.ts';

export { hashSeed, permutation, seededRandom } from './seeded.ts';

/**
 * Draws for one training step: each call to next() gives a fresh seed for a tf.random* op. In
 * data-parallel training each replica draws for its own share of the batch, so each has its own
 * streams; replica 0's are those of a run on one thread.
 */
export class StepRandom {
  private stream = 0;
  constructor(
    private readonly runSeed: number,
    readonly step: number,
    readonly replica = 0,
  ) {}

  next(): number {
    const stream = this.stream++;
    return this.replica === 0 ? hashSeed(this.runSeed, this.step, stream) : hashSeed(this.runSeed, this.step, stream, this.replica);
  }

  normal(shape: number[], stddev = 1): tf.Tensor {
    return tf.randomNormal(shape, 0, stddev, 'float32', this.next());
  }

  /** Inverted dropout, as Keras applies it while training: keep with probability 1 - rate, scale by 1 / (1 - rate). */
  dropout<T extends tf.Tensor>(x: T, rate: number): T {
    if (rate <= 0) return x;
    const seed = this.next();
    return tf.tidy(() => {
      // The same mask either way: drawn in wasm where the backend has our kernel, else in JavaScript.
      const mask = tf.getKernel(DROPOUT_MASK_KERNEL, tf.getBackend())
        ? (tf.engine().runKernel(DROPOUT_MASK_KERNEL, {}, { shape: x.shape, rate, seed }) as tf.Tensor)
        : tf.tensor(dropoutMask(x.size, rate, seed), x.shape);
      return x.mul(mask) as T;
    });
  }
}
