/**
 * Learning-rate schedules. A run's configuration may carry `finalLearningRate`: the rate then falls
 * along a half cosine from `learningRate` at step `decayFromStep` (default 0) to `finalLearningRate`
 * at the run's last step. Without it the rate stays at `learningRate`, as in the tutorials.
 */
import { InputError } from '../errors.ts';
import type { PresetConfig } from './preset.ts';

/** Half a cosine from `start` (step 0) to `end` (step `total`). */
export function cosine(start: number, end: number, step: number, total: number): number {
  return end + 0.5 * (start - end) * (1 + Math.cos((Math.PI * Math.min(step, total)) / Math.max(1, total)));
}

/** The learning rate of `step` in a run of `totalSteps` steps. */
export function scheduledLearningRate(config: PresetConfig, step: number, totalSteps: number): number {
  const final = config.finalLearningRate;
  if (final === undefined) return config.learningRate;
  const from = config.decayFromStep ?? 0;
  if (step <= from) return config.learningRate;
  return cosine(config.learningRate, final, step - from, totalSteps - from);
}

/** Checks the schedule's settings, so a bad one fails before any training. */
export function checkSchedule(config: PresetConfig): void {
  if (!(config.learningRate > 0)) throw new InputError(`the learning rate must be a positive number, got ${config.learningRate}`);
  const final = config.finalLearningRate;
  if (final === undefined) return;
  if (typeof final !== 'number' || !(final >= 0) || final > config.learningRate) {
    throw new InputError(`the final learning rate must be a number from 0 to the learning rate (${config.learningRate}), got ${final}`);
  }
  const from = config.decayFromStep ?? 0;
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 0) throw new InputError(`decayFromStep must be a whole number of steps, got ${from}`);
}
