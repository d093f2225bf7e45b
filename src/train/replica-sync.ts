/**
 * The shared memory of data-parallel training (data-parallel.ts) and what each replica does with it:
 * a barrier, the main thread's step orders, the sharded optimizer update, the average of the losses
 * and the whole batch's BatchNormalization moving statistics (replica-statistics.ts).
 *
 * Why SharedArrayBuffers and Atomics rather than messages: a preset's training step is synchronous,
 * so a replica has to wait for the others inside Adam.minimize (Atomics.wait) rather than on its
 * event loop; and each optimizer phase exchanges every gradient (about 40 MB for conv-vae), which
 * postMessage would copy once more per thread.
 *
 * The update is a reduce-scatter and an all-gather through memory (replica-parameters.ts): every
 * replica writes its gradients to its own slot; after a barrier, replica r sums slice r of the
 * optimizer's vector over all slots, weighted by share size, in replica order, and applies Adam to
 * that slice of the shared weights and moments; after a second barrier every replica copies the
 * updated weights into its variables. The sum's order is fixed, so a run on a given number of
 * replicas repeats bit for bit.
 *
 * Failure: a replica that fails raises the abort word (with its number) and wakes every waiter, who
 * throws ReplicaAborted. A worker thread that dies without a word (process.exit, out of memory) is
 * noticed by the watchdog thread (data-parallel-watchdog.ts), which raises the word for it. A
 * replica that hangs inside a step (never arrives at the step's exchange) is noticed by those
 * waiting for it there, after a limit well above any step's time: at least stallFloorMs (60 s by
 * default) and 20 times the slowest step so far (none on the first step, whose time is not known
 * yet). The limit counts time spent waiting in one-second slices, so a process stopped and resumed
 * (Ctrl-Z) does not trip it. The main thread's wait for the worker threads to take its next order
 * has the same limit; their wait for it has none: evaluation and checkpoints take as long as they
 * take. Nobody waits forever.
 */
import type * as tf from '@tensorflow/tfjs';
import { RuntimeError } from '../errors.ts';
import type { Adam, ShardedUpdate } from './adam.ts';
import { allocateParameterMemory, planLayout, SharedParameters, type ParameterLayout } from './replica-parameters.ts';
import { movingStatistics, SharedStatistics, statisticValues } from './replica-statistics.ts';
import type { TrainableState } from './run-state.ts';

/** The most replicas a run may have. */
export const MAX_THREADS = 64;
/** The most loss terms a training step may report (the presets report up to five). */
const MAX_LOSS_TERMS = 32;

// Int32 words of `control`.
/**
 * 0 while running, else 1 + the number of the first replica to fail, plus REASON_UNIT times why:
 * FAILED (it said so, or ended) or STALLED (others waited for it past the limit). One word, so that
 * who and why are set together.
 */
const ABORT = 0;
const REASON_UNIT = 256;
const FAILED = 0;
const STALLED = 1;
/** Barrier: parties arrived at the current pass. */
const ARRIVED = 1;
/** Barrier: passes so far (what waiters wait on). */
const GENERATION = 2;
/** The main thread's order: STEP or STOP. */
const COMMAND = 3;
/** Then, per replica: the optimizer and value count of its latest exchange, its loss term count, and the barrier pass it last arrived at. */
const HEADERS = 4;
const HEADER_WORDS = 4;
const ARRIVED_AT = 3;
const STEP = 1;
const STOP = 2;

// Float64 values of `numbers`: the order's step, epoch, learning-rate scale and stall limit, then each replica's loss terms.
const ORDER_STEP = 0;
const ORDER_EPOCH = 1;
const ORDER_RATE_SCALE = 2;
const ORDER_STALL_LIMIT = 3;
const LOSSES = 4;

/** The least time a replica waits for another inside a step before the run ends as hung, by default. */
export const DEFAULT_STALL_FLOOR_MS = 60_000;
/** The stall limit is at least this many times the slowest step so far. */
const STALL_STEP_FACTOR = 20;
/** Waits are counted in slices of this long, so that time the process spends stopped does not count. */
const WAIT_SLICE_MS = 1000;

/** Everything the replicas share; created by the main thread, handed to each worker thread. */
export interface SharedBuffers {
  threads: number;
  batchSize: number;
  control: SharedArrayBuffer;
  numbers: SharedArrayBuffer;
  /** The step's batch, as indices into the training split. */
  indices: SharedArrayBuffer;
  /** The gradients, weights and moments (replica-parameters.ts), a shared WebAssembly memory. */
  parameters: WebAssembly.Memory;
  /** The bytes of `parameters` the main thread's layout uses; a worker thread's must agree. */
  parameterBytes: number;
  /** Each replica's step's change of the BatchNormalization moving statistics, f64 (replica-statistics.ts). */
  statistics: SharedArrayBuffer;
}

/** What the main thread tells every replica to do next. */
export interface StepOrder {
  step: number;
  epoch: number;
  learningRateScale: number;
  /** The whole batch; each replica trains on its share (ReplicaSync.ownShare). */
  indices: Uint32Array;
}

/** The shared memory of a run of `threads` replicas of `trainable` (the main thread's) at `batchSize`. */
export function allocateShared(threads: number, batchSize: number, trainable: TrainableState): SharedBuffers {
  const layout = planLayout(trainable, threads);
  return {
    threads,
    batchSize,
    control: new SharedArrayBuffer((HEADERS + threads * HEADER_WORDS) * 4),
    numbers: new SharedArrayBuffer((LOSSES + threads * MAX_LOSS_TERMS) * 8),
    indices: new SharedArrayBuffer(batchSize * 4),
    parameters: allocateParameterMemory(layout),
    parameterBytes: layout.bytes,
    statistics: new SharedArrayBuffer(threads * statisticValues(movingStatistics(trainable)) * 8),
  };
}

/**
 * Thrown by a replica that finds another one failed (`replica`: the first to fail); `stalledMs`, when
 * the others waited that long for it inside a step.
 */
export class ReplicaAborted extends RuntimeError {
  override name = 'ReplicaAborted';
  constructor(
    readonly replica: number,
    readonly stalledMs?: number,
  ) {
    super(stalledMs === undefined ? `data-parallel replica ${replica} failed` : `data-parallel replica ${replica} did not reach its step's exchange within ${stalledLimitText(stalledMs)}`);
  }
}

/** A stall limit in words: "60 s". */
export function stalledLimitText(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** Marks `replica` as failed (unless another failed first) and wakes every replica waiting at the barrier. */
export function raiseAbort(control: Int32Array, replica: number, reason = FAILED): void {
  Atomics.compareExchange(control, ABORT, 0, replica + 1 + reason * REASON_UNIT);
  // Moving the generation on wakes every waiter, and a replica about to wait sees it moved and does not.
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

/** Sizes of `parts` contiguous shares of `total`, in order, differing by at most one (larger first). */
export function shareSizes(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, r) => Math.floor(total / parts) + (r < total % parts ? 1 : 0));
}

/** One replica's side of the shared memory. */
export class ReplicaSync implements ShardedUpdate {
  readonly threads: number;
  /** Each replica's share of a batch, in images. */
  readonly shares: number[];
  private readonly weights: number[];
  private readonly control: Int32Array;
  private readonly numbers: Float64Array;
  private readonly indices: Uint32Array;
  private readonly optimizerIds = new Map<Adam, number>();
  private optimizerNames: string[] = [];
  private parameters: SharedParameters | undefined;
  private statistics: SharedStatistics | undefined;
  /** How long this replica waits for the others inside the current step (the main thread's order says). */
  private stallLimitMs = Infinity;
  /** (Main thread.) The slowest step so far, and when the current one started. */
  private slowestStepMs = 0;
  private stepStart = 0;

  constructor(
    private readonly buffers: SharedBuffers,
    readonly replica: number,
    /** (Main thread.) The least stall limit; see the module's comment. */
    private readonly stallFloorMs = DEFAULT_STALL_FLOOR_MS,
  ) {
    const { threads, batchSize } = buffers;
    this.threads = threads;
    this.shares = shareSizes(batchSize, threads);
    this.weights = this.shares.map((n) => n / batchSize);
    this.control = new Int32Array(buffers.control);
    this.numbers = new Float64Array(buffers.numbers);
    this.indices = new Uint32Array(buffers.indices);
  }

  /**
   * Routes the trainable's optimizer updates through the shared memory; numbers the optimizers in
   * key order, so every replica numbers them alike. The main thread then calls shareState.
   */
  attach(trainable: TrainableState): void {
    const layout = planLayout(trainable, this.threads);
    this.checkLayout(layout);
    this.parameters = new SharedParameters(this.buffers.parameters, layout, this.replica, this.threads, this.weights);
    this.statistics = new SharedStatistics(this.buffers.statistics, movingStatistics(trainable), this.replica, this.weights);
    const { optimizers } = trainable;
    this.optimizerNames = Object.keys(optimizers).sort();
    this.optimizerNames.forEach((name, id) => {
      this.optimizerIds.set(optimizers[name], id);
      optimizers[name].sharded = this;
    });
  }

  /** (Main thread, before the first step.) Puts its weights and moments into the shared memory. */
  shareState(): void {
    this.attached().store();
  }

  /** (Main thread.) Copies the moments, which every replica updates a slice of, into its optimizers: for a checkpoint. */
  collectMoments(): void {
    this.attached().collectMoments();
  }

  /** Gives the optimizers back to single-replica use, with their moments brought up to date. */
  detach(): void {
    if (!this.parameters) return;
    this.parameters.collectMoments();
    for (const optimizer of this.optimizerIds.keys()) optimizer.sharded = undefined;
    this.optimizerIds.clear();
    this.parameters = undefined;
    this.statistics = undefined;
  }

  private attached(): SharedParameters {
    if (!this.parameters) throw new RuntimeError('data-parallel training: the replica has no trainable attached');
    return this.parameters;
  }

  /** A worker thread's preset must lay its parameters out as the main thread's does. */
  private checkLayout(layout: ParameterLayout): void {
    if (layout.bytes !== this.buffers.parameterBytes) {
      throw new RuntimeError(`the replicas' parameters differ: replica ${this.replica}'s need ${layout.bytes} bytes of shared memory, the main thread's ${this.buffers.parameterBytes}`);
    }
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
    this.stallLimitMs = this.slowestStepMs > 0 ? Math.max(this.stallFloorMs, STALL_STEP_FACTOR * this.slowestStepMs) : Infinity;
    this.numbers[ORDER_STALL_LIMIT] = this.stallLimitMs;
    this.indices.set(order.indices);
    Atomics.store(this.control, COMMAND, STEP);
    this.stepStart = performance.now();
    // The worker threads reach their next order right after their last step: waiting long for one is a hang too.
    this.arriveAndWait(this.stallLimitMs);
  }

  /** (Main thread.) Tells the worker threads to finish. */
  orderStop(): void {
    Atomics.store(this.control, COMMAND, STOP);
    this.arriveAndWait(this.stallLimitMs);
  }

  /** (Worker threads.) Waits for the next order: a step, or undefined to finish. */
  nextOrder(): StepOrder | undefined {
    this.arriveAndWait();
    if (Atomics.load(this.control, COMMAND) === STOP) return undefined;
    this.stallLimitMs = this.numbers[ORDER_STALL_LIMIT];
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

  /**
   * Ends a step: returns every replica's loss terms averaged, weighted by share size as the gradients
   * are (the whole batch's means), and sets every replica's BatchNormalization moving statistics to
   * the whole batch's update (replica-statistics.ts).
   */
  endStep(loss: Record<string, number>): Record<string, number> {
    const keys = Object.keys(loss);
    if (keys.length > MAX_LOSS_TERMS) throw new RuntimeError(`data-parallel training takes at most ${MAX_LOSS_TERMS} loss terms per step, got ${keys.length}`);
    const own = LOSSES + this.replica * MAX_LOSS_TERMS;
    keys.forEach((key, k) => (this.numbers[own + k] = loss[key]));
    Atomics.store(this.control, this.header(this.replica) + 2, keys.length);
    // Safe to overwrite: every replica read the last step's posts before taking this step's order.
    this.statistics?.post();
    this.arriveAndWait(this.stallLimitMs);
    if (this.replica === 0) this.slowestStepMs = Math.max(this.slowestStepMs, performance.now() - this.stepStart);
    for (let q = 0; q < this.threads; q++) {
      const terms = Atomics.load(this.control, this.header(q) + 2);
      if (terms !== keys.length) throw new RuntimeError(`the replicas' training steps diverged: replica ${this.replica} reported ${keys.length} loss terms, replica ${q} ${terms}`);
    }
    this.statistics?.combine();
    return Object.fromEntries(keys.map((key, k) => {
      let sum = 0;
      for (let q = 0; q < this.threads; q++) sum += this.weights[q] * this.numbers[LOSSES + q * MAX_LOSS_TERMS + k];
      return [key, sum];
    }));
  }

  /** How many BatchNormalization layers' moving statistics the replicas keep the whole batch's. */
  get normalizationLayers(): number {
    return this.statistics?.layers ?? 0;
  }

  // ---- the sharded optimizer update (ShardedUpdate) ----

  update(optimizer: Adam, grads: (tf.Tensor | undefined)[], stepSize: number): void {
    const id = this.optimizerIds.get(optimizer);
    if (id === undefined) throw new RuntimeError('data-parallel training: an optimizer outside the run\'s trainable asked for an update');
    const parameters = this.attached();
    const span = parameters.span(this.optimizerNames[id]);
    const count = parameters.writeGradients(span, grads);
    Atomics.store(this.control, this.header(this.replica), id);
    Atomics.store(this.control, this.header(this.replica) + 1, count);
    this.arriveAndWait(this.stallLimitMs);
    this.checkSameExchange(id, count);
    parameters.updateOwnSlice(span, grads, stepSize);
    this.arriveAndWait(this.stallLimitMs);
    // Read before any replica writes the weights again: that waits for this replica at the next update's first barrier.
    parameters.readWeights(span, grads);
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

  /**
   * Waits until every replica has arrived; throws ReplicaAborted once a replica has failed, or once
   * this one has waited `stallLimitMs` for the others.
   */
  private arriveAndWait(stallLimitMs = Infinity): void {
    const generation = Atomics.load(this.control, GENERATION);
    this.checkAbort();
    Atomics.store(this.control, this.header(this.replica) + ARRIVED_AT, generation + 1); // + 1: the words start at 0
    if (Atomics.add(this.control, ARRIVED, 1) === this.threads - 1) {
      Atomics.store(this.control, ARRIVED, 0);
      Atomics.add(this.control, GENERATION, 1);
      Atomics.notify(this.control, GENERATION);
    } else {
      let waitedMs = 0;
      while (Atomics.load(this.control, GENERATION) === generation) {
        if (stallLimitMs === Infinity) {
          Atomics.wait(this.control, GENERATION, generation);
        } else if (Atomics.wait(this.control, GENERATION, generation, WAIT_SLICE_MS) === 'timed-out' && (waitedMs += WAIT_SLICE_MS) >= stallLimitMs) {
          raiseAbort(this.control, this.firstAbsent(generation), STALLED);
        }
      }
    }
    this.checkAbort();
  }

  /** The first replica that has not arrived at barrier pass `generation`. */
  private firstAbsent(generation: number): number {
    for (let q = 0; q < this.threads; q++) if (Atomics.load(this.control, this.header(q) + ARRIVED_AT) !== generation + 1) return q;
    return this.replica; // unreachable while this replica waits: someone is missing
  }

  private checkAbort(): void {
    const word = Atomics.load(this.control, ABORT);
    if (word === 0) return;
    const stalled = Math.floor(word / REASON_UNIT) === STALLED;
    throw new ReplicaAborted((word % REASON_UNIT) - 1, stalled ? this.stallLimitMs : undefined);
  }
}
