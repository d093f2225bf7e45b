// The training loop: a run stopped at any step and resumed continues with exactly the losses an
// uninterrupted run has (bit for bit), metrics are not repeated, checkpoints are refused when they
// do not fit. Uses a tiny preset with dropout and sampled noise, so every source of randomness is
// exercised, on synthetic data.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Preset } from '../src/train/preset.ts';
import { createRun, train, type RunConfig } from '../src/train/trainer.ts';
import { syntheticSplit, tinyPreset } from './fixtures/tiny-presets.ts';

describe('trainer', () => {
  let root: string;
  const data = syntheticSplit(64, 1); // 4 batches of 16 per epoch
  const run: RunConfig = { preset: 'tiny', dataset: 'synthetic', config: tinyPreset.defaults };
  const trainLines = (dir: string) =>
    readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.kind === 'train');
  const wholeConstantRun = async () => {
    const dir = await createRun(join(root, 'constant'), run);
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true });
    return dir;
  };
  const trainLosses = (dir: string) => trainLines(dir).map((l) => [l.step, l.loss.reconstruction]);

  before(async () => {
    await tf.setBackend('cpu');
    root = mkdtempSync(join(tmpdir(), 'edgevae-trainer-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('resumes bit for bit: same loss sequence as an uninterrupted run, at any stopping step', async () => {
    const whole = await createRun(join(root, 'whole'), run);
    await train({ runDir: whole, preset: tinyPreset, run, train: data, test: data, quiet: true });
    const expected = trainLosses(whole);
    assert.equal(expected.length, 8, 'two epochs of four batches');

    for (const stopAt of [1, 4, 6]) {
      const dir = await createRun(join(root, `stopped-${stopAt}`), run);
      const first = await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true, maxSteps: stopAt });
      assert.equal(first.stopped, true);
      assert.equal(first.state.step, stopAt);
      const second = await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true });
      assert.equal(second.stopped, false);
      assert.deepEqual(trainLosses(dir), expected, `stopped at step ${stopAt}`);
    }
  });

  it('stops after the current step when aborted, with a checkpoint to resume from', async () => {
    const dir = await createRun(join(root, 'aborted'), run);
    const controller = new AbortController();
    const result = await train({
      runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true, signal: controller.signal,
      onProgress: (p) => p.step === 3 && controller.abort(),
    });
    assert.equal(result.stopped, true);
    assert.equal(result.state.step, 3);
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true });
    const whole = await createRun(join(root, 'reference'), run);
    await train({ runDir: whole, preset: tinyPreset, run, train: data, test: data, quiet: true });
    assert.deepEqual(trainLosses(dir), trainLosses(whole));
  });

  it('counts epochs from 1 everywhere: metrics.jsonl, progress, evaluations, sample files, the stop and resume messages', async () => {
    const dir = await createRun(join(root, 'epochs'), run);
    const progress: number[] = [];
    const evaluated: number[] = [];
    const logged: string[] = [];
    const stopped = await train({
      runDir: dir, preset: tinyPreset, run, train: data, test: data, maxSteps: 6,
      onProgress: (p) => progress.push(p.epoch), onEpoch: (epoch) => evaluated.push(epoch),
    });
    assert.equal(stopped.position, 'epoch 2 of 2, 2 of its 4 batches done');
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, onProgress: (p) => progress.push(p.epoch), onEpoch: (epoch) => evaluated.push(epoch), log: (m) => logged.push(m) });
    assert.ok(logged.some((m) => m.endsWith('at step 6 (epoch 2 of 2, 2 of its 4 batches done)')), logged.join('\n'));
    assert.deepEqual(progress, [1, 1, 1, 1, 2, 2, 2, 2]);
    assert.deepEqual(evaluated, [1, 2]);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.filter((l) => l.kind === 'train').map((l) => l.epoch), [1, 1, 1, 1, 2, 2, 2, 2]);
    assert.deepEqual(lines.filter((l) => l.kind === 'eval').map((l) => [l.step, l.epoch]), [[4, 1], [8, 2]]);
    assert.deepEqual(readdirSync(join(dir, 'samples')).sort(), ['epoch-001.png', 'epoch-002.png']);
  });

  it('renumbers the epochs of a run written when metrics.jsonl counted them from 0, on resuming it', async () => {
    const dir = await createRun(join(root, 'epochs-from-0'), run);
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true, maxSteps: 5 });
    const path = join(dir, 'metrics.jsonl');
    const old = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((l) => JSON.stringify({ ...l, epoch: l.epoch - 1 }));
    writeFileSync(path, old.join('\n') + '\n');
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true });
    assert.deepEqual(trainLines(dir).map((l) => l.epoch), [1, 1, 1, 1, 2, 2, 2, 2]);
  });

  it('decays the learning rate along a half cosine to finalLearningRate, and still resumes bit for bit', async () => {
    const decaying: RunConfig = { ...run, config: { ...run.config, finalLearningRate: 1e-5 } };
    const whole = await createRun(join(root, 'decay-whole'), decaying);
    await train({ runDir: whole, preset: tinyPreset, run: decaying, train: data, test: data, quiet: true });
    const rates = trainLines(whole).map((l) => l.learningRate);
    assert.equal(rates.length, 8);
    assert.equal(rates[0], 1e-3);
    assert.ok(Math.abs(rates[4] - (1e-5 + (1e-3 - 1e-5) / 2)) < 1e-12, `halfway: ${rates[4]}`);
    for (let i = 1; i < 8; i++) assert.ok(rates[i] < rates[i - 1], `falls at step ${i}`);
    assert.notDeepEqual(trainLosses(whole), trainLosses(await wholeConstantRun()), 'the schedule changes the updates');

    const dir = await createRun(join(root, 'decay-stopped'), decaying);
    await train({ runDir: dir, preset: tinyPreset, run: decaying, train: data, test: data, quiet: true, maxSteps: 3 });
    await train({ runDir: dir, preset: tinyPreset, run: decaying, train: data, test: data, quiet: true });
    assert.deepEqual(trainLosses(dir), trainLosses(whole));
  });

  it('takes a new learning rate on resuming, decays from that step, and records the change in config.json', async () => {
    const dir = await createRun(join(root, 'lr-change'), run);
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true, maxSteps: 4 });
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true, learningRate: { start: 5e-4, final: 0 } });
    const rates = trainLines(dir).map((l) => l.learningRate);
    assert.deepEqual(rates.slice(0, 4), [undefined, undefined, undefined, undefined], 'no schedule before the change');
    assert.equal(rates[4], 5e-4);
    assert.ok(Math.abs(rates[6] - 2.5e-4) < 1e-12, `halfway through the rest: ${rates[6]}`);
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as RunConfig;
    assert.equal(saved.config.learningRate, 5e-4);
    assert.equal(saved.config.finalLearningRate, 0);
    assert.equal(saved.config.decayFromStep, 4);
    assert.deepEqual(saved.scheduleChanges, [{ step: 4, learningRate: 5e-4, finalLearningRate: 0 }]);
    assert.equal(run.config.learningRate, 1e-3, "the caller's configuration is left alone");
    assert.equal(trainLosses(dir).slice(0, 4).length, 4);
  });

  it('refuses a final learning rate above the starting one', async () => {
    const dir = await createRun(join(root, 'bad-final'), run);
    await assert.rejects(
      train({ runDir: dir, preset: tinyPreset, run: { ...run, config: { ...run.config, finalLearningRate: 0.1 } }, train: data, test: data, quiet: true }),
      /final learning rate must be a number from 0 to the learning rate \(0.001\), got 0.1/,
    );
  });

  it('refuses a checkpoint from another model, and a damaged one, with a clear error', async () => {
    const dir = await createRun(join(root, 'other'), run);
    await train({ runDir: dir, preset: tinyPreset, run, train: data, test: data, quiet: true, maxSteps: 1 });
    const wider: Preset = { ...tinyPreset, create: (c) => tinyPreset.create({ ...c, seed: c.seed }) };
    const otherShape: Preset = {
      ...tinyPreset,
      create(c) {
        const t = tinyPreset.create(c);
        t.models.extra = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });
        return t;
      },
    };
    await assert.rejects(train({ runDir: dir, preset: otherShape, run, train: data, test: data, quiet: true }), /checkpoint .* is unusable: it holds tensors/);
    const path = join(dir, 'checkpoint.ckpt');
    writeFileSync(path, readFileSync(path).subarray(0, 100));
    await assert.rejects(train({ runDir: dir, preset: wider, run, train: data, test: data, quiet: true }), /checkpoint .* is unusable: truncated/);
  });
});
