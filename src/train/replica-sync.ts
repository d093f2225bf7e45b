/**
 * The shared memory of data-parallel training (data-parallel.ts) and what each replica does with it:
 * a barrier, the main thread's step orders, the gradient all-reduce and the average of the losses.
 *
 * Why SharedArrayBuffers and Atomics rather than messages: a preset's training step is synchronous,
 * so a replica has to wait for the others inside Adam.minimize (Atomics.wait) rather than on its
 * event loop; and each optimizer phase exchanges every gradient (about 40 MB for conv-vae), which
 * postMessage would copy once more per thread.
 *
 * The all-reduce is a reduce-scatter through memory: every replica writes its gradients to its own
 * slot; after a barrier, replica r sums slice r of the vector over all slots, weighted by share size,
 * in replica order, into the reduced vector; after a second barrier every replica reads all of it.
 * The sum's order is fixed, so a run on a given number of replicas repeats bit for bit.
 *
 * Failure: a replica that fails raises the abort word (with its number) and wakes every waiter, who
 * throws ReplicaAborted. A worker thread that dies without a word (process.exit, out of memory) is
 * noticed by the watchdog thread (data-parallel-watchdog.ts), which raises the word for it: nobody
 * waits forever.
 */
import * as tf from '@tensorflow/tfjs';
import { RuntimeError } from '../errors.ts';
import type { Adam, GradientAllReduce } from './adam.ts';
import { wasmHeapValues } from './edgevae-backend.ts';

/** The most replicas a run may have. */
export const MAX_THREADS = 64;
/** The most loss terms a training step may report (the presets report up to five). */
const MAX_LOSS_TERMS = 32;

// Int32 words of `control`.
/** 0 while running, else 1 + the number of the first replica to fail. */
const ABORT = 0;
/** Barrier: parties arrived at the current pass. */
const ARRIVED = 1;
/** Barrier: passes so far (what waiters wait on). */
const GENERATION = 2;
/** The main thread's order: STEP or STOP. */
const COMMAND = 3;
/** Then, per replica: the optimizer and value count of its latest exchange, and its loss term count. */
const HEADERS = 4;
const HEADER_WORDS = 3;
const STEP = 1;
const STOP = 2;

// Float64 values of `numbers`: the order's step, epoch and learning-rate scale, then each replica's loss terms.
const ORDER_STEP = 0;
const ORDER_EPOCH = 1;
const ORDER_RATE_SCALE = 2;
const LOSSES = 3;

/** Everything the replicas share; created by the main thread, handed to each worker thread. */
export interface SharedBuffers {
  threads: number;
  batchSize: number;
  /** Gradient values one slot holds: the largest optimizer's parameter count. */
  capacity: number;
  control: SharedArrayBuffer;
  numbers: SharedArrayBuffer;
  /** The step's batch, as indices into the training split. */
  indices: SharedArrayBuffer;
  /** `threads` slots of `capacity` f32 values, then the reduced vector. */
  gradients: SharedArrayBuffer;
}

/** What the main thread tells every replica to do next. */
export interface StepOrder {
  step: number;
  epoch: number;
  learningRateScale: number;
  /** The whole batch; each replica trains on its share (ReplicaSync.ownShare). */
  indices: Uint32Array;
}

export function allocateShared(threads: number, batchSize: number, capacity: number): SharedBuffers {
  return {
    threads,
    batchSize,
    capacity,
    control: new SharedArrayBuffer((HEADERS + threads * HEADER_WORDS) * 4),
    numbers: new SharedArrayBuffer((LOSSES + threads * MAX_LOSS_TERMS) * 8),
    indices: new SharedArrayBuffer(batchSize * 4),
    gradients: new SharedArrayBuffer((threads + 1) * capacity * 4),
  };
}

/** Thrown by a replica that finds another one failed (`replica`: the first to fail). */
export class ReplicaAborted extends RuntimeError {
  override name = 'ReplicaAborted';
  constructor(readonly replica: number) {
    super(`data-parallel replica ${replica} failed`);
  }
}

/** Marks `replica` as failed (unless another failed first) and wakes every replica waiting at the barrier. */
export function raiseAbort(control: Int32Array, replica: number): void {
  Atomics.compareExchange(control, ABORT, 0, replica + 1);
  // Moving the generation on wakes every waiter, and a replica about to wait sees it moved and does not.
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

/** Sizes of `parts` contiguous shares of `total`, in order, differing by at most one (larger first). */
export function shareSizes(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, r) => Math.floor(total / parts) + (r < total % parts ? 1 : 0));
}

/**
 * out[i] = the sum over q, in order, of weights[q] * parts[q][i], for i in [from, to); in f64, rounded
 * once to f32. The fixed order is what makes a data-parallel run repeatable.
 */
export function weightedSum(parts: Float32Array[], weights: readonly number[], from: number, to: number, out: Float32Array): void {
  for (let i = from; i < to; i++) {
    let sum = 0;
    for (let q = 0; q < parts.length; q++) sum += weights[q] * parts[q][i];
    out[i] = sum;
  }
}

/** One replica's side of the shared memory. */
export class ReplicaSync implements GradientAllReduce {
  readonly threads: number;
  /** Each replica's share of a batch, in images. */
  readonly shares: number[];
  private readonly weights: number[];
  private readonly control: Int32Array;
  private readonly numbers: Float64Array;
  private readonly indices: Uint32Array;
  private readonly slots: Float32Array[];
  private readonly reduced: Float32Array;
  private readonly optimizerIds = new Map<Adam, number>();
  private optimizerNames: string[] = [];

  constructor(
    private readonly buffers: SharedBuffers,
    readonly replica: number,
  ) {
    const { threads, batchSize, capacity } = buffers;
    this.threads = threads;
    this.shares = shareSizes(batchSize, threads);
    this.weights = this.shares.map((n) => n / batchSize);
    this.control = new Int32Array(buffers.control);
    this.numbers = new Float64Array(buffers.numbers);
    this.indices = new Uint32Array(buffers.indices);
    this.slots = Array.from({ length: threads }, (_, q) => new Float32Array(buffers.gradients, q * capacity * 4, capacity));
    this.reduced = new Float32Array(buffers.gradients, threads * capacity * 4, capacity);
  }

  /** Routes the optimizers' gradients through this exchange; in key order, so every replica numbers them alike. */
  attach(optimizers: Record<string, Adam>): void {
    this.optimizerNames = Object.keys(optimizers).sort();
    this.optimizerNames.forEach((name, id) => {
      this.optimizerIds.set(optimizers[name], id);
      optimizers[name].allReduce = this;
    });
  }

  /** Gives the optimizers back to single-replica use. */
  detach(): void {
    for (const optimizer of this.optimizerIds.keys()) optimizer.allReduce = undefined;
    this.optimizerIds.clear();
  }

  /** Marks this replica as failed, so that no other waits for it. */
  abort(): void {
    raiseAbort(this.control, this.replica);
  }

  // ---- orders: the main thread gives them, the worker threads take them ----

  /** (Main thread.) Starts a step on every replica. */
  order(order: StepOrder): void {
    this.numbers[ORDER_STEP] = order.step;
    this.numbers[ORDER_EPOCH] = order.epoch;
    this.numbers[ORDER_RATE_SCALE] = order.learningRateScale;
    this.indices.set(order.indices);
    Atomics.store(this.control, COMMAND, STEP);
    this.arriveAndWait();
  }

  /** (Main thread.) Tells the worker threads to finish. */
  orderStop(): void {
    Atomics.store(this.control, COMMAND, STOP);
    this.arriveAndWait();
  }

  /** (Worker threads.) Waits for the next order: a step, or undefined to finish. */
  nextOrder(): StepOrder | undefined {
    this.arriveAndWait();
    if (Atomics.load(this.control, COMMAND) === STOP) return undefined;
    return {
      step: this.numbers[ORDER_STEP],
      epoch: this.numbers[ORDER_EPOCH],
      learningRateScale: this.numbers[ORDER_RATE_SCALE],
      indices: this.indices.slice(),
    };
  }

  /** This replica's contiguous share of a batch's indices. */
  ownShare(indices: Uint32Array): Uint32Array {
    const start = this.shares.slice(0, this.replica).reduce((a, b) => a + b, 0);
    return indices.subarray(start, start + this.shares[this.replica]);
  }

  // ---- the end of a step ----

  /** Every replica's loss terms averaged, weighted by share size as the gradients are: the whole batch's means. */
  averageLosses(loss: Record<string, number>): Record<string, number> {
    const keys = Object.keys(loss);
    if (keys.length > MAX_LOSS_TERMS) throw new RuntimeError(`data-parallel training takes at most ${MAX_LOSS_TERMS} loss terms per step, got ${keys.length}`);
    const own = LOSSES + this.replica * MAX_LOSS_TERMS;
    keys.forEach((key, k) => (this.numbers[own + k] = loss[key]));
    Atomics.store(this.control, this.header(this.replica) + 2, keys.length);
    this.arriveAndWait();
    for (let q = 0; q < this.threads; q++) {
      const terms = Atomics.load(this.control, this.header(q) + 2);
      if (terms !== keys.length) throw new RuntimeError(`the replicas' training steps diverged: replica ${this.replica} reported ${keys.length} loss terms, replica ${q} ${terms}`);
    }
    return Object.fromEntries(keys.map((key, k) => {
      let sum = 0;
      for (let q = 0; q < this.threads; q++) sum += this.weights[q] * this.numbers[LOSSES + q * MAX_LOSS_TERMS + k];
      return [key, sum];
    }));
  }

  // ---- the gradient all-reduce (GradientAllReduce) ----

  reduce(optimizer: Adam, grads: (tf.Tensor | undefined)[]): (tf.Tensor | undefined)[] {
    const id = this.optimizerIds.get(optimizer);
    if (id === undefined) throw new RuntimeError('data-parallel training: an optimizer outside the run\'s trainable asked for an all-reduce');
    const own = this.slots[this.replica];
    let count = 0;
    for (const g of grads) {
      if (!g) continue;
      if (count + g.size > this.buffers.capacity) throw new RuntimeError(`data-parallel training: optimizer ${this.optimizerNames[id]} has more gradient values than the ${this.buffers.capacity} planned`);
      own.set(wasmHeapValues(g) ?? (g.dataSync() as Float32Array), count);
      count += g.size;
    }
    Atomics.store(this.control, this.header(this.replica), id);
    Atomics.store(this.control, this.header(this.replica) + 1, count);
    this.arriveAndWait();
    this.checkSameExchange(id, count);
    const from = Math.floor((count * this.replica) / this.threads);
    const to = Math.floor((count * (this.replica + 1)) / this.threads);
    weightedSum(this.slots, this.weights, from, to, this.reduced);
    this.arriveAndWait();
    let offset = 0;
    return grads.map((g) => {
      if (!g) return undefined;
      // Read before any replica writes the vector again: that waits for this replica at the next exchange's barrier.
      const combined = tf.tensor(this.reduced.subarray(offset, offset + g.size), g.shape, 'float32');
      offset += g.size;
      return combined;
    });
  }

  /** Every replica must be exchanging the same optimizer's gradients: a preset whose phases depend on its share would deadlock or mix them. */
  private checkSameExchange(id: number, count: number): void {
    for (let q = 0; q < this.threads; q++) {
      const theirs = Atomics.load(this.control, this.header(q));
      const theirCount = Atomics.load(this.control, this.header(q) + 1);
      if (theirs !== id || theirCount !== count) {
        throw new RuntimeError(
          `the replicas' training steps diverged: replica ${this.replica} exchanges the gradients of optimizer ${this.optimizerNames[id]} (${count} values), ` +
            `replica ${q} those of ${this.optimizerNames[theirs] ?? theirs} (${theirCount})`,
        );
      }
    }
  }

  private header(replica: number): number {
    return HEADERS + replica * HEADER_WORDS;
  }

  /** Waits until every replica has arrived; throws ReplicaAborted once a replica has failed. */
  private arriveAndWait(): void {
    const generation = Atomics.load(this.control, GENERATION);
    this.checkAbort();
    if (Atomics.add(this.control, ARRIVED, 1) === this.threads - 1) {
      Atomics.store(this.control, ARRIVED, 0);
      Atomics.add(this.control, GENERATION, 1);
      Atomics.notify(this.control, GENERATION);
    } else {
      while (Atomics.load(this.control, GENERATION) === generation) Atomics.wait(this.control, GENERATION, generation);
    }
    this.checkAbort();
  }

  private checkAbort(): void {
    const failed = Atomics.load(this.control, ABORT);
    if (failed !== 0) throw new ReplicaAborted(failed - 1);
  }
}
