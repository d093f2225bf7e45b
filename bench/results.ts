/** The decode benchmark's results file (bench/results/<date>-<host>.json): written by decode.ts, read by report.ts. */
import type { PeakResult } from '../src/bench/peak.ts';

export interface MachineInfo {
  /** CPU model, from os.cpus(). */
  cpu: string;
  logicalCores: number;
  hostname: string;
  platform: string;
  arch: string;
  node: string;
  v8: string;
  totalMemoryGiB: number;
  /** The vector-instruction flags /proc/cpuinfo lists (Linux; empty elsewhere): what native code such as onnxruntime-node may use, and wasm SIMD cannot. */
  vectorFlags: string[];
}

/** Contender names as decode.ts registers them: the ones the report and the turns single out. */
export const OURS = { f32: 'edgevae f32 strict', f16: 'edgevae f16 strict', int8: 'edgevae int8 strict', f32Relaxed: 'edgevae f32 relaxed' } as const;
export const PEERS = {
  tfjsWasm: '@tensorflow/tfjs-backend-wasm f32',
  tfjsCpu: '@tensorflow/tfjs-backend-cpu f32',
  ortWeb: 'onnxruntime-web f32',
  ortWebInt8: 'onnxruntime-web int8 (dynamic)',
  ortNode: 'onnxruntime-node f32',
  ortNodeInt8: 'onnxruntime-node int8 (dynamic)',
} as const;

export interface ModelEntry {
  name: string;
  description: string;
  macsPerSample: number;
  sourceDtype: string;
}

export interface ContenderEntry {
  name: string;
  engine: string;
  precision: string;
}

/** Throughput of one contender on one model at one batch size (benny, after warm-up). */
export interface ThroughputCase {
  model: string;
  contender: string;
  batch: number;
  samplesPerSecond: number;
  gflops: number;
  /** gflops / the measured mul+add peak. */
  fractionOfPeak: number;
  /** gflops / the measured FMA (relaxed_madd) peak, when it was measured. */
  fractionOfFmaPeak: number | null;
  /** benny's figures: calls (batches) per second, its relative margin of error (%) and how many samples it took. */
  benny: { opsPerSecond: number; marginPercent: number; samples: number };
}

/** Batch-1 latency of one contender on one model: individually timed calls after warm-up. */
export interface LatencyCase {
  model: string;
  contender: string;
  batch: 1;
  calls: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
}

/** A case that did not run, and why. */
export interface SkippedCase {
  model: string;
  contender: string;
  batch?: number;
  reason: string;
}

/** How far a contender's output is from our f32 runtime's on the same inputs, checked before timing. */
export interface AgreementCase {
  model: string;
  contender: string;
  batch: number;
  maxAbsDiff: number;
  tolerance: number;
}

/** One match of bench/turns.ts: contenders on one model and batch, called in turns. */
export interface TurnsCase {
  model: string;
  batch: number;
  /** Rounds played: in each, every contender ran one turn of `callsPerTurn` calls. */
  rounds: number;
  contenders: { contender: string; callsPerTurn: number; calls: number; medianMs: number; p10Ms: number; p90Ms: number }[];
  /** The mul+add peak microbenchmark played as one more contender: GFLOP/s of its median call, the peak under the same conditions. */
  mulAddPeakGflops?: number;
}

export interface BenchResults {
  command: string;
  date: string;
  machine: MachineInfo;
  /** Versions of edgevae and of each peer package. */
  versions: Record<string, string>;
  /** Which of our SIMD builds ran, and why one did not. */
  builds: { strict: boolean; relaxed: boolean; relaxedReason?: string };
  /**
   * One core's peaks (src/bench/peak.ts): f32 mul+add and FMA in GFLOP/s; the int8 kernels' integer dot
   * products in GOP/s, a multiply-add counting two (int8 and relaxedInt8 are absent from results files
   * written before they were measured, 2026-11-22). The relaxed kinds are null where relaxed SIMD is off.
   */
  peak: {
    mulAdd: PeakResult;
    fma: PeakResult | null;
    int8?: PeakResult;
    relaxedInt8?: PeakResult | null;
    /** Whether the engine's relaxed int8 dot product gave the right answer (src/bench/peak.ts relaxedDotMatchesSpec); absent where relaxed SIMD is off. */
    relaxedDotMatchesSpec?: boolean;
    fmaReason?: string;
  };
  settings: {
    batches: number[];
    benny: { minSamples: number; maxTime: number };
    /** Cases whose call takes over `seconds` get `minSamples` benny samples instead. */
    slowCall: { seconds: number; minSamples: number };
    warmUpSeconds: number;
    latency: { seconds: number; minCalls: number; maxCalls: number };
    /** Calls slower than this are not benchmarked (their batch and larger ones are skipped). */
    maxCallSeconds: number;
    verificationBatch: number;
  };
  models: ModelEntry[];
  contenders: ContenderEntry[];
  throughput: ThroughputCase[];
  latency: LatencyCase[];
  agreement: AgreementCase[];
  skipped: SkippedCase[];
  /** The targets' comparisons timed again in turns (absent in results files from before 2026-11-22). */
  turns?: TurnsCase[];
  /** Seconds the whole run took. */
  durationSeconds: number;
  /** The machine's 1-minute load average at the start and end: other processes on the cores make figures noisier and lower. */
  loadAverage: { start: number; end: number };
}
