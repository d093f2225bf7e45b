/**
 * aae-semi: the semi-supervised adversarial autoencoder of Naresh Nagabushan's "A Wizard's Guide to
 * Adversarial Autoencoders", part 4: classify MNIST using 1000 labels
 * (semi_supervised_adversarial_autoencoder.py in Naresh1318/Adversarial_Autoencoder).
 *
 * The encoder 784 → 1000 → 1000 (ReLU) has two linear heads: a style code z (zDim = 10, the
 * tutorial's z_dim) and class logits whose softmax y is a categorical code. The decoder reads
 * concat(z, y) → 1000 → 1000 (ReLU) → 784 (sigmoid). Two discriminators (each in → 1000 → 1000
 * (ReLU) → 1 logit) match z to a Gaussian prior and y to a categorical prior (one-hot of a uniformly
 * drawn class). Weights N(0, 0.01^2), biases zero. Five Adams (0.001, beta1 0.9), run in the
 * tutorial's order on each batch:
 *   1. reconstruction: encoder + decoder minimise the mean squared error (unlabelled batch);
 *   2. Gaussian discriminator and 3. categorical discriminator: sigmoid cross-entropy, prior samples
 *      real (1), encoder outputs fake (0);
 *   4. generator: the encoder minimises the sum of both discriminators' cross-entropy against 1;
 *   5. semi-supervised classification: the encoder minimises the softmax cross-entropy of its logits
 *      on a batch drawn from the labelled subset.
 * Batch 100 for both the unlabelled and the labelled batches. The tutorial runs 10,000 steps (1000
 * "epochs" of 10 labelled batches); the default 17 epochs of 600 batches is about as many.
 *
 * Labels: only `labelsPerClass` (100) training images per digit keep theirs, 1000 in all, chosen by
 * a permutation seeded from the run's seed (the tutorial takes its 1000 labelled images from the
 * test split; we keep the test split for evaluation). Each step draws its labelled batch from them
 * without replacement through the step's random stream; the unlabelled batch is the trainer's batch,
 * whose labels are ignored. The categorical code's classes are tied to digits by the classification
 * phase, so the decoder's 'label' input conditions on a digit.
 *
 * Concatenation order: the tutorial feeds [y, z]; we feed [z, y] (the same model up to the order of
 * the first layer's weight rows). Prior stddev 2 as in `aae` (the tutorial: 5).
 *
 * Settings beyond the common four:
 *   zDim            10    size of the style code
 *   priorStddev     2     standard deviation of the Gaussian prior on z
 *   labelsPerClass  100   labelled training images per digit
 *   beta1           0.9   Adam's beta1, for all five optimizers
 */
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../../data/datasets.ts';
import { Adam, trainableVariables } from '../adam.ts';
import type { Preset, PresetConfig, Trainable } from '../preset.ts';
import { hashSeed, permutation, seededRandom } from '../random.ts';
import { AAE_HIDDEN, AAE_INIT_STDDEV } from './ae.ts';
import { discriminator, discriminatorLoss } from './aae.ts';
import { conditionalDenseDecoder } from './aae-supervised.ts';
import {
  CLASSES,
  correctCount,
  gather,
  IMAGE_SHAPE,
  InitSeeds,
  intSetting,
  labelledSubset,
  numberSetting,
  oneHot,
  requireMnistShape,
  sigmoidCrossEntropy,
  softmaxCrossEntropy,
  styleGrid,
  sumOverSplit,
} from './common.ts';

/** 784 → 1000 → 1000 (ReLU) → [z (zDim), class logits (10)], both linear. */
function twoHeadEncoder(seeds: InitSeeds, zDim: number): tf.LayersModel {
  const x = tf.input({ shape: [784], name: 'image' });
  let h = tf.layers.dense({ units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }).apply(x) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: AAE_HIDDEN, activation: 'relu', ...seeds.normal(AAE_INIT_STDDEV) }).apply(h) as tf.SymbolicTensor;
  const z = tf.layers.dense({ units: zDim, ...seeds.normal(AAE_INIT_STDDEV) }).apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: CLASSES, ...seeds.normal(AAE_INIT_STDDEV) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ name: 'aae_semi_encoder', inputs: x, outputs: [z, logits] });
}

function create(config: PresetConfig, data?: { train: Split }): Trainable {
  const zDim = intSetting(config, 'zDim', 10);
  const priorStddev = numberSetting(config, 'priorStddev', 2);
  const labelsPerClass = intSetting(config, 'labelsPerClass', 100);
  const beta1 = numberSetting(config, 'beta1', 0.9);
  const encoder = twoHeadEncoder(new InitSeeds(config.seed, 1), zDim);
  const decoder = conditionalDenseDecoder(new InitSeeds(config.seed, 2), zDim, 'aae_semi_decoder');
  const discGauss = discriminator(new InitSeeds(config.seed, 3), zDim, 'aae_semi_discriminator_gauss');
  const discCat = discriminator(new InitSeeds(config.seed, 4), CLASSES, 'aae_semi_discriminator_categorical');
  const adam = (...models: tf.LayersModel[]) => new Adam(trainableVariables(...models), { learningRate: config.learningRate, beta1 });
  const optimizers = {
    reconstruction: adam(encoder, decoder),
    discriminatorGauss: adam(discGauss),
    discriminatorCategorical: adam(discCat),
    generator: adam(encoder),
    classification: adam(encoder),
  };

  // The labelled subset: a deterministic function of the seed and the training split.
  const labelSeed = hashSeed(config.seed, 0x1abe1);
  let labelled: { split: Split; indices: Uint32Array } | undefined = data ? { split: data.train, indices: labelledSubset(data.train, labelsPerClass, labelSeed) } : undefined;
  const labelledIndices = (train: Split) => {
    if (labelled?.split !== train) labelled = { split: train, indices: labelledSubset(train, labelsPerClass, labelSeed) };
    return labelled.indices;
  };

  const encode = (x: tf.Tensor) => encoder.apply(x) as [tf.Tensor2D, tf.Tensor2D];

  return {
    models: { encoder, decoder, discriminatorGauss: discGauss, discriminatorCategorical: discCat },
    optimizers,

    trainStep(batch, { random, train }) {
      const { x } = batch; // its labels are not used: only the labelled subset's are
      const n = x.shape[0];
      const reconstruction = optimizers.reconstruction.minimize(() => {
        const [z, logits] = encode(x);
        return tf.losses.meanSquaredError(x, decoder.apply([z, tf.softmax(logits)]) as tf.Tensor2D) as tf.Scalar;
      });

      const realZ = random.normal([n, zDim], priorStddev);
      const discriminatorGauss = optimizers.discriminatorGauss.minimize(() => discriminatorLoss(discGauss, realZ, encode(x)[0]));
      realZ.dispose();

      const draw = seededRandom(random.next());
      const realY = tf.tidy(() => oneHot(tf.tensor1d(Int32Array.from({ length: n }, () => Math.floor(draw() * CLASSES)), 'int32')));
      const discriminatorCategorical = optimizers.discriminatorCategorical.minimize(() => discriminatorLoss(discCat, realY, tf.softmax(encode(x)[1])));
      realY.dispose();

      const generator = optimizers.generator.minimize(() => {
        const [z, logits] = encode(x);
        return sigmoidCrossEntropy(discGauss.apply(z) as tf.Tensor, 1).add(sigmoidCrossEntropy(discCat.apply(tf.softmax(logits)) as tf.Tensor, 1));
      });

      const subset = labelledIndices(train);
      const picks = permutation(subset.length, random.next()).subarray(0, Math.min(n, subset.length));
      const labelledBatch = gather(train, Array.from(picks, (i) => subset[i]));
      const classification = optimizers.classification.minimize(() => softmaxCrossEntropy(encode(labelledBatch.x)[1], labelledBatch.labels));
      tf.dispose([labelledBatch.x, labelledBatch.labels]);

      return { reconstruction, discriminatorGauss, discriminatorCategorical, generator, classification };
    },

    async evaluate(test) {
      const sums = await sumOverSplit(test, (x, labels) => {
        const [z, logits] = encoder.predict(x) as [tf.Tensor2D, tf.Tensor2D];
        return {
          correct: correctCount(logits, labels),
          squares: x.sub(decoder.predict([z, tf.softmax(logits)]) as tf.Tensor).square().sum(),
        };
      });
      return { accuracy: sums.correct / test.count, mse: sums.squares / (test.count * 784) };
    },

    decoder: () => ({ model: decoder, outputShape: IMAGE_SHAPE, labelInput: 'label', priorStddev }),

    sampleGrid: (seed) => styleGrid(decoder, 10, zDim, priorStddev, seed),
  };
}

export const aaeSemi: Preset = {
  name: 'aae-semi',
  summary: 'semi-supervised AAE: categorical + Gaussian codes, 1000 labels (AAE guide part 4)',
  tutorial: 'Naresh Nagabushan, "A Wizard\'s Guide to Adversarial Autoencoders", part 4: Classify MNIST using 1000 labels',
  defaults: { epochs: 17, batchSize: 100, learningRate: 1e-3, seed: 1, zDim: 10, priorStddev: 2, labelsPerClass: 100, beta1: 0.9 },
  check: (config) => requireMnistShape(config, 'aae-semi', true),
  create,
};
