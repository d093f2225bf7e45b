/**
 * dcgan-vae: a VAE with DCGAN's convolutional networks (Radford, Metz and Chintala, "Unsupervised
 * Representation Learning with Deep Convolutional Generative Adversarial Networks", ICLR 2016, as the
 * PyTorch DCGAN tutorial builds them for 64x64 RGB): its generator is the decoder, its discriminator
 * the encoder's trunk.
 *
 * For N x N x C images (N a power of 2 from 16 to 128; 64x64x3 is DCGAN's), with w = `width` (the
 * tutorial's ngf and ndf, 64) and L = log2(N) - 2 (4 at 64 px):
 *   decoder  z (latentSize) viewed as 1x1 → conv2dTranspose w*2^(L-1) 4x4 'valid' (4x4) → BN → ReLU
 *            → L-1 times conv2dTranspose (half the filters) 4x4 stride 2 'same' → BN → ReLU
 *            → conv2dTranspose C 4x4 stride 2 'same' → sigmoid → flatten;
 *   encoder  conv2d w 4x4 stride 2 'same' → leaky ReLU 0.2 → L-1 times conv2d (twice the filters)
 *            4x4 stride 2 'same' → BN → leaky ReLU 0.2, down to 4x4 → flatten → dense mean and dense
 *            log-variance (latentSize each).
 * Convolutions before a BatchNormalization have no bias (DCGAN's bias=False); the export folds each
 * BatchNormalization into the transposed convolution before it, so the decoder file is convolutions
 * and activations only. Weights N(0, 0.02^2), BN scales N(1, 0.02^2) (the tutorial's weights_init);
 * BN momentum 0.9 (PyTorch's 0.1 in Keras' convention), epsilon 1e-5.
 *
 * Deviations: a VAE, not a GAN (the discriminator's last conv to one logit becomes the two dense
 * heads, and there is no adversarial loss); the output is a sigmoid in [0, 1] (edgevae's pixel
 * range) instead of a tanh in [-1, 1]. Loss: mean over the batch of the Bernoulli cross-entropy summed
 * over the values, plus KL to N(0, I), z = mean + exp(logVar / 2) * eps. Adam 2e-4, beta1 0.5
 * (DCGAN's), batch 64; latentSize 100 (DCGAN's nz).
 *
 * Evaluation: per test image, the squared error, the KL and the negative ELBO (nats, one seeded z),
 * as conv-vae reports them. With --threads, each thread's BatchNormalization normalizes its share of
 * the batch with the share's statistics, and the moving statistics (which evaluation and the export
 * use) are combined into the whole batch's after every step (replica-statistics.ts).
 *
 * Settings beyond the common four:
 *   latentSize  100   size of z
 *   width       64    filters of the first encoder conv and the last hidden decoder layer
 *   beta1       0.5   Adam's beta1
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../errors.ts';
import { Adam, trainableVariables } from '../adam.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import { hashSeed } from '../random.ts';
import { bernoulliNll, imageSettings, intSetting, klStandardNormal, mapOverSplit, numberSetting, predictValues, squaredErrorSum, sumOverSplit } from './common.ts';
import { layersOf, runSteps, type Step } from './conv-steps.ts';

const SIZES = [16, 32, 64, 128];

function check(config: PresetConfig): void {
  const { size } = imageSettings(config);
  if (!SIZES.includes(size)) throw new InputError(`the dcgan-vae preset doubles a 4x4 image up to its size: ${SIZES.join(', ')} px, not ${size}; give --image-size 64 (DCGAN's)`);
}

/** Seeded DCGAN initializers: layer k of the network salted `salt` draws from hashSeed(seed, salt, k). */
class DcganInit {
  private k = 0;
  constructor(
    private readonly seed: number,
    private readonly salt: number,
  ) {}

  private next(): number {
    return hashSeed(this.seed, this.salt, this.k++);
  }

  /** N(0, 0.02^2) kernel (and a zero bias when it has one). */
  conv() {
    return { kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: this.next() }), biasInitializer: tf.initializers.zeros() };
  }

  /** N(1, 0.02^2) scale, zero offset. */
  batchNorm() {
    return tf.layers.batchNormalization({
      momentum: 0.9,
      epsilon: 1e-5,
      gammaInitializer: tf.initializers.randomNormal({ mean: 1, stddev: 0.02, seed: this.next() }),
      betaInitializer: tf.initializers.zeros(),
    });
  }
}

function create(config: PresetConfig): Trainable {
  check(config);
  const image = imageSettings(config);
  const latentSize = intSetting(config, 'latentSize', 100);
  const width = intSetting(config, 'width', 64);
  const beta1 = numberSetting(config, 'beta1', 0.5);
  const stages = Math.log2(image.size) - 2; // L: stride-2 layers between 4x4 and the image

  // ---- encoder: DCGAN's discriminator down to 4x4, then two dense heads ----
  const e = new DcganInit(config.seed, 1);
  const trunk: Step[] = [tf.layers.reshape({ targetShape: image.shape })];
  for (let k = 0; k < stages; k++) {
    const filters = width * 2 ** k;
    trunk.push(tf.layers.conv2d({ filters, kernelSize: 4, strides: 2, padding: 'same', useBias: k === 0, ...e.conv() }));
    if (k > 0) trunk.push(e.batchNorm());
    trunk.push(tf.layers.leakyReLU({ alpha: 0.2 }));
  }
  trunk.push(tf.layers.flatten());
  const meanHead = tf.layers.dense({ units: latentSize, ...e.conv() });
  const logVarHead = tf.layers.dense({ units: latentSize, ...e.conv() });
  const pixels = tf.input({ shape: [image.values], name: 'image' });
  const features = layersOf(trunk).reduce<tf.SymbolicTensor>((t, layer) => layer.apply(t) as tf.SymbolicTensor, pixels);
  const encoder = tf.model({ name: 'dcgan_vae_encoder', inputs: pixels, outputs: [meanHead.apply(features) as tf.SymbolicTensor, logVarHead.apply(features) as tf.SymbolicTensor] });

  // ---- decoder: DCGAN's generator ----
  const d = new DcganInit(config.seed, 2);
  const decoderSteps: Step[] = [
    tf.layers.reshape({ inputShape: [latentSize], targetShape: [1, 1, latentSize] }),
    tf.layers.conv2dTranspose({ filters: width * 2 ** (stages - 1), kernelSize: 4, strides: 1, padding: 'valid', useBias: false, ...d.conv() }),
    d.batchNorm(),
    tf.layers.reLU(),
  ];
  for (let k = stages - 2; k >= 0; k--) {
    decoderSteps.push(tf.layers.conv2dTranspose({ filters: width * 2 ** k, kernelSize: 4, strides: 2, padding: 'same', useBias: false, ...d.conv() }), d.batchNorm(), tf.layers.reLU());
  }
  decoderSteps.push(
    tf.layers.conv2dTranspose({ filters: image.channels, kernelSize: 4, strides: 2, padding: 'same', ...d.conv() }),
    tf.layers.activation({ activation: 'sigmoid' }),
    tf.layers.flatten(),
  );
  const decoder = tf.sequential({ name: 'dcgan_vae_decoder', layers: layersOf(decoderSteps) });

  const optimizer = new Adam(trainableVariables(encoder, decoder), { learningRate: config.learningRate, beta1 });

  /** A draw from q(z | x); BatchNormalization on the batch's statistics when `training`. */
  function encode(x: tf.Tensor2D, eps: tf.Tensor2D, training: boolean) {
    const h = runSteps(trunk, x, { training });
    const mean = meanHead.apply(h) as tf.Tensor2D;
    const logVar = logVarHead.apply(h) as tf.Tensor2D;
    return { mean, logVar, z: mean.add(logVar.mul(0.5).exp().mul(eps)) as tf.Tensor2D };
  }

  function forward(x: tf.Tensor2D, eps: tf.Tensor2D, training: boolean) {
    const { mean, logVar, z } = encode(x, eps, training);
    const p = runSteps(decoderSteps, z, { training }) as tf.Tensor2D;
    return { p, reconstruction: bernoulliNll(x, p), kl: klStandardNormal(mean, logVar) };
  }

  return {
    models: { encoder, decoder },
    optimizers: { main: optimizer },

    trainStep(batch, { random }) {
      let reconstruction = 0;
      let kl = 0;
      const loss = optimizer.minimize(() => {
        const eps = random.normal([batch.x.shape[0], latentSize]) as tf.Tensor2D;
        const terms = forward(batch.x, eps, true);
        const r = terms.reconstruction.mean();
        const k = terms.kl.mean();
        [reconstruction, kl] = [r.dataSync()[0], k.dataSync()[0]];
        return r.add(k) as tf.Scalar;
      });
      return { loss, reconstruction, kl };
    },

    async evaluate(test) {
      const sums = await sumOverSplit(test, (x, _labels, chunk) => {
        const eps = tf.randomNormal([x.shape[0], latentSize], 0, 1, 'float32', hashSeed(config.seed, 0xe1a1, chunk)) as tf.Tensor2D;
        const { p, reconstruction, kl } = forward(x, eps, false);
        return { squaredError: squaredErrorSum(x, p).sum(), kl: kl.sum(), nelbo: reconstruction.add(kl).sum() };
      }, 100);
      return { squaredError: sums.squaredError / test.count, kl: sums.kl / test.count, nelbo: sums.nelbo / test.count };
    },

    priorCodes: (split, seed) =>
      mapOverSplit(split, (x, chunk) => encode(x, tf.randomNormal([x.shape[0], latentSize], 0, 1, 'float32', hashSeed(seed, 0x9c0d, chunk)) as tf.Tensor2D, false).z, 100),

    decoder: () => ({ model: decoder, outputShape: image.shape }),

    sampleGrid(seed) {
      const z = tf.randomNormal([64, latentSize], 0, 1, 'float32', seed);
      const images = predictValues(decoder, z);
      z.dispose();
      return { images, columns: 8 };
    },
  };
}

export const dcganVae: Preset = {
  name: 'dcgan-vae',
  summary: 'VAE with DCGAN\'s convolutional networks and BatchNorm, for 64x64 RGB (Radford et al.)',
  tutorial: 'Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks" (the PyTorch DCGAN tutorial\'s networks)',
  // The image shape comes from the data when a run starts; 64x64 RGB is DCGAN's.
  defaults: { epochs: 20, batchSize: 64, learningRate: 2e-4, seed: 1, latentSize: 100, width: 64, beta1: 0.5, imageSize: 64, channels: 3, classes: 0 },
  check,
  create,
};
