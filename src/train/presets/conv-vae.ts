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
 *
 * Dropout is applied by hand in the training forward pass (context.random.dropout), so the models
 * themselves hold no dropout layers and the decoder exports as it is.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam, trainableVariables } from '../adam.ts';
import { EDGEVAE_BACKEND } from '../edgevae-backend.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import { hashSeed, type StepRandom } from '../random.ts';
import {
  bernoulliNll,
  choiceSetting,
  IMAGE_SHAPE,
  InitSeeds,
  intSetting,
  klStandardNormal,
  mapOverSplit,
  numberSetting,
  predictValues,
  squaredErrorSum,
  sumOverSplit,
} from './common.ts';

/** A layer, or the place of a dropout that only the training pass applies. */
type Step = tf.layers.Layer | 'dropout';

/**
 * The gradient of a 'same'-padded 2-d convolution with respect to its filter: what
 * tf.conv2DBackpropFilter computes, the same sum, written as one forward convolution: with the
 * batch as channels, dy as the filter and the stride as its dilation,
 *   dW[i, j, c, o] = sum over n, p, q of input[n, p*s + i, q*s + j, c] * dy[n, p, q, o].
 * It exists because tfjs's cpu kernel for Conv2DBackpropFilter loops element by element (about
 * 37 s of a 41 s training step at batch 8) and the wasm backend has none at all. The edgevae
 * backend has a fast one, so there the layers run with tfjs's own gradients (hasFastFilterGradient).
 */
function filterGradient(input: tf.Tensor4D, dy: tf.Tensor4D, kernel: [number, number], strides: [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = input.shape;
    const [, oh, ow] = dy.shape;
    const [kh, kw] = kernel;
    const [sh, sw] = strides;
    const padH = Math.max(0, (oh - 1) * sh + kh - h);
    const padW = Math.max(0, (ow - 1) * sw + kw - w);
    const padded = input.pad([[0, 0], [Math.floor(padH / 2), padH - Math.floor(padH / 2)], [Math.floor(padW / 2), padW - Math.floor(padW / 2)], [0, 0]]);
    // [c, h', w', n] convolved with [oh, ow, n, o], dilated by the stride: [c, kh, kw, o]
    const grad = tf.conv2d(padded.transpose([3, 1, 2, 0]) as tf.Tensor4D, dy.transpose([1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid', 'NHWC', [sh, sw]);
    return grad.transpose([1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/**
 * Applies a Conv2D or Conv2DTranspose layer ('same' padding, no fused activation) to `x` with the
 * same forward value as layer.apply, and gradients that use filterGradient for the kernel.
 */
function applyConv(layer: tf.layers.Layer, x: tf.Tensor4D): tf.Tensor4D {
  const transposed = layer.getClassName() === 'Conv2DTranspose';
  const config = layer.getConfig() as { kernelSize: [number, number]; strides: [number, number]; filters: number };
  const { kernelSize, strides, filters } = config;
  const [kernel, bias] = layer.weights.map((w) => w.read());
  const [n, h, w] = x.shape;
  const outShape: [number, number, number, number] = [n, h * strides[0], w * strides[1], filters];
  const op = tf.customGrad((input, k, b, save) => {
    const xi = input as tf.Tensor4D;
    const ki = k as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xi, ki]);
    const y = transposed ? tf.conv2dTranspose(xi, ki, outShape, strides, 'same') : tf.conv2d(xi, ki, strides, 'same');
    return {
      value: y.add(b as tf.Tensor),
      gradFunc: (dy, saved) => {
        const [xs, ks] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        return transposed
          ? [tf.conv2d(g, ks, strides, 'same'), filterGradient(g, xs, kernelSize, strides), g.sum([0, 1, 2])]
          : [tf.conv2dTranspose(g, ks, xs.shape, strides, 'same'), filterGradient(xs, g, kernelSize, strides), g.sum([0, 1, 2])];
      },
    };
  });
  return op(x, kernel, bias) as tf.Tensor4D;
}

/** True on the edgevae backend, whose Conv2DBackpropFilter kernel beats filterGradient's workaround. */
function hasFastFilterGradient(): boolean {
  return tf.getBackend() === EDGEVAE_BACKEND;
}

function run(steps: Step[], x: tf.Tensor, dropout?: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
  const ownFilterGradient = !hasFastFilterGradient();
  for (const step of steps) {
    if (step === 'dropout') {
      if (dropout) x = dropout(x);
    } else if (ownFilterGradient && (step.getClassName() === 'Conv2D' || step.getClassName() === 'Conv2DTranspose')) {
      x = applyConv(step, x as tf.Tensor4D);
    } else {
      x = step.apply(x) as tf.Tensor;
    }
  }
  return x;
}

function create(config: PresetConfig): Trainable {
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
    tf.layers.reshape({ targetShape: [28, 28, 1] }),
    conv(2), leaky(), 'dropout',
    conv(2), leaky(), 'dropout',
    conv(1), leaky(), 'dropout',
    tf.layers.flatten(),
  ];
  const meanHead = tf.layers.dense({ units: latentSize, ...e.glorot() });
  const sdHead = tf.layers.dense({ units: latentSize, ...e.glorot() });
  const image = tf.input({ shape: [784], name: 'image' });
  const features = trunk.reduce<tf.SymbolicTensor>((t, s) => (s === 'dropout' ? t : (s.apply(t) as tf.SymbolicTensor)), image);
  const encoder = tf.model({
    name: 'conv_vae_encoder',
    inputs: image,
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
    tf.layers.dense({ units: 49, ...d.glorot() }),
    tf.layers.leakyReLU({ alpha }),
    tf.layers.reshape({ targetShape: [7, 7, 1] }),
    ...deconv(2), 'dropout',
    ...deconv(1), 'dropout',
    ...deconv(1),
    tf.layers.flatten(),
    tf.layers.dense({ units: 784, activation: 'sigmoid', ...d.glorot() }),
  ];
  const decoder = tf.sequential({ name: 'conv_vae_decoder', layers: decoderSteps.filter((s): s is tf.layers.Layer => s !== 'dropout') });

  const optimizer = new Adam(trainableVariables(encoder, decoder), { learningRate: config.learningRate });

  /** A draw from q(z | x): z = mn + eps * exp(sd), with dropout when `dropout` is given. */
  function encode(x: tf.Tensor2D, eps: tf.Tensor2D, dropout?: (t: tf.Tensor) => tf.Tensor) {
    const h = run(trunk, x, dropout);
    const mn = meanHead.apply(h) as tf.Tensor2D;
    const sd = (sdHead.apply(h) as tf.Tensor2D).mul(0.5) as tf.Tensor2D;
    return { mn, sd, z: mn.add(eps.mul(sd.exp())) as tf.Tensor2D };
  }

  /** The tutorial's loss terms per image: [squared error sum, KL], with dropout when `random` is given. */
  function forward(x: tf.Tensor2D, random: StepRandom | undefined, eps: tf.Tensor2D) {
    const dropout = random ? (t: tf.Tensor) => random.dropout(t, dropoutRate) : undefined;
    const { mn, sd, z } = encode(x, eps, dropout);
    const reconstruction = run(decoderSteps, z, dropout) as tf.Tensor2D;
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

    decoder: () => ({ model: decoder, outputShape: IMAGE_SHAPE }),

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
  create,
};
