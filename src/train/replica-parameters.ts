/**
 * The parameters data-parallel training shares (replica-sync.ts): every replica's gradients, the
 * weights and Adam's moments, in one shared WebAssembly memory, and the sharded optimizer step on
 * them (assembly/kernels/replica-update.ts).
 *
 * Why shard: with the update replicated, every replica applied Adam to all the weights (about 10 M
 * for conv-vae) after copying the summed gradients back into its heap. Here replica r sums the
 * gradients of its own slice of each optimizer's parameters and applies Adam to that slice alone,
 * in place in the shared memory, with the same per-element arithmetic as the fused Adam kernel
 * (the same bits as the replicated update); then every replica copies the updated weights into its
 * own variables. The moments live only here while the run is data-parallel: the main thread copies
 * them back into its optimizers for a checkpoint (collectMoments).
 *
 * Layout (bytes): the share weights (f64, one per replica); one gradient slot per replica, each as
 * large as the largest optimizer; the weights of every variable any optimizer updates, each once
 * (optimizers may share variables: the aae presets' encoder is updated by two); each optimizer's m
 * then v. Every replica derives the same layout from its own trainable (in stateTensors' key order).
 * Every variable's values start at a multiple of 16 bytes, in each slot, the weights and the
 * moments: V8 copies between a shared buffer and another one word by word where both are 8-aligned
 * alike, and byte by byte, far slower, where they are not; the backend's tensors are 8-aligned.
 */
import * as tf from '@tensorflow/tfjs';
import { RuntimeError } from '../errors.ts';
import type { Adam } from './adam.ts';
import { overwriteWasmHeapValues, wasmHeapValues } from './edgevae-backend.ts';
import { stateTensors, type TrainableState } from './run-state.ts';
import { REPLICA_WASM_BASE64 } from './wasm-inline.ts';
import { fromBase64 } from '../runtime/base64.ts';

/** The exports of assembly/replica.ts. */
interface ReplicaKernels {
  replicaAdamUpdate(
    gradients: number, replicaStride: number, replicas: number, shares: number, w: number, m: number, v: number, n: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, stepSize: number, epsilon: number,
  ): void;
}

const PAGE_BYTES = 65536;
/** The most pages a wasm32 memory has (4 GiB). */
const MAX_PAGES = 65536;
/** Where the gradient slots start: after the share weights of up to MAX_THREADS (64) replicas, 16-aligned. */
const SLOTS_OFFSET = 64 * 8;

/** One variable of an optimizer: where its gradient goes in a slot and where its weights live. */
interface VariableSpan {
  variable: tf.Variable;
  /** Its offset in the optimizer's vector, in values, a multiple of 4 (its gradient's offset in a slot, its moments'). */
  start: number;
  /** Byte offset of its weights. */
  weights: number;
}

/** One optimizer's vector: its variables in order, and where its moments live. */
interface OptimizerSpan {
  optimizer: Adam;
  variables: VariableSpan[];
  /** Values in the vector, with the padding that aligns each variable. */
  size: number;
  /** Byte offsets of m and v. */
  m: number;
  v: number;
}

/** Where everything lives; the same in every replica of a run. */
export interface ParameterLayout {
  /** Gradient values one slot holds: the largest optimizer's. */
  capacity: number;
  /** Bytes the memory needs. */
  bytes: number;
  optimizers: Map<string, OptimizerSpan>;
}

/** The layout of `trainable`'s parameters for `threads` replicas. */
export function planLayout(trainable: TrainableState, threads: number): ParameterLayout {
  const names = Object.keys(trainable.optimizers).sort();
  const capacity = Math.max(...names.map((name) => alignedSize(trainable.optimizers[name].variables)));
  let next = SLOTS_OFFSET + threads * capacity * 4;
  const weightOffsets = new Map<tf.Variable, number>();
  const updated = new Set(names.flatMap((name) => trainable.optimizers[name].variables));
  for (const [, variable] of stateTensors(trainable)) {
    if (!updated.has(variable) || weightOffsets.has(variable)) continue;
    weightOffsets.set(variable, next);
    next += padToVector(variable.size) * 4;
  }
  const optimizers = new Map<string, OptimizerSpan>();
  for (const name of names) {
    const optimizer = trainable.optimizers[name];
    let start = 0;
    const variables = optimizer.variables.map((variable) => {
      const weights = weightOffsets.get(variable);
      if (weights === undefined) throw new RuntimeError(`data-parallel training: optimizer ${name} updates a variable (${variable.name}) that is no model's weight`);
      const span = { variable, start, weights };
      start += padToVector(variable.size);
      return span;
    });
    optimizers.set(name, { optimizer, variables, size: start, m: next, v: next + start * 4 });
    next += 2 * start * 4;
  }
  return { capacity, bytes: next, optimizers };
}

/** The values of `variables` laid end to end, each padded to whole SIMD vectors. */
function alignedSize(variables: tf.Variable[]): number {
  return variables.reduce((sum, v) => sum + padToVector(v.size), 0);
}

/** `values` rounded up to a multiple of 4 (16 bytes). */
function padToVector(values: number): number {
  return Math.ceil(values / 4) * 4;
}

/** A shared memory that holds `layout` (created by the main thread, handed to the worker threads). */
export function allocateParameterMemory(layout: ParameterLayout): WebAssembly.Memory {
  const pages = Math.ceil(layout.bytes / PAGE_BYTES);
  if (pages > MAX_PAGES) throw new RuntimeError(`data-parallel training needs ${layout.bytes} bytes of shared memory for its gradients, weights and moments, more than the 4 GiB a wasm memory holds`);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** `total` values cut into `parts` contiguous slices, each starting at a multiple of 4 (whole SIMD vectors): slice r is [bounds[r], bounds[r + 1]). */
export function sliceBounds(total: number, parts: number): number[] {
  return Array.from({ length: parts + 1 }, (_, r) => (r === parts ? total : Math.floor((total * r) / parts / 4) * 4));
}

/** One replica's view of the shared parameters. */
export class SharedParameters {
  private readonly kernels: ReplicaKernels;
  private readonly floats: Float32Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly layout: ParameterLayout,
    private readonly replica: number,
    private readonly threads: number,
    shares: readonly number[],
  ) {
    if (memory.buffer.byteLength < layout.bytes) {
      throw new RuntimeError(`the replicas' training steps diverged: this replica's parameters need ${layout.bytes} bytes of shared memory, the main thread's hold ${memory.buffer.byteLength}`);
    }
    const module = new WebAssembly.Module(fromBase64(REPLICA_WASM_BASE64) as BufferSource);
    this.kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as ReplicaKernels;
    this.floats = new Float32Array(memory.buffer);
    new Float64Array(memory.buffer, 0, threads).set(shares);
  }

  /** (Main thread, before the first step.) Puts the trainable's weights and moments into the shared memory. */
  store(): void {
    for (const span of this.layout.optimizers.values()) {
      const moments = span.optimizer.stateTensors();
      span.variables.forEach(({ variable, start, weights }, i) => {
        this.floats.set(values(variable), weights / 4);
        this.floats.set(values(moments[2 * i]), span.m / 4 + start);
        this.floats.set(values(moments[2 * i + 1]), span.v / 4 + start);
      });
    }
  }

  /** Copies the moments every replica updated its slice of into this replica's optimizers (for a checkpoint). */
  collectMoments(): void {
    for (const span of this.layout.optimizers.values()) {
      const moments = span.optimizer.stateTensors();
      span.variables.forEach(({ variable, start }, i) => {
        assignValues(moments[2 * i], this.floats.subarray(span.m / 4 + start, span.m / 4 + start + variable.size));
        assignValues(moments[2 * i + 1], this.floats.subarray(span.v / 4 + start, span.v / 4 + start + variable.size));
      });
    }
  }

  /** The optimizer's vector, for the exchange's checks. */
  span(name: string): OptimizerSpan {
    const span = this.layout.optimizers.get(name);
    if (!span) throw new RuntimeError(`data-parallel training: no optimizer ${name} in the shared layout`);
    return span;
  }

  /** Writes this replica's gradients into its slot; returns how many values it wrote. */
  writeGradients(span: OptimizerSpan, grads: (tf.Tensor | undefined)[]): number {
    const slot = SLOTS_OFFSET / 4 + this.replica * this.layout.capacity;
    let count = 0;
    span.variables.forEach(({ start }, i) => {
      const g = grads[i];
      if (!g) return;
      this.floats.set(values(g), slot + start);
      count += g.size;
    });
    return count;
  }

  /**
   * Sums every replica's gradients for this replica's slice and applies Adam to the slice, in place.
   * Every replica must have written its gradients; none may read the weights until all have done this.
   */
  updateOwnSlice(span: OptimizerSpan, grads: (tf.Tensor | undefined)[], stepSize: number): void {
    const bounds = sliceBounds(span.size, this.threads);
    const [from, to] = [bounds[this.replica], bounds[this.replica + 1]];
    const { beta1, beta2, epsilon } = span.optimizer;
    span.variables.forEach(({ variable, start, weights }, i) => {
      const first = Math.max(from, start);
      const end = Math.min(to, start + variable.size);
      if (!grads[i] || first >= end) return; // a variable the loss does not reach keeps its weights and moments
      this.kernels.replicaAdamUpdate(
        SLOTS_OFFSET + first * 4, this.layout.capacity * 4, this.threads, 0,
        weights + (first - start) * 4, span.m + first * 4, span.v + first * 4, end - first,
        beta1, 1 - beta1, beta2, 1 - beta2, stepSize, epsilon,
      );
    });
  }

  /** Copies the updated weights of the optimizer's variables (those with gradients) into this replica's variables. */
  readWeights(span: OptimizerSpan, grads: (tf.Tensor | undefined)[]): void {
    span.variables.forEach(({ variable, weights }, i) => {
      if (grads[i]) assignValues(variable, this.floats.subarray(weights / 4, weights / 4 + variable.size));
    });
  }
}

/** A float32 tensor's values: a view of the wasm heap where the backend keeps them there, else dataSync's. */
function values(t: tf.Tensor): Float32Array {
  return wasmHeapValues(t) ?? (t.dataSync() as Float32Array);
}

/** Sets a variable to `source`'s values: in place in the wasm heap where it can, else as a new tensor (a copy: `source` is shared memory). */
function assignValues(variable: tf.Variable, source: Float32Array): void {
  if (overwriteWasmHeapValues(variable, source)) return;
  const value = tf.tensor(source.slice(), variable.shape, 'float32');
  variable.assign(value);
  value.dispose();
}
