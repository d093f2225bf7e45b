/**
 * The training loop shared by every preset: seeded data order, per-step randomness, progress,
 * metrics, per-epoch sample grids and evaluation, and checkpoints that resume bit for bit.
 *
 * A run folder (runs/<preset>/<timestamp>/) holds:
 *   config.json        the preset, its configuration and the data (name, folder, an image folder's content key)
 *   metrics.jsonl      one line per training step ({kind: 'train'}) and per evaluation ({kind: 'eval'})
 *   checkpoint.ckpt    the latest state (written atomically at each epoch end and on interruption)
 *   samples/epoch-NNN.png  a sample grid per epoch
 *   loss-curves.svg    loss terms over steps and test metrics per epoch (report.ts)
 *   latent/epoch-NNN.svg  the test set's codes, for presets with a 2-d latent
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { imageValues, type Split } from '../data/datasets.ts';
import { withRunRelativePath, type DataSpec } from '../data/sources.ts';
import { InputError } from '../errors.ts';
import { toImageGrid } from '../runtime/image.ts';
import { encodePng } from '../runtime/png.ts';
import { writeAtomic } from '../node/files.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { Batch, Preset, PresetConfig, Trainable } from './preset.ts';
import { hashSeed, permutation, StepRandom } from './random.ts';
import { optimizerSteps, stateTensors } from './run-state.ts';
import { checkSchedule, scheduledLearningRate } from './schedule.ts';
import { checkThreads, DataParallel } from './data-parallel.ts';
import type { ReplicaSync, StepOrder } from './replica-sync.ts';
import { latentScatterSvg, lossCurvesSvg, parseMetrics } from './report.ts';

export interface RunConfig {
  preset: string;
  /** The dataset's short name: mnist, fashion-mnist, or an image folder's name. */
  dataset: string;
  /** Where the data is, so --resume needs nothing else (runs from before it: only `dataset`). */
  data?: DataSpec;
  config: PresetConfig;
  /** Learning-rate changes made on resuming (--lr, --final-lr), with the step each took effect. */
  scheduleChanges?: { step: number; learningRate: number; finalLearningRate?: number }[];
}

/**
 * Where a run stands; saved in every checkpoint. `step` and `epoch` are counts of what is done (steps,
 * whole epochs), so the epoch in progress is number `epoch + 1`: every epoch number shown or written
 * (console, metrics.jsonl, samples/epoch-NNN.png) counts from 1.
 */
export interface TrainerState {
  step: number;
  /** Whole epochs done. */
  epoch: number;
  /** Batches of the epoch in progress already done. */
  batchInEpoch: number;
  optimizerSteps: Record<string, number>;
  trainingMs: number;
}

export interface Progress {
  /** Steps done, this one included. */
  step: number;
  /** The epoch this step belongs to, counted from 1. */
  epoch: number;
  batchInEpoch: number;
  batchesPerEpoch: number;
  totalSteps: number;
  loss: Record<string, number>;
  samplesPerSecond: number;
}

export interface TrainOptions {
  runDir: string;
  preset: Preset;
  run: RunConfig;
  train: Split;
  test: Split;
  /** Stop (with a checkpoint) after this many steps in total, e.g. for quick runs and tests. */
  maxSteps?: number;
  /** Aborting stops after the current step and writes a checkpoint. */
  signal?: AbortSignal;
  /**
   * A new learning rate, and optionally a final one to decay to, from the step the run stands at;
   * recorded in config.json. The preset's defaults otherwise (or what the run was started with).
   */
  learningRate?: { start?: number; final?: number };
  /**
   * Train on this many threads, each on a share of every batch (data-parallel.ts); default 1. Only on
   * the edgevae, wasm and cpu backends. Changes the run's random draws, so a run repeats bit for bit
   * (and resumes so) for the same number of threads.
   */
  threads?: number;
  /** A module that exports `preset`, for the worker threads to import when it is not a built-in preset. */
  presetModule?: string;
  /**
   * With threads: the least time a thread waits for another inside a step before the run ends as
   * hung; the limit is also at least 20 times the slowest step so far. Default 60 s.
   */
  stallFloorMs?: number;
  /** Skip the per-epoch evaluation, pictures and charts (tests of the loop itself). */
  quiet?: boolean;
  onProgress?: (p: Progress) => void;
  /** After each epoch's evaluation, with the epoch's number (counted from 1). */
  onEpoch?: (epoch: number, metrics: Record<string, number>) => void;
  log?: (message: string) => void;
}

export interface TrainResult {
  state: TrainerState;
  /** True when stopped early (signal or maxSteps) rather than by finishing every epoch. */
  stopped: boolean;
  trainable: Trainable;
  /** Where it stopped, in words (position()). */
  position: string;
}

/** The checkpoint file in a run folder: present once a run has trained and stopped or finished an epoch. */
export const CHECKPOINT = 'checkpoint.ckpt';

/** Creates a fresh run folder with its config. */
export async function createRun(root: string, run: RunConfig): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(root, run.preset, stamp);
  await mkdir(join(dir, 'samples'), { recursive: true });
  // Its data's place relative to the run too (in `run` itself, which later rewrites of config.json write).
  if (run.data) run.data = withRunRelativePath(run.data, dir);
  await writeRunConfig(dir, run);
  return dir;
}

/** Writes (or rewrites) a run folder's config.json. */
async function writeRunConfig(dir: string, run: RunConfig): Promise<void> {
  await writeAtomic(join(dir, 'config.json'), new TextEncoder().encode(JSON.stringify(run, null, 2) + '\n'));
}

/** Reads a run folder's config, for --resume and export. */
export async function readRun(dir: string): Promise<RunConfig> {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new InputError(`${dir} is not a run folder: it has no config.json`);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RunConfig;
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Restores a run's latest checkpoint into `trainable`; returns its state (or the start state). */
export async function restore(dir: string, trainable: Trainable): Promise<TrainerState> {
  const path = join(dir, CHECKPOINT);
  if (!existsSync(path)) return { step: 0, epoch: 0, batchInEpoch: 0, optimizerSteps: {}, trainingMs: 0 };
  const state = await loadCheckpoint<TrainerState>(path, stateTensors(trainable));
  for (const [key, t] of Object.entries(state.optimizerSteps)) trainable.optimizers[key].t = t;
  return state;
}

async function checkpoint(dir: string, trainable: Trainable, state: TrainerState): Promise<void> {
  await saveCheckpoint(join(dir, CHECKPOINT), { ...state, optimizerSteps: optimizerSteps(trainable) }, stateTensors(trainable));
}

/** Where a run stands, in words: "epoch 3 of 20, 45 of its 600 batches done". */
export function position(state: Pick<TrainerState, 'epoch' | 'batchInEpoch'>, batchesPerEpoch: number, epochs: number): string {
  if (state.epoch >= epochs) return `all ${epochs} epochs done`;
  return `epoch ${state.epoch + 1} of ${epochs}, ${state.batchInEpoch} of its ${batchesPerEpoch} batches done`;
}

/**
 * Drops metric lines past the checkpoint, so a resumed run does not repeat them. A file written
 * before epochs were counted from 1 in it (its first epoch is 0) has its epochs renumbered, so the
 * lines the resumed run adds continue it.
 */
async function trimMetrics(dir: string, step: number): Promise<void> {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return;
  const kept: { kind: string; step: number; epoch: number }[] = [];
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    let entry: { kind: string; step: number; epoch: number };
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a line cut short by a crash
    }
    if (entry.kind === 'train' ? entry.step < step : entry.step <= step) kept.push(entry);
  }
  const fromZero = kept.some((entry) => entry.epoch === 0);
  const lines = kept.map((entry) => JSON.stringify(fromZero ? { ...entry, epoch: entry.epoch + 1 } : entry) + '\n');
  await writeAtomic(path, new TextEncoder().encode(lines.join('')));
}

/** The images and labels of `indices` as one batch of tensors. */
function gatherBatch(split: Split, indices: Uint32Array): Batch {
  const size = imageValues(split);
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  indices.forEach((index, i) => {
    images.set(split.images.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = split.labels[index];
  });
  return { x: tf.tensor2d(images, [indices.length, size]), labels: tf.tensor1d(labels, 'int32'), indices };
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { runDir, preset, train: trainSplit, signal } = options;
  const run = structuredClone(options.run); // a learning-rate change below must not reach the caller's copy
  const { config } = run;
  const log = options.log ?? (() => {});
  const change = options.learningRate;
  if (change?.start !== undefined) config.learningRate = change.start;
  if (change?.final !== undefined) config.finalLearningRate = change.final;
  checkSchedule(config);
  preset.check?.(config);
  const threads = options.threads ?? 1;
  checkThreads(threads, config.batchSize, tf.getBackend());
  const trainable = preset.create(config);
  const state = await restore(runDir, trainable);
  const batchesPerEpoch = Math.floor(trainSplit.count / config.batchSize);
  if (batchesPerEpoch < 1) throw new InputError(`batch size ${config.batchSize} exceeds the ${trainSplit.count} training images`);
  if (state.step > 0) log(`resuming ${runDir} at step ${state.step} (${position(state, batchesPerEpoch, config.epochs)})`);
  if (change) await recordScheduleChange(runDir, run, state.step, log);
  await trimMetrics(runDir, state.step);
  const totalSteps = Math.min(config.epochs * batchesPerEpoch, options.maxSteps ?? Infinity);
  const metricsPath = join(runDir, 'metrics.jsonl');
  const replicas = threads > 1 ? await DataParallel.start({ threads, preset, presetModule: options.presetModule, config, trainable, train: trainSplit, log, stallFloorMs: options.stallFloorMs }) : undefined;
  let rate = 0;
  // With threads the moments live in shared memory, a slice per replica: gather them before saving.
  const saveCheckpoint = async () => {
    replicas?.collectMoments();
    await checkpoint(runDir, trainable, state);
  };

  try {
    while (state.epoch < config.epochs) {
      const batchOrder = permutation(trainSplit.count, hashSeed(config.seed, state.epoch));
      while (state.batchInEpoch < batchesPerEpoch) {
        if (state.step >= totalSteps || signal?.aborted) {
          await saveCheckpoint();
          return { state, stopped: true, trainable, position: position(state, batchesPerEpoch, config.epochs) };
        }
        const learningRate = scheduledLearningRate(config, state.step, config.epochs * batchesPerEpoch);
        const start = performance.now();
        const indices = batchOrder.subarray(state.batchInEpoch * config.batchSize, (state.batchInEpoch + 1) * config.batchSize);
        const order: StepOrder = { step: state.step, epoch: state.epoch, learningRateScale: learningRate / config.learningRate, indices };
        replicas?.order(order);
        const loss = trainShare(trainable, trainSplit, order, config.seed, replicas?.sync);
        for (const [term, value] of Object.entries(loss)) {
          if (!Number.isFinite(value)) throw new InputError(`training diverged at step ${state.step}: ${term} is ${value}; try a lower --lr`);
        }
        const elapsed = performance.now() - start;
        state.trainingMs += elapsed;
        const instant = config.batchSize / (elapsed / 1000);
        rate = rate === 0 ? instant : 0.9 * rate + 0.1 * instant;
        const scheduled = config.finalLearningRate === undefined ? {} : { learningRate };
        const parallel = threads > 1 ? { threads } : {};
        await appendFile(metricsPath, JSON.stringify({ kind: 'train', step: state.step, epoch: state.epoch + 1, samplesPerSecond: Math.round(instant), ...parallel, ...scheduled, loss }) + '\n');
        state.step++;
        state.batchInEpoch++;
        options.onProgress?.({ step: state.step, epoch: state.epoch + 1, batchInEpoch: state.batchInEpoch, batchesPerEpoch, totalSteps, loss, samplesPerSecond: rate });
      }
      await finishEpoch(options, trainable, state);
      state.epoch++;
      state.batchInEpoch = 0;
      await saveCheckpoint();
    }
    return { state, stopped: false, trainable, position: position(state, batchesPerEpoch, config.epochs) };
  } catch (error) {
    throw replicas ? await replicas.failure(error) : error;
  } finally {
    await replicas?.close();
  }
}

/**
 * One training step of one replica on its share of the batch `order.indices`: on one thread, the
 * whole batch, with the run's random streams. Returns the loss terms; with `sync`, the whole batch's.
 * The worker threads of data-parallel training run the same.
 */
export function trainShare(trainable: Trainable, split: Split, order: StepOrder, seed: number, sync?: ReplicaSync): Record<string, number> {
  for (const optimizer of Object.values(trainable.optimizers)) optimizer.learningRateScale = order.learningRateScale;
  const batch = gatherBatch(split, sync ? sync.ownShare(order.indices) : order.indices);
  let loss: Record<string, number>;
  try {
    loss = trainable.trainStep(batch, { step: order.step, epoch: order.epoch, random: new StepRandom(seed, order.step, sync?.replica), train: split });
  } finally {
    tf.dispose([batch.x, batch.labels]);
  }
  return sync ? sync.endStep(loss) : loss;
}

/** Writes the run's new learning rates to config.json, decaying from `step` on. */
async function recordScheduleChange(runDir: string, run: RunConfig, step: number, log: (message: string) => void): Promise<void> {
  const { config } = run;
  if (config.finalLearningRate !== undefined) config.decayFromStep = step;
  const { finalLearningRate } = config;
  run.scheduleChanges = [...(run.scheduleChanges ?? []), { step, learningRate: config.learningRate, ...(finalLearningRate === undefined ? {} : { finalLearningRate }) }];
  await writeRunConfig(runDir, run);
  const decay = finalLearningRate === undefined ? '' : `, decaying along a cosine to ${finalLearningRate} by the last epoch`;
  log(`learning rate ${config.learningRate} from step ${step}${decay}`);
}

/** Evaluation, a sample grid and charts at the end of an epoch. */
async function finishEpoch(options: TrainOptions, trainable: Trainable, state: TrainerState): Promise<void> {
  if (options.quiet) return;
  const { runDir, test, run } = options;
  const epoch = state.epoch + 1; // the one that just ended, counted from 1
  const metrics = await trainable.evaluate(test);
  await appendFile(join(runDir, 'metrics.jsonl'), JSON.stringify({ kind: 'eval', step: state.step, epoch, metrics }) + '\n');
  const { images, columns } = trainable.sampleGrid(hashSeed(run.config.seed, 0xe9));
  const grid = toImageGrid(images, { shape: trainable.decoder().outputShape, columns });
  const name = `epoch-${String(epoch).padStart(3, '0')}`;
  await writeAtomic(join(runDir, 'samples', `${name}.png`), encodePng(grid));
  const title = `${run.preset}, ${run.dataset}`;
  const lines = parseMetrics(await readFile(join(runDir, 'metrics.jsonl'), 'utf8'));
  await writeAtomic(join(runDir, 'loss-curves.svg'), new TextEncoder().encode(await lossCurvesSvg(lines, title)));
  if (trainable.latentCodes) {
    const codes = trainable.latentCodes(test);
    await mkdir(join(runDir, 'latent'), { recursive: true });
    const svg = await latentScatterSvg(codes, test.labels, `${title}: test-set codes after epoch ${epoch}`);
    await writeAtomic(join(runDir, 'latent', `${name}.svg`), new TextEncoder().encode(svg));
  }
  options.onEpoch?.(epoch, metrics);
}
