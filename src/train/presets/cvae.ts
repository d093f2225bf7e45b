/**
 * cvae: Yoel Zeldes's VAE whose latent vector is concatenated with a digit classifier's output,
 * "Variational Autoencoders Explained in Detail" (anotherdatum.com, 2018; the vae2 notebook of
 * yoel-zeldes/yoel-zeldes.github.io). (The project's issue named "Conditional generation via Bayesian
 * optimization in latent space", which is Martin Krasser's article on a different model.)
 *
 * Three networks, trained together by one Adam (0.001), batch 100:
 *   encoder     784 → 512 → 256 (ReLU) → mean (zDim) and log-variance (zDim);
 *   classifier  784 → 256 (ReLU) → 10 logits; its softmax y is the digit code;
 *   decoder     concat(z, y) → 256 → 512 (ReLU) → 784 (sigmoid), inputs named 'z' and 'label'.
 * z = mean + exp(logVar / 2) * eps. Loss per batch: mean over images of (Bernoulli cross-entropy
 * summed over pixels + KL to N(0, I)) + classifierWeight * mean softmax cross-entropy of the
 * classifier on the true labels (every training label is used).
 *
 * From the tutorial: zDim 10 (its z_dim), classifierWeight 10 (its digit_classification_weight),
 * batch 100, learning rate 0.001, 20 epochs, the concatenation of z and the class probabilities, and
 * conditional generation that sets the digit dimensions to a one-hot vector and samples z from the
 * prior. Differences (the project's issue asks for them): the tutorial's three networks each have one
 * hidden layer of 128 sigmoid units, and its decoder is a Gaussian with stddev 0.5 (a squared-error
 * loss) rather than a Bernoulli; see docs/MODELS.md.
 *
 * Settings beyond the common four:
 *   zDim              10   size of z
 *   classifierWeight  10   weight of the classifier's cross-entropy in the loss
 *
 * Sample picture: 10 rows, each one style z drawn from N(0, I) (seeded), 10 columns of digits 0..9.
 *
 * Other images: the same networks on N x N x C values (`imageSize`, `channels` from the data) and K
 * classes (`classes`: the image folder's class subfolders, at least 2); the label input is K wide and
 * the sample picture has a column per class (the first 20). Evaluation adds the squared error per
 * image, as conv-vae reports it.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam, trainableVariables } from '../adam.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import { hashSeed } from '../random.ts';
import { InputError } from '../../errors.ts';
import {
  bernoulliNll,
  correctCount,
  imageSettings,
  InitSeeds,
  intSetting,
  klStandardNormal,
  minimizeWithTerms,
  numberSetting,
  softmaxCrossEntropy,
  squaredErrorSum,
  styleGrid,
  sumOverSplit,
} from './common.ts';

function check(config: PresetConfig): void {
  const { classes } = imageSettings(config);
  if (classes < 2) {
    throw new InputError(`the cvae preset is conditional: it needs labelled images of at least 2 classes (an image folder with a subfolder per class), not ${classes === 0 ? 'an unlabelled set' : '1 class'}; conv-vae and dcgan-vae train on unlabelled images`);
  }
}

function create(config: PresetConfig): Trainable {
  check(config);
  const { values, classes, shape } = imageSettings(config);
  const zDim = intSetting(config, 'zDim', 10);
  const classifierWeight = numberSetting(config, 'classifierWeight', 10);

  const e = new InitSeeds(config.seed, 1);
  const image = tf.input({ shape: [values], name: 'image' });
  let h = tf.layers.dense({ units: 512, activation: 'relu', ...e.glorot() }).apply(image) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 256, activation: 'relu', ...e.glorot() }).apply(h) as tf.SymbolicTensor;
  const encoder = tf.model({
    name: 'cvae_encoder',
    inputs: image,
    outputs: [
      tf.layers.dense({ units: zDim, ...e.glorot() }).apply(h) as tf.SymbolicTensor,
      tf.layers.dense({ units: zDim, ...e.glorot() }).apply(h) as tf.SymbolicTensor,
    ],
  });

  const c = new InitSeeds(config.seed, 2);
  const classifier = tf.sequential({
    name: 'cvae_classifier',
    layers: [
      tf.layers.dense({ inputShape: [values], units: 256, activation: 'relu', ...c.glorot() }),
      tf.layers.dense({ units: classes, ...c.glorot() }),
    ],
  });

  const d = new InitSeeds(config.seed, 3);
  const z = tf.input({ shape: [zDim], name: 'z' });
  const label = tf.input({ shape: [classes], name: 'label' });
  let g = tf.layers.concatenate({ axis: -1 }).apply([z, label]) as tf.SymbolicTensor;
  g = tf.layers.dense({ units: 256, activation: 'relu', ...d.glorot() }).apply(g) as tf.SymbolicTensor;
  g = tf.layers.dense({ units: 512, activation: 'relu', ...d.glorot() }).apply(g) as tf.SymbolicTensor;
  g = tf.layers.dense({ units: values, activation: 'sigmoid', ...d.glorot() }).apply(g) as tf.SymbolicTensor;
  const decoder = tf.model({ name: 'cvae_decoder', inputs: [z, label], outputs: g });

  const optimizer = new Adam(trainableVariables(encoder, classifier, decoder), { learningRate: config.learningRate });

  /** Per-image terms for x with noise eps: reconstruction (nats), KL, and the classifier's logits. */
  function forward(x: tf.Tensor2D, eps: tf.Tensor2D, inference: boolean) {
    const [mean, logVar] = (inference ? encoder.predict(x) : encoder.apply(x)) as [tf.Tensor2D, tf.Tensor2D];
    const logits = (inference ? classifier.predict(x) : classifier.apply(x)) as tf.Tensor2D;
    const zs = mean.add(logVar.mul(0.5).exp().mul(eps));
    const p = (inference ? decoder.predict([zs, tf.softmax(logits)]) : decoder.apply([zs, tf.softmax(logits)])) as tf.Tensor2D;
    return { p, reconstruction: bernoulliNll(x, p), kl: klStandardNormal(mean, logVar), logits };
  }

  return {
    models: { encoder, classifier, decoder },
    optimizers: { main: optimizer },

    trainStep(batch, { random }) {
      const { loss, terms } = minimizeWithTerms(optimizer, (report) => {
        const eps = random.normal([batch.x.shape[0], zDim]) as tf.Tensor2D;
        const { reconstruction, kl, logits } = forward(batch.x, eps, false);
        const r = reconstruction.mean() as tf.Scalar;
        const k = kl.mean() as tf.Scalar;
        const ce = softmaxCrossEntropy(logits, batch.labels);
        report('reconstruction', r);
        report('kl', k);
        report('classification', ce);
        return r.add(k).add(ce.mul(classifierWeight)) as tf.Scalar;
      });
      return { loss, ...terms };
    },

    async evaluate(test) {
      const sums = await sumOverSplit(test, (x, labels, chunk) => {
        const eps = tf.randomNormal([x.shape[0], zDim], 0, 1, 'float32', hashSeed(config.seed, 0xe1a1, chunk)) as tf.Tensor2D;
        const { p, reconstruction, kl, logits } = forward(x, eps, true);
        return { reconstruction: reconstruction.sum(), kl: kl.sum(), nelbo: reconstruction.add(kl).sum(), squaredError: squaredErrorSum(x, p).sum(), correct: correctCount(logits, labels) };
      });
      const n = test.count;
      return { nelbo: sums.nelbo / n, reconstruction: sums.reconstruction / n, kl: sums.kl / n, accuracy: sums.correct / n, squaredError: sums.squaredError / n };
    },

    decoder: () => ({ model: decoder, outputShape: shape, labelInput: 'label' }),

    sampleGrid: (seed) => styleGrid(decoder, 10, zDim, 1, seed, classes),
  };
}

export const cvae: Preset = {
  name: 'cvae',
  summary: 'dense VAE whose decoder also reads a digit classifier\'s output; conditional sampling (Yoel Zeldes)',
  tutorial: 'Yoel Zeldes, "Variational Autoencoders Explained in Detail" (VAE with a digit classifier concatenated to the latent vector)',
  defaults: { epochs: 20, batchSize: 100, learningRate: 1e-3, seed: 1, zDim: 10, classifierWeight: 10 },
  check,
  create,
};
