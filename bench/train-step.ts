/**
 * Training throughput per TensorFlow.js backend: samples/s of one training step (forward, backward,
 * Adam update) of a dense 784-1000-1000-2-1000-1000-784 autoencoder at batch 100, on random inputs.
 *
 * Run: node --import tsx bench/train-step.ts [--backends edgevae,wasm,cpu] [--steps N]
 */
import { Command } from 'commander';
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import { integer, list, oneOf } from '../src/cli/options.ts';
import { BACKEND_CHOICES, selectBackend, type BackendChoice } from '../src/train/backend.ts';

const values = new Command('bench/train-step.ts')
  .description('samples/s of a dense autoencoder training step at batch 100, per TensorFlow.js backend')
  .option('--backends <names>', 'backends (comma-separated)', list(oneOf(BACKEND_CHOICES, 'backend')), ['edgevae', 'wasm', 'cpu'] as BackendChoice[])
  .option('--steps <n>', 'timed steps (a fifth of them on cpu)', integer(1, 100_000), 10)
  .parse()
  .opts<{ backends: BackendChoice[]; steps: number }>();
const BATCH = 100;
const SIZES = [784, 1000, 1000, 2, 1000, 1000, 784];

for (const choice of values.backends) {
  const { tf, description } = await selectBackend(choice);
  const model = tf.sequential();
  for (let i = 1; i < SIZES.length; i++) {
    const last = i === SIZES.length - 1;
    const bottleneck = SIZES[i] === 2;
    model.add(tf.layers.dense({ units: SIZES[i], activation: last ? 'sigmoid' : bottleneck ? 'linear' : 'relu', ...(i === 1 ? { inputShape: [SIZES[0]] } : {}) }));
  }
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([BATCH, 784]);
  const step = () => {
    const loss = optimizer.minimize(() => tf.losses.meanSquaredError(x, model.apply(x) as Tensor) as Scalar, true);
    loss!.dataSync(); // wait for the step to finish
    loss!.dispose();
  };
  step(); // warm up: kernel compilation, weight allocation
  step();
  const steps = choice === 'cpu' ? Math.max(2, Math.round(values.steps / 5)) : values.steps;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) step();
  const seconds = (performance.now() - t0) / 1000;
  const params = model.countParams();
  const flopsPerSample = 6 * params; // forward 2 flops per weight, backward 4
  const rate = (steps * BATCH) / seconds;
  console.log(
    `${description}: ${rate.toFixed(1)} samples/s (${((seconds / steps) * 1000).toFixed(0)} ms/step of ${BATCH}, ${steps} steps; ` +
      `${(params / 1e6).toFixed(2)}M params, ~${((rate * flopsPerSample) / 1e9).toFixed(2)} GFLOP/s)`,
  );
  x.dispose();
  model.dispose();
  optimizer.dispose();
}
