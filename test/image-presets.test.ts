// Acceptance of issue 25's parametric presets: image folders made here from real MNIST and
// Fashion-MNIST images (PNG and JPEG, grey and colourised RGB, with and without class folders, at
// 28, 32 and 64 px); conv-vae, cvae and dcgan-vae each train a few steps on them (the loss falls),
// export, sample and traverse, the ONNX export of the decoder matches our runtime, and the Worker's
// handler serves the int8 file's samples as a PNG of its shape (RGB included). dcgan-vae also trains
// on two threads, its BatchNorm statistics kept the whole batch's. One run goes
// whole epochs, for the per-epoch sample grid, loss curves and evaluation; evaluateRun scores a
// checkpoint on its test split with no judge.
//
// Runs on the edgevae backend (the default without tfjs-node): a few seconds a case. MNIST comes
// from EDGEVAE_MNIST_DIR, Fashion-MNIST from Debian's dataset-fashion-mnist; cases skip without them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decode as decodePng } from 'fast-png';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { loadDataset, type Dataset } from '../src/data/datasets.ts';
import { InputError } from '../src/errors.ts';
import { loadRequestedData } from '../src/data/sources.ts';
import { exportOnnx } from '../src/export/onnx.ts';
import { Decoder, toImageGrid } from '../src/index.ts';
import { encodePng } from '../src/runtime/png.ts';
import { handleRequest } from '../src/worker/index.ts';
import { selectBackend } from '../src/train/backend.ts';
import { evaluateRun, exportRun } from '../src/train/export-run.ts';
import type { PresetConfig } from '../src/train/preset.ts';
import { getPreset } from '../src/train/presets/index.ts';
import { createRun, train, type RunConfig } from '../src/train/trainer.ts';
import { maxAbsDiff } from './helpers/numbers.ts';
import { writeImageFolder, type FolderOptions } from './helpers/image-folders.ts';

const MNIST_DIR = process.env.EDGEVAE_MNIST_DIR;

interface Case {
  preset: 'conv-vae' | 'cvae' | 'dcgan-vae';
  source: 'mnist' | 'fashion';
  folder: Omit<FolderOptions, 'names'>;
  imageSize?: number;
  /** The shape trained on: [size, size, channels]. */
  shape: [number, number, number];
  /** Overrides of the preset's defaults. */
  config: Partial<PresetConfig>;
  steps: number;
  /** Whole epochs instead of `steps`, with the per-epoch evaluation, sample grid and loss curves. */
  epochs?: number;
}

const CASES: Case[] = [
  { preset: 'conv-vae', source: 'fashion', folder: { perClass: 60, format: 'png', layout: 'flat' }, imageSize: 32, shape: [32, 32, 1], config: { batchSize: 8 }, steps: 12 },
  { preset: 'conv-vae', source: 'mnist', folder: { perClass: 5, format: 'jpeg', rgb: true }, imageSize: 64, shape: [64, 64, 3], config: { batchSize: 8, latentSize: 16 }, steps: 8 },
  { preset: 'cvae', source: 'mnist', folder: { perClass: 8, format: 'jpeg', rgb: true }, shape: [28, 28, 3], config: { batchSize: 16 }, steps: 12 },
  { preset: 'cvae', source: 'fashion', folder: { perClass: 12, format: 'png', classes: [0, 1, 5, 7, 9] }, imageSize: 64, shape: [64, 64, 1], config: { batchSize: 16 }, steps: 12 },
  { preset: 'dcgan-vae', source: 'mnist', folder: { perClass: 60, format: 'png', layout: 'flat' }, imageSize: 32, shape: [32, 32, 1], config: { batchSize: 8, width: 16, learningRate: 1e-3 }, steps: 10 },
  { preset: 'dcgan-vae', source: 'fashion', folder: { perClass: 5, format: 'jpeg', rgb: true }, imageSize: 64, shape: [64, 64, 3], config: { batchSize: 8, width: 16, learningRate: 1e-3 }, steps: 0, epochs: 2 },
];

/** Class folders named as people name them (Fashion-MNIST's names, made file-safe). */
const FASHION_NAMES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Runs an ONNX decoder on latents (and one-hot labels). */
async function runOnnx(bytes: Uint8Array, latents: Float32Array, latentSize: number, labels?: { values: number[]; classes: number }): Promise<Float32Array> {
  const session = await InferenceSession.create(bytes);
  try {
    const n = latents.length / latentSize;
    const feeds: Record<string, Tensor> = { z: new Tensor('float32', latents, [n, latentSize]) };
    if (labels) {
      const oneHot = new Float32Array(n * labels.classes);
      labels.values.forEach((label, i) => (oneHot[i * labels.classes + label] = 1));
      feeds.label = new Tensor('float32', oneHot, [n, labels.classes]);
    }
    return (await session.run(feeds)).x.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('parametric presets on image folders', { skip: !MNIST_DIR && 'set EDGEVAE_MNIST_DIR to the folder of the MNIST IDX files' }, () => {
  let root: string;
  const sources: Partial<Record<Case['source'], Dataset>> = {};

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'edgevae-image-presets-'));
    sources.mnist = await loadDataset('mnist', { dir: MNIST_DIR, download: false });
    sources.fashion = await loadDataset('fashion-mnist', { env: {}, cacheDir: join(root, 'no-cache'), download: false }).catch(() => undefined);
    await selectBackend('edgevae');
  });
  after(async () => {
    rmSync(root, { recursive: true, force: true });
    await selectBackend('cpu');
  });

  it('each preset refuses, before building anything, the shapes and class counts it does not take', () => {
    const refuses = (name: string, settings: Partial<PresetConfig>, message: RegExp) =>
      assert.throws(() => getPreset(name).check!({ ...getPreset(name).defaults, ...settings } as PresetConfig), (e: unknown) => e instanceof InputError && message.test(e.message), `${name} ${JSON.stringify(settings)}`);
    refuses('dcgan-vae', { imageSize: 28, channels: 1 }, /the dcgan-vae preset doubles a 4x4 image up to its size: 16, 32, 64, 128 px, not 28; give --image-size 64/);
    refuses('conv-vae', { imageSize: 30 }, /their size must be a multiple of 4 \(28, 32, 64, \.\.\.\), not 30/);
    refuses('cvae', { classes: 0 }, /the cvae preset is conditional: it needs labelled images of at least 2 classes .* not an unlabelled set/);
    refuses('cvae', { classes: 1 }, /not 1 class/);
    refuses('aae', { imageSize: 32 }, /the aae preset trains on 28x28 greyscale images \(MNIST's shape\), not 32x32x1; conv-vae, cvae and dcgan-vae take other shapes/);
    refuses('ae', { channels: 3 }, /not 28x28x3/);
    refuses('aae-semi', { classes: 4 }, /the aae-semi preset needs 10 classes \(MNIST's digits\), not 4; cvae takes any number/);
    for (const name of ['conv-vae', 'cvae', 'ae', 'aae', 'aae-supervised', 'aae-semi']) getPreset(name).check!(getPreset(name).defaults); // MNIST's shape
    getPreset('dcgan-vae').check!(getPreset('dcgan-vae').defaults); // DCGAN's 64x64 RGB
  });

  it('dcgan-vae on two threads (16x16 RGB JPEG folder): its 3 BatchNormalization layers keep the whole batch\'s moving statistics; it trains, resumes bit for bit, exports folded', async () => {
    const dir = join(root, 'folder-threads');
    writeImageFolder(dir, sources.mnist!.train, { perClass: 40, format: 'jpeg', rgb: true, layout: 'flat' });
    const { dataset, spec, label } = await loadRequestedData({ dataset: dir, imageSize: 16 }, { cacheDir: join(root, 'cache') });
    const preset = getPreset('dcgan-vae');
    const config = { ...preset.defaults, imageSize: 16, channels: 3, classes: 0, batchSize: 8, width: 8, learningRate: 1e-3 } as PresetConfig;
    const run: RunConfig = { preset: 'dcgan-vae', dataset: label, data: spec, config };
    /** Trains `runDir` on two threads up to `maxSteps`; the losses of the steps it took. */
    const trainTo = async (runDir: string, maxSteps: number, logs: string[] = []) => {
      const losses: Record<string, number>[] = [];
      const { trainable } = await train({ runDir, preset, run, train: dataset.train, test: dataset.test, quiet: true, maxSteps, threads: 2, onProgress: (p) => losses.push(p.loss), log: (m) => logs.push(m) });
      const statistics = trainable.models.decoder.weights.filter((w) => /moving_(mean|variance)/.test(w.name)).map((w) => [...w.read().dataSync()]);
      tf.dispose(Object.values(trainable.models).flatMap((m) => m.weights.map((w) => w.read())));
      for (const optimizer of Object.values(trainable.optimizers)) tf.dispose(optimizer.stateTensors());
      return { losses, statistics };
    };
    const logs: string[] = [];
    const wholeDir = await createRun(join(root, 'runs-threads'), run);
    const whole = await trainTo(wholeDir, 6, logs);
    assert.ok(logs.some((l) => l.includes('the moving statistics of the 3 BatchNormalization layers follow the whole batch\'s')), logs.join('\n'));
    assert.ok(whole.losses.every((l) => Number.isFinite(l.loss)), JSON.stringify(whole.losses));
    assert.ok(mean(whole.losses.slice(-2).map((l) => l.loss)) < mean(whole.losses.slice(0, 2).map((l) => l.loss)), `the loss should fall: ${whole.losses.map((l) => l.loss)}`);
    assert.equal(whole.statistics.length, 4, 'two BatchNormalization layers in the decoder, a mean and a variance each');

    const resumedDir = await createRun(join(root, 'runs-threads'), run);
    const first = await trainTo(resumedDir, 2);
    const second = await trainTo(resumedDir, 6);
    assert.deepEqual([...first.losses, ...second.losses], whole.losses);
    assert.deepEqual(second.statistics, whole.statistics, 'the checkpoint holds the statistics every replica shares');

    const decoder = await Decoder.load(await exportRun(wholeDir, 'f32'));
    assert.deepEqual(decoder.info.outputShape, [16, 16, 3]);
    assert.ok(!decoder.info.layers.some((l) => l.type === 'affine'), 'every BatchNormalization folded');
    assert.ok(decoder.sample(4, { seed: 1 }).every((v) => v >= 0 && v <= 1));
  });

  for (const [index, c] of CASES.entries()) {
    const what = `${c.folder.format.toUpperCase()} ${c.folder.rgb ? 'RGB' : 'grey'} ${c.folder.layout === 'flat' ? 'flat' : 'class'} folder of ${c.source === 'mnist' ? 'MNIST' : 'Fashion-MNIST'}`;
    it(`${c.preset} at ${c.shape.join('x')} on a ${what}: the loss falls; it exports, samples, traverses, and its ONNX export matches our runtime`, async (t) => {
      const source = sources[c.source];
      if (!source) return t.skip('dataset-fashion-mnist is not installed');
      const dir = join(root, `folder-${index}`);
      writeImageFolder(dir, source.train, { ...c.folder, names: c.source === 'fashion' ? FASHION_NAMES : undefined });
      const { dataset, spec, label } = await loadRequestedData({ dataset: dir, imageSize: c.imageSize }, { cacheDir: join(root, 'cache') });
      assert.deepEqual([dataset.train.rows, dataset.train.cols, dataset.train.channels], c.shape);

      const preset = getPreset(c.preset);
      const classes = dataset.classes.length;
      const config = { ...preset.defaults, imageSize: c.shape[0], channels: c.shape[2], classes, ...c.config, ...(c.epochs ? { epochs: c.epochs } : {}) } as PresetConfig;
      const run: RunConfig = { preset: c.preset, dataset: label, data: spec, config };
      const runDir = await createRun(join(root, 'runs'), run);
      const losses: number[] = [];
      const started = performance.now();
      const { trainable } = await train({
        runDir, preset, run, train: dataset.train, test: dataset.test,
        quiet: !c.epochs,
        ...(c.epochs ? {} : { maxSteps: c.steps }),
        onProgress: (p) => losses.push(p.loss.loss),
      });
      t.diagnostic(`loss: ${losses.map((l) => l.toPrecision(4)).join(' ')} (${Math.round((performance.now() - started) / losses.length)} ms/step at batch ${config.batchSize})`);
      assert.ok(losses.length >= 8 && losses.every(Number.isFinite), String(losses));
      assert.ok(mean(losses.slice(-3)) < mean(losses.slice(0, 3)), `the loss should fall: ${losses}`);
      tf.dispose(Object.values(trainable.models).flatMap((m) => m.weights.map((w) => w.read())));
      for (const optimizer of Object.values(trainable.optimizers)) tf.dispose(optimizer.stateTensors());

      if (c.epochs) {
        // The per-epoch picture: 64 samples of 64x64 RGB, 8 a row; the loss curves; the test metrics.
        const grid = decodePng(readFileSync(join(runDir, 'samples', `epoch-${String(c.epochs).padStart(3, '0')}.png`)));
        assert.deepEqual([grid.width, grid.height], [8 * 65 + 1, 8 * 65 + 1]);
        assert.ok(existsSync(join(runDir, 'loss-curves.svg')));
        const evals = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.kind === 'eval');
        assert.equal(evals.length, c.epochs);
        assert.deepEqual(Object.keys(evals[0].metrics).sort(), ['kl', 'nelbo', 'squaredError']);
      }

      // Scored on its test split from the checkpoint, no judge: reconstruction error and negative ELBO.
      const scored = await evaluateRun(runDir, dataset);
      assert.equal(scored.testImages, dataset.test.count);
      for (const key of ['squaredError', 'nelbo']) assert.ok(Number.isFinite(scored.metrics[key]) && scored.metrics[key] > 0, `${key}: ${scored.metrics[key]}`);

      const bytes = await exportRun(runDir, 'f32');
      const decoder = await Decoder.load(bytes);
      const { info } = decoder;
      assert.deepEqual(info.outputShape, c.shape);
      assert.equal(info.classes, c.preset === 'cvae' ? classes : 0);
      assert.equal(info.meta.dataset, label);
      if (c.preset === 'dcgan-vae') assert.ok(!info.layers.some((l) => l.type === 'affine'), 'every BatchNormalization folded into its transposed convolution');
      const samples = decoder.sample(6, { seed: 2 });
      assert.equal(samples.length, 6 * c.shape[0] * c.shape[1] * c.shape[2]);
      assert.ok(samples.every((v) => v >= 0 && v <= 1));
      const walk = toImageGrid(decoder.traverse({ dim: 0, from: -2, to: 2, steps: 5, ...(info.classes ? { label: 1 } : {}) }), { shape: info.outputShape, columns: 5 });
      assert.deepEqual([walk.width, walk.height], [5 * (c.shape[0] + 1) + 1, c.shape[0] + 2]);

      // ONNX: the same decoder in onnxruntime gives our runtime's values.
      const latents = decoder.sampleLatents(5, { seed: 9 });
      const labels = info.classes ? { values: [0, 1, classes - 1, 1, 0], classes } : undefined;
      const ours = decoder.decode(latents, labels?.values);
      const theirs = await runOnnx(exportOnnx(bytes), latents, info.latentSize, labels);
      const diff = maxAbsDiff(ours, theirs);
      t.diagnostic(`ONNX against our runtime: ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-4, `ONNX differs from our runtime by ${diff}`);

      // int8 too: the file the Worker and the page would serve.
      const small = await Decoder.load(await exportRun(runDir, 'i8'));
      assert.ok(maxAbsDiff(small.decode(latents, labels?.values), ours) < 0.1);

      // The Worker's handler serves it: a PNG grid of the model's shape (RGBA where it is RGB, grey where grey), the runtime's bytes.
      const labelQuery = info.classes ? '&label=1' : '';
      const response = await handleRequest(new Request(`http://worker/sample?n=6&seed=3${labelQuery}`), small);
      assert.equal(response.status, 200, await response.clone().text());
      const served = new Uint8Array(await response.arrayBuffer());
      const expected = toImageGrid(small.sample(6, { seed: 3, ...(info.classes ? { labels: 1 } : {}) }), { shape: info.outputShape, range: info.range });
      assert.deepEqual(served, encodePng(expected));
      const png = decodePng(served);
      assert.deepEqual([png.width, png.height, png.channels], [expected.width, expected.height, c.shape[2] === 3 ? 4 : 1]);
      const described = (await (await handleRequest(new Request('http://worker/info'), small)).json()) as { model: { outputShape: number[] } };
      assert.deepEqual(described.model.outputShape, c.shape);
    });
  }
});
