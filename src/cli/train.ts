/** `edgevae train`: runs a preset with a progress bar; Ctrl-C saves a checkpoint; --resume continues. */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { loadDataset } from '../data/datasets.ts';
import { InputError } from '../errors.ts';
import { selectBackend, type BackendChoice } from '../train/backend.ts';
import { getPreset, PRESETS } from '../train/presets/index.ts';
import type { PresetConfig } from '../train/preset.ts';
import { checkSchedule } from '../train/schedule.ts';
import { checkThreads } from '../train/data-parallel.ts';
import { CHECKPOINT, createRun, readRun, train, type Progress, type RunConfig } from '../train/trainer.ts';

export interface TrainCommandOptions {
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
  data?: string;
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

/** The run's folder and configuration: a new one, or the one --resume names; refused (before any folder is made) when the options do not fit. */
async function prepareRun(o: TrainCommandOptions, backend: string, loadData: () => Promise<unknown>): Promise<{ runDir: string; run: RunConfig }> {
  if (o.resume) {
    // The configuration is part of the run: changing it would break the exact continuation. The
    // learning rate may change; the trainer records from which step in config.json.
    const fixed = [o.preset && '--preset', o.batchSize && '--batch-size', o.seed !== undefined && '--seed'].filter(Boolean);
    if (fixed.length) throw new InputError(`--resume continues a run with its own configuration; drop ${fixed.join(', ')} (only --epochs, --steps, --lr, --final-lr, --backend, --threads and --data may change)`);
    const run = await readRun(o.resume);
    if (!existsSync(join(o.resume, CHECKPOINT))) {
      throw new InputError(`${o.resume} has no checkpoint: it never trained a step (its start failed?). Start a new run with --preset ${run.preset}`);
    }
    if (o.epochs) run.config.epochs = o.epochs;
    checkThreads(o.threads, run.config.batchSize, backend);
    return { runDir: o.resume, run };
  }
  if (!o.preset) throw new InputError(`give --preset NAME (or --resume RUN_DIR); presets:\n${PRESET_HELP}`);
  const preset = getPreset(o.preset);
  const config: PresetConfig = {
    ...preset.defaults,
    ...(o.epochs ? { epochs: o.epochs } : {}),
    ...(o.batchSize ? { batchSize: o.batchSize } : {}),
    ...(o.lr ? { learningRate: o.lr } : {}),
    ...(o.finalLr !== undefined ? { finalLearningRate: o.finalLr } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
  checkSchedule(config); // before the run folder is made
  checkThreads(o.threads, config.batchSize, backend);
  const run: RunConfig = { preset: preset.name, dataset: 'mnist', config };
  // The data first: a start that fails on it leaves no run folder behind.
  await loadData();
  return { runDir: await createRun(o.runs, run), run };
}

export async function trainCommand(o: TrainCommandOptions): Promise<void> {
  const log = (m: string) => console.log(m);
  const backend = await selectBackend(o.backend, log);
  const cores = availableParallelism();
  if (o.threads > cores) log(`warning: --threads ${o.threads} is more than this machine's ${cores} cores; the threads will share them and run slower, not faster`);
  let loaded: Awaited<ReturnType<typeof loadDataset>> | undefined;
  const loadData = async () => (loaded ??= await loadDataset('mnist', { dir: o.data, log }));
  const { runDir, run } = await prepareRun(o, backend.name, loadData);
  const preset = getPreset(run.preset);
  const data = await loadData();
  log(`training ${preset.name} on ${backend.description}: ${run.config.epochs} epochs of batch ${run.config.batchSize}; run folder ${runDir}`);

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

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];
const SIGNAL_NUMBERS: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
