/**
 * How DecoderPool scales on this machine's cores: samples/s of the dense 2-1000-1000-784 and conv VAE
 * decoders (random weights of the real shapes, f32) at batch 64 and 256, for the single-threaded
 * Decoder and for pools of 1 and 2 worker threads. Then small batches of the dense and conditional
 * decoders on 2 threads, whole on one worker and split as the pool splits them (minShareMacs 0):
 * where splitting starts to pay is what DEFAULT_MIN_SHARE_MACS is set from.
 *
 * Threads only scale on idle cores, so each case also records how many cores other processes kept
 * busy while it ran (from /proc/stat, Linux only); a figure taken on a busy machine says so.
 *
 * Run: npm run bench:threads   (results: bench/results/<date>-<host>-threads.json)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import b from 'benny';
import * as tf from '@tensorflow/tfjs';
import { Decoder, type DecoderPool } from '../src/index.ts';
import { createNodePool } from '../src/node/index.ts';
import { exportModel } from '../src/export/index.ts';
import { ALL_FIXTURES, type Fixture } from '../test/fixtures/models.ts';
import { cpuClock } from './machine.ts';

await tf.setBackend('cpu');

const SCALING_BATCHES = [64, 256];
const SMALL_BATCHES = [2, 3, 8, 12, 16, 32];
const WARM_UP_CALLS = 5;

type Case = { name: string; model: string; batch: number; contender: string; run: () => unknown };
const cases: Case[] = [];
const pools: DecoderPool[] = [];

const fixture = (name: string) => ALL_FIXTURES.find((f) => f.name === name)!;
const exported = (f: Fixture) => exportModel(f.build(1), { dtype: 'f32', meta: { output: { shape: f.outputShape } } });

async function startPool(model: Uint8Array, threads: number, minShareMacs?: number): Promise<DecoderPool> {
  const pool = await createNodePool(model, { threads, ...(minShareMacs === undefined ? {} : { minShareMacs }) });
  pools.push(pool);
  return pool;
}

/** V8 runs wasm in its baseline tier first: every contender is warmed up, on its own instances. */
async function addWarmedUp(entry: Omit<Case, 'name'>): Promise<void> {
  for (let i = 0; i < WARM_UP_CALLS; i++) await entry.run();
  cases.push({ ...entry, name: `${entry.model} batch ${entry.batch}: ${entry.contender}` });
}

for (const model of ['denseDecoder', 'convVaeDecoder']) {
  const bytes = exported(fixture(model));
  const decoder = await Decoder.load(bytes);
  const onePool = await startPool(bytes, 1);
  const twoPool = await startPool(bytes, 2);
  for (const batch of SCALING_BATCHES) {
    await addWarmedUp({ model, batch, contender: 'Decoder', run: () => decoder.sample(batch, { seed: 1 }) });
    await addWarmedUp({ model, batch, contender: 'pool, 1 thread', run: () => onePool.sample(batch, { seed: 1 }) });
    await addWarmedUp({ model, batch, contender: 'pool, 2 threads', run: () => twoPool.sample(batch, { seed: 1 }) });
  }
}

const macsPerSample: Record<string, number> = {};
for (const model of ['denseDecoder', 'conditionalDecoder']) {
  const bytes = exported(fixture(model));
  const split = await startPool(bytes, 2, 0);
  const whole = await startPool(bytes, 2, Number.POSITIVE_INFINITY);
  macsPerSample[model] = split.info.macsPerSample;
  for (const batch of SMALL_BATCHES) {
    await addWarmedUp({ model, batch, contender: '2 threads, whole on one', run: () => whole.sample(batch, { seed: 1 }) });
    await addWarmedUp({ model, batch, contender: `2 threads, split ${split.shareSizes(batch).join('+')}`, run: () => split.sample(batch, { seed: 1 }) });
  }
}

const otherCores: number[] = [];
let lastClock = cpuClock();
const byName = new Map(cases.map((c) => [c.name, c]));
const loadAtStart = loadavg();
const stamp = `${new Date().toISOString().slice(0, 10)}-${hostname()}`;

await b.suite(
  'edgevae DecoderPool threads (samples/s = batch / median time per call)',
  // 3 s per case rather than benny's 5: the whole run fits in a quiet spell of a shared machine more often.
  b.configure({ cases: { maxTime: 3 } }),
  ...cases.map((c) => b.add(c.name, c.run)),
  b.cycle(() => {
    const now = cpuClock();
    if (now && lastClock) otherCores.push(Math.max(0, (now.all - lastClock.all - (now.ours - lastClock.ours)) / (now.wall - lastClock.wall)));
    lastClock = now;
  }),
  b.complete((summary) => {
    const results = summary.results.map((result, i) => {
      const entry = byName.get(result.name)!;
      return {
        model: entry.model,
        batch: entry.batch,
        contender: entry.contender,
        samplesPerSecond: Math.round(entry.batch / result.details.median),
        marginPercent: result.margin,
        calls: result.samples,
        otherProcessesCores: otherCores[i] === undefined ? null : Number(otherCores[i].toFixed(2)),
      };
    });
    const report = {
      date: new Date().toISOString(),
      host: hostname(),
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
      loadAverage: { start: loadAtStart, end: loadavg() },
      macsPerSample,
      results,
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/${stamp}-threads.json`, JSON.stringify(report, null, 2) + '\n');
    console.log('\nsamples/s (other processes\' cores busy meanwhile):');
    for (const r of results) console.log(`${r.model} batch ${r.batch}, ${r.contender}: ${r.samplesPerSecond} ±${r.marginPercent}% (${r.otherProcessesCores ?? '?'})`);
    console.log(`\nwritten to bench/results/${stamp}-threads.json`);
  }),
);
await Promise.all(pools.map((pool) => pool.close()));
