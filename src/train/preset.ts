/**
 * What a preset is: a model family from one published tutorial, with its default configuration, its
 * models and optimizers, one training step, its test metrics and the decoder it exports. The trainer
 * (trainer.ts) owns everything else: data order, randomness, checkpoints, progress, run folders.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Split } from '../data/datasets.ts';
import type { Adam } from './adam.ts';
import type { StepRandom } from './random.ts';

export interface PresetConfig {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** When set, the learning rate falls along a half cosine to this by the last step (schedule.ts). */
  finalLearningRate?: number;
  /** The step that decay starts from: 0, or the step a resumed run changed its rate at. */
  decayFromStep?: number;
  /** Preset-specific settings, each documented by its preset. */
  [setting: string]: number | string | boolean | undefined;
}

export interface Batch {
  /** Images, batch x (size x size x channels) values in [0, 1], channels-last (784 for MNIST). */
  x: tf.Tensor2D;
  /** Class labels, int32 [batch]. Presets that train with few labels ignore these (see aae-semi). */
  labels: tf.Tensor1D;
  /** Indices of the batch's images in the training split. */
  indices: Uint32Array;
}

export interface StepContext {
  step: number;
  epoch: number;
  /** Seeds every random draw of this step (noise, dropout, prior samples), reproducibly. */
  random: StepRandom;
  /** The whole training split, for presets that draw extra batches of their own (labelled subsets). */
  train: Split;
}

export interface Trainable {
  /** Every model whose weights are part of the run's state, by a stable key. */
  models: Record<string, tf.LayersModel>;
  /** Every optimizer, by a stable key. */
  optimizers: Record<string, Adam>;
  /** One training step; returns its loss terms (plain numbers) for progress and metrics. */
  trainStep(batch: Batch, context: StepContext): Record<string, number>;
  /** Metrics on the test split, e.g. reconstruction error, negative ELBO, accuracy. */
  evaluate(test: Split): Promise<Record<string, number>>;
  /**
   * The decoder to export, in inference form (no dropout), and how to export it. `priorStddev`: the
   * standard deviation of the Gaussian prior its latent was trained against, where it is not 1 (the
   * adversarial autoencoders'); stored in the file so that sampling draws from it.
   */
  decoder(): { model: tf.LayersModel; outputShape: number[]; labelInput?: string; priorStddev?: number };
  /** Samples for the per-epoch picture: n images of the decoder's output shape, values in [0, 1], laid out `columns` per row. */
  sampleGrid(seed: number): { images: Float32Array; columns: number };
  /** The test split's latent codes (n x 2), for presets with a 2-d latent; drawn as a scatter plot. */
  latentCodes?(test: Split): Float32Array;
  /**
   * The codes of a split's images that `edgevae export --prior-components` fits the decoder's latent
   * prior to (n x latentSize): for a VAE one draw from q(z | x) per image, seeded by `seed`.
   */
  priorCodes?(split: Split, seed: number): Float32Array;
}

export interface Preset {
  name: string;
  /** One line for `edgevae train --help`. */
  summary: string;
  /** The tutorial it reproduces: author, title. */
  tutorial: string;
  defaults: PresetConfig;
  /**
   * Refuses, with an InputError saying why and what would do, a configuration create() would not
   * build: an image shape (`imageSize`, `channels`) or class count (`classes`) this preset does not
   * take. Cheap: run before a run folder is made.
   */
  check?(config: PresetConfig): void;
  /** Builds the models and optimizers (seeded from config.seed); needs no data, so exports can rebuild it. */
  create(config: PresetConfig): Trainable;
}
