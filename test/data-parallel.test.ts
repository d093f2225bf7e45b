// Data-parallel training (--threads N): a batch split over threads computes what one thread does, up
// to rounding; the sharded optimizer step gives the bits of one replica's update on the summed
// gradients; a run on N threads repeats and resumes bit for bit; a worker thread that fails ends
// the run with a clear error rather than a hang; thread counts the run cannot use are refused. The
// tiny presets run on synthetic data on the cpu backend; aae-semi (five optimizer phases) and
// conv-vae run a few steps on MNIST on the edgevae backend.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNIST_DIR, MNIST_SKIP } from './helpers/mnist.ts';
import * as tf from '@tensorflow/tfjs';
import { loadDataset, type Split } from '../src/data/datasets.ts';
import { InputError, RuntimeError } from '../src/errors.ts';
import { selectBackend } from '../src/train/backend.ts';
import { checkThreads } from '../src/train/data-parallel.ts';
import { edgevaeBackendSimd, wasmHeapValues } from '../src/train/edgevae-backend.ts';
import type { Preset, Trainable } from '../src/train/preset.ts';
import { getPreset } from '../src/train/presets/index.ts';
import { StepRandom } from '../src/train/random.ts';
import { Adam } from '../src/train/adam.ts';
import { allocateParameterMemory, planLayout, SharedParameters, sliceBounds } from '../src/train/replica-parameters.ts';
import { allocateShared, ReplicaSync, shareSizes } from '../src/train/replica-sync.ts';
import { createRun, train, type RunConfig, type TrainOptions } from '../src/train/trainer.ts';
import { movingStatistics } from '../src/train/replica-statistics.ts';
import { failingPreset, syntheticSplit, tinyBatchNormPreset, tinyPreset, tinyTwoPhasePreset } from './fixtures/tiny-presets.ts';

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

  it('splits a batch into contiguous shares differing by at most one, and the parameters into slices of whole SIMD vectors', () => {
    assert.deepEqual(shareSizes(15, 2), [8, 7]);
    assert.deepEqual(shareSizes(64, 3), [22, 21, 21]);
    assert.deepEqual(shareSizes(4, 4), [1, 1, 1, 1]);
    assert.deepEqual(sliceBounds(64, 3), [0, 20, 40, 64]);
    assert.deepEqual(sliceBounds(64, 2), [0, 32, 64]);
    assert.deepEqual(sliceBounds(10, 3), [0, 0, 4, 10], 'a slice may be empty');
  });

  /** A small network whose variables (35, 5, 15 and 3 values) are no multiples of 4, with an Adam over them; two calls build the same weights. */
  function smallTrainable() {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 5, inputShape: [7], kernelInitializer: tf.initializers.randomNormal({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2 }) }),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }), biasInitializer: tf.initializers.randomNormal({ seed: 4 }) }),
      ],
    });
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    return { models: { net: model }, optimizers: { adam: new Adam(variables, { learningRate: 0.01 }) }, variables };
  }

  /** A float32 tensor's bits, for comparisons that tell -0 from 0 and every NaN apart. */
  const bits = (t: tf.Tensor) => [...new Uint32Array((t.dataSync() as Float32Array).slice().buffer)];

  it('the sharded step (each replica sums its slice of every replica\'s gradients and updates it) gives the bits of one replica\'s fused Adam on the summed gradients', async () => {
    await selectBackend('edgevae');
    try {
      const threads = 3;
      const shares = shareSizes(64, threads).map((n) => n / 64);
      const sharded = smallTrainable();
      const reference = smallTrainable();
      const layout = planLayout(sharded, threads);
      const memory = allocateParameterMemory(layout);
      const replicas = Array.from({ length: threads }, (_, r) => new SharedParameters(memory, layout, r, threads, shares));
      replicas[0].store();
      const span = replicas[0].span('adam');
      const unreached = 3; // the last bias: no loss below reaches it, so no replica has its gradient
      let gradientsOfOthers: (tf.Tensor | undefined)[][] = [];
      sharded.optimizers.adam.sharded = {
        update(_optimizer, grads, stepSize) {
          replicas[0].writeGradients(span, grads);
          replicas.slice(1).forEach((replica, q) => replica.writeGradients(span, gradientsOfOthers[q]));
          for (const replica of replicas) replica.updateOwnSlice(span, grads, stepSize);
          replicas[0].readWeights(span, grads);
        },
      };
      /** A loss whose gradient with respect to each reached variable is exactly `gradients[i]`. */
      const linearLoss = (variables: tf.Variable[], gradients: Float32Array[]) => () =>
        tf.addN(variables.slice(0, unreached).map((v, i) => v.mul(tf.tensor(gradients[i], v.shape)).sum())) as tf.Scalar;
      for (let step = 0; step < 3; step++) {
        const perReplica = Array.from({ length: threads }, (_, q) => sharded.variables.map((v, i) => Float32Array.from({ length: v.size }, (_, j) => Math.sin(1 + step * 7 + q * 3 + i + j * 0.37) * 10 ** (q - 1))));
        gradientsOfOthers = perReplica.slice(1).map((gradients) => gradients.map((g, i) => (i === unreached ? undefined : tf.tensor(g, sharded.variables[i].shape))));
        // The reduction as one thread would see it: the weighted sum in replica order, in f64 from 0, rounded once to f32.
        const summed = sharded.variables.map((v, i) => Float32Array.from({ length: v.size }, (_, j) => perReplica.reduce((sum, gradients, q) => sum + shares[q] * gradients[i][j], 0)));
        sharded.optimizers.adam.minimize(linearLoss(sharded.variables, perReplica[0]));
        reference.optimizers.adam.minimize(linearLoss(reference.variables, summed));
        tf.dispose(gradientsOfOthers.flat().filter((g) => g !== undefined));
        sharded.variables.forEach((v, i) => assert.deepEqual(bits(v), bits(reference.variables[i]), `variable ${i} after step ${step}`));
      }
      assert.deepEqual(bits(sharded.variables[unreached]), bits(smallTrainable().variables[unreached]), 'the unreached bias keeps its weights');
      replicas[0].collectMoments();
      sharded.optimizers.adam.stateTensors().forEach((t, i) => assert.deepEqual(bits(t), bits(reference.optimizers.adam.stateTensors()[i]), `moment ${i}`));
      assert.ok(bits(reference.optimizers.adam.stateTensors()[0]).some((b) => b !== 0), 'the moments moved');
    } finally {
      await selectBackend('cpu');
    }
  });

  it('refuses a worker thread whose preset lays its parameters out differently from the main thread\'s', () => {
    const main = smallTrainable();
    const other = { models: { net: tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] }) }, optimizers: {} as Record<string, Adam> };
    other.optimizers.adam = new Adam(other.models.net.trainableWeights.map((w) => w.read() as tf.Variable), { learningRate: 0.01 });
    const buffers = allocateShared(2, 8, main);
    assert.throws(() => new ReplicaSync(buffers, 1).attach(other), (e: unknown) => e instanceof RuntimeError && /the replicas' parameters differ: replica 1's need \d+ bytes of shared memory, the main thread's \d+/.test(e.message));
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

  it('BatchNormalization: the moving statistics of a run on 2 or 3 threads are one thread\'s, of the whole batch, not the main thread\'s share\'s', async (t) => {
    /** Each BatchNormalization layer's moving mean and variance, by name. */
    const moving = (trainable: Trainable) => new Map(movingStatistics(trainable).map((p) => [p.name, { mean: p.mean.dataSync().slice(), variance: p.variance.dataSync().slice() }]));
    const compare = (a: Trainable, b: Trainable, layers: string[]) =>
      Math.max(...layers.flatMap((name) => (['mean', 'variance'] as const).map((key) => relativeDifference(moving(a).get(name)![key], moving(b).get(name)![key]))));

    // Step 1: both layers' inputs are the same functions of the batch however it is split.
    const one = await run(tinyBatchNormPreset, { maxSteps: 1 });
    const fresh = tinyBatchNormPreset.create(tinyBatchNormPreset.defaults);
    const start = moving(fresh);
    dispose(fresh);
    for (const name of ['input', 'hidden']) {
      assert.ok(relativeDifference(moving(one.trainable).get(name)!.variance, start.get(name)!.variance) > 1e-2, `${name}: one step moves its moving statistics`);
    }
    for (const threads of [2, 3]) {
      const many = await run(tinyBatchNormPreset, { maxSteps: 1, threads });
      assert.ok(many.logs.includes('data-parallel: each thread\'s BatchNormalization normalizes its share with the share\'s statistics; the moving statistics of the 2 BatchNormalization layers follow the whole batch\'s, combined after every step'), many.logs.join('\n'));
      const difference = compare(many.trainable, one.trainable, ['input', 'hidden']);
      t.diagnostic(`${threads} threads, after one step: ${difference.toExponential(2)} from one thread's`);
      assert.ok(difference < 1e-6, `${threads} threads: the moving statistics after one step differ from one thread's by ${difference}`);
      dispose(many.trainable);
    }
    // What the main thread's share alone gives (its first 8 images: one thread at batch 8 takes the same ones first) is far off.
    const shareRun = { ...tinyBatchNormPreset, defaults: { ...tinyBatchNormPreset.defaults, batchSize: 8 } };
    const share = await run(shareRun, { maxSteps: 1 });
    const shareDifference = compare(share.trainable, one.trainable, ['input']);
    t.diagnostic(`the main thread's share alone: ${shareDifference.toExponential(2)} from one thread's`);
    assert.ok(shareDifference > 1e-3, `one share's statistics should differ from the whole batch's: ${shareDifference}`);
    dispose(share.trainable);
    dispose(one.trainable);

    // Six steps, over two epochs: the input layer's statistics depend on the data alone, so they still agree.
    const longer = await run(tinyBatchNormPreset, { maxSteps: 6 });
    const longerTwo = await run(tinyBatchNormPreset, { maxSteps: 6, threads: 2 });
    const difference = compare(longerTwo.trainable, longer.trainable, ['input']);
    t.diagnostic(`2 threads, after six steps: ${difference.toExponential(2)} from one thread's`);
    assert.ok(difference < 1e-5, `after six steps on two threads the input layer's moving statistics differ from one thread's by ${difference}`);
    dispose(longer.trainable);

    // A run on two threads stopped and resumed repeats the uninterrupted one bit for bit, moving statistics included.
    const controller = new AbortController();
    const first = await run(tinyBatchNormPreset, { maxSteps: 6, threads: 2, signal: controller.signal, onProgress: (p) => p.step === 3 && controller.abort() });
    assert.equal(first.state.step, 3);
    const second = await run(tinyBatchNormPreset, { maxSteps: 6, threads: 2, runDir: first.runDir });
    assert.deepEqual([...first.losses, ...second.losses], longerTwo.losses);
    assert.equal(compare(second.trainable, longerTwo.trainable, ['input', 'hidden']), 0);
    for (const r of [longerTwo, first, second]) dispose(r.trainable);
  });

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

  it('a worker thread that throws, exits or hangs fails the run with an error that says so, without hanging; so does the main thread\'s own error', { timeout: 120_000 }, async () => {
    const failing = (failure: string) => ({ ...failingPreset, defaults: { ...failingPreset.defaults, failure } });
    await assert.rejects(run(failing('throw'), { threads: 2 }), (e: unknown) => e instanceof RuntimeError && /^data-parallel training failed: worker thread 1 threw Error: a test failure at step 1$/.test(e.message));
    await assert.rejects(run(failing('exit'), { threads: 2 }), (e: unknown) => e instanceof RuntimeError && /^data-parallel training failed: worker thread 1 exited with code 3$/.test(e.message));
    await assert.rejects(run(failing('main-throw'), { threads: 2 }), /^Error: a test failure in the main thread$/);
    await assert.rejects(
      run(failing('hang'), { threads: 2, stallFloorMs: 2000 }),
      (e: unknown) => e instanceof RuntimeError && /^data-parallel training failed: worker thread 1 did not reach its step's exchange within \d+ s \(hung\?\); the worker threads were ended$/.test(e.message),
    );
    await assert.rejects(run(tinyPreset, { threads: 2, presetModule: undefined }), (e: unknown) => e instanceof InputError && /preset "tiny" is not a built-in one: give presetModule/.test(e.message));
    await assert.rejects(run(tinyPreset, { threads: 2, presetModule: new URL('./fixtures/models.ts', import.meta.url).href }), /cannot start data-parallel training: worker thread 1 threw InputError: .*models\.ts exports no preset named "tiny"/);
  });

  describe('real presets on MNIST, edgevae backend', { skip: MNIST_SKIP }, () => {
    let data: { train: Split; test: Split };
    before(async () => {
      data = await loadDataset('mnist', { dir: MNIST_DIR, download: false });
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
