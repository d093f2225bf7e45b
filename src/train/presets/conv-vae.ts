/**
 * conv-vae: Felix Mohr's convolutional VAE, "Teaching a Variational Autoencoder (VAE) to draw MNIST
 * characters" (Towards Data Science, 2017).
 *
 * Encoder: 28x28x1 → conv2d 64 4x4 stride 2 → conv2d 64 4x4 stride 2 → conv2d 64 4x4 stride 1, each
 * 'same' padding, leaky ReLU (alpha 0.3) and dropout (keep_prob 0.8 while training); flatten; a
 * dense mean (8) and a dense sd-parameter (8) with sd = 0.5 * dense(x): z = mn + eps * exp(sd).
 * Decoder: dense 24 (leaky) → dense 49 (leaky) → reshape 7x7x1 → conv2dTranspose 64 4x4 stride 2
 * → dropout → conv2dTranspose 64 4x4 stride 1 → dropout → conv2dTranspose 64 4x4 stride 1, each
 * 'same' with ReLU (the tutorial's tf.nn.relu; setting `deconvActivation: 'leaky'` gives leaky
 * ReLU 0.3 instead) → flatten → dense 784 sigmoid.
 * Loss: mean over the batch of (sum of squared differences + KL), where KL is the tutorial's
 * latent loss -0.5 * sum(1 + 2 sd - mn^2 - exp(2 sd)). Adam 5e-4, batch 64.
 *
 * Settings beyond the common four:
 *   latentSize        8      size of z
 *   keepProb          0.8    dropout keep probability while training (dropout rate 1 - keepProb)
 *   leakyAlpha        0.3    slope of the tutorial's lrelu
 *   deconvActivation  'relu' activation of the transposed convolutions: 'relu' (tutorial) or 'leaky'
 *   head              the decoder's last layers: 'dense' (tutorial; default at 28x28x1) or 'conv'
 *
 * Dropout is applied by hand in the training forward pass (context.random.dropout), so the models
 * themselves hold no dropout layers and the decoder exports as it is.
 *
 * Other images (size N, a multiple of 4, with 1 or 3 channels; `imageSize`, `channels` from the
 * data): the same layers on N x N x C, the dense 49 becoming (N/4)^2 and the reshape N/4 x N/4 x 1.
 * The tutorial's last layers (flatten → dense N*N*C) would grow as N^4 (805 million weights at 64x64
 * RGB), so away from 28x28x1 the decoder ends instead with a fourth conv2dTranspose of C filters,
 * 4x4 stride 2 'same', and a sigmoid: `head` 'conv' (the default there) against the tutorial's
 * 'dense' (the default at 28x28x1, and the one choice before other shapes existed).
 */
import * as tf from '@tensorflow/tfjs';
import { Adam, trainableVariables } from '../adam.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import { hashSeed, type StepRandom } from '../random.ts';
import { InputError } from '../../errors.ts';
import {
  bernoulliNll,
  choiceSetting,
  imageSettings,
  InitSeeds,
  intSetting,
  klStandardNormal,
  mapOverSplit,
  numberSetting,
  predictValues,
  squaredErrorSum,
  sumOverSplit,
} from './common.ts';
import { layersOf, runSteps, type Step } from './conv-steps.ts';

/** The decoder's last layers: the tutorial's flatten → dense, or a transposed convolution (see the module comment). */
function head(config: PresetConfig): 'dense' | 'conv' {
  const { size, channels } = imageSettings(config);
  return choiceSetting(config, 'head', ['dense', 'conv'] as const, size === 28 && channels === 1 ? 'dense' : 'conv');
}

function check(config: PresetConfig): void {
  const { size } = imageSettings(config);
  if (size % 4 !== 0) throw new InputError(`the conv-vae preset halves its images twice: their size must be a multiple of 4 (28, 32, 64, ...), not ${size}; give --image-size N`);
  head(config);
}

function create(config: PresetConfig): Trainable {
  check(config);
  const image = imageSettings(config);
  const quarter = image.size / 4;
  const latentSize = intSetting(config, 'latentSize', 8);
  const keepProb = numberSetting(config, 'keepProb', 0.8);
  const alpha = numberSetting(config, 'leakyAlpha', 0.3);
  const deconvActivation = choiceSetting(config, 'deconvActivation', ['relu', 'leaky'] as const, 'relu');
  const dropoutRate = 1 - keepProb;

  // ---- encoder ----
  const e = new InitSeeds(config.seed, 1);
  const conv = (strides: number) => tf.layers.conv2d({ filters: 64, kernelSize: 4, strides, padding: 'same', ...e.glorot() });
  const leaky = () => tf.layers.leakyReLU({ alpha });
  const trunk: Step[] = [
    tf.layers.reshape({ targetShape: image.shape }),
    conv(2), leaky(), 'dropout',
    conv(2), leaky(), 'dropout',
    conv(1), leaky(), 'dropout',
    tf.layers.flatten(),
  ];
  const meanHead = tf.layers.dense({ units: latentSize, ...e.glorot() });
  const sdHead = tf.layers.dense({ units: latentSize, ...e.glorot() });
  const pixels = tf.input({ shape: [image.values], name: 'image' });
  const features = trunk.reduce<tf.SymbolicTensor>((t, s) => (s === 'dropout' ? t : (s.apply(t) as tf.SymbolicTensor)), pixels);
  const encoder = tf.model({
    name: 'conv_vae_encoder',
    inputs: pixels,
    outputs: [meanHead.apply(features) as tf.SymbolicTensor, sdHead.apply(features) as tf.SymbolicTensor],
  });

  // ---- decoder ----
  const d = new InitSeeds(config.seed, 2);
  const deconv = (strides: number): Step[] => {
    const layer = tf.layers.conv2dTranspose({ filters: 64, kernelSize: 4, strides, padding: 'same', ...d.glorot() });
    return deconvActivation === 'relu' ? [layer, tf.layers.reLU()] : [layer, tf.layers.leakyReLU({ alpha })];
  };
  const decoderSteps: Step[] = [
    tf.layers.dense({ inputShape: [latentSize], units: 24, ...d.glorot() }),
    tf.layers.leakyReLU({ alpha }),
    tf.layers.dense({ units: quarter * quarter, ...d.glorot() }),
    tf.layers.leakyReLU({ alpha }),
    tf.layers.reshape({ targetShape: [quarter, quarter, 1] }),
    ...deconv(2), 'dropout',
    ...deconv(1), 'dropout',
    ...deconv(1),
    ...(head(config) === 'dense'
      ? [tf.layers.flatten(), tf.layers.dense({ units: image.values, activation: 'sigmoid', ...d.glorot() })]
      : [
          tf.layers.conv2dTranspose({ filters: image.channels, kernelSize: 4, strides: 2, padding: 'same', ...d.glorot() }),
          tf.layers.activation({ activation: 'sigmoid' }),
          tf.layers.flatten(),
        ]),
  ];
  const decoder = tf.sequential({ name: 'conv_vae_decoder', layers: layersOf(decoderSteps) });

  const optimizer = new Adam(trainableVariables(encoder, decoder), { learningRate: config.learningRate });

  /** A draw from q(z | x): z = mn + eps * exp(sd), with dropout when `dropout` is given. */
  function encode(x: tf.Tensor2D, eps: tf.Tensor2D, dropout?: (t: tf.Tensor) => tf.Tensor) {
    const h = runSteps(trunk, x, { dropout });
    const mn = meanHead.apply(h) as tf.Tensor2D;
    const sd = (sdHead.apply(h) as tf.Tensor2D).mul(0.5) as tf.Tensor2D;
    return { mn, sd, z: mn.add(eps.mul(sd.exp())) as tf.Tensor2D };
  }

  /** The tutorial's loss terms per image: [squared error sum, KL], with dropout when `random` is given. */
  function forward(x: tf.Tensor2D, random: StepRandom | undefined, eps: tf.Tensor2D) {
    const dropout = random ? (t: tf.Tensor) => random.dropout(t, dropoutRate) : undefined;
    const { mn, sd, z } = encode(x, eps, dropout);
    const reconstruction = runSteps(decoderSteps, z, { dropout }) as tf.Tensor2D;
    return { reconstruction, squaredError: squaredErrorSum(reconstruction, x), kl: klStandardNormal(mn, sd.mul(2)) };
  }

  return {
    models: { encoder, decoder },
    optimizers: { main: optimizer },

    trainStep(batch, { random }) {
      let squaredError = 0;
      let kl = 0;
      const loss = optimizer.minimize(() => {
        const eps = random.normal([batch.x.shape[0], latentSize]) as tf.Tensor2D;
        const terms = forward(batch.x, random, eps);
        const mse = terms.squaredError.mean();
        const klMean = terms.kl.mean();
        [squaredError, kl] = [mse.dataSync()[0], klMean.dataSync()[0]];
        return mse.add(klMean) as tf.Scalar;
      });
      return { loss, squaredError, kl };
    },

    async evaluate(test) {
      const sums = await sumOverSplit(test, (x, _labels, chunk) => {
        const eps = tf.randomNormal([x.shape[0], latentSize], 0, 1, 'float32', hashSeed(config.seed, 0xe1a1, chunk)) as tf.Tensor2D;
        const { reconstruction, squaredError, kl } = forward(x, undefined, eps);
        return {
          squaredError: squaredError.sum(),
          kl: kl.sum(),
          nelbo: bernoulliNll(x, reconstruction).add(kl).sum(),
        };
      });
      return { squaredError: sums.squaredError / test.count, kl: sums.kl / test.count, nelbo: sums.nelbo / test.count };
    },

    priorCodes: (split, seed) =>
      mapOverSplit(split, (x, chunk) => encode(x, tf.randomNormal([x.shape[0], latentSize], 0, 1, 'float32', hashSeed(seed, 0x9c0d, chunk)) as tf.Tensor2D).z),

    decoder: () => ({ model: decoder, outputShape: image.shape }),

    sampleGrid(seed) {
      const z = tf.randomNormal([64, latentSize], 0, 1, 'float32', seed);
      const images = predictValues(decoder, z);
      z.dispose();
      return { images, columns: 8 };
    },
  };
}

export const convVae: Preset = {
  name: 'conv-vae',
  summary: 'convolutional VAE, 8-d latent, squared-error loss (Felix Mohr)',
  tutorial: 'Felix Mohr, "Teaching a Variational Autoencoder (VAE) to draw MNIST characters"',
  // The tutorial trains 30,000 iterations of batch 64: 32 epochs of 937 batches.
  defaults: { epochs: 32, batchSize: 64, learningRate: 5e-4, seed: 1, latentSize: 8, keepProb: 0.8, leakyAlpha: 0.3, deconvActivation: 'relu' },
  check,
  create,
};
