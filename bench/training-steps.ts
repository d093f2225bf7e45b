/** Timed training steps of a preset, for the training benchmarks (bench/train-presets.ts, bench/train-builds.ts). */
import type { Dataset } from '../src/data/datasets.ts';
import { PRESETS } from '../src/train/presets/index.ts';
import { createRun, train } from '../src/train/trainer.ts';

/**
 * Runs `steps` steps of the named preset at its default batch on the active TensorFlow.js backend, in
 * a new run under `root`, calling afterStep with each step's index and milliseconds. What afterStep
 * does is not timed. Returns the batch size.
 */
export async function timeTrainingSteps(
  name: string, data: Dataset, root: string, steps: number, threads: number,
  afterStep: (index: number, ms: number) => void,
): Promise<number> {
  const preset = PRESETS[name];
  const run = { preset: name, dataset: 'mnist', config: { ...preset.defaults } };
  let index = 0;
  let last = performance.now();
  await train({
    runDir: await createRun(root, run), preset, run, train: data.train, test: data.test, quiet: true, maxSteps: steps, threads,
    onProgress: () => {
      afterStep(index++, performance.now() - last);
      last = performance.now();
    },
  });
  return run.config.batchSize;
}
