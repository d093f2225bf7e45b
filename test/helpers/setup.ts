/** Shared setup for tests that load TensorFlow.js: its pure-JS CPU backend, and seeded latent batches. */
import * as tf from '@tensorflow/tfjs';
import { normalSamples, seededRandom } from './numbers.ts';

await tf.setBackend('cpu');

export { tf };

/** `batch` latent vectors of length `size`. */
export function latentBatch(seed: number, batch: number, size: number): number[][] {
  const random = seededRandom(seed);
  return Array.from({ length: batch }, () => normalSamples(random, size));
}
