/**
 * Pieces the presets share: seeded initializers, settings, the loss terms of VAEs and AAEs,
 * evaluation over a split in chunks, and the latent grids the sample pictures are made of.
 */
import * as tf from '@tensorflow/tfjs';
import { imageValues, type Split } from '../../data/datasets.ts';
import { InputError } from '../../errors.ts';
import type { PresetConfig } from '../preset.ts';
import { hashSeed, permutation } from '../random.ts';

/** MNIST's digits: the class count of the presets that take only MNIST-shaped data. */
export const CLASSES = 10;
/** MNIST's image shape, which the AAE-family presets' decoders output. */
export const IMAGE_SHAPE = [28, 28, 1];

/** A numeric preset setting, or its default when the config lacks it. */
export function numberSetting(config: PresetConfig, name: string, fallback: number): number {
  const value = config[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InputError(`setting ${name} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

/** A positive integer preset setting, or its default. */
export function intSetting(config: PresetConfig, name: string, fallback: number, min = 1): number {
  const value = numberSetting(config, name, fallback);
  if (!Number.isInteger(value) || value < min) throw new InputError(`setting ${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

/** A string preset setting restricted to `choices`, or its default. */
export function choiceSetting<T extends string>(config: PresetConfig, name: string, choices: readonly T[], fallback: T): T {
  const value = config[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !choices.includes(value as T)) throw new InputError(`setting ${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/**
 * The images a preset trains on: side, channels and class count (0 for an unlabelled set). A run
 * takes them from its data when it starts (`imageSize`, `channels`, `classes` in config.json); runs
 * from before that trained on MNIST, whose shape is the default.
 */
export interface ImageSettings {
  size: number;
  channels: number;
  classes: number;
  /** Values per image: size x size x channels. */
  values: number;
  /** [size, size, channels], the decoder's output shape. */
  shape: number[];
}

export function imageSettings(config: PresetConfig): ImageSettings {
  const size = intSetting(config, 'imageSize', 28);
  const channels = intSetting(config, 'channels', 1);
  if (channels !== 1 && channels !== 3) throw new InputError(`setting channels must be 1 or 3, got ${channels}`);
  const classes = intSetting(config, 'classes', CLASSES, 0);
  return { size, channels, classes, values: size * size * channels, shape: [size, size, channels] };
}

/** Refuses images other than MNIST's 28x28 greyscale (and, for `labelled` presets, other than 10 classes), naming the presets that take them. */
export function requireMnistShape(config: PresetConfig, preset: string, labelled: boolean): void {
  const { size, channels, classes } = imageSettings(config);
  const others = 'conv-vae, cvae and dcgan-vae take other shapes';
  if (size !== 28 || channels !== 1) throw new InputError(`the ${preset} preset trains on 28x28 greyscale images (MNIST's shape), not ${size}x${size}x${channels}; ${others}`);
  if (labelled && classes !== CLASSES) throw new InputError(`the ${preset} preset needs 10 classes (MNIST's digits), not ${classes}; cvae takes any number`);
  if (!labelled && classes > CLASSES) throw new InputError(`the ${preset} preset draws its codes coloured by at most 10 classes, not ${classes}; ${others}`);
}

/** A layer's kernel and bias initializers (named, so declarations do not reach into tfjs-layers' files). */
export interface LayerInitializers {
  kernelInitializer: ReturnType<typeof tf.initializers.glorotUniform>;
  biasInitializer: ReturnType<typeof tf.initializers.glorotUniform>;
}

/**
 * Initializer seeds derived from the run's seed: layer k of the model salted `salt` draws from
 * hashSeed(seed, salt, k), so each model's weights depend on the seed and its own layers only.
 */
export class InitSeeds {
  private k = 0;
  constructor(
    private readonly seed: number,
    private readonly salt: number,
  ) {}

  next(): number {
    return hashSeed(this.seed, this.salt, this.k++);
  }

  /** TF1's tf.layers.dense / conv2d default: Glorot-uniform kernel, zero bias. */
  glorot(): LayerInitializers {
    return { kernelInitializer: tf.initializers.glorotUniform({ seed: this.next() }), biasInitializer: tf.initializers.zeros() };
  }

  /** N(0, stddev^2) kernel, zero bias (the AAE tutorial's `dense`: stddev 0.01). */
  normal(stddev: number): LayerInitializers {
    return { kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev, seed: this.next() }), biasInitializer: tf.initializers.zeros() };
  }
}

/** KL(N(mean, exp(logVar)) || N(0, I)) per row: -0.5 * sum(1 + logVar - mean^2 - exp(logVar)). */
export function klStandardNormal(mean: tf.Tensor2D, logVar: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.onesLike(logVar).add(logVar).sub(mean.square()).sub(logVar.exp()), 1).mul(-0.5) as tf.Tensor1D);
}

/** Bernoulli negative log-likelihood of x under pixel probabilities p, in nats per row; p clipped to [1e-7, 1 - 1e-7]. */
export function bernoulliNll(x: tf.Tensor2D, p: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const q = p.clipByValue(1e-7, 1 - 1e-7);
    return tf.sum(x.mul(q.log()).add(tf.onesLike(x).sub(x).mul(tf.onesLike(q).sub(q).log())), 1).neg() as tf.Tensor1D;
  });
}

/** Sum of squared differences per row. */
export function squaredErrorSum(x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(x.sub(y).square(), 1) as tf.Tensor1D);
}

/** Mean of sigmoid cross-entropy of logits against a constant target (1 real, 0 fake): tf.nn.sigmoid_cross_entropy_with_logits, averaged. */
export function sigmoidCrossEntropy(logits: tf.Tensor, target: 0 | 1): tf.Scalar {
  return tf.tidy(() => {
    // max(l, 0) - l * t + log(1 + exp(-|l|)), the stable form TensorFlow uses
    const loss = logits.relu().sub(logits.mul(target)).add(logits.abs().neg().exp().log1p());
    return loss.mean() as tf.Scalar;
  });
}

/** Mean softmax cross-entropy of logits against integer labels (tf.nn.sparse_softmax_cross_entropy_with_logits, averaged). */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.oneHot(labels.toInt(), logits.shape[1]).mul(tf.logSoftmax(logits)).sum(1).mean().neg() as tf.Scalar);
}

/** One-hot float rows of integer labels, `classes` wide. */
export function oneHot(labels: tf.Tensor1D, classes = CLASSES): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(labels.toInt(), classes).toFloat() as tf.Tensor2D);
}

/** Number of rows of `predicted` (argmax) that equal `labels`. */
export function correctCount(scores: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => scores.argMax(1).equal(labels.toInt()).toFloat().sum() as tf.Scalar);
}

/**
 * Runs `fn` on the split in chunks of `chunkSize` images and adds up the scalars it returns (each a
 * sum over its chunk); `chunk` numbers the chunks, to seed their noise. Returns the totals.
 */
export async function sumOverSplit(
  split: Split,
  fn: (x: tf.Tensor2D, labels: tf.Tensor1D, chunk: number) => Record<string, tf.Scalar>,
  chunkSize = 500,
): Promise<Record<string, number>> {
  const size = imageValues(split);
  const totals: Record<string, number> = {};
  for (let start = 0, chunk = 0; start < split.count; start += chunkSize, chunk++) {
    const n = Math.min(chunkSize, split.count - start);
    const sums = tf.tidy(() => {
      const x = tf.tensor2d(split.images.subarray(start * size, (start + n) * size), [n, size]);
      const labels = tf.tensor1d(Int32Array.from(split.labels.subarray(start, start + n)), 'int32');
      return fn(x, labels, chunk);
    });
    for (const [key, value] of Object.entries(sums)) totals[key] = (totals[key] ?? 0) + (await value.data())[0];
    tf.dispose(Object.values(sums));
  }
  return totals;
}

/** Runs `fn` on the split in chunks and concatenates the rows it returns, as one Float32Array; `chunk` numbers the chunks, to seed their noise. */
export function mapOverSplit(split: Split, fn: (x: tf.Tensor2D, chunk: number) => tf.Tensor2D, chunkSize = 500): Float32Array {
  const size = imageValues(split);
  const parts: Float32Array[] = [];
  for (let start = 0, chunk = 0; start < split.count; start += chunkSize, chunk++) {
    const n = Math.min(chunkSize, split.count - start);
    parts.push(tf.tidy(() => Float32Array.from(fn(tf.tensor2d(split.images.subarray(start * size, (start + n) * size), [n, size]), chunk).dataSync())));
  }
  const result = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** The model's output for `inputs`, as a fresh Float32Array (inference: no dropout). */
export function predictValues(model: tf.LayersModel, inputs: tf.Tensor | tf.Tensor[]): Float32Array {
  return tf.tidy(() => Float32Array.from((model.predict(inputs) as tf.Tensor).dataSync()));
}

/**
 * Points of a side x side grid over a 2-d plane, row-major: row r has z0 = x[r], column c has
 * z1 = y[c] (as the AAE tutorial's generate_image_grid lays them out), each axis evenly spaced
 * from its range's low end to its high end.
 */
export function planeGrid(side: number, xRange: [number, number], yRange: [number, number]): tf.Tensor2D {
  const at = ([lo, hi]: [number, number], i: number) => (side === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * i) / (side - 1));
  const points = new Float32Array(side * side * 2);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      points[(r * side + c) * 2] = at(xRange, r);
      points[(r * side + c) * 2 + 1] = at(yRange, c);
    }
  }
  return tf.tensor2d(points, [side * side, 2]);
}

/** Most classes across a style grid: with more, the grid shows the first this many. */
export const STYLE_GRID_MAX_COLUMNS = 20;

/**
 * A style x class grid from a conditional decoder (inputs [z, one-hot label of `classes`]): `rows`
 * style vectors drawn from N(0, stddev^2 I) with `seed`, each decoded with the classes 0, 1, ...
 * across the columns (at most STYLE_GRID_MAX_COLUMNS of them).
 */
export function styleGrid(decoder: tf.LayersModel, rows: number, zDim: number, stddev: number, seed: number, classes = CLASSES): { images: Float32Array; columns: number } {
  const columns = Math.min(classes, STYLE_GRID_MAX_COLUMNS);
  const inputs = tf.tidy((): [tf.Tensor2D, tf.Tensor2D] => {
    const styles = tf.randomNormal([rows, 1, zDim], 0, stddev, 'float32', seed);
    const z = styles.tile([1, columns, 1]).reshape([rows * columns, zDim]) as tf.Tensor2D;
    const labels = tf.tensor1d(Int32Array.from({ length: rows * columns }, (_, i) => i % columns), 'int32');
    return [z, oneHot(labels, classes)];
  });
  const images = predictValues(decoder, inputs);
  tf.dispose(inputs);
  return { images, columns };
}

/**
 * `perClass` training indices of each digit, chosen by a permutation seeded from `seed`: the
 * labelled subset of the semi-supervised presets (a deterministic function of the run's seed).
 */
export function labelledSubset(train: Split, perClass: number, seed: number): Uint32Array {
  const order = permutation(train.count, seed);
  const taken = new Array<number>(CLASSES).fill(0);
  const chosen: number[] = [];
  for (const index of order) {
    const label = train.labels[index];
    if (taken[label] < perClass) {
      taken[label]++;
      chosen.push(index);
      if (chosen.length === perClass * CLASSES) break;
    }
  }
  if (chosen.length < perClass * CLASSES) throw new InputError(`the training split has fewer than ${perClass} images of some digit`);
  return Uint32Array.from(chosen);
}

/** The images and labels of `indices` of a split, as tensors. */
export function gather(split: Split, indices: ArrayLike<number>): { x: tf.Tensor2D; labels: tf.Tensor1D } {
  const size = imageValues(split);
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    images.set(split.images.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = split.labels[index];
  }
  return { x: tf.tensor2d(images, [indices.length, size]), labels: tf.tensor1d(labels, 'int32') };
}

/**
 * Runs `loss` under `optimizer.minimize` and also reads the extra scalars it reports through
 * `report` (kept out of the gradient tape's tidy, read, then disposed). Returns the loss and extras.
 */
export function minimizeWithTerms(
  optimizer: { minimize(loss: () => tf.Scalar): number },
  loss: (report: (name: string, value: tf.Scalar) => void) => tf.Scalar,
): { loss: number; terms: Record<string, number> } {
  const kept: Record<string, tf.Scalar> = {};
  const value = optimizer.minimize(() => loss((name, t) => (kept[name] = tf.keep(t))));
  const terms: Record<string, number> = {};
  for (const [name, t] of Object.entries(kept)) {
    terms[name] = t.dataSync()[0];
    t.dispose();
  }
  return { loss: value, terms };
}
