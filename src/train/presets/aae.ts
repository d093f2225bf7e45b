/**
 * aae: the adversarial autoencoder of Naresh Nagabushan's "A Wizard's Guide to Adversarial
 * Autoencoders", part 2 (adversarial_autoencoder.py in Naresh1318/Adversarial_Autoencoder).
 *
 * The part-1 autoencoder (784 → 1000 → 1000 → 2 → 1000 → 1000 → 784, ReLU, sigmoid output, weights
 * N(0, 0.01^2)) plus a discriminator 2 → 1000 → 1000 (ReLU) → 1 logit that tells codes drawn from a
 * Gaussian prior ("real") from the encoder's codes ("fake"). Each batch runs three phases, each with
 * its own Adam (learning rate 0.001, beta1 0.9, as in the tutorial):
 *   1. reconstruction: encoder + decoder minimise the mean squared error;
 *   2. discriminator: sigmoid cross-entropy of real prior samples (target 1) plus encoder codes (target 0);
 *   3. generator: the encoder minimises the sigmoid cross-entropy of its codes against target 1.
 * Batch 100.
 *
 * Prior: N(0, priorStddev^2 I) with priorStddev 2 as the project's issue asks; the tutorial draws
 * `np.random.randn(batch_size, z_dim) * 5.` (stddev 5). Set priorStddev: 5 to match it.
 *
 * Settings beyond the common four:
 *   priorStddev  2     standard deviation of the Gaussian prior on the code
 *   beta1        0.9   Adam's beta1, for all three optimizers
 *   gridSide     20    the sample picture is a gridSide x gridSide grid over [-2, 2] * priorStddev on
 *                      both axes (the tutorial's grid, np.arange(-10, 10, 1.5) for stddev 5, also spans
 *                      about two standard deviations)
 */
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../../data/datasets.ts';
import { Adam, trainableVariables } from '../adam.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import type { StepRandom } from '../random.ts';
import { AAE_HIDDEN, AAE_INIT_STDDEV, denseDecoder, denseEncoder } from './ae.ts';
import { IMAGE_SHAPE, InitSeeds, intSetting, mapOverSplit, numberSetting, planeGrid, predictValues, requireMnistShape, sigmoidCrossEntropy, sumOverSplit } from './common.ts';

/** The tutorial's discriminator: inputs → 1000 → 1000 (ReLU) → 1 logit. */
export function discriminator(seeds: InitSeeds, inputs: number, name: string): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ inputShape: [inputs], units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }),
      tf.layers.dense({ units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }),
      tf.layers.dense({ units: 1, ...seeds.normal(AAE_INIT_STDDEV) }),
    ],
  });
}

/** Discriminator loss: real samples should score 1, fake ones 0 (dc_loss_real + dc_loss_fake). */
export function discriminatorLoss(disc: tf.LayersModel, real: tf.Tensor, fake: tf.Tensor): tf.Scalar {
  return sigmoidCrossEntropy(disc.apply(real) as tf.Tensor, 1).add(sigmoidCrossEntropy(disc.apply(fake) as tf.Tensor, 0));
}

/**
 * The regularisation phases of one batch: the discriminator learns prior samples (N(0, priorStddev^2))
 * from the encoder's codes, then the encoder learns to fool it. Returns both loss terms.
 */
export function adversarialPhases(
  optimizers: { discriminator: Adam; generator: Adam },
  encoder: tf.LayersModel,
  disc: tf.LayersModel,
  x: tf.Tensor2D,
  random: StepRandom,
  priorStddev: number,
): { discriminator: number; generator: number } {
  const zDim = encoder.outputs[0].shape[1] as number;
  const real = random.normal([x.shape[0], zDim], priorStddev);
  const discriminator = optimizers.discriminator.minimize(() => discriminatorLoss(disc, real, encoder.apply(x) as tf.Tensor));
  real.dispose();
  const generator = optimizers.generator.minimize(() => sigmoidCrossEntropy(disc.apply(encoder.apply(x)) as tf.Tensor, 1));
  return { discriminator, generator };
}

function create(config: PresetConfig): Trainable {
  const priorStddev = numberSetting(config, 'priorStddev', 2);
  const beta1 = numberSetting(config, 'beta1', 0.9);
  const gridSide = intSetting(config, 'gridSide', 20);
  const zDim = 2;
  const encoder = denseEncoder(new InitSeeds(config.seed, 1), zDim, 'aae_encoder');
  const decoder = denseDecoder(new InitSeeds(config.seed, 2), zDim, 'aae_decoder');
  const disc = discriminator(new InitSeeds(config.seed, 3), zDim, 'aae_discriminator');
  const adam = (...models: tf.LayersModel[]) => new Adam(trainableVariables(...models), { learningRate: config.learningRate, beta1 });
  const optimizers = { reconstruction: adam(encoder, decoder), discriminator: adam(disc), generator: adam(encoder) };

  const encode = (split: Split) => mapOverSplit(split, (x) => encoder.predict(x) as tf.Tensor2D);

  return {
    models: { encoder, decoder, discriminator: disc },
    optimizers,

    trainStep(batch, { random }) {
      const { x } = batch;
      const reconstruction = optimizers.reconstruction.minimize(
        () => tf.losses.meanSquaredError(x, decoder.apply(encoder.apply(x)) as tf.Tensor2D) as tf.Scalar,
      );
      return { reconstruction, ...adversarialPhases(optimizers, encoder, disc, x, random, priorStddev) };
    },

    async evaluate(test) {
      const sums = await sumOverSplit(test, (x) => ({ squares: x.sub(decoder.predict(encoder.predict(x)) as tf.Tensor).square().sum() }));
      return { mse: sums.squares / (test.count * 784) };
    },

    decoder: () => ({ model: decoder, outputShape: IMAGE_SHAPE, priorStddev }),

    sampleGrid() {
      const span = 2 * priorStddev;
      const points = planeGrid(gridSide, [-span, span], [-span, span]);
      const images = predictValues(decoder, points);
      points.dispose();
      return { images, columns: gridSide };
    },

    // A deterministic encoder: its codes are what the decoder was trained on, for the plot and for a fitted prior.
    latentCodes: encode,
    priorCodes: encode,
  };
}

export const aae: Preset = {
  name: 'aae',
  summary: 'adversarial autoencoder, 2-d code matched to a Gaussian prior (AAE guide part 2)',
  tutorial: 'Naresh Nagabushan, "A Wizard\'s Guide to Adversarial Autoencoders", part 2: Exploring latent space with Adversarial Autoencoders',
  defaults: { epochs: 20, batchSize: 100, learningRate: 1e-3, seed: 1, priorStddev: 2, beta1: 0.9, gridSide: 20 },
  check: (config) => requireMnistShape(config, 'aae', false),
  create,
};
