/**
 * Data-parallel training on several threads (`edgevae train --threads N`): N replicas of the run,
 * the main thread being replica 0 and N-1 worker threads (data-parallel-worker.ts) the others, each
 * with its own TensorFlow.js, the same backend and the same preset. Each step the main thread orders
 * the batch; every replica trains on its contiguous share; each optimizer phase all-reduces the
 * gradients (weighted by share size, so the result is the whole batch's mean-loss gradient up to
 * rounding), each replica applies Adam to its own slice of the parameters in shared memory, and
 * every replica copies the updated weights into its own. Shared memory and the update:
 * replica-sync.ts and replica-parameters.ts.
 *
 * Each replica draws its own noise (StepRandom's replica streams), so a run repeats and resumes bit
 * for bit for a given number of threads, not across numbers. A preset that draws extra data each
 * step draws a share-sized part on each replica: aae-semi's labelled batch is then N independent
 * draws from the labelled subset rather than one. Likewise a BatchNormalization layer normalizes
 * each share with the share's statistics in the step; its moving statistics (what evaluation,
 * checkpoints and the export use) are combined into the whole batch's after every step, the same on
 * every replica (replica-statistics.ts).
 *
 * Only for backends that use one core: edgevae, wasm and cpu. The main thread keeps everything else
 * (evaluation, pictures, checkpoints, metrics): it holds the whole weights as replica 0.
 */
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { setTimeout as delay } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs';
import type { Split } from '../data/datasets.ts';
import { InputError, RuntimeError } from '../errors.ts';
import { startModuleWorker } from '../node/module-worker.ts';
import type { ErrorData } from '../runtime/pool-protocol.ts';
import { EDGEVAE_BACKEND, edgevaeBackendSimd, type TrainSimd } from './edgevae-backend.ts';
import type { Preset, PresetConfig, Trainable } from './preset.ts';
import { PRESETS } from './presets/index.ts';
import { allocateShared, MAX_THREADS, ReplicaAborted, ReplicaSync, stalledLimitText, type SharedBuffers, type StepOrder } from './replica-sync.ts';
import type { WatchdogOrder } from './data-parallel-watchdog.ts';
import { optimizerSteps, stateTensors } from './run-state.ts';

/** The backends --threads spreads over cores: each uses one. tfjs-node's native backend uses them all already. */
export const DATA_PARALLEL_BACKENDS: readonly string[] = [EDGEVAE_BACKEND, 'wasm', 'cpu'];

/** How long a failed worker thread has to say why, and a stopped one to end, before it is ended. */
const GRACE_MS = 10_000;

/** The backend a replica trains on: TensorFlow.js's name, and for edgevae the build of its kernels. */
export interface BackendIdentity {
  name: string;
  simd?: TrainSimd;
}

/** What a worker thread is given (its workerData). */
export interface WorkerSetup {
  replica: number;
  buffers: SharedBuffers;
  backend: BackendIdentity;
  preset: string;
  /** A module exporting the preset, for presets outside the built-in ones. */
  presetModule?: string;
  config: PresetConfig;
  /** The training split, its images in shared memory. */
  train: Split;
  /** The main thread's weights and optimizer moments (stateTensors' keys) and optimizer step counts. */
  state: { tensors: Map<string, Float32Array>; optimizerSteps: Record<string, number> };
  /** Its end of the channel the watchdog thread watches. */
  watchdogPort: MessagePort;
}

/** What a worker thread posts to the main thread. */
export type WorkerReport = { kind: 'ready'; description: string } | { kind: 'failed'; error: ErrorData; step?: number } | { kind: 'done' };

export interface DataParallelOptions {
  threads: number;
  preset: Preset;
  /** A module exporting the preset, when it is not a built-in one (worker threads import it). */
  presetModule?: string;
  config: PresetConfig;
  /** The main thread's, already restored: the worker threads start from its state. */
  trainable: Trainable;
  train: Split;
  log: (message: string) => void;
  /** The least time a replica waits for another inside a step before the run ends as hung (replica-sync.ts; default 60 s). */
  stallFloorMs?: number;
}

/**
 * Refuses a thread count the run cannot use, with the reason: not an integer in 1..MAX_THREADS,
 * more threads than the batch has images, or a backend that uses every core already.
 */
export function checkThreads(threads: unknown, batchSize: number, backend: string): void {
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new InputError(`threads must be an integer in 1..${MAX_THREADS}, got ${JSON.stringify(threads)}`);
  }
  if (threads === 1) return;
  if (threads > batchSize) throw new InputError(`--threads ${threads} is more than the batch size ${batchSize}: each thread trains on a share of the batch, at least one image`);
  if (!DATA_PARALLEL_BACKENDS.includes(backend)) {
    throw new InputError(`--threads applies to the ${DATA_PARALLEL_BACKENDS.join(', ')} backends, which use one core each; the ${backend} backend already uses every core: drop --threads`);
  }
}

/** The main thread's side: its replica, the worker threads and the watchdog. */
export class DataParallel {
  private closed = false;

  private constructor(
    /** The main thread's side of the shared memory, as replica 0. */
    readonly sync: ReplicaSync,
    private readonly workers: WorkerReplica[],
    private readonly watchdog: Worker,
  ) {}

  /**
   * Starts the worker threads from the main thread's state; resolves once every one is ready to
   * train. The caller (train) has checked the thread count with checkThreads.
   */
  static async start(o: DataParallelOptions): Promise<DataParallel> {
    const backend = currentBackend();
    const { batchSize } = o.config;
    if (o.presetModule === undefined && PRESETS[o.preset.name] !== o.preset) {
      throw new InputError(`preset ${JSON.stringify(o.preset.name)} is not a built-in one: give presetModule, a module that exports it, for the worker threads to import`);
    }
    const buffers = allocateShared(o.threads, batchSize, o.trainable);
    const common = { buffers, backend, preset: o.preset.name, presetModule: o.presetModule, config: o.config, train: sharedSplit(o.train), state: await snapshot(o.trainable) };

    const watchdog = startModuleWorker(import.meta.url, './data-parallel-watchdog', { workerData: { control: buffers.control } });
    const sync = new ReplicaSync(buffers, 0, o.stallFloorMs);
    sync.attach(o.trainable);
    sync.shareState();
    const group = new DataParallel(sync, [], watchdog);
    let descriptions: string[];
    try {
      const watched: WatchdogOrder['ports'] = [];
      for (let replica = 1; replica < o.threads; replica++) {
        const { port1, port2 } = new MessageChannel();
        const setup: WorkerSetup = { ...common, replica, watchdogPort: port1 };
        group.workers.push(new WorkerReplica(replica, startModuleWorker(import.meta.url, './data-parallel-worker', { workerData: setup, transferList: [port1] })));
        watched.push({ replica, port: port2 });
      }
      const order: WatchdogOrder = { ports: watched };
      watchdog.postMessage(order, watched.map((w) => w.port));
      [, ...descriptions] = await Promise.all([watching(watchdog), ...group.workers.map((w) => w.ready)]);
    } catch (error) {
      await group.endThreads();
      throw error;
    }
    const others = o.threads - 1;
    o.log(
      `data-parallel: ${o.threads} threads (the main thread and ${others} worker thread${others === 1 ? '' : 's'}) each train on a share of the batch of ${batchSize} ` +
        `(${sync.shares.join(' + ')}); the worker threads run the main thread's ${descriptions[0]}`,
    );
    const layers = sync.normalizationLayers;
    if (layers > 0) {
      o.log(`data-parallel: each thread's BatchNormalization normalizes its share with the share's statistics; the moving statistics of the ${layers} BatchNormalization layer${layers === 1 ? '' : 's'} follow the whole batch's, combined after every step`);
    }
    return group;
  }

  /** Brings the main thread's optimizer moments up to date, for a checkpoint (between steps). */
  collectMoments(): void {
    this.sync.collectMoments();
  }

  /** Starts a step on the worker threads (the main thread then trains on its own share, through `sync`). */
  order(order: StepOrder): void {
    this.sync.order(order);
  }

  /**
   * After a step failed: stops every thread and returns the error to throw: for a worker thread's
   * failure, one that says which and why; otherwise `error` itself.
   */
  async failure(error: unknown): Promise<unknown> {
    if (this.closed) return error;
    let result = error;
    if (error instanceof ReplicaAborted && error.stalledMs !== undefined) {
      const who = error.replica > 0 ? `worker thread ${error.replica}` : 'the main thread';
      result = new RuntimeError(`data-parallel training failed: ${who} did not reach its step's exchange within ${stalledLimitText(error.stalledMs)} (hung?); the worker threads were ended`, { cause: error });
    } else if (error instanceof ReplicaAborted && error.replica > 0) {
      const why = await Promise.race([this.workers[error.replica - 1].failed, delay(GRACE_MS, 'stopped without saying why', { ref: false })]);
      result = new RuntimeError(`data-parallel training failed: worker thread ${error.replica} ${why}`, { cause: error });
    } else {
      this.sync.abort(); // no worker thread may wait for this one
    }
    await this.endThreads();
    return result;
  }

  /** Tells the worker threads to finish and waits for them (ending those that do not). */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      this.sync.orderStop();
    } catch (error) {
      if (!(error instanceof ReplicaAborted)) throw error; // a worker thread failed after the last step: ended below
    } finally {
      await this.watchdog.terminate(); // from here on a worker thread ending is expected
      await Promise.all(this.workers.map((w) => Promise.race([w.exited, delay(GRACE_MS, undefined, { ref: false })])));
      await this.endThreads();
    }
  }

  private async endThreads(): Promise<void> {
    this.closed = true;
    this.sync.detach();
    await this.watchdog.terminate();
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

/** A worker thread and what it says. */
class WorkerReplica {
  /** Its backend's description, once it is ready to train; rejects if it fails first. */
  readonly ready: Promise<string>;
  /** Why it failed, as a phrase ("threw Error: ... at step 3"); settles only if it does (or ends). */
  readonly failed: Promise<string>;
  readonly exited: Promise<void>;

  constructor(
    readonly replica: number,
    readonly worker: Worker,
  ) {
    this.failed = new Promise((resolve) => {
      worker.on('message', (report: WorkerReport) => {
        if (report.kind === 'failed') resolve(`threw ${report.error.name}: ${report.error.message}${report.step === undefined ? '' : ` at step ${report.step}`}`);
      });
      worker.on('error', (error) => resolve(`threw ${error.name}: ${error.message}`));
      worker.on('messageerror', (error) => resolve(`sent a message that could not be read: ${error.message}`));
      worker.on('exit', (code) => resolve(`exited with code ${code}`));
    });
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (report: WorkerReport) => report.kind === 'ready' && resolve(report.description));
      void this.failed.then((why) => reject(new RuntimeError(`cannot start data-parallel training: worker thread ${replica} ${why}`)));
    });
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
  }
}

/** Resolves once the watchdog watches every worker thread. */
function watching(watchdog: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    watchdog.once('message', () => resolve());
    watchdog.once('error', (error) => reject(new RuntimeError(`cannot start data-parallel training: its watchdog thread threw ${error.message}`)));
    watchdog.once('exit', (code) => reject(new RuntimeError(`cannot start data-parallel training: its watchdog thread exited with code ${code}`)));
  });
}

function currentBackend(): BackendIdentity {
  const name = tf.getBackend();
  return name === EDGEVAE_BACKEND ? { name, simd: edgevaeBackendSimd() } : { name };
}

/** The split with its images in shared memory, for every thread to read without a copy each. */
function sharedSplit(split: Split): Split {
  if (split.images.buffer instanceof SharedArrayBuffer) return split;
  const images = new Float32Array(new SharedArrayBuffer(split.images.byteLength));
  images.set(split.images);
  return { ...split, images };
}

/** The trainable's whole state, as values to send. */
async function snapshot(trainable: Trainable): Promise<WorkerSetup['state']> {
  const tensors = new Map<string, Float32Array>();
  for (const [key, t] of stateTensors(trainable)) tensors.set(key, (await t.data()) as Float32Array);
  return { tensors, optimizerSteps: optimizerSteps(trainable) };
}
