/**
 * aae-supervised: the supervised adversarial autoencoder of Naresh Nagabushan's "A Wizard's Guide
 * to Adversarial Autoencoders", part 3: disentanglement of style and content
 * (supervised_adversarial_autoencoder.py in Naresh1318/Adversarial_Autoencoder).
 *
 * The encoder (784 → 1000 → 1000 → zDim, ReLU, linear code) sees the image only; the decoder also
 * gets the digit's one-hot label: concat(z, label) → 1000 → 1000 (ReLU) → 784 (sigmoid). As the
 * label carries the content, the code is left with the style. The discriminator
 * (zDim → 1000 → 1000 → 1 logit) matches the code alone to the Gaussian prior. Weights N(0, 0.01^2),
 * biases zero. Three phases per batch (reconstruction with the true labels, discriminator,
 * generator), each with its own Adam (0.001, beta1 0.9); batch 100; all as in part 2.
 *
 * zDim is the tutorial script's z_dim = 15. The tutorial concatenates [label, z]; we concatenate
 * [z, label] (the same model up to the order of the first layer's weight rows). Prior stddev 2 as in
 * `aae` (the tutorial: 5).
 *
 * Settings beyond the common four:
 *   zDim         15    size of the style code
 *   priorStddev  2     standard deviation of the Gaussian prior on the code
 *   beta1        0.9   Adam's beta1, for all three optimizers
 *
 * Sample picture: 10 rows of styles drawn from the prior (seeded), 10 columns of digits 0..9, as the
 * tutorial's generate_image_grid.
 */
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../../data/datasets.ts';
import { Adam, trainableVariables } from '../adam.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import { AAE_HIDDEN, AAE_INIT_STDDEV, denseEncoder } from './ae.ts';
import { adversarialPhases, discriminator } from './aae.ts';
import {
  CLASSES,
  IMAGE_SHAPE,
  InitSeeds,
  intSetting,
  mapOverSplit,
  numberSetting,
  oneHot,
  requireMnistShape,
  styleGrid,
  sumOverSplit,
} from './common.ts';

/** concat(z, label) → 1000 → 1000 (ReLU) → 784 (sigmoid), with inputs named 'z' and 'label'. */
export function conditionalDenseDecoder(seeds: InitSeeds, zDim: number, name: string): tf.LayersModel {
  const z = tf.input({ shape: [zDim], name: 'z' });
  const label = tf.input({ shape: [CLASSES], name: 'label' });
  let h = tf.layers.concatenate({ axis: -1 }).apply([z, label]) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 784, activation: 'sigmoid', ...seeds.normal(AAE_INIT_STDDEV) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ name, inputs: [z, label], outputs: h });
}

function create(config: PresetConfig): Trainable {
  const zDim = intSetting(config, 'zDim', 15);
  const priorStddev = numberSetting(config, 'priorStddev', 2);
  const beta1 = numberSetting(config, 'beta1', 0.9);
  const encoder = denseEncoder(new InitSeeds(config.seed, 1), zDim, 'aae_supervised_encoder');
  const decoder = conditionalDenseDecoder(new InitSeeds(config.seed, 2), zDim, 'aae_supervised_decoder');
  const disc = discriminator(new InitSeeds(config.seed, 3), zDim, 'aae_supervised_discriminator');
  const adam = (...models: tf.LayersModel[]) => new Adam(trainableVariables(...models), { learningRate: config.learningRate, beta1 });
  const optimizers = { reconstruction: adam(encoder, decoder), discriminator: adam(disc), generator: adam(encoder) };

  const reconstruct = (x: tf.Tensor2D, labels: tf.Tensor1D) => decoder.apply([encoder.apply(x) as tf.Tensor, oneHot(labels)]) as tf.Tensor2D;

  return {
    models: { encoder, decoder, discriminator: disc },
    optimizers,

    trainStep(batch, { random }) {
      const { x, labels } = batch;
      const reconstruction = optimizers.reconstruction.minimize(() => tf.losses.meanSquaredError(x, reconstruct(x, labels)) as tf.Scalar);
      return { reconstruction, ...adversarialPhases(optimizers, encoder, disc, x, random, priorStddev) };
    },

    async evaluate(test) {
      const sums = await sumOverSplit(test, (x, labels) => ({
        squares: x.sub(decoder.predict([encoder.predict(x) as tf.Tensor, oneHot(labels)]) as tf.Tensor).square().sum(),
      }));
      return { mse: sums.squares / (test.count * 784) };
    },

    decoder: () => ({ model: decoder, outputShape: IMAGE_SHAPE, labelInput: 'label', priorStddev }),

    sampleGrid: (seed) => styleGrid(decoder, 10, zDim, priorStddev, seed),

    ...(zDim === 2 ? { latentCodes: (test: Split) => mapOverSplit(test, (x) => encoder.predict(x) as tf.Tensor2D) } : {}),
  } satisfies Trainable;
}

export const aaeSupervised: Preset = {
  name: 'aae-supervised',
  summary: 'supervised AAE: label-conditioned decoder, style code matched to a Gaussian prior (AAE guide part 3)',
  tutorial: 'Naresh Nagabushan, "A Wizard\'s Guide to Adversarial Autoencoders", part 3: Disentanglement of style and content',
  defaults: { epochs: 20, batchSize: 100, learningRate: 1e-3, seed: 1, zDim: 15, priorStddev: 2, beta1: 0.9 },
  check: (config) => requireMnistShape(config, 'aae-supervised', true),
  create,
};
