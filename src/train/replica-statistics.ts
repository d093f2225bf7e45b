/**
 * BatchNormalization's moving statistics in data-parallel training (replica-sync.ts).
 *
 * In training, a BatchNormalization layer normalizes with its batch's mean and (biased) variance and
 * moves its moving statistics toward them: m ← m - (m - mean) · d, v ← v - (v - var) · d, with
 * d = 1 - momentum. Split over threads, each replica's layer sees only its share of the batch, so
 * each replica's moving statistics would follow its own share's, and the main thread's (the ones a
 * checkpoint and the export keep) would be those of one share: noisier than one thread's, and
 * biased low in the variance (the spread between the shares' means is missing).
 *
 * The normalization in the step stays per share (as PyTorch's DistributedDataParallel without
 * SyncBatchNorm does: the gradients follow each share's statistics). The moving statistics are made
 * the whole batch's: at the end of each step every replica posts how far its step moved each
 * statistic (Δm_r = m_r - m0, Δv_r = v_r - v0, from the values m0, v0 all replicas shared before the
 * step) and, with w_r its share of the batch, sets
 *   m = m0 + Σ w_r Δm_r                                   (= m0 - (m0 - mean) · d)
 *   v = v0 + Σ w_r Δv_r + Σ w_r (Δm_r - Σ w_q Δm_q)² / d  (= v0 - (v0 - var) · d)
 * where mean = Σ w_r mean_r and var = Σ w_r var_r + Σ w_r (mean_r - mean)² are the whole batch's mean
 * and biased variance, since Δm_r = (mean_r - m0) · d and Δv_r = (var_r - v0) · d. Every replica
 * computes this in f64 in the same order and rounds once to f32, so all hold the same bits, a run
 * repeats and resumes bit for bit for a given number of threads, and the result is one thread's
 * update on the whole batch's statistics up to rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { RuntimeError } from '../errors.ts';
import type { TrainableState } from './run-state.ts';

/** A BatchNormalization layer's moving statistics. */
interface MovingPair {
  /** The layer's name, for messages. */
  name: string;
  mean: tf.Variable;
  variance: tf.Variable;
  /** 1 - momentum, as the layer's update multiplies by it (in f32). */
  decay: number;
}

/** The BatchNormalization layers of the trainable's models (nested models too), each once, in a stable order. */
export function movingStatistics(trainable: TrainableState): MovingPair[] {
  const pairs: MovingPair[] = [];
  const seen = new Set<tf.layers.Layer>();
  const visit = (layer: tf.layers.Layer) => {
    if (seen.has(layer)) return;
    seen.add(layer);
    const nested = (layer as Partial<tf.LayersModel>).layers;
    if (Array.isArray(nested)) nested.forEach(visit);
    if (layer.getClassName() !== 'BatchNormalization') return;
    const bn = layer as unknown as { movingMean?: { read(): tf.Tensor }; movingVariance?: { read(): tf.Tensor }; momentum: number };
    if (!bn.movingMean || !bn.movingVariance) throw new RuntimeError(`data-parallel training: BatchNormalization layer ${layer.name} is not built yet`);
    pairs.push({ name: layer.name, mean: bn.movingMean.read() as tf.Variable, variance: bn.movingVariance.read() as tf.Variable, decay: Math.fround(1 - bn.momentum) });
  };
  for (const key of Object.keys(trainable.models).sort()) visit(trainable.models[key]);
  return pairs;
}

/** f64 values a replica posts per step: Δm then Δv of every layer. */
export function statisticValues(pairs: MovingPair[]): number {
  return pairs.reduce((n, p) => n + 2 * p.mean.size, 0);
}

/** One replica's side of the moving statistics' exchange. */
export class SharedStatistics {
  private readonly slots: Float64Array;
  /** What every replica held before the current step: the values of the last combination (or the start). */
  private readonly before: { mean: Float32Array; variance: Float32Array }[];
  private readonly values: number;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly pairs: MovingPair[],
    private readonly replica: number,
    /** Each replica's share of the batch, summing to 1. */
    private readonly weights: readonly number[],
  ) {
    this.values = statisticValues(pairs);
    if (buffer.byteLength !== this.values * weights.length * 8) {
      throw new RuntimeError(`the replicas' BatchNormalization statistics differ: replica ${replica}'s take ${this.values} values per replica, the main thread's ${buffer.byteLength / 8 / weights.length}`);
    }
    this.slots = new Float64Array(buffer);
    this.before = pairs.map((p) => ({ mean: (p.mean.dataSync() as Float32Array).slice(), variance: (p.variance.dataSync() as Float32Array).slice() }));
  }

  /** How many BatchNormalization layers it keeps in step. */
  get layers(): number {
    return this.pairs.length;
  }

  /** (After the step, before the barrier.) Posts how far this replica's step moved each statistic. */
  post(): void {
    let at = this.replica * this.values;
    this.pairs.forEach((p, i) => {
      for (const [variable, old] of [[p.mean, this.before[i].mean], [p.variance, this.before[i].variance]] as const) {
        const now = variable.dataSync();
        for (let j = 0; j < now.length; j++) this.slots[at + j] = now[j] - old[j];
        at += now.length;
      }
    });
  }

  /** (After the barrier: every replica has posted.) Sets the moving statistics to the whole batch's update. */
  combine(): void {
    const threads = this.weights.length;
    let at = 0;
    this.pairs.forEach((p, i) => {
      const n = p.mean.size;
      const mean = new Float32Array(n);
      const variance = new Float32Array(n);
      for (let j = 0; j < n; j++) {
        let dm = 0;
        let dv = 0;
        for (let q = 0; q < threads; q++) {
          dm += this.weights[q] * this.slots[q * this.values + at + j];
          dv += this.weights[q] * this.slots[q * this.values + at + n + j];
        }
        let spread = 0;
        if (p.decay > 0) {
          for (let q = 0; q < threads; q++) spread += this.weights[q] * (this.slots[q * this.values + at + j] - dm) ** 2;
          spread /= p.decay;
        }
        mean[j] = this.before[i].mean[j] + dm;
        variance[j] = this.before[i].variance[j] + dv + spread;
      }
      assign(p.mean, mean);
      assign(p.variance, variance);
      this.before[i] = { mean, variance };
      at += 2 * n;
    });
  }
}

function assign(variable: tf.Variable, values: Float32Array): void {
  const t = tf.tensor(values.slice(), variable.shape, 'float32'); // a copy: `values` is kept as the next step's start
  variable.assign(t);
  t.dispose();
}
