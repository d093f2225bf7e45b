/** The results file of `npm run bench:real` (bench/results/<date>-<host>-real.json): written by bench/real.ts, read by bench/real-report.ts. */
import type { PeakResult } from '../src/bench/peak.ts';
import type { Agreement } from './real-contenders.ts';
import type { MachineInfo } from './results.ts';

export interface RealModelEntry {
  name: string;
  description: string;
  source: 'torch' | 'tfjs';
  macsPerSample: number;
  /** How macsPerSample was found where our reader did not count it (a model edgevae refuses). */
  macsNote?: string;
  /** Why edgevae does not run the model, where it refuses it. */
  refused?: string;
  batches: number[];
}

/** One contender on one model at one batch: the median over the rounds, and each round's benny figures. */
export interface RealThroughput {
  model: string;
  contender: string;
  batch: number;
  samplesPerSecond: number;
  /** 2 x multiply-adds per sample x samples/s, in GFLOP/s. */
  gflops: number;
  /** gflops over the median of the rounds' mul+add peaks. */
  fractionOfPeak: number;
  rounds: { samplesPerSecond: number; marginPercent: number; samples: number }[];
}

export interface RealSkip {
  model: string;
  contender: string;
  /** Absent when the contender did not run the model at all. */
  batch?: number;
  reason: string;
}

export interface RealResults {
  command: string;
  date: string;
  machine: MachineInfo;
  versions: Record<string, string>;
  peak: {
    /** Measured before the rounds (src/bench/peak.ts, the best of several accumulator counts). */
    start: { mulAdd: PeakResult; fma: PeakResult | null; int8: PeakResult };
    /** The mul+add microbenchmark as the first case of every round, GFLOP/s. */
    rounds: number[];
    /** Their median: what "% of peak" is against. */
    mulAddGflops: number;
  };
  settings: {
    rounds: number;
    benny: { minSamples: number; maxTime: number };
    slowCall: { seconds: number; minSamples: number };
    warmUpSeconds: number;
    maxCallSeconds: number;
    verificationBatch: number;
  };
  models: RealModelEntry[];
  contenders: { name: string; engine: string; precision: string }[];
  throughput: RealThroughput[];
  agreement: Agreement[];
  skipped: RealSkip[];
  durationSeconds: number;
  loadAverage: { start: number; end: number };
}
