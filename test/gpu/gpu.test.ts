// `npm run test:gpu`, for a machine with CUDA and @tensorflow/tfjs-node-gpu installed: checks the GPU
// backend is active, trains conv-vae for 200 steps on real MNIST, exports the decoder and checks the
// edgevae runtime's samples against TensorFlow.js on the trained decoder. Elsewhere it skips, saying why.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../src/train/backend.ts';
import { MNIST_DIR } from '../helpers/mnist.ts';

const gpu = await selectBackend('node-gpu').catch((err: Error) => err);
const skip = gpu instanceof Error ? `no GPU backend here: ${gpu.message}` : false;

describe('GPU training (conv-vae)', { skip }, () => {
  it('runs on the GPU, trains 200 steps, and the exported decoder matches TensorFlow.js', { timeout: 30 * 60_000 }, async () => {
    if (gpu instanceof Error) return;
    const { tf } = gpu;
    const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
    assert.equal(tf.getBackend(), 'tensorflow');
    assert.equal(backend.isUsingGpuDevice, true, 'libtensorflow is not using a GPU device (is CUDA set up?)');

    const { loadDataset } = await import('../../src/data/datasets.ts');
    const { getPreset } = await import('../../src/train/presets/index.ts');
    const { createRun, train } = await import('../../src/train/trainer.ts');
    const { exportRun } = await import('../../src/train/export-run.ts');
    const { Decoder } = await import('../../src/index.ts');
    const dataDir = MNIST_DIR;
    const data = await loadDataset('mnist', { dir: dataDir });
    const preset = getPreset('conv-vae');
    const run = { preset: preset.name, dataset: 'mnist', config: { ...preset.defaults, epochs: 1 } };
    const root = mkdtempSync(join(tmpdir(), 'edgevae-gpu-'));
    try {
      const runDir = await createRun(root, run);
      const result = await train({ runDir, preset, run, train: data.train, test: data.test, maxSteps: 200, quiet: true });
      assert.equal(result.state.step, 200);
      const file = await exportRun(runDir, 'f32');
      const decoder = await Decoder.load(file);
      const latents = decoder.sampleLatents(64, { seed: 7 });
      const ours = decoder.decode(latents);
      const { model } = result.trainable.decoder();
      const theirs = (model.predict(tf.tensor2d(latents, [64, decoder.info.latentSize])) as import('@tensorflow/tfjs').Tensor).dataSync();
      let diff = 0;
      for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs(ours[i] - theirs[i]));
      assert.ok(diff <= 1e-4, `max abs difference ${diff} between the runtime and TensorFlow.js (GPU)`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
