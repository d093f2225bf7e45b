/**
 * The judge: an independent MNIST digit classifier, trained once and kept as a small test fixture,
 * that scores conditionally generated digits (does a decoder asked for a 7 draw something the judge
 * reads as a 7?).
 *
 * It is an MLP (784 -> hidden ReLU layers -> 10 linear logits) or, with `conv`, a small CNN whose
 * first layers are 5x5 convolutions of stride 2 (28x28 -> 14x14 -> 7x7, ReLU) before the dense ones:
 * layers edgevae's own runtime runs, so it is exported as an edgevae model whose "latent" input is the 784 pixels and whose output is the 10
 * logits, `Decoder.decode(images)` classifies. Softmax is applied here, in JavaScript, since the
 * runtime has no softmax (see `classify` in classify.ts, which needs no TensorFlow.js).
 *
 * Training uses whatever TensorFlow.js backend is active (pick one with `selectBackend` first):
 * Adam with a cosine-decaying learning rate, inverted dropout after each hidden layer, and random
 * shifts of up to `shift` pixels applied to the Float32Array pixels while a batch is built. Everything
 * random (initial weights, shuffling, shifts, dropout masks) is derived from `seed`, so the same
 * options on the same backend train the same weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../data/datasets.ts';
import { InputError } from '../errors.ts';
import { cosine } from './schedule.ts';
import { exportModel } from '../export/index.ts';
import { hashSeed, permutation, seededRandom, StepRandom } from './random.ts';

export const JUDGE_CLASSES = 10;
/** Logit range recorded in the exported file's meta (the runtime does not clamp; it documents the scale). */
export const JUDGE_LOGIT_RANGE: [number, number] = [-50, 50];

export interface JudgeOptions {
  /** Training images (count x rows*cols in [0,1]) and labels 0..9. */
  train: Split;
  /** Evaluated after each epoch with TensorFlow.js, for progress only. */
  test?: Split;
  /** Hidden layer widths. Default [256, 256]. */
  hidden?: number[];
  /** Filters of 5x5 stride-2 convolutions before the hidden layers (a CNN). Default [] (an MLP). */
  conv?: number[];
  /** Dropout rate after each hidden layer while training. Default 0.2. */
  dropout?: number;
  /** Epochs over the training set. Default 20. */
  epochs?: number;
  /** Default 128. */
  batchSize?: number;
  /** Adam's initial learning rate, decayed along a cosine to `finalLearningRate`. Defaults 1e-3 and 1e-5. */
  learningRate?: number;
  finalLearningRate?: number;
  /** Largest random shift, in pixels along each axis, applied to training images. Default 1; 0 turns it off. */
  shift?: number;
  /** Default 1. */
  seed?: number;
  /** Progress lines. */
  log?: (message: string) => void;
  /** Log the running loss every this many steps within an epoch (0: only per epoch). Default 100. */
  logEvery?: number;
  /** Called after each epoch. */
  onEpoch?: (stats: EpochStats) => void;
}

export interface EpochStats {
  epoch: number;
  /** Mean training loss (softmax cross-entropy on augmented, dropped-out batches). */
  loss: number;
  /** Accuracy on `test` by TensorFlow.js, if a test split was given. */
  testAccuracy?: number;
  seconds: number;
  samplesPerSecond: number;
  learningRate: number;
}

export interface JudgeResult {
  model: tf.Sequential;
  history: EpochStats[];
}

const DEFAULTS = { hidden: [256, 256], conv: [] as number[], dropout: 0.2, epochs: 20, batchSize: 128, learningRate: 1e-3, finalLearningRate: 1e-5, shift: 1, seed: 1, logEvery: 100 };

/** The side of the square images a CNN judge reshapes its input to. */
function imageSide(inputSize: number): number {
  const side = Math.round(Math.sqrt(inputSize));
  if (side * side !== inputSize) throw new InputError(`a CNN judge needs square images; ${inputSize} pixels is not a square`);
  return side;
}

/**
 * The judge network, initialised from `seed`: for a CNN, a reshape to side x side x 1 and 5x5
 * stride-2 ReLU convolutions then a flatten; then Dense ReLU layers and a linear Dense of 10 logits.
 */
export function buildJudge(inputSize: number, hidden: readonly number[] = DEFAULTS.hidden, seed = DEFAULTS.seed, conv: readonly number[] = DEFAULTS.conv): tf.Sequential {
  const model = tf.sequential({ name: 'judge' });
  const input = { inputShape: [inputSize] };
  if (conv.length > 0) {
    const side = imageSide(inputSize);
    model.add(tf.layers.reshape({ targetShape: [side, side, 1], ...input }));
    conv.forEach((filters, i) => {
      const kernelInitializer = tf.initializers.heNormal({ seed: hashSeed(seed, 0xc0, i) });
      model.add(tf.layers.conv2d({ name: `conv${i + 1}`, filters, kernelSize: 5, strides: 2, padding: 'same', activation: 'relu', kernelInitializer }));
    });
    model.add(tf.layers.flatten());
  }
  const widths = [...hidden, JUDGE_CLASSES];
  widths.forEach((units, i) => {
    const last = i === widths.length - 1;
    model.add(
      tf.layers.dense({
        name: last ? 'logits' : `hidden${i + 1}`,
        units,
        activation: last ? 'linear' : 'relu',
        kernelInitializer: last ? tf.initializers.glorotUniform({ seed: hashSeed(seed, i) }) : tf.initializers.heNormal({ seed: hashSeed(seed, i) }),
        biasInitializer: 'zeros',
        ...(i === 0 && conv.length === 0 ? input : {}),
      }),
    );
  });
  return model;
}

/** `784-256-256-10 MLP` or `784 -> conv 32, 64 (5x5, stride 2) -> 256-10 CNN`. */
export function describeJudge(inputSize: number, hidden: readonly number[], conv: readonly number[]): string {
  if (conv.length === 0) return `${[inputSize, ...hidden, JUDGE_CLASSES].join('-')} MLP`;
  return `${inputSize} -> conv ${conv.join(', ')} (5x5, stride 2) -> ${[...hidden, JUDGE_CLASSES].join('-')} CNN`;
}

/** Trains a judge; returns the model (ready for `exportJudge`) and per-epoch stats. */
export async function trainJudge(options: JudgeOptions): Promise<JudgeResult> {
  const o = { ...DEFAULTS, ...withoutUndefined(options) };
  const { train, test, log = () => {} } = options;
  checkSplit(train, 'train');
  if (test) checkSplit(test, 'test');
  if (test && test.rows * test.cols !== train.rows * train.cols) throw new InputError('train and test images differ in size');
  if (!Array.isArray(o.hidden) || o.hidden.length === 0 || !o.hidden.every((w) => Number.isInteger(w) && w > 0)) {
    throw new InputError(`hidden must be one or more positive integers, got ${JSON.stringify(o.hidden)}`);
  }
  if (!Array.isArray(o.conv) || o.conv.length > 3 || !o.conv.every((f) => Number.isInteger(f) && f > 0 && f <= 1024)) {
    throw new InputError(`conv must be up to three filter counts (integers 1..1024), got ${JSON.stringify(o.conv)}`);
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new InputError(`dropout must be in [0, 1), got ${o.dropout}`);
  for (const [name, v] of [['epochs', o.epochs], ['batchSize', o.batchSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new InputError(`${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(o.shift) || o.shift < 0 || o.shift >= Math.min(train.rows, train.cols)) throw new InputError(`shift must be a small non-negative integer, got ${o.shift}`);
  if (!(o.learningRate > 0) || !(o.finalLearningRate >= 0)) throw new InputError('learning rates must be positive');

  const pixels = train.rows * train.cols;
  const model = buildJudge(pixels, o.hidden, o.seed, o.conv);
  const layers = model.layers;
  // Dropout after each hidden Dense layer (not after the convolutions, reshape or flatten).
  const dropsAfter = new Set(layers.filter((l) => l.name.startsWith('hidden')));
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = tf.train.adam(o.learningRate);
  const stepsPerEpoch = Math.ceil(train.count / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  const batchImages = new Float32Array(o.batchSize * pixels);
  const batchLabels = new Int32Array(o.batchSize);
  const history: EpochStats[] = [];
  log(
    `judge: ${describeJudge(pixels, o.hidden, o.conv)} (${model.countParams()} parameters) on ${tf.getBackend()}; ` +
      `${o.epochs} epochs x ${stepsPerEpoch} steps of ${o.batchSize}, dropout ${o.dropout}, shifts up to ${o.shift}px, ` +
      `Adam ${o.learningRate} -> ${o.finalLearningRate} (cosine), seed ${o.seed}`,
  );

  let step = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const started = performance.now();
      const order = permutation(train.count, hashSeed(o.seed, 0x5eed, epoch));
      const shifts = seededRandom(hashSeed(o.seed, 0x5117, epoch));
      let lossSum = 0;
      let lossCount = 0;
      let learningRate = o.learningRate;
      for (let start = 0; start < train.count; start += o.batchSize) {
        const n = Math.min(o.batchSize, train.count - start);
        for (let b = 0; b < n; b++) {
          const index = order[start + b];
          shiftImage(train.images, index, batchImages, b, train.rows, train.cols, o.shift, shifts);
          batchLabels[b] = train.labels[index];
        }
        learningRate = cosine(o.learningRate, o.finalLearningRate, step, totalSteps);
        setLearningRate(optimizer, learningRate);
        const random = new StepRandom(o.seed, step);
        const loss = tf.tidy(() => {
          const x = tf.tensor2d(batchImages.subarray(0, n * pixels), [n, pixels]);
          const y = tf.oneHot(tf.tensor1d(batchLabels.subarray(0, n), 'int32'), JUDGE_CLASSES);
          return optimizer.minimize(
            () => {
              let h: tf.Tensor = x;
              for (const layer of layers) {
                h = layer.apply(h) as tf.Tensor;
                if (dropsAfter.has(layer)) h = random.dropout(h, o.dropout);
              }
              return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
            },
            true,
            variables,
          )!;
        });
        lossSum += (await loss.data())[0] * n;
        lossCount += n;
        loss.dispose();
        step++;
        if (o.logEvery > 0 && step % o.logEvery === 0 && start + o.batchSize < train.count) {
          const seconds = (performance.now() - started) / 1000;
          log(`judge: epoch ${epoch}/${o.epochs} step ${step - (epoch - 1) * stepsPerEpoch}/${stepsPerEpoch} loss ${(lossSum / lossCount).toFixed(4)} (${(lossCount / seconds).toFixed(0)} samples/s)`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const stats: EpochStats = { epoch, loss: lossSum / lossCount, seconds, samplesPerSecond: train.count / seconds, learningRate };
      if (test) stats.testAccuracy = evaluateWithTf(model, test);
      history.push(stats);
      log(
        `judge: epoch ${epoch}/${o.epochs} loss ${stats.loss.toFixed(4)}` +
          (stats.testAccuracy === undefined ? '' : ` test accuracy ${(stats.testAccuracy * 100).toFixed(2)}%`) +
          ` lr ${learningRate.toExponential(2)} ${seconds.toFixed(1)}s (${stats.samplesPerSecond.toFixed(0)} samples/s)`,
      );
      options.onEpoch?.(stats);
    }
  } finally {
    optimizer.dispose();
  }
  return { model, history };
}

/** Exports a trained judge as an f16 edgevae model whose input is the 784 pixels and output the 10 logits. */
export function exportJudge(model: tf.LayersModel, testAccuracy: number, extra: Record<string, number> = {}): Uint8Array {
  return exportModel(model, {
    dtype: 'f16',
    meta: { output: { shape: [JUDGE_CLASSES], range: JUDGE_LOGIT_RANGE }, preset: 'judge', dataset: 'mnist', metrics: { testAccuracy, ...extra } },
  });
}

/** Fraction of `predicted` equal to `truth`. */
export function accuracy(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (predicted.length !== truth.length) throw new InputError(`${predicted.length} predictions for ${truth.length} labels`);
  if (predicted.length === 0) return 0;
  let right = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === truth[i]) right++;
  return right / predicted.length;
}

/** Accuracy of a TensorFlow.js judge on a split (batches of 1000). */
export function evaluateWithTf(model: tf.LayersModel, split: Split): number {
  const pixels = split.rows * split.cols;
  let right = 0;
  for (let start = 0; start < split.count; start += 1000) {
    const n = Math.min(1000, split.count - start);
    const predicted = tf.tidy(() => (model.predict(tf.tensor2d(split.images.subarray(start * pixels, (start + n) * pixels), [n, pixels])) as tf.Tensor).argMax(-1).dataSync());
    for (let i = 0; i < n; i++) if (predicted[i] === split.labels[start + i]) right++;
  }
  return right / split.count;
}

/**
 * Copies image `index` of `src` into slot `slot` of `out`, moved by a random whole-pixel offset in
 * [-shift, shift] along each axis (uncovered pixels become 0, as MNIST's background is).
 */
export function shiftImage(src: Float32Array, index: number, out: Float32Array, slot: number, rows: number, cols: number, shift: number, random: () => number): void {
  const pixels = rows * cols;
  const from = index * pixels;
  const to = slot * pixels;
  if (shift === 0) {
    out.set(src.subarray(from, from + pixels), to);
    return;
  }
  const dy = Math.floor(random() * (2 * shift + 1)) - shift;
  const dx = Math.floor(random() * (2 * shift + 1)) - shift;
  out.fill(0, to, to + pixels);
  const x0 = Math.max(0, dx);
  const x1 = Math.min(cols, cols + dx);
  for (let y = Math.max(0, dy); y < Math.min(rows, rows + dy); y++) {
    const srcRow = from + (y - dy) * cols - dx;
    out.set(src.subarray(srcRow + x0, srcRow + x1), to + y * cols + x0);
  }
}

/** tfjs optimizers read `learningRate` on every update but expose no setter. */
function setLearningRate(optimizer: tf.Optimizer, value: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = value;
}

function checkSplit(split: Split, name: string): void {
  if (!split || !(split.images instanceof Float32Array) || split.count < 1 || split.images.length !== split.count * split.rows * split.cols || split.labels.length !== split.count) {
    throw new InputError(`${name} split is malformed: expected count x rows*cols images and count labels`);
  }
  for (let i = 0; i < split.count; i++) {
    if (split.labels[i] >= JUDGE_CLASSES) throw new InputError(`${name} label ${i} is ${split.labels[i]}; the judge knows digits 0..9`);
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
