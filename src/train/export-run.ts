/** Exports the decoder of a training run (its latest checkpoint) with the run's test metrics in the metadata. */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/datasets.ts';
import { triangleSize, type DType, type MixturePrior } from '../format/spec.ts';
import { InputError } from '../errors.ts';
import { exportModel } from '../export/export-model.ts';
import { fitMixture, priorLogLikelihood } from './latent-prior.ts';
import type { Trainable } from './preset.ts';
import { stateTensors } from './run-state.ts';
import { getPreset, PRESETS } from './presets/index.ts';
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

export interface PriorFitOptions {
  /** Gaussians in the mixture. */
  components: number;
  /** The run's dataset: the prior is fitted to the training split's codes and scored on the test split's. */
  dataset: Dataset;
  /** Seeds the codes' posterior draws and the fit's initial means. Default 1. */
  seed?: number;
  /** Progress lines. */
  log?: (message: string) => void;
}

/** What the fitted prior is recorded with in the file's metrics, in nats per code. */
export interface PriorFitMetrics {
  priorComponents: number;
  priorTrainLogLikelihood: number;
  priorTestLogLikelihood: number;
  /** The test codes under N(0, I), the prior the model was trained with: how much closer the fit is. */
  standardNormalTestLogLikelihood: number;
}

export async function exportRun(runDir: string, dtype: DType, priorFit?: PriorFitOptions): Promise<Uint8Array> {
  const run = await readRun(runDir);
  if (!existsSync(join(runDir, 'checkpoint.ckpt'))) throw new InputError(`${runDir} has no checkpoint yet: train it for at least one step`);
  const preset = getPreset(run.preset);
  const trainable = preset.create(run.config);
  const state = await restore(runDir, trainable);
  const { model, outputShape, labelInput, priorStddev } = trainable.decoder();
  const metrics = await lastEvalMetrics(runDir);
  const fitted = priorFit && fitPrior(trainable, run.preset, priorFit);
  return exportModel(model, {
    dtype,
    labelInput,
    meta: {
      output: { shape: outputShape },
      preset: run.preset,
      dataset: run.dataset,
      ...(metrics || fitted ? { metrics: { ...metrics, ...fitted?.metrics } } : {}),
      ...(fitted ? { prior: fitted.prior } : {}),
      ...(priorStddev === undefined || priorStddev === 1 ? {} : { priorStddev }),
      trainedSteps: state.step,
      trainedEpochs: state.epoch,
    },
  });
}

/**
 * A run's latest checkpoint evaluated on the test split of its data: the preset's own metrics
 * (reconstruction error and negative ELBO for the VAEs), no judge involved.
 */
export async function evaluateRun(runDir: string, dataset: Dataset): Promise<{ metrics: Record<string, number>; step: number; epoch: number; testImages: number }> {
  const run = await readRun(runDir);
  if (!existsSync(join(runDir, 'checkpoint.ckpt'))) throw new InputError(`${runDir} has no checkpoint yet: train it for at least one step`);
  const trainable = getPreset(run.preset).create(run.config);
  try {
    const state = await restore(runDir, trainable);
    return { metrics: await trainable.evaluate(dataset.test), step: state.step, epoch: state.epoch, testImages: dataset.test.count };
  } finally {
    tf.dispose([...stateTensors(trainable).values()]);
  }
}

/** Presets whose trainable can give codes to fit a prior to (for an error message: it builds each one). */
function presetsWithPriorCodes(): string[] {
  return Object.values(PRESETS)
    .filter((p) => {
      const trainable = p.create(p.defaults);
      tf.dispose([...stateTensors(trainable).values()]);
      return trainable.priorCodes !== undefined;
    })
    .map((p) => p.name);
}

/** Encodes the dataset and fits the mixture to the training codes. */
function fitPrior(trainable: Trainable, preset: string, options: PriorFitOptions): { prior: MixturePrior; metrics: PriorFitMetrics } {
  if (!trainable.priorCodes) {
    throw new InputError(`the ${preset} preset gives no codes to fit a prior to (presets that do: ${presetsWithPriorCodes().join(', ')})`);
  }
  const { dataset, components, seed = 1, log = () => {} } = options;
  const latentSize = trainable.decoder().model.inputs[0].shape[1] as number;
  log(`encoding the ${dataset.train.count} training and ${dataset.test.count} test images`);
  const trainCodes = trainable.priorCodes(dataset.train, seed);
  const testCodes = trainable.priorCodes(dataset.test, seed + 1);
  log(`fitting ${components} Gaussians to ${dataset.train.count} codes of ${latentSize} values`);
  const fit = fitMixture(trainCodes, latentSize, components, {
    seed,
    onIteration: (i, ll) => {
      if (i === 1 || i % 10 === 0) log(`  iteration ${i}: mean log-likelihood ${ll.toFixed(4)} nats`);
    },
  });
  const metrics: PriorFitMetrics = {
    priorComponents: fit.prior.weights.length,
    priorTrainLogLikelihood: fit.logLikelihood,
    priorTestLogLikelihood: priorLogLikelihood(fit.prior, testCodes, latentSize),
    standardNormalTestLogLikelihood: priorLogLikelihood(standardNormal(latentSize), testCodes, latentSize),
  };
  log(`fitted in ${fit.iterations} iterations: test codes ${metrics.priorTestLogLikelihood.toFixed(3)} nats each (under N(0, I): ${metrics.standardNormalTestLogLikelihood.toFixed(3)})`);
  return { prior: fit.prior, metrics };
}

/** N(0, I) as a one-component mixture. */
function standardNormal(latentSize: number): MixturePrior {
  const factor = new Array<number>(triangleSize(latentSize)).fill(0);
  for (let i = 0; i < latentSize; i++) factor[triangleSize(i + 1) - 1] = 1;
  return { type: 'gaussianMixture', weights: [1], means: [new Array(latentSize).fill(0)], choleskyFactors: [factor] };
}
