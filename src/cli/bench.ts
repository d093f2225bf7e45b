/**
 * `edgevae bench`: samples/s and latency percentiles of a model on this machine, per batch size and
 * weight dtype, with our runtime and, when it is installed, tfjs-backend-wasm running the same model
 * (rebuilt with toLayersModel). A progress bar runs on stderr; results go to stdout. Ctrl-C stops
 * between calls and prints what was measured so far.
 *
 * With --layers, a per-node profile instead (src/bench/profile.ts): each node's median time per pass,
 * its share of the pass and its GFLOP/s, against this core's wasm SIMD peak measured first.
 */
import { cpus } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { progressLine } from './progress.ts';
import { isPackageName, missingModule } from './training-side.ts';
import { InputError, UnsupportedError } from '../errors.ts';
import { readModel } from '../format/read.ts';
import type { DType } from '../format/spec.ts';
import { readInput, resolveModel } from '../node/files.ts';
import { benchInputs, type BatchRunner, type BenchInputs, type Contender, type PreparedModel } from '../bench/contender.ts';
import { edgevaeContender, edgevaePoolContender, edgevaeSharedContender, loadWithSimd, relaxedSimdUnavailable } from '../bench/edgevae-runner.ts';
import { gflops, samplesPerSecond, summarizeLatency, timeCalls, warmUp, type LatencySummary } from '../bench/measure.ts';
import { measurePeak, type PeakResult } from '../bench/peak.ts';
import { profileLayers, type LayerProfile } from '../bench/profile.ts';
import { convertDtype } from '../export/convert-dtype.ts';
import { instantiate, int8DotOf, type SimdMode } from '../runtime/wasm.ts';
import { Decoder } from '../runtime/decoder.ts';

export interface BenchCommandOptions {
  model?: string;
  batch: number[];
  dtype?: DType[];
  simd: SimdMode;
  seconds: number;
  /** False with --no-tfjs. */
  tfjs: boolean;
  /** With more than 1, our runtime also runs on a pool of this many worker threads, and with each decode shared by them. */
  threads: number;
  json?: boolean;
  /** A per-node profile instead of the throughput table. */
  layers?: boolean;
}

export const MAX_BATCH = 4096;
export const MAX_SECONDS = 600;

/** Parses "1,64,256": distinct integers in 1..MAX_BATCH, returned in ascending order. */
export function parseBatchList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const expected = `expected batch sizes as a comma-separated list of integers in 1..${MAX_BATCH}, got "${value}"`;
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(expected);
  const sizes = parts.map(Number);
  if (sizes.some((n) => n < 1 || n > MAX_BATCH)) throw new InvalidArgumentError(expected);
  if (new Set(sizes).size !== sizes.length) throw new InvalidArgumentError(`batch size ${sizes.find((n, i) => sizes.indexOf(n) !== i)} is listed twice in "${value}"`);
  return sizes.sort((a, b) => a - b);
}

const DTYPE_NAMES: Record<string, DType> = { f32: 'f32', f16: 'f16', int8: 'i8', i8: 'i8' };

/** Parses "f32,int8" into the format's dtypes, without repeats. */
export function parseDtypeList(value: string): DType[] {
  const parts = value.split(',').map((p) => p.trim());
  const unknown = parts.find((p) => !(p in DTYPE_NAMES));
  if (unknown !== undefined) throw new InvalidArgumentError(`expected weight dtypes from f32, f16, int8 (comma-separated), got "${unknown}"`);
  return [...new Set(parts.map((p) => DTYPE_NAMES[p]))];
}

/** Parses a duration in seconds, in (0, MAX_SECONDS]. */
export function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > MAX_SECONDS) throw new InvalidArgumentError(`expected seconds in (0, ${MAX_SECONDS}], got "${value}"`);
  return n;
}

interface Measurement {
  contender: string;
  batch: number;
  samplesPerSecond: number;
  gflops: number;
  latency: LatencySummary;
}

interface Entrant {
  contender: Contender;
  prepared: PreparedModel;
}

/** Our runtime in each dtype (the file's own by default), with a concrete SIMD build. */
async function ourEntrants(bytes: Uint8Array, dtypes: DType[], simd: 'strict' | 'relaxed', threads: number): Promise<Entrant[]> {
  const entrants: Entrant[] = [];
  for (const dtype of dtypes) {
    const contenders = [edgevaeContender(dtype, simd), ...(threads > 1 ? [edgevaePoolContender(dtype, simd, threads), edgevaeSharedContender(dtype, threads)] : [])];
    for (const contender of contenders) entrants.push({ contender, prepared: await contender.prepare(bytes) });
  }
  return entrants;
}

/** tfjs-backend-wasm on the same model, or the reason it cannot run here. */
async function tfjsEntrant(bytes: Uint8Array): Promise<{ entrant?: Entrant; reason?: string }> {
  try {
    const { tfjsContender } = await import('../bench/tfjs-runner.ts');
    const contender = tfjsContender('wasm');
    return { entrant: { contender, prepared: await contender.prepare(bytes) } };
  } catch (err) {
    if (err instanceof UnsupportedError) return { reason: err.message };
    const missing = missingModule(err);
    // Our own runner missing: the runtime package, which leaves it to the training side.
    if (missing !== undefined && !isPackageName(missing)) return { reason: 'it comes with the training side, which this edgevae package leaves out (see docs/API.md, "What installs what")' };
    if (missing !== undefined) return { reason: `TensorFlow.js is not installed (${missing} is missing)` };
    throw err;
  }
}

/** The build 'auto' resolves to here. */
function concreteBuild(simd: SimdMode): 'strict' | 'relaxed' {
  if (simd !== 'auto') return simd;
  return relaxedSimdUnavailable() ? 'strict' : 'relaxed';
}

/** Stops the run on the first Ctrl-C (between calls); a second one leaves at once. */
function interruptible() {
  let stopped = false;
  const onInterrupt = () => {
    if (stopped) process.exit(130);
    stopped = true;
  };
  process.on('SIGINT', onInterrupt);
  return { stopped: () => stopped, release: () => process.off('SIGINT', onInterrupt) };
}

async function measureAll(entrants: Entrant[], inputs: BenchInputs[], o: BenchCommandOptions, macs: number, stop: () => boolean): Promise<Measurement[]> {
  const total = entrants.length * inputs.length;
  const bar = progressLine(total * o.seconds);
  bar.update(0, 'warming up');
  const results: Measurement[] = [];
  try {
    for (const [i, batchInputs] of inputs.entries()) {
      for (const [j, { contender, prepared }] of entrants.entries()) {
        if (stop()) return results;
        const done = (i * entrants.length + j) * o.seconds;
        const what = `${contender.name}, batch ${batchInputs.batch}`;
        bar.update(done, what);
        const runner: BatchRunner = prepared.forBatch(batchInputs);
        await warmUp(() => runner.run(), Math.min(0.5, o.seconds / 4), 2);
        const times = await timeCalls(() => runner.run(), { seconds: o.seconds, minCalls: 3, shouldStop: stop, onProgress: (s) => bar.update(done + Math.min(s, o.seconds), what) });
        runner.dispose();
        const rate = samplesPerSecond(times, batchInputs.batch);
        results.push({ contender: contender.name, batch: batchInputs.batch, samplesPerSecond: rate, gflops: gflops(macs, rate), latency: summarizeLatency(times) });
      }
    }
    bar.update(total * o.seconds, 'done');
    return results;
  } finally {
    bar.stop();
  }
}

function printTable(results: Measurement[], tfjsName: string | undefined): void {
  const rows = results.map((r) => {
    const peer = tfjsName && r.contender !== tfjsName ? results.find((t) => t.contender === tfjsName && t.batch === r.batch) : undefined;
    return [
      r.contender,
      String(r.batch),
      Math.round(r.samplesPerSecond).toLocaleString('en-US'),
      r.gflops.toFixed(2),
      r.latency.p50Ms.toFixed(3),
      r.latency.p90Ms.toFixed(3),
      r.latency.p99Ms.toFixed(3),
      String(r.latency.calls),
      peer ? `${(r.samplesPerSecond / peer.samplesPerSecond).toFixed(2)}x` : '',
    ];
  });
  const head = ['contender', 'batch', 'samples/s', 'GFLOP/s', 'p50 ms', 'p90 ms', 'p99 ms', 'calls', tfjsName ? 'vs tfjs-wasm' : ''];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}

export async function benchCommand(o: BenchCommandOptions): Promise<void> {
  const path = resolveModel(o.model);
  const bytes = await readInput(path, 'model file');
  const parsed = readModel(bytes);
  if (o.layers) return layersCommand(o, path, bytes, parsed);
  const dtypes = o.dtype ?? [parsed.header.meta.dtype];
  if (o.simd === 'relaxed' && relaxedSimdUnavailable()) throw new InputError(`--simd relaxed: ${relaxedSimdUnavailable()}`);
  const build = concreteBuild(o.simd);
  const reference = await loadWithSimd(bytes, 'strict');
  const inputs = o.batch.map((batch) => benchInputs(reference, batch));
  const entrants = await ourEntrants(bytes, dtypes, build, o.threads);
  const tfjs = o.tfjs ? await tfjsEntrant(bytes) : { reason: 'skipped (--no-tfjs)' };
  if (tfjs.entrant) entrants.push(tfjs.entrant);

  const note = (text: string) => (o.json ? console.error(text) : console.log(text));
  note(`model: ${path} (${parsed.header.meta.dtype} weights, ${parsed.macsPerSample} multiply-adds per sample)`);
  note(`machine: ${cpus()[0]?.model.trim() ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}; one thread per contender${o.threads > 1 ? `, and our runtime on ${o.threads} worker threads (a pool splitting the batch, and one decode shared)` : ''}`);
  // The relaxed build multiplies int8 layers with relaxed SIMD's int8 dot product only where its load-time self-test passes.
  // A property of the wasm instance, not of the model: one instance of the build answers it.
  const int8Path = build === 'relaxed' && dtypes.includes('i8') ? `; int8 layers on ${int8DotOf(await instantiate(undefined, 'relaxed'))}` : '';
  note(`edgevae: ${build} SIMD build${o.simd === 'auto' && build === 'strict' ? ` (relaxed not available: ${relaxedSimdUnavailable()})` : ''}${int8Path}`);
  note(tfjs.entrant ? 'tfjs-backend-wasm: the same model rebuilt as a TensorFlow.js LayersModel (f32 weights; one thread, SIMD), predict(x, { batchSize })' : `tfjs-backend-wasm: not measured: ${tfjs.reason}`);
  note(`measuring ${o.seconds} s per contender and batch size; Ctrl-C stops and prints what was measured`);

  const interrupt = interruptible();
  let results: Measurement[];
  try {
    results = await measureAll(entrants, inputs, o, parsed.macsPerSample, interrupt.stopped);
  } finally {
    interrupt.release();
    await Promise.all(entrants.map((e) => e.prepared.dispose()));
  }
  const stopped = interrupt.stopped();
  if (o.json) {
    console.log(JSON.stringify({ model: path, dtype: parsed.header.meta.dtype, macsPerSample: parsed.macsPerSample, simd: build, seconds: o.seconds, tfjs: tfjs.entrant ? { measured: true } : { measured: false, reason: tfjs.reason }, stopped, results }, null, 2));
  } else {
    printTable(results, tfjs.entrant?.contender.name);
    if (stopped) console.log(`stopped by Ctrl-C after ${results.length} of ${entrants.length * inputs.length} measurements`);
  }
  if (stopped) process.exitCode = 130;
}

// ---- --layers: the per-node profile ----

const WEIGHT_NAMES: Record<DType, string> = { f32: 'f32', f16: 'f16', i8: 'int8' };

/** The peaks a profile's nodes are held against: f32 mul+add always, the int8 kernels' dot_i16x8_s + add when an int8 profile runs. */
async function profilePeaks(dtypes: DType[]): Promise<{ mulAdd: PeakResult; int8?: PeakResult }> {
  const options = { accumulators: [8, 12, 16], warmUpSeconds: 0.2, repetitions: 10 };
  const mulAdd = (await measurePeak('mul-add', options))!;
  const int8 = dtypes.includes('i8') ? (await measurePeak('dot-i16', options))! : undefined;
  return { mulAdd, ...(int8 ? { int8 } : {}) };
}

interface ProfileRun extends LayerProfile {
  contender: string;
  dtype: DType;
  /** GFLOP/s (GOP/s for int8) of the peak each node's rate is held against. */
  peakGflops: number;
}

const formatMs = (ms: number) => (ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));

function printProfile(run: ProfileRun): void {
  const rows = run.nodes.map((node, i) => [
    String(i),
    node.name,
    node.detail ? `${node.type} (${node.detail})` : node.type,
    node.outputShape.join('x'),
    node.macsPerSample ? node.macsPerSample.toLocaleString('en-US') : '',
    node.runs ? formatMs(node.ms) : 'alias',
    node.runs ? `${(100 * node.share).toFixed(1)}%` : '',
    node.gflops === null ? '' : node.gflops.toFixed(2),
    node.gflops === null ? '' : `${((100 * node.gflops) / run.peakGflops).toFixed(0)}%`,
  ]);
  const head = ['#', 'node', 'kind', 'output', 'multiply-adds', 'ms', 'share', 'GFLOP/s', '% of peak'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const left = new Set([1, 2]);
  const line = (cells: string[]) => cells.map((cell, c) => (left.has(c) ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  console.log(`\n${run.contender}, batch ${run.batch}: ${run.passes} passes; the nodes sum to ${formatMs(run.sumMs)} ms a pass (a whole decode: ${formatMs(run.decodeMs)} ms); medians per node`);
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}

async function layersCommand(o: BenchCommandOptions, path: string, bytes: Uint8Array, parsed: ReturnType<typeof readModel>): Promise<void> {
  if (o.threads > 1) throw new InputError(`--layers profiles one thread: drop --threads ${o.threads}`);
  if (o.simd === 'relaxed' && relaxedSimdUnavailable()) throw new InputError(`--simd relaxed: ${relaxedSimdUnavailable()}`);
  const build = concreteBuild(o.simd);
  const dtypes = o.dtype ?? [parsed.header.meta.dtype];
  const note = (text: string) => (o.json ? console.error(text) : console.log(text));
  note(`model: ${path} (${parsed.header.meta.dtype} weights, ${parsed.macsPerSample} multiply-adds per sample, ${parsed.graph.nodes.length} nodes)`);
  note(`machine: ${cpus()[0]?.model.trim() ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}; one thread; edgevae ${build} SIMD build`);
  const peak = await profilePeaks(dtypes);
  note(`wasm SIMD peak of one core, measured now: f32x4 mul+add ${peak.mulAdd.gflops.toFixed(1)} GFLOP/s${peak.int8 ? `; i32x4.dot_i16x8_s + add ${peak.int8.gflops.toFixed(1)} GOP/s (int8 nodes are held against it)` : ''}`);
  note(`profiling ${o.seconds} s per dtype and batch size after warm-up: every node run and timed on its own, pass after pass; Ctrl-C stops`);

  const interrupt = interruptible();
  const runs: ProfileRun[] = [];
  try {
    for (const dtype of dtypes) {
      const converted = parsed.header.meta.dtype === dtype ? bytes : convertDtype(bytes, dtype);
      const decoder = await Decoder.load(converted, { simd: build, maxBatch: Math.max(...o.batch) });
      for (const batch of o.batch) {
        if (interrupt.stopped()) break;
        const profile = await profileLayers(decoder, benchInputs(decoder, batch), { seconds: o.seconds, warmUpSeconds: Math.min(0.5, o.seconds / 4), shouldStop: interrupt.stopped, graph: parsed.graph.nodes });
        const run: ProfileRun = { contender: `edgevae ${WEIGHT_NAMES[dtype]} ${build}`, dtype, peakGflops: dtype === 'i8' && peak.int8 ? peak.int8.gflops : peak.mulAdd.gflops, ...profile };
        runs.push(run);
        if (!o.json) printProfile(run);
      }
    }
  } finally {
    interrupt.release();
  }
  const stopped = interrupt.stopped();
  if (o.json) console.log(JSON.stringify({ model: path, dtype: parsed.header.meta.dtype, macsPerSample: parsed.macsPerSample, simd: build, seconds: o.seconds, machine: { cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, node: process.version }, peak, stopped, profiles: runs }, null, 2));
  else if (stopped) console.log(`stopped by Ctrl-C after ${runs.length} of ${dtypes.length * o.batch.length} profiles`);
  if (stopped) process.exitCode = 130;
}
