/**
 * TensorFlow.js as a benchmark peer (Node): the edgevae model rebuilt as a LayersModel (toLayersModel)
 * on tfjs-backend-wasm (one thread, SIMD) or tfjs-backend-cpu, run with
 * `LayersModel.predict(x, { batchSize })` so a batch is one pass, and the output read back.
 *
 * TensorFlow.js has one active backend per process. Each model is built with its backend active (so
 * its weights live there), and each call switches to that backend when another is active: once set
 * up, `tf.setBackend` switches synchronously, so the switch happens at most once per benchmark case.
 */
import * as tf from '@tensorflow/tfjs';
import { UnsupportedError } from '../errors.ts';
import { toLayersModel } from '../export/tfjs-model.ts';
import { selectBackend } from '../train/backend.ts';
import type { Contender, PreparedModel } from './contender.ts';

export type TfjsBackend = 'wasm' | 'cpu';

const PACKAGES: Record<TfjsBackend, string> = { wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-backend-cpu' };

/** Activates a backend, initialising it the first time, with tfjs-backend-wasm limited to one thread. */
async function activate(backend: TfjsBackend): Promise<void> {
  if (tf.findBackend(backend)) {
    await tf.setBackend(backend);
    return;
  }
  if (backend === 'wasm') {
    let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
    try {
      wasm = await import('@tensorflow/tfjs-backend-wasm');
    } catch (err) {
      throw new UnsupportedError(`${PACKAGES.wasm} is not installed (or does not load: ${(err as Error).message})`, { cause: err });
    }
    // Under Node tfjs-backend-wasm never starts threads; this says so explicitly, and holds in browsers too.
    wasm.setThreadsCount(1);
  }
  await selectBackend(backend);
}

/** Makes `backend` the active one; synchronous once it has been initialised. */
function useBackend(backend: TfjsBackend): void {
  if (tf.getBackend() === backend) return;
  void tf.setBackend(backend);
  if (tf.getBackend() !== backend) throw new UnsupportedError(`TensorFlow.js did not switch to its ${backend} backend synchronously`);
}

export function tfjsContender(backend: TfjsBackend): Contender {
  return {
    name: `${PACKAGES[backend]} f32`,
    engine: PACKAGES[backend],
    precision: 'f32',
    async prepare(model: Uint8Array): Promise<PreparedModel> {
      await activate(backend);
      const layers = toLayersModel(model);
      return {
        forBatch: ({ batch, latents, latentSize, oneHot, classes }) => {
          useBackend(backend);
          const inputs = [tf.tensor2d(latents, [batch, latentSize]), ...(oneHot ? [tf.tensor2d(oneHot, [batch, classes])] : [])];
          const x = inputs.length === 1 ? inputs[0] : inputs;
          return {
            run: () => {
              useBackend(backend);
              const y = layers.predict(x, { batchSize: batch }) as tf.Tensor;
              const out = y.dataSync() as Float32Array;
              y.dispose();
              return out;
            },
            dispose: () => tf.dispose(inputs),
          };
        },
        dispose: () => {
          layers.dispose();
        },
      };
    },
  };
}
