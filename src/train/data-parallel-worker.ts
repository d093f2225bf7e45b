/**
 * Entry of a data-parallel worker thread (started by data-parallel.ts): replica 1..N-1 of a run. It
 * activates the main thread's backend (the same build of edgevae's kernels), builds the same preset,
 * takes the main thread's weights and optimizer state, then trains on its share of each batch the
 * main thread orders, until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { errorToData } from '../runtime/pool-protocol.ts';
import { InputError, RuntimeError } from '../errors.ts';
import { selectBackend } from './backend.ts';
import type { BackendIdentity, WorkerReport, WorkerSetup } from './data-parallel.ts';
import { EDGEVAE_BACKEND, edgevaeBackendSimd, registerEdgevaeBackend } from './edgevae-backend.ts';
import type { Preset, Trainable } from './preset.ts';
import { getPreset } from './presets/index.ts';
import { ReplicaAborted, ReplicaSync } from './replica-sync.ts';
import { stateTensors } from './run-state.ts';
import { trainShare } from './trainer.ts';

const port = parentPort;
if (!port) throw new Error('data-parallel-worker is the entry file of a thread started by data-parallel training, not a script to run');
const setup = workerData as WorkerSetup;
// Held for the thread's whole life: its other end, in the watchdog thread, closes when this thread ends.
const watchdogChannel = setup.watchdogPort;
watchdogChannel.unref();
const report = (message: WorkerReport) => port.postMessage(message);

const sync = new ReplicaSync(setup.buffers, setup.replica);
let step: number | undefined;
try {
  const description = await activate(setup.backend);
  const trainable = (await loadPreset(setup.preset, setup.presetModule)).create(setup.config);
  takeState(trainable, setup.state);
  setup.state.tensors.clear(); // a second copy of the weights and moments, not needed again
  sync.attach(trainable);
  report({ kind: 'ready', description });
  for (let order = sync.nextOrder(); order; order = sync.nextOrder()) {
    step = order.step;
    trainShare(trainable, setup.train, order, setup.config.seed, sync);
  }
  report({ kind: 'done' });
} catch (error) {
  // Another replica failed first: it reports, this one just ends.
  if (!(error instanceof ReplicaAborted)) {
    report({ kind: 'failed', error: errorToData(error), step });
    sync.abort();
  }
}

/** Activates the backend the main thread trains on, with the same build of edgevae's kernels; describes it. */
async function activate(backend: BackendIdentity): Promise<string> {
  if (backend.name === EDGEVAE_BACKEND) await registerEdgevaeBackend(backend.simd!);
  const selected = await selectBackend(backend.name as 'edgevae' | 'wasm' | 'cpu');
  const simd = backend.name === EDGEVAE_BACKEND ? edgevaeBackendSimd() : undefined;
  if (selected.name !== backend.name || simd !== backend.simd) {
    throw new RuntimeError(`this worker thread runs ${selected.description}, not the main thread's backend ${backend.name}${backend.simd ? ` (${backend.simd} SIMD)` : ''}`);
  }
  return selected.description;
}

/** The preset called `name`: a built-in one, or one `module` exports. */
async function loadPreset(name: string, module: string | undefined): Promise<Preset> {
  if (module === undefined) return getPreset(name);
  const exports = (await import(module)) as Record<string, unknown>;
  const preset = Object.values(exports).find((value): value is Preset => (value as Preset | null)?.name === name && typeof (value as Preset).create === 'function');
  if (!preset) throw new InputError(`${module} exports no preset named ${JSON.stringify(name)}`);
  return preset;
}

/** Sets the weights, optimizer moments and step counts to the main thread's. */
function takeState(trainable: Trainable, state: WorkerSetup['state']): void {
  const tensors = stateTensors(trainable);
  const mine = [...tensors.keys()].join();
  const theirs = [...state.tensors.keys()].join();
  if (mine !== theirs) throw new RuntimeError(`this worker thread's ${setup.preset} has other tensors than the main thread's`);
  for (const [key, variable] of tensors) {
    const value = tf.tensor(state.tensors.get(key)!, variable.shape, 'float32');
    variable.assign(value);
    value.dispose();
  }
  for (const [key, t] of Object.entries(state.optimizerSteps)) trainable.optimizers[key].t = t;
}
