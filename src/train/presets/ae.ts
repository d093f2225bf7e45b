/**
 * ae: the plain autoencoder of Naresh Nagabushan's "A Wizard's Guide to Adversarial Autoencoders",
 * part 1 (autoencoder.py in Naresh1318/Adversarial_Autoencoder).
 *
 * Encoder 784 → 1000 → 1000 (ReLU) → 2 (linear code); decoder 2 → 1000 → 1000 (ReLU) → 784
 * (sigmoid). Weights N(0, 0.01^2), biases zero (the tutorial's `dense`). Loss: mean squared error
 * over pixels and images. Adam with beta1 0.9; batch 100. Learning rate 0.01 as the project's issue
 * asks; the tutorial's script sets learning_rate = 0.001. 0.01 does not diverge and was ahead of
 * 0.001 after 300 steps (docs/MODELS.md); `--lr 0.001` gives the script's rate.
 *
 * Settings beyond the common four:
 *   beta1     0.9   Adam's beta1
 *   gridSide  20    the sample picture is a gridSide x gridSide grid over the 2-d code plane
 *
 * The sample grid spans, per axis, the 1st to 99th percentile of the codes of the first 1000
 * training images under the current weights (a plain autoencoder's codes have no fixed scale);
 * without training data (e.g. when only exporting) it spans [-3, 3].
 */
import * as tf from '@tensorflow/tfjs';
import { imageValues, type Split } from '../../data/datasets.ts';
import { Adam, trainableVariables } from '../adam.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import { IMAGE_SHAPE, InitSeeds, intSetting, mapOverSplit, numberSetting, planeGrid, predictValues, requireMnistShape, sumOverSplit } from './common.ts';

export const AAE_HIDDEN = 1000;
/** The AAE tutorial's initializer: N(0, 0.01^2). */
export const AAE_INIT_STDDEV = 0.01;

/** The tutorial's encoder: 784 → 1000 → 1000 (ReLU) → outputs (linear). */
export function denseEncoder(seeds: InitSeeds, outputs: number, name: string): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ inputShape: [784], units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }),
      tf.layers.dense({ units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }),
      tf.layers.dense({ units: outputs, ...seeds.normal(AAE_INIT_STDDEV) }),
    ],
  });
}

/** The tutorial's decoder: inputs → 1000 → 1000 (ReLU) → 784 (sigmoid). */
export function denseDecoder(seeds: InitSeeds, inputs: number, name: string): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ inputShape: [inputs], units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }),
      tf.layers.dense({ units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }),
      tf.layers.dense({ units: 784, activation: 'sigmoid', ...seeds.normal(AAE_INIT_STDDEV) }),
    ],
  });
}

/** Per-axis [1st, 99th] percentiles of n x 2 codes. */
export function codeRanges(codes: Float32Array): [[number, number], [number, number]] {
  const n = codes.length / 2;
  const axis = (a: number): [number, number] => {
    const values = Float32Array.from({ length: n }, (_, i) => codes[i * 2 + a]).sort();
    return [values[Math.floor(0.01 * (n - 1))], values[Math.ceil(0.99 * (n - 1))]];
  };
  return [axis(0), axis(1)];
}

/** The first `count` images of a split, as a split. */
export function headOf(split: Split, count: number): Split {
  const n = Math.min(count, split.count);
  const size = imageValues(split);
  return { ...split, count: n, images: split.images.subarray(0, n * size), labels: split.labels.subarray(0, n) };
}

function create(config: PresetConfig, data?: { train: Split }): Trainable {
  const beta1 = numberSetting(config, 'beta1', 0.9);
  const gridSide = intSetting(config, 'gridSide', 20);
  const encoder = denseEncoder(new InitSeeds(config.seed, 1), 2, 'ae_encoder');
  const decoder = denseDecoder(new InitSeeds(config.seed, 2), 2, 'ae_decoder');
  const optimizer = new Adam(trainableVariables(encoder, decoder), { learningRate: config.learningRate, beta1 });
  const reference = data ? headOf(data.train, 1000) : undefined;

  const encode = (split: Split) => mapOverSplit(split, (x) => encoder.predict(x) as tf.Tensor2D);

  return {
    models: { encoder, decoder },
    optimizers: { reconstruction: optimizer },

    trainStep(batch) {
      const reconstruction = optimizer.minimize(() => tf.losses.meanSquaredError(batch.x, decoder.apply(encoder.apply(batch.x)) as tf.Tensor2D) as tf.Scalar);
      return { reconstruction };
    },

    async evaluate(test) {
      const sums = await sumOverSplit(test, (x) => ({ squares: x.sub(decoder.predict(encoder.predict(x)) as tf.Tensor).square().sum() }));
      return { mse: sums.squares / (test.count * 784) };
    },

    decoder: () => ({ model: decoder, outputShape: IMAGE_SHAPE }),

    sampleGrid() {
      let ranges: [[number, number], [number, number]] = [[-3, 3], [-3, 3]];
      if (reference) {
        const codes = tf.tidy(() => {
          const x = tf.tensor2d(reference.images, [reference.count, 784]);
          return Float32Array.from((encoder.predict(x) as tf.Tensor).dataSync());
        });
        ranges = codeRanges(codes);
      }
      const points = planeGrid(gridSide, ...ranges);
      const images = predictValues(decoder, points);
      points.dispose();
      return { images, columns: gridSide };
    },

    // A deterministic encoder: its codes are what the decoder was trained on, for the plot and for a fitted prior.
    latentCodes: encode,
    priorCodes: encode,
  };
}

export const ae: Preset = {
  name: 'ae',
  summary: 'dense autoencoder with a 2-d code, MSE loss (AAE guide part 1)',
  tutorial: 'Naresh Nagabushan, "A Wizard\'s Guide to Adversarial Autoencoders", part 1: Autoencoder?',
  defaults: { epochs: 20, batchSize: 100, learningRate: 0.01, seed: 1, beta1: 0.9, gridSide: 20 },
  check: (config) => requireMnistShape(config, 'ae', false),
  create,
};
