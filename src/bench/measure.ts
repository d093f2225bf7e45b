/**
 * Timing of decode calls, shared by `edgevae bench` and the repository's `npm run bench`: warm-up,
 * individually timed calls, and the figures derived from them (samples/s, latency percentiles,
 * GFLOP/s). Platform-neutral: only `performance.now()`.
 */

/** One decode call of a prepared batch. Engines with an asynchronous API (onnxruntime) return a promise. */
export type DecodeCall = () => unknown;

export interface TimingOptions {
  /** Stop once this much time has been spent calling (seconds). */
  seconds: number;
  /** Never fewer calls than this, whatever the time (default 1). */
  minCalls?: number;
  /** Never more calls than this (default: no limit). */
  maxCalls?: number;
  /** Checked between calls: true stops early (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Told the seconds spent so far, at most every 50 ms. */
  onProgress?: (elapsedSeconds: number) => void;
}

export interface LatencySummary {
  calls: number;
  /** Milliseconds per call. */
  meanMs: number;
  minMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

/**
 * Calls `run` until the time or call budget is spent, timing each call on its own; returns the
 * milliseconds of each call. Synchronous calls are not awaited, so they pay no promise overhead.
 */
export async function timeCalls(run: DecodeCall, options: TimingOptions): Promise<number[]> {
  const { seconds, minCalls = 1, maxCalls = Infinity, shouldStop = () => false, onProgress } = options;
  const budgetMs = seconds * 1000;
  const times: number[] = [];
  let spent = 0;
  let lastReport = 0;
  while (times.length < maxCalls && (times.length < minCalls || spent < budgetMs) && !shouldStop()) {
    const start = performance.now();
    const result = run();
    if (isThenable(result)) await result;
    const ms = performance.now() - start;
    times.push(ms);
    spent += ms;
    if (onProgress && spent - lastReport >= 50) {
      lastReport = spent;
      onProgress(spent / 1000);
      // Let a pending Ctrl-C (and the progress bar's timer) run between synchronous calls.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return times;
}

/**
 * Warms a contender up: V8 runs wasm in a baseline tier first and optimizes hot functions later, and
 * the engines allocate their buffers on the first call. Calls for `seconds`, at least `minCalls` times;
 * returns the duration of the last call in ms.
 */
export async function warmUp(run: DecodeCall, seconds: number, minCalls = 3): Promise<number> {
  const times = await timeCalls(run, { seconds, minCalls });
  return times[times.length - 1];
}

/** The p-th percentile (0..100) of ascending values, by linear interpolation between the closest ranks. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

export function summarizeLatency(timesMs: readonly number[]): LatencySummary {
  const sorted = [...timesMs].sort((a, b) => a - b);
  const total = sorted.reduce((sum, t) => sum + t, 0);
  return {
    calls: sorted.length,
    meanMs: total / sorted.length,
    minMs: sorted[0],
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
  };
}

/** Samples per second of calls that each decode `batch` samples, from their total time. */
export function samplesPerSecond(timesMs: readonly number[], batch: number): number {
  const total = timesMs.reduce((sum, t) => sum + t, 0);
  return (batch * timesMs.length * 1000) / total;
}

/** Arithmetic rate: two floating-point operations (a multiply and an add) per multiply-add. */
export function gflops(macsPerSample: number, samplesPerSec: number): number {
  return (2 * macsPerSample * samplesPerSec) / 1e9;
}

/** Whether an engine's answer is a promise (onnxruntime) rather than the output itself. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
