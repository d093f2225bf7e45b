// Data-parallel training (--threads N): a batch split over threads computes what one thread does, up
// to rounding; a run on N threads repeats and resumes bit for bit; a worker thread that fails ends
// the run with a clear error rather than a hang; thread counts the run cannot use are refused. The
// tiny presets run on synthetic data on the cpu backend; aae-semi (five optimizer phases) and
// conv-vae run a few steps on MNIST on the edgevae backend.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadDataset, type Split } from '../src/data/datasets.ts';
import { InputError, RuntimeError } from '../src/errors.ts';
import { selectBackend } from '../src/train/backend.ts';
import { checkThreads } from '../src/train/data-parallel.ts';
import { edgevaeBackendSimd, wasmHeapValues } from '../src/train/edgevae-backend.ts';
import type { Preset, Trainable } from '../src/train/preset.ts';
import { getPreset } from '../src/train/presets/index.ts';
import { StepRandom } from '../src/train/random.ts';
import { shareSizes } from '../src/train/replica-sync.ts';
import { createRun, train, type RunConfig, type TrainOptions } from '../src/train/trainer.ts';
import { failingPreset, syntheticSplit, tinyPreset, tinyTwoPhasePreset } from './fixtures/tiny-presets.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mnistDir = process.env.EDGEVAE_MNIST_DIR ?? resolve(repoRoot, '..', 'shared', 'data', 'mnist');
const presetModule = new URL('./fixtures/tiny-presets.ts', import.meta.url).href;

/** Frees a finished run's weights and optimizer state. */
function dispose(trainable: Trainable): void {
  tf.dispose(Object.values(trainable.models).flatMap((m) => m.weights.map((w) => w.read())));
  for (const optimizer of Object.values(trainable.optimizers)) tf.dispose(optimizer.stateTensors());
}

/** Every weight of the trainable's models, in a stable order, as one array. */
function allWeights(trainable: Trainable): Float32Array {
  const parts = Object.keys(trainable.models).sort().flatMap((key) => trainable.models[key].weights.map((w) => w.read().dataSync() as Float32Array));
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((offset, part) => (all.set(part, offset), offset + part.length), 0);
  return all;
}

/** |a - b| / |b|, over whole vectors (Euclidean norms). */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

describe('data-parallel training', () => {
  let root: string;
  const synthetic = syntheticSplit(60, 1);

  before(async () => {
    await selectBackend('cpu');
    root = mkdtempSync(join(tmpdir(), 'edgevae-data-parallel-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Trains `preset` (from the fixtures module) on the synthetic split; its per-step losses and the trainable. */
  async function run(preset: Preset, options: Partial<TrainOptions> & { runDir?: string } = {}) {
    const runConfig: RunConfig = { preset: preset.name, dataset: 'synthetic', config: preset.defaults };
    const runDir = options.runDir ?? (await createRun(root, runConfig));
    const losses: Record<string, number>[] = [];
    const logs: string[] = [];
    const result = await train({
      runDir, preset, run: runConfig, train: synthetic, test: synthetic, quiet: true, presetModule, ...options,
      onProgress: (p) => {
        losses.push(p.loss);
        options.onProgress?.(p);
      },
      log: (m) => logs.push(m),
    });
    return { ...result, losses, logs, runDir };
  }

  it('splits a batch into contiguous shares differing by at most one, and sums the replicas in a fixed order, weighted', () => {
    assert.deepEqual(shareSizes(15, 2), [8, 7]);
    assert.deepEqual(shareSizes(64, 3), [22, 21, 21]);
    assert.deepEqual(shareSizes(4, 4), [1, 1, 1, 1]);
  });

  it('gives each replica its own random streams, replica 0 those of a run on one thread', () => {
    const draws = (random: StepRandom) => [random.next(), random.next()];
    const one = draws(new StepRandom(7, 3));
    assert.deepEqual(draws(new StepRandom(7, 3, 0)), one);
    const others = [1, 2].map((replica) => draws(new StepRandom(7, 3, replica)));
    assert.equal(new Set([one, ...others].flat()).size, 6, 'six different seeds');
  });

  it('refuses thread counts the run cannot use, saying why', () => {
    for (const bad of [0, 65, 1.5, '2']) assert.throws(() => checkThreads(bad, 64, 'cpu'), (e: unknown) => e instanceof InputError && /threads must be an integer in 1\.\.64/.test(e.message), String(bad));
    assert.throws(() => checkThreads(4, 2, 'edgevae'), /--threads 4 is more than the batch size 2/);
    assert.throws(() => checkThreads(2, 64, 'tensorflow'), /--threads applies to the edgevae, wasm, cpu backends, .* the tensorflow backend already uses every core: drop --threads/);
    for (const backend of ['edgevae', 'wasm', 'cpu', 'tensorflow']) checkThreads(1, 64, backend);
    checkThreads(64, 64, 'wasm');
  });

  for (const backend of ['cpu', 'edgevae'] as const) {
    it(`two threads compute what one does, up to rounding, on ${backend}: two optimizer phases, shares of 8 and 7`, async () => {
      const { description } = await selectBackend(backend);
      try {
        const one = await run(tinyTwoPhasePreset, { maxSteps: 1 });
        const two = await run(tinyTwoPhasePreset, { maxSteps: 1, threads: 2 });
        const said = 'data-parallel: 2 threads (the main thread and 1 worker thread) each train on a share of the batch of 15 (8 + 7); ';
        assert.ok(two.logs.includes(`${said}the worker threads run the main thread's ${description}`), two.logs.join('\n'));
        for (const term of ['reconstruction', 'shrink']) {
          assert.ok(Math.abs(two.losses[0][term] - one.losses[0][term]) <= 1e-6 * Math.abs(one.losses[0][term]), `${term}: ${two.losses[0][term]} vs ${one.losses[0][term]}`);
        }
        const difference = relativeDifference(allWeights(two.trainable), allWeights(one.trainable));
        assert.ok(difference < 1e-4, `weights after one step differ by ${difference}`);
        dispose(one.trainable);
        dispose(two.trainable);

        const tensorCounts: number[] = [];
        const longer = await run(tinyTwoPhasePreset, { maxSteps: 4 });
        const longerTwo = await run(tinyTwoPhasePreset, { maxSteps: 4, threads: 2, onProgress: () => tensorCounts.push(tf.memory().numTensors) });
        longer.losses.forEach((loss, step) => {
          for (const term of ['reconstruction', 'shrink']) assert.ok(Math.abs(longerTwo.losses[step][term] - loss[term]) <= 1e-4 * loss[term], `${term} at step ${step}`);
        });
        assert.ok(longerTwo.losses[3].shrink < longerTwo.losses[0].shrink / 1.5, `training proceeds: ${JSON.stringify(longerTwo.losses)}`);
        assert.ok(tensorCounts.every((n) => n === tensorCounts[0]), `a step leaks tensors: ${tensorCounts}`);
        const lines = readFileSync(join(longerTwo.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        assert.ok(lines.every((l) => l.threads === 2), 'metrics record the thread count');
        dispose(longer.trainable);
        dispose(longerTwo.trainable);
      } finally {
        await selectBackend('cpu');
      }
    });
  }

  it('reads a tensor on the edgevae backend straight from the wasm heap, for the exchange', async () => {
    await selectBackend('edgevae');
    try {
      const t = tf.tensor1d(Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i)));
      assert.deepEqual(wasmHeapValues(t), t.dataSync());
      t.dispose();
    } finally {
      await selectBackend('cpu');
    }
    const onCpu = tf.scalar(1);
    assert.equal(wasmHeapValues(onCpu), undefined, 'elsewhere the exchange reads dataSync()');
    onCpu.dispose();
  });

  it('a two-thread run stopped by its signal and resumed repeats the uninterrupted one bit for bit (noise and dropout)', async () => {
    const whole = await run(tinyPreset, { threads: 2 });
    assert.equal(whole.losses.length, 6, 'two epochs of three batches');
    const controller = new AbortController();
    const first = await run(tinyPreset, { threads: 2, signal: controller.signal, onProgress: (p) => p.step === 2 && controller.abort() });
    assert.equal(first.stopped, true);
    assert.equal(first.state.step, 2);
    const second = await run(tinyPreset, { threads: 2, runDir: first.runDir });
    assert.deepEqual([...first.losses, ...second.losses], whole.losses);
    assert.match(second.logs.join('\n'), /resuming .* at step 2/);
    const single = await run(tinyPreset, { maxSteps: 1 });
    assert.notEqual(whole.losses[0].reconstruction, single.losses[0].reconstruction, 'the second share draws its own noise');
    for (const r of [whole, first, second, single]) dispose(r.trainable);
  });

  it('a worker thread that throws or exits fails the run with an error that says so, without hanging; so does the main thread\'s own error', { timeout: 120_000 }, async () => {
    const failing = (failure: string) => ({ ...failingPreset, defaults: { ...failingPreset.defaults, failure } });
    await assert.rejects(run(failing('throw'), { threads: 2 }), (e: unknown) => e instanceof RuntimeError && /^data-parallel training failed: worker thread 1 threw Error: a test failure at step 1$/.test(e.message));
    await assert.rejects(run(failing('exit'), { threads: 2 }), (e: unknown) => e instanceof RuntimeError && /^data-parallel training failed: worker thread 1 exited with code 3$/.test(e.message));
    await assert.rejects(run(failing('main-throw'), { threads: 2 }), /^Error: a test failure in the main thread$/);
    await assert.rejects(run(tinyPreset, { threads: 2, presetModule: undefined }), (e: unknown) => e instanceof InputError && /preset "tiny" is not a built-in one: give presetModule/.test(e.message));
    await assert.rejects(run(tinyPreset, { threads: 2, presetModule: new URL('./fixtures/models.ts', import.meta.url).href }), /cannot start data-parallel training: worker thread 1 threw InputError: .*models\.ts exports no preset named "tiny"/);
  });

  describe('real presets on MNIST, edgevae backend', () => {
    let data: { train: Split; test: Split };
    before(async () => {
      data = await loadDataset('mnist', { dir: mnistDir, download: false });
      await selectBackend('edgevae');
    });
    after(async () => {
      await selectBackend('cpu');
    });

    /** The per-step losses of `name` at batch 8 on two threads, stopped after each of `stops` steps and resumed each time. */
    async function resumedLosses(name: string, stops: number[], logs: string[] = []): Promise<Record<string, number>[]> {
      const preset = getPreset(name);
      const runConfig: RunConfig = { preset: name, dataset: 'mnist', config: { ...preset.defaults, batchSize: 8 } };
      const runDir = await createRun(join(root, `${name}-${stops.join('-')}`), runConfig);
      const losses: Record<string, number>[] = [];
      for (const maxSteps of stops) {
        const { trainable } = await train({
          runDir, preset, run: runConfig, train: data.train, test: data.test, quiet: true, maxSteps, threads: 2,
          onProgress: (p) => losses.push(p.loss), log: (m) => logs.push(m),
        });
        dispose(trainable);
      }
      return losses;
    }

    it('aae-semi (five optimizer phases): two threads train and resume bit for bit, the worker on the main thread\'s build', async () => {
      const logs: string[] = [];
      const whole = await resumedLosses('aae-semi', [3], logs);
      assert.match(logs.join('\n'), new RegExp(`worker threads run the main thread's edgevae \\(edgevae's ${edgevaeBackendSimd()}-SIMD`));
      assert.deepEqual(await resumedLosses('aae-semi', [1, 3]), whole);
      assert.ok(whole.every((loss) => Object.values(loss).every(Number.isFinite)), JSON.stringify(whole));
    });

    it('conv-vae: two threads train a few steps, the loss falling', async () => {
      const losses = (await resumedLosses('conv-vae', [4])).map((l) => l.loss);
      assert.ok(losses.every(Number.isFinite), String(losses));
      assert.ok(losses[3] < losses[0], `loss should fall: ${losses}`);
    });
  });
});
