// The judge: softmax/argmax on logits, classify() through our runtime, the pixel shifts, seeded
// (repeatable) training, and — when the fixture exists — its accuracy on real MNIST test digits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { selectBackend } from '../src/train/backend.ts';
import { seededRandom } from './helpers/numbers.ts';
import { MNIST_DIR, MNIST_SKIP } from './helpers/mnist.ts';
import { Decoder, InputError } from '../src/index.ts';
import { exportModel } from '../src/export/index.ts';
import type { Split } from '../src/data/datasets.ts';
import { accuracy, buildJudge, exportJudge, shiftImage, trainJudge } from '../src/train/judge.ts';
import { classify, softmaxArgmax } from '../src/train/classify.ts';

const { tf } = await selectBackend('cpu'); // the pure-JS backend, deterministic and quiet

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = join(ROOT, 'packages', 'models', 'judge', 'mnist.evae');

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

describe('softmaxArgmax', () => {
  it('picks the largest logit and gives its softmax probability', () => {
    const logits = Float32Array.from([
      0, 0, 0, 0, // uniform: first index wins the tie, p = 1/4
      1, 3, 2, 0,
      -5, -1, -9, -2,
      1000, 999, -1000, 0, // large logits: no overflow
    ]);
    const { labels, confidence } = softmaxArgmax(logits, 4);
    assert.deepEqual(Array.from(labels), [0, 1, 1, 0]);
    close(confidence[0], 0.25);
    const e = [1, 3, 2, 0].map(Math.exp);
    close(confidence[1], e[1] / e.reduce((s, v) => s + v, 0));
    const f = [-5, -1, -9, -2].map(Math.exp);
    close(confidence[2], f[1] / f.reduce((s, v) => s + v, 0));
    close(confidence[3], 1 / (1 + Math.exp(-1)));
  });

  it('checks its input', () => {
    assert.throws(() => softmaxArgmax(new Float32Array(7), 2), InputError);
    assert.throws(() => softmaxArgmax(Float32Array.from([NaN, NaN]), 2), InputError);
    assert.deepEqual(softmaxArgmax(new Float32Array(0), 10).labels.length, 0);
  });

  it('accuracy counts matches', () => {
    assert.equal(accuracy([1, 2, 3, 4], Uint8Array.from([1, 2, 0, 4])), 0.75);
    assert.throws(() => accuracy([1], [1, 2]), InputError);
  });
});

describe('classify', () => {
  it('runs a pixels-in, logits-out model in our runtime and softmaxes in JS', async () => {
    // 3 "pixels" -> 3 logits, the identity: the label is the brightest pixel.
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 3, inputShape: [3], activation: 'linear', kernelInitializer: 'identity', biasInitializer: 'zeros' }));
    const decoder = await Decoder.load(exportModel(model, { dtype: 'f32', meta: { output: { shape: [3], range: [-50, 50] } } }));
    const images = Float32Array.from([0.1, 0.9, 0.2, 1, 0, 0, 0.3, 0.3, 0.8]);
    const { labels, confidence } = classify(decoder, images);
    assert.deepEqual(Array.from(labels), [1, 0, 2]);
    const p = (row: number[], k: number) => Math.exp(row[k]) / row.reduce((s, v) => s + Math.exp(v), 0);
    close(confidence[0], p([0.1, 0.9, 0.2], 1));
    close(confidence[1], p([1, 0, 0], 0));
    close(confidence[2], p([0.3, 0.3, 0.8], 2));
    assert.throws(() => classify(decoder, new Float32Array(4)), InputError);
  });

  it('an exported judge has the meta the brief asks for', async () => {
    const decoder = await Decoder.load(exportJudge(buildJudge(784, [8], 3), 0.5));
    assert.equal(decoder.info.latentSize, 784);
    assert.deepEqual(decoder.info.outputShape, [10]);
    assert.deepEqual(decoder.info.range, [-50, 50]);
    assert.equal(decoder.info.dtype, 'f16');
    assert.equal(decoder.info.meta.preset, 'judge');
    assert.equal(decoder.info.meta.dataset, 'mnist');
    assert.deepEqual(decoder.info.meta.metrics, { testAccuracy: 0.5 });
    assert.equal(classify(decoder, new Float32Array(784 * 2)).labels.length, 2);
  });
});

describe('shiftImage', () => {
  const rows = 4;
  const cols = 5;
  const src = Float32Array.from({ length: 2 * rows * cols }, (_, i) => i + 1);
  /** A "random" source that makes shiftImage draw dy, then dx. */
  const draws = (shift: number, dy: number, dx: number) => {
    const values = [(dy + shift + 0.5) / (2 * shift + 1), (dx + shift + 0.5) / (2 * shift + 1)];
    return () => values.shift()!;
  };
  const expected = (index: number, dy: number, dx: number) =>
    Array.from({ length: rows * cols }, (_, p) => {
      const y = Math.floor(p / cols) - dy;
      const x = (p % cols) - dx;
      return y >= 0 && y < rows && x >= 0 && x < cols ? src[index * rows * cols + y * cols + x] : 0;
    });

  for (const [dy, dx] of [[0, 0], [1, 2], [-2, 1], [2, -2], [-1, -1]]) {
    it(`moves the image by (${dy}, ${dx}) and zero-fills`, () => {
      const out = new Float32Array(3 * rows * cols).fill(-1);
      shiftImage(src, 1, out, 2, rows, cols, 2, draws(2, dy, dx));
      assert.deepEqual(Array.from(out.subarray(2 * rows * cols)), expected(1, dy, dx));
      assert.ok(out.subarray(0, 2 * rows * cols).every((v) => v === -1), 'other slots untouched');
    });
  }

  it('copies unchanged when shift is 0', () => {
    const out = new Float32Array(rows * cols);
    shiftImage(src, 0, out, 0, rows, cols, 0, () => assert.fail('no draws without a shift'));
    assert.deepEqual(out, src.subarray(0, rows * cols));
  });
});

/** A tiny learnable data set: 7x7 images whose label is the row of a bright bar (0..6). */
function barImages(count: number, seed: number): Split {
  const random = seededRandom(seed);
  const images = new Float32Array(count * 49);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = Math.floor(random() * 7);
    labels[i] = label;
    for (let p = 0; p < 49; p++) images[i * 49 + p] = random() * 0.2;
    for (let x = 0; x < 7; x++) images[i * 49 + label * 7 + x] = 1;
  }
  return { images, labels, count, rows: 7, cols: 7, channels: 1 };
}

describe('trainJudge', () => {
  const train = barImages(256, 1);
  const test = barImages(100, 2);
  const run = (seed: number) => trainJudge({ train, test, hidden: [16], epochs: 3, batchSize: 32, learningRate: 1e-2, shift: 0, seed, logEvery: 0 });
  const weights = async (model: LayersModel) => (await Promise.all(model.getWeights().map((w) => w.data()))).map((d) => Array.from(d));

  it('learns, logs and is repeatable for a seed', async () => {
    const lines: string[] = [];
    const a = await trainJudge({ train, test, hidden: [16], epochs: 3, batchSize: 32, learningRate: 1e-2, shift: 0, seed: 7, logEvery: 0, log: (m) => lines.push(m) });
    const b = await run(7);
    const c = await run(8);
    assert.equal(a.history.length, 3);
    assert.ok(a.history[2].testAccuracy! > 0.9, `test accuracy ${a.history[2].testAccuracy}`);
    assert.ok(a.history[2].loss < a.history[0].loss);
    assert.match(lines[0], /49-16-10 MLP/);
    assert.equal(lines.length, 4);
    assert.deepEqual(await weights(a.model), await weights(b.model));
    assert.notDeepEqual(await weights(a.model), await weights(c.model));
    assert.deepEqual(a.history.map((h) => h.loss), b.history.map((h) => h.loss));
  });

  it('trains a CNN (conv 5x5 stride 2, then dense) that our runtime runs with the same answers', async () => {
    const lines: string[] = [];
    const { model, history } = await trainJudge({ train, test, conv: [8, 8], hidden: [16], epochs: 6, batchSize: 32, learningRate: 1e-2, shift: 0, seed: 7, logEvery: 0, log: (m) => lines.push(m) });
    assert.match(lines[0], /49 -> conv 8, 8 \(5x5, stride 2\) -> 16-10 CNN/);
    assert.ok(history[5].testAccuracy! > 0.9, `test accuracy ${history[5].testAccuracy}`);
    assert.deepEqual(model.layers.map((l) => l.getClassName()), ['Reshape', 'Conv2D', 'Conv2D', 'Flatten', 'Dense', 'Dense']);
    const decoder = await Decoder.load(exportModel(model, { dtype: 'f32', meta: { output: { shape: [10], range: [-50, 50] } } }));
    const ours = classify(decoder, test.images);
    const theirs = tf.tidy(() => (model.predict(tf.tensor2d(test.images, [test.count, 49])) as Tensor).argMax(-1).dataSync());
    assert.deepEqual(Array.from(ours.labels), Array.from(theirs));
    model.dispose();
  });

  it("leaves no tensors behind but the model's weights", async () => {
    const before = tf.memory().numTensors;
    const { model } = await run(9);
    assert.equal(tf.memory().numTensors - before, model.getWeights().length);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('rejects bad options', async () => {
    await assert.rejects(trainJudge({ train, hidden: [] }), InputError);
    await assert.rejects(trainJudge({ train, conv: [0] }), /conv must be up to three filter counts/);
    await assert.rejects(trainJudge({ train: { ...train, rows: 1, cols: 49 }, conv: [4] }), InputError);
    await assert.rejects(trainJudge({ train, dropout: 1 }), InputError);
    await assert.rejects(trainJudge({ train, epochs: 0 }), InputError);
    await assert.rejects(trainJudge({ train: { ...train, labels: new Uint8Array(256).fill(12) } }), InputError);
  });
});

describe('judge fixture', () => {
  const skip = !existsSync(FIXTURE) ? 'packages/models/judge/mnist.evae has not been trained (scripts/train-judge.ts)' : MNIST_SKIP;
  it('classifies the first 1000 MNIST test digits with >= 98% accuracy in our runtime', { skip }, async () => {
    const { loadDataset } = await import('../src/data/datasets.ts');
    const { test } = await loadDataset('mnist', { dir: MNIST_DIR, download: false });
    const decoder = await Decoder.load(new Uint8Array(await readFile(FIXTURE)));
    assert.equal(decoder.info.latentSize, 784);
    assert.equal(decoder.info.outputSize, 10);
    const n = 1000;
    const { labels, confidence } = classify(decoder, test.images.subarray(0, n * 784));
    const acc = accuracy(labels, test.labels.subarray(0, n));
    assert.ok(acc >= 0.98, `judge accuracy on the first ${n} test digits is ${(acc * 100).toFixed(1)}%`);
    assert.ok(confidence.every((p) => p >= 0.1 && p <= 1));
  });
});
