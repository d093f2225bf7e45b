// The six presets that train on MNIST as it is (dcgan-vae, which needs 16..128 px, is in image-presets.test.ts), on real MNIST: a few training steps through the trainer lower the main loss,
// evaluate() gives finite metrics, the sample grid and latent codes have their shapes, and the
// decoder exports to a file the runtime loads and samples (with 10 classes for the conditional
// presets). conv-vae and cvae run on tfjs's cpu backend (conv-vae's own filter gradient is only used
// there and on stock wasm); the four AAE-family presets on edgevae, since on cpu the Adam updates of
// their millions of weights take seconds a step (about 10 minutes for the four) and their layers are
// the same dense ones cvae trains on cpu.
//
// MNIST comes from EDGEVAE_MNIST_DIR (helpers/mnist.ts); the tests that train skip, saying so, without it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadDataset, type Dataset, type Split } from '../src/data/datasets.ts';
import { InputError } from '../src/errors.ts';
import { exportModel } from '../src/export/index.ts';
import { Decoder } from '../src/index.ts';
import type { PresetConfig } from '../src/train/preset.ts';
import { getPreset, PRESETS } from '../src/train/presets/index.ts';
import { createRun, train } from '../src/train/trainer.ts';
import { exportRun } from '../src/train/export-run.ts';
import { selectBackend } from '../src/train/backend.ts';
import { MNIST_DIR, MNIST_SKIP } from './helpers/mnist.ts';


interface Case {
  name: string;
  /** Overrides of the preset's defaults for the quick run. */
  config: Partial<PresetConfig>;
  steps: number;
  /** The loss term that must fall. */
  term: string;
  /** Test images to evaluate on. */
  evalCount: number;
  backend: 'cpu' | 'edgevae';
  metrics: string[];
  conditional: boolean;
  latentCodes: boolean;
  /** Gives codes to fit a latent prior to (export --prior-components). */
  priorCodes: boolean;
}

const CASES: Case[] = [
  // conv-vae is by far the slowest on cpu (~5 s a step at batch 8, ~0.1 s per image evaluated)
  { name: 'conv-vae', config: { batchSize: 8 }, steps: 6, term: 'loss', evalCount: 100, backend: 'cpu', metrics: ['squaredError', 'kl', 'nelbo'], conditional: false, latentCodes: false, priorCodes: true },
  { name: 'ae', config: { batchSize: 16, learningRate: 3e-3 }, steps: 10, term: 'reconstruction', evalCount: 500, backend: 'edgevae', metrics: ['mse'], conditional: false, latentCodes: true, priorCodes: true },
  { name: 'aae', config: { batchSize: 16, learningRate: 3e-3 }, steps: 8, term: 'reconstruction', evalCount: 500, backend: 'edgevae', metrics: ['mse'], conditional: false, latentCodes: true, priorCodes: true },
  { name: 'aae-supervised', config: { batchSize: 16, learningRate: 3e-3 }, steps: 8, term: 'reconstruction', evalCount: 500, backend: 'edgevae', metrics: ['mse'], conditional: true, latentCodes: false, priorCodes: false },
  { name: 'aae-semi', config: { batchSize: 16, learningRate: 3e-3 }, steps: 8, term: 'reconstruction', evalCount: 500, backend: 'edgevae', metrics: ['accuracy', 'mse'], conditional: true, latentCodes: false, priorCodes: false },
  { name: 'cvae', config: { batchSize: 32 }, steps: 20, term: 'loss', evalCount: 500, backend: 'cpu', metrics: ['nelbo', 'reconstruction', 'kl', 'accuracy', 'squaredError'], conditional: true, latentCodes: false, priorCodes: false },
];

/** The first `count` images of a split. */
function head(split: Split, count: number): Split {
  const size = split.rows * split.cols;
  return { ...split, count, images: split.images.subarray(0, count * size), labels: split.labels.subarray(0, count) };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

function assertUnitInterval(values: Float32Array, what: string) {
  for (let i = 0; i < values.length; i++) {
    if (!(values[i] >= 0 && values[i] <= 1)) assert.fail(`${what}[${i}] = ${values[i]} is not in [0, 1]`);
  }
}

describe('presets', () => {
  let root: string;
  let data: Dataset;

  before(async () => {
    await tf.setBackend('cpu');
    root = mkdtempSync(join(tmpdir(), 'edgevae-presets-'));
    if (!MNIST_SKIP) data = await loadDataset('mnist', { dir: MNIST_DIR, download: false });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('has the seven presets, each with its tutorial, summary and seed-1 defaults', () => {
    assert.deepEqual(Object.keys(PRESETS).sort(), ['aae', 'aae-semi', 'aae-supervised', 'ae', 'conv-vae', 'cvae', 'dcgan-vae']);
    for (const [name, preset] of Object.entries(PRESETS)) {
      assert.equal(preset.name, name);
      assert.ok(preset.tutorial.length > 10 && preset.summary.length > 10, name);
      assert.equal(preset.defaults.seed, 1, name);
      assert.ok(preset.defaults.epochs >= 1 && preset.defaults.batchSize >= 1 && preset.defaults.learningRate > 0, name);
      assert.equal(getPreset(name), preset);
    }
  });

  it('refuses an unknown preset, listing the names', () => {
    assert.throws(() => getPreset('vae'), (err: unknown) => err instanceof InputError && /conv-vae/.test(err.message) && /aae-semi/.test(err.message));
    assert.throws(() => getPreset('toString'), InputError);
  });

  /** The per-step losses of a run at batch 4 stopped after each of `stops` steps and resumed each time. */
  async function resumedLosses(name: string, stops: number[]): Promise<Record<string, number>[]> {
    const preset = getPreset(name);
    const run = { preset: name, dataset: 'mnist', config: { ...preset.defaults, batchSize: 4 } };
    const runDir = await createRun(join(root, `resume-${name}-${tf.getBackend()}-${stops.join('-')}`), run);
    const losses: Record<string, number>[] = [];
    for (const maxSteps of stops) {
      const { trainable } = await train({ runDir, preset, run, train: data.train, test: data.test, quiet: true, maxSteps, onProgress: (p) => losses.push(p.loss) });
      tf.dispose(Object.values(trainable.models).flatMap((m) => m.weights.map((w) => w.read())));
      for (const optimizer of Object.values(trainable.optimizers)) tf.dispose(optimizer.stateTensors());
    }
    return losses;
  }

  it('resume bit for bit: a run stopped after one step and resumed repeats the uninterrupted losses (cvae, aae-semi)', { skip: MNIST_SKIP }, async () => {
    for (const name of ['cvae', 'aae-semi']) assert.deepEqual(await resumedLosses(name, [1, 3]), await resumedLosses(name, [3]), name);
  });

  it('resume bit for bit on the edgevae backend too (cvae: its kernels and fused Adam are deterministic)', { skip: MNIST_SKIP }, async () => {
    await selectBackend('edgevae');
    try {
      assert.deepEqual(await resumedLosses('cvae', [1, 3]), await resumedLosses('cvae', [3]));
    } finally {
      await selectBackend('cpu');
    }
  });

  it('conv-vae trains on the edgevae backend (tfjs gradients through its Conv2DBackpropFilter), without leaking tensors', { skip: MNIST_SKIP }, async (t) => {
    const preset = getPreset('conv-vae');
    const run = { preset: 'conv-vae', dataset: 'mnist', config: { ...preset.defaults, batchSize: 16 } as PresetConfig };
    await selectBackend('edgevae');
    try {
      const losses: number[] = [];
      const tensorCounts: number[] = [];
      const { trainable } = await train({
        runDir: await createRun(root, run), preset, run, train: data.train, test: data.test, quiet: true, maxSteps: 8,
        onProgress: (p) => {
          losses.push(p.loss.loss);
          tensorCounts.push(tf.memory().numTensors);
        },
      });
      t.diagnostic(`loss: ${losses.map((l) => l.toPrecision(4)).join(' ')}`);
      assert.ok(losses.every(Number.isFinite), String(losses));
      assert.ok(mean(losses.slice(-3)) < mean(losses.slice(0, 3)), `loss should fall: ${losses}`);
      assert.ok(tensorCounts.every((n) => n === tensorCounts[0]), `a training step leaks tensors: ${tensorCounts}`);
      tf.dispose(Object.values(trainable.models).flatMap((m) => m.weights.map((w) => w.read())));
      for (const optimizer of Object.values(trainable.optimizers)) tf.dispose(optimizer.stateTensors());
    } finally {
      await selectBackend('cpu');
    }
  });

  for (const c of CASES) {
    it(`${c.name} (${c.backend}): trains, evaluates, samples and exports a decoder the runtime loads`, { skip: MNIST_SKIP }, async (t) => {
      await selectBackend(c.backend);
      t.after(() => selectBackend('cpu'));
      const preset = getPreset(c.name);
      const config = { ...preset.defaults, ...c.config } as PresetConfig;
      const run = { preset: c.name, dataset: 'mnist', config };
      const runDir = await createRun(root, run);
      const losses: number[] = [];
      const tensorCounts: number[] = [];
      const started = performance.now();
      const { trainable, stopped } = await train({
        runDir,
        preset,
        run,
        train: data.train,
        test: data.test,
        quiet: true,
        maxSteps: c.steps,
        onProgress: (p) => {
          losses.push(p.loss[c.term]);
          tensorCounts.push(tf.memory().numTensors);
        },
      });
      assert.ok(tensorCounts.every((n) => n === tensorCounts[0]), `a training step leaks tensors: ${tensorCounts}`);
      const afterTraining = tf.memory().numTensors;
      assert.ok(stopped);
      assert.equal(losses.length, c.steps);
      assert.ok(losses.every(Number.isFinite), `${c.term}: ${losses}`);
      const first = mean(losses.slice(0, 3));
      const last = mean(losses.slice(-3));
      assert.ok(last < first, `${c.term} should fall: first steps ${losses.slice(0, 3)}, last steps ${losses.slice(-3)}`);
      const msPerStep = (performance.now() - started) / c.steps;
      t.diagnostic(`${c.term}: ${losses.map((l) => l.toPrecision(4)).join(' ')} (${Math.round(msPerStep)} ms/step at batch ${config.batchSize})`);

      const test = head(data.test, c.evalCount);
      const metrics = await trainable.evaluate(test);
      assert.deepEqual(Object.keys(metrics).sort(), [...c.metrics].sort());
      for (const [key, value] of Object.entries(metrics)) assert.ok(Number.isFinite(value), `${key} = ${value}`);
      t.diagnostic(`metrics on ${test.count} test images: ${JSON.stringify(metrics)}`);

      const grid = trainable.sampleGrid(7);
      assert.equal(grid.images.length % 784, 0);
      assert.equal((grid.images.length / 784) % grid.columns, 0);
      assertUnitInterval(grid.images, 'sampleGrid');
      assert.deepEqual(trainable.sampleGrid(7).images, grid.images, 'the same seed gives the same grid');

      assert.equal(trainable.latentCodes !== undefined, c.latentCodes);
      if (trainable.latentCodes) {
        const codes = trainable.latentCodes(test);
        assert.equal(codes.length, test.count * 2);
        assert.ok(codes.every(Number.isFinite));
      }

      const { model, outputShape, labelInput } = trainable.decoder();
      assert.deepEqual(outputShape, [28, 28, 1]);
      const bytes = exportModel(model, { labelInput, meta: { output: { shape: outputShape }, preset: c.name, dataset: 'mnist', metrics } });
      const decoder = await Decoder.load(bytes);
      assert.deepEqual(decoder.info.outputShape, [28, 28, 1]);
      assert.equal(decoder.info.classes, c.conditional ? 10 : 0);
      const samples = decoder.sample(12, { seed: 3 });
      assert.equal(samples.length, 12 * 784);
      assertUnitInterval(samples, 'decoder samples');

      // The exported decoder computes what the TensorFlow.js model does.
      const latents = decoder.sampleLatents(4, { seed: 5 });
      const labels = [3, 1, 4, 1];
      const expected = tf.tidy(() => {
        const z = tf.tensor2d(latents, [4, decoder.info.latentSize]);
        const inputs = c.conditional ? [z, tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat()] : z;
        return (model.predict(inputs) as tf.Tensor).dataSync();
      });
      const actual = decoder.sample(4, { seed: 5, ...(c.conditional ? { labels } : {}) });
      let worst = 0;
      for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
      assert.ok(worst < 1e-4, `exported decoder differs from the model by ${worst}`);

      assert.equal(trainable.priorCodes !== undefined, c.priorCodes);
      if (trainable.priorCodes) {
        const few = head(data.test, 20);
        const codes = trainable.priorCodes(few, 1);
        assert.equal(codes.length, few.count * decoder.info.latentSize);
        assert.ok(codes.every(Number.isFinite));
        assert.deepEqual(trainable.priorCodes(few, 1), codes, 'the same seed gives the same codes');
      }

      assert.equal(tf.memory().numTensors, afterTraining, 'evaluate, sampleGrid, latentCodes, priorCodes or export leaked tensors');

      if (c.priorCodes) {
        // The run's checkpoint exported with a prior fitted to a few images' codes (all 70,000 take minutes on cpu).
        const dataset = { ...data, train: head(data.train, 60), test: head(data.test, 20) };
        const fitted = await Decoder.load(await exportRun(runDir, 'i8', { components: 2, dataset }));
        assert.equal(fitted.info.prior.type, 'gaussianMixture');
        const recorded = fitted.info.meta.metrics!;
        for (const key of ['priorComponents', 'priorTrainLogLikelihood', 'priorTestLogLikelihood', 'standardNormalTestLogLikelihood']) assert.ok(Number.isFinite(recorded[key]), key);
        assert.notDeepEqual(fitted.sampleLatents(4, { seed: 1 }), fitted.sampleLatents(4, { seed: 1, prior: 'standard' }));
        assertUnitInterval(fitted.sample(4, { seed: 1 }), 'samples from the fitted prior');
      } else {
        await assert.rejects(exportRun(runDir, 'f32', { components: 2, dataset: data }), (e: unknown) => e instanceof InputError && new RegExp(`the ${c.name} preset gives no codes to fit a prior to \\(presets that do: conv-vae, ae, aae, dcgan-vae\\)`).test(e.message));
      }

      tf.dispose(Object.values(trainable.models).flatMap((m) => m.weights.map((w) => w.read())));
      for (const optimizer of Object.values(trainable.optimizers)) tf.dispose(optimizer.stateTensors());
    });
  }
});
