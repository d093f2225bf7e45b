/** Exports the decoder of a training run (its latest checkpoint) with the run's test metrics in the metadata. */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../format/spec.ts';
import { InputError } from '../errors.ts';
import { exportModel } from '../export/export-model.ts';
import { getPreset } from './presets/index.ts';
import { parseMetrics } from './report.ts';
import { readRun, restore } from './trainer.ts';

/** The last evaluation's metrics of a run, or undefined before its first epoch ended. */
export async function lastEvalMetrics(runDir: string): Promise<Record<string, number> | undefined> {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return undefined;
  const evals = parseMetrics(await readFile(path, 'utf8')).filter((l) => l.kind === 'eval');
  const last = evals.at(-1);
  return last && last.kind === 'eval' ? last.metrics : undefined;
}

export async function exportRun(runDir: string, dtype: DType): Promise<Uint8Array> {
  const run = await readRun(runDir);
  if (!existsSync(join(runDir, 'checkpoint.ckpt'))) throw new InputError(`${runDir} has no checkpoint yet: train it for at least one step`);
  const preset = getPreset(run.preset);
  const trainable = preset.create(run.config);
  const state = await restore(runDir, trainable);
  const { model, outputShape, labelInput } = trainable.decoder();
  const metrics = await lastEvalMetrics(runDir);
  return exportModel(model, {
    dtype,
    labelInput,
    meta: {
      output: { shape: outputShape },
      preset: run.preset,
      dataset: run.dataset,
      ...(metrics ? { metrics } : {}),
      trainedSteps: state.step,
      trainedEpochs: state.epoch,
    },
  });
}
