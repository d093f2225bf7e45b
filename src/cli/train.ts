/** `edgevae train`: runs a preset on MNIST, Fashion-MNIST or an image folder with a progress bar; Ctrl-C saves a checkpoint; --resume continues. */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Dataset } from '../data/datasets.ts';
import { loadRecordedData, loadRequestedData, type DataRequest, type LoadDataOptions } from '../data/sources.ts';
import { InputError } from '../errors.ts';
import { selectBackend, type BackendChoice } from '../train/backend.ts';
import { getPreset, PRESETS } from '../train/presets/index.ts';
import type { PresetConfig } from '../train/preset.ts';
import { checkSchedule } from '../train/schedule.ts';
import { checkThreads } from '../train/data-parallel.ts';
import { CHECKPOINT, createRun, readRun, train, type Progress, type RunConfig } from '../train/trainer.ts';

/** The data flags (--dataset, --data, --image-size, --channels, --test-split, --strict) are DataRequest's. */
export interface TrainCommandOptions extends DataRequest {
  preset?: string;
  resume?: string;
  epochs?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  finalLr?: number;
  seed?: number;
  backend: BackendChoice;
  threads: number;
  runs: string;
}

export const PRESET_HELP = Object.values(PRESETS)
  .map((p) => `  ${p.name.padEnd(15)} ${p.summary}`)
  .join('\n');

function formatLoss(loss: Record<string, number>): string {
  return Object.entries(loss)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4)}`)
    .join('  ');
}

/** The image shape and class count a preset builds for, from the data (config.json records them). */
function shapeSettings(dataset: Dataset): Pick<PresetConfig, 'imageSize' | 'channels' | 'classes'> {
  return { imageSize: dataset.train.rows, channels: dataset.train.channels, classes: dataset.classes.length };
}

/** A progress bar on stderr for decoding an image folder, started at the first file. */
function decodingBar(): { onProgress: (done: number, total: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar({ format: 'decoding images |{bar}| {percentage}% {value}/{total} | ETA {eta_formatted}', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    onProgress: (done, total) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => started && bar.stop(),
  };
}

/** Loads data with a progress bar while an image folder decodes. */
async function withDecodingBar<T>(load: (options: LoadDataOptions) => Promise<T>, log: (message: string) => void): Promise<T> {
  const bar = decodingBar();
  try {
    return await load({ log, onProgress: bar.onProgress });
  } finally {
    bar.stop();
  }
}

/**
 * The run's folder, configuration and data: a new run, or the one --resume names, whose data comes
 * from what it recorded. Refused (before any folder is made) when the options or the data do not fit.
 */
async function prepareRun(o: TrainCommandOptions, backend: string, log: (message: string) => void): Promise<{ runDir: string; run: RunConfig; data: Dataset }> {
  if (o.resume) {
    // The configuration is part of the run: changing it would break the exact continuation. The
    // learning rate may change; the trainer records from which step in config.json.
    const fixed = [
      o.preset && '--preset',
      o.batchSize && '--batch-size',
      o.seed !== undefined && '--seed',
      o.imageSize !== undefined && '--image-size',
      o.channels !== undefined && '--channels',
      o.testSplit !== undefined && '--test-split',
      o.strict && '--strict',
    ].filter(Boolean);
    if (fixed.length) throw new InputError(`--resume continues a run with its own configuration and data; drop ${fixed.join(', ')} (only --epochs, --steps, --lr, --final-lr, --backend and --threads may change, and --data or --dataset give the run's data folder if it moved)`);
    const run = await readRun(o.resume);
    if (!existsSync(join(o.resume, CHECKPOINT))) {
      throw new InputError(`${o.resume} has no checkpoint: it never trained a step (its start failed?). Start a new run with --preset ${run.preset}`);
    }
    if (o.epochs) run.config.epochs = o.epochs;
    checkThreads(o.threads, run.config.batchSize, backend);
    const data = await withDecodingBar((options) => loadRecordedData(run.data, run.dataset, { data: o.data, dataset: o.dataset, runDir: o.resume }, options), log);
    const recorded = { imageSize: 28, channels: 1, classes: 10, ...run.config };
    const found = shapeSettings(data);
    if ((['imageSize', 'channels', 'classes'] as const).some((key) => found[key] !== recorded[key])) {
      throw new InputError(`${o.resume} trained on ${recorded.imageSize}x${recorded.imageSize}x${recorded.channels} images of ${recorded.classes} classes, but its data now gives ${found.imageSize}x${found.imageSize}x${found.channels} of ${found.classes}`);
    }
    return { runDir: o.resume, run, data };
  }
  if (!o.preset) throw new InputError(`give --preset NAME (or --resume RUN_DIR); presets:\n${PRESET_HELP}`);
  const preset = getPreset(o.preset);
  const overrides: Partial<PresetConfig> = {
    ...(o.epochs ? { epochs: o.epochs } : {}),
    ...(o.batchSize ? { batchSize: o.batchSize } : {}),
    ...(o.lr ? { learningRate: o.lr } : {}),
    ...(o.finalLr !== undefined ? { finalLearningRate: o.finalLr } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
  const schedule = { ...preset.defaults, ...overrides } as PresetConfig;
  checkSchedule(schedule); // before the data is read and the run folder is made
  checkThreads(o.threads, schedule.batchSize, backend);
  // The data first: a start that fails on it leaves no run folder behind.
  const request = { dataset: o.dataset, data: o.data, imageSize: o.imageSize, channels: o.channels, testSplit: o.testSplit, strict: o.strict };
  const { dataset, spec, label } = await withDecodingBar((options) => loadRequestedData(request, options), log);
  const config: PresetConfig = { ...preset.defaults, ...shapeSettings(dataset), ...overrides };
  preset.check?.(config);
  if (dataset.train.count < config.batchSize) {
    throw new InputError(
      `too few images: the training split has ${dataset.train.count} (the test split holds ${dataset.test.count}), fewer than one batch of ${config.batchSize}; add images, or give --batch-size ${Math.max(1, dataset.train.count)} or less`,
    );
  }
  const run: RunConfig = { preset: preset.name, dataset: label, data: spec, config };
  return { runDir: await createRun(o.runs, run), run, data: dataset };
}

export async function trainCommand(o: TrainCommandOptions): Promise<void> {
  const log = (m: string) => console.log(m);
  const backend = await selectBackend(o.backend, log);
  const cores = availableParallelism();
  if (o.threads > cores) log(`warning: --threads ${o.threads} is more than this machine's ${cores} cores; the threads will share them and run slower, not faster`);
  const { runDir, run, data } = await prepareRun(o, backend.name, log);
  const preset = getPreset(run.preset);
  const shape = `${data.train.rows}x${data.train.cols}x${data.train.channels}`;
  log(`training ${preset.name} on ${backend.description}: ${run.config.epochs} epochs of batch ${run.config.batchSize}, ${data.train.count} training images of ${shape} from ${run.dataset}; run folder ${runDir}`);

  // Ctrl-C, a kill (SIGTERM) and a closed terminal (SIGHUP) all stop after the current step with a
  // checkpoint; a second signal leaves at once. Exit codes follow the shell's 128 + signal number.
  const controller = new AbortController();
  let exitCode = 0;
  const onInterrupt = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(exitCode);
    exitCode = 128 + SIGNAL_NUMBERS[signal as StopSignal];
    controller.abort();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onInterrupt);
  const bar = new cliProgress.SingleBar(
    { format: 'epoch {epoch} |{bar}| {percentage}% {value}/{total} | {loss} | {rate} samples/s | ETA {eta_formatted}', hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const onProgress = (p: Progress) => {
    const payload = { epoch: `${p.epoch}/${run.config.epochs}`, loss: formatLoss(p.loss), rate: Math.round(p.samplesPerSecond) };
    if (!started) {
      bar.start(p.totalSteps, p.step, payload);
      started = true;
    } else bar.update(p.step, payload);
  };
  try {
    const result = await train({
      runDir,
      preset,
      run,
      train: data.train,
      test: data.test,
      maxSteps: o.steps,
      threads: o.threads,
      ...(o.resume && (o.lr !== undefined || o.finalLr !== undefined) ? { learningRate: { start: o.lr, final: o.finalLr } } : {}),
      signal: controller.signal,
      onProgress,
      onEpoch: (epoch, metrics) => {
        bar.stop();
        started = false;
        log(`epoch ${epoch} test metrics: ${formatLoss(metrics)}`);
      },
      log,
    });
    bar.stop();
    if (result.stopped) {
      log(`stopped at step ${result.state.step} (${result.position}); checkpoint saved. Continue with: npx edgevae train --resume ${runDir}`);
      if (controller.signal.aborted) process.exitCode = exitCode;
    } else {
      log(`done: ${result.state.step} steps. Export the decoder with: npx edgevae export ${runDir} --dtype int8 --out ${join(runDir, 'decoder.evae')}`);
    }
  } finally {
    bar.stop();
    for (const signal of STOP_SIGNALS) process.off(signal, onInterrupt);
  }
}

export interface EvaluateRunOptions {
  run: string;
  data?: string;
  dataset?: string;
  json?: boolean;
}

/** `edgevae evaluate --run RUN_DIR`: the run's checkpoint on its test split (reconstruction error, negative ELBO), no judge. */
export async function evaluateRunCommand(o: EvaluateRunOptions): Promise<void> {
  const log = (message: string) => console.error(message);
  await selectBackend('auto', o.json ? () => {} : log);
  const run = await readRun(o.run);
  const data = await withDecodingBar((options) => loadRecordedData(run.data, run.dataset, { data: o.data, dataset: o.dataset, runDir: o.run }, options), log);
  const { evaluateRun } = await import('../train/export-run.ts');
  const result = await evaluateRun(o.run, data);
  if (o.json) {
    console.log(JSON.stringify({ preset: run.preset, dataset: run.dataset, ...result }, null, 2));
    return;
  }
  console.log(`run:            ${o.run} (${run.preset} on ${run.dataset}, step ${result.step}, ${result.epoch} epochs done)`);
  console.log(`test split:     ${result.testImages} images, means per image, one seeded z each`);
  for (const [name, value] of Object.entries(result.metrics)) console.log(`${(name + ':').padEnd(15)} ${Math.abs(value) >= 100 ? value.toFixed(2) : value.toPrecision(5)}`);
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];
const SIGNAL_NUMBERS: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
