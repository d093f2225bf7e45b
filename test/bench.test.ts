// The benchmark's building blocks: timing and percentiles (src/bench/measure.ts), the contenders
// (our runtime and tfjs-backend-wasm decode the same inputs to the same outputs), and the wasm SIMD
// peak microbenchmark's hand-encoded module (src/bench/peak.ts), the turns (bench/turns.ts), the
// report's handling of the int8 peaks (bench/report.ts), and the per-node profile (Decoder.profile,
// src/bench/profile.ts, `edgevae bench --layers`).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder } from '../src/index.ts';
import { benchInputs } from '../src/bench/contender.ts';
import { edgevaeContender } from '../src/bench/edgevae-runner.ts';
import { tfjsContender } from '../src/bench/tfjs-runner.ts';
import { gflops, percentile, samplesPerSecond, summarizeLatency, timeCalls } from '../src/bench/measure.ts';
import { relaxedSimdSupported } from '../src/runtime/wasm.ts';
import { peakModule, measurePeak, relaxedDotMatchesSpec } from '../src/bench/peak.ts';
import { playTurns } from '../bench/turns.ts';
import { renderSpeedSection } from '../bench/report.ts';
import type { BenchResults } from '../bench/results.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModel } from '../src/export/index.ts';
import { profileLayers } from '../src/bench/profile.ts';
import { sameBits } from './helpers/numbers.ts';
import { edgevae } from './helpers/cli.ts';
import { tinyConvDecoder } from './fixtures/models.ts';
import { buildModel } from './helpers/random-models.ts';
import { LAYER_PLANS } from './helpers/plans.ts';
import { maxAbsDiff } from './helpers/numbers.ts';
import { tf } from './helpers/setup.ts';

describe('measure', () => {
  it('interpolates percentiles between the closest ranks', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    assert.equal(percentile(sorted, 50), 6);
    assert.equal(percentile(sorted, 0), 1);
    assert.equal(percentile(sorted, 100), 11);
    assert.equal(percentile([10, 20], 90), 19);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.deepEqual(summarizeLatency([4, 1, 3, 2]), { calls: 4, meanMs: 2.5, minMs: 1, p50Ms: 2.5, p90Ms: 3.7, p99Ms: 3.9699999999999998 });
  });

  it('derives samples/s from the total time and GFLOP/s from the multiply-adds', () => {
    assert.equal(samplesPerSecond([2, 2, 4], 16), (16 * 3 * 1000) / 8);
    assert.equal(gflops(500_000, 10_000), 10);
  });

  it('times each call, synchronous or not, within the call budget, and stops when told', async () => {
    let calls = 0;
    const sync = await timeCalls(() => calls++, { seconds: 10, maxCalls: 7 });
    assert.equal(sync.length, 7);
    assert.equal(calls, 7);
    const slow = await timeCalls(() => new Promise((resolve) => setTimeout(resolve, 5)), { seconds: 0.001, minCalls: 3 });
    assert.equal(slow.length, 3);
    assert.ok(slow.every((ms) => ms >= 4), `awaited: ${slow}`);
    let left = 4;
    const stopped = await timeCalls(() => left--, { seconds: 10, shouldStop: () => left === 0 });
    assert.equal(stopped.length, 4);
  });
});

describe('contenders', () => {
  it('our runtime in each dtype and tfjs-backend-wasm decode the same inputs alike', async () => {
    const plan = LAYER_PLANS['conditional, label joined first, mid-network, then convolutions'];
    const model = buildModel({ ...plan, seed: 3 });
    const inputs = benchInputs(await Decoder.load(model), 6);
    assert.deepEqual(Array.from(inputs.labels!), [0, 1, 2, 3, 0, 1]);
    assert.deepEqual(Array.from(inputs.oneHot!.subarray(4, 8)), [0, 1, 0, 0]);
    const outputs: Record<string, Float32Array> = {};
    for (const contender of [edgevaeContender('f32', 'strict'), edgevaeContender('f16', 'strict'), edgevaeContender('i8', 'strict'), tfjsContender('wasm')]) {
      const prepared = await contender.prepare(model);
      const runner = prepared.forBatch(inputs);
      outputs[contender.name] = await runner.run();
      runner.dispose();
      await prepared.dispose();
    }
    await tf.setBackend('cpu');
    const f32 = outputs['edgevae f32 strict'];
    assert.ok(maxAbsDiff(outputs['@tensorflow/tfjs-backend-wasm f32'], f32) <= 1e-5);
    assert.ok(maxAbsDiff(outputs['edgevae f16 strict'], f32) <= 1e-2);
    assert.ok(maxAbsDiff(outputs['edgevae int8 strict'], f32) <= 5e-2);
  });

  it('the relaxed build is refused, with the reason, where the engine lacks it', async () => {
    const model = buildModel({ ...LAYER_PLANS['dense chain, every activation'], seed: 1 });
    const relaxed = edgevaeContender('f32', 'relaxed');
    if (relaxedSimdSupported()) {
      const prepared = await relaxed.prepare(model);
      assert.equal(typeof prepared.forBatch, 'function');
    } else {
      await assert.rejects(relaxed.prepare(model), /does not support relaxed SIMD/);
    }
  });
});

describe('wasm SIMD peak microbenchmark', () => {
  it('encodes a valid module that computes what it claims', async () => {
    for (const accumulators of [1, 8, 12]) {
      const bytes = peakModule('mul-add', accumulators);
      assert.ok(WebAssembly.validate(bytes));
      const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes));
      const run = instance.exports.run as (n: number) => number;
      // One iteration updates each accumulator 4 times with acc = acc * 0.999 + 0.001; lane 0 of their sum.
      let expected = 0;
      for (let k = 0; k < accumulators; k++) {
        let acc = Math.fround(1 + k / 64);
        for (let u = 0; u < 4; u++) acc = Math.fround(Math.fround(acc * Math.fround(0.999)) + Math.fround(0.001));
        expected = Math.fround(expected + acc);
      }
      assert.ok(Math.abs(run(1) - expected) < 1e-5, `${accumulators} accumulators: ${run(1)} vs ${expected}`);
    }
    assert.throws(() => peakModule('fma', 0), RangeError);
    assert.equal(WebAssembly.validate(peakModule('fma', 4)), relaxedSimdSupported());
    assert.equal(WebAssembly.validate(peakModule('relaxed-dot-i8', 4)), relaxedSimdSupported());
  });

  /** Lane 0 of the accumulators' sum after one loop iteration (4 updates each), computed lane by lane: acc starts at (k+1, k+2, k+3, k+4). */
  function expectedIntegerLane0(kind: 'dot-i16' | 'relaxed-dot-i8', accumulators: number): number {
    let sum = 0;
    for (let k = 0; k < accumulators; k++) {
      const acc = Int32Array.of(k + 1, k + 2, k + 3, k + 4);
      for (let u = 0; u < 4; u++) {
        // dot_i16x8_s: each i32 lane sums its two i16 halves times m = 3; the relaxed dot sums its four i8 bytes times m = 3. Then + a = 1.
        const parts = kind === 'dot-i16' ? new Int16Array(acc.buffer) : new Int8Array(acc.buffer);
        const per = parts.length / 4;
        const next = Int32Array.from({ length: 4 }, (_, lane) => {
          let dot = 0;
          for (let j = 0; j < per; j++) dot += parts[lane * per + j] * 3;
          return dot + 1;
        });
        acc.set(next);
      }
      sum = (sum + acc[0]) | 0;
    }
    return sum;
  }

  it('encodes the integer dot-product kinds to compute what they claim', async () => {
    // The relaxed kind's arithmetic is checked only where the engine computes the instruction right (Node 20's V8 does not).
    const kinds = (await relaxedDotMatchesSpec()) ? (['dot-i16', 'relaxed-dot-i8'] as const) : (['dot-i16'] as const);
    for (const kind of kinds) {
      for (const accumulators of [1, 12]) {
        const instance = await WebAssembly.instantiate(await WebAssembly.compile(peakModule(kind, accumulators)));
        const run = instance.exports.run as (n: number) => number;
        assert.equal(run(1), expectedIntegerLane0(kind, accumulators), `${kind}, ${accumulators} accumulators`);
      }
    }
  });

  it('measures a positive rate', async () => {
    for (const kind of ['mul-add', 'dot-i16'] as const) {
      const peak = await measurePeak(kind, { accumulators: [8], warmUpSeconds: 0.05, repetitions: 3 });
      assert.ok(peak && peak.gflops > 0 && peak.accumulators === 8, kind);
    }
    const relaxed = await measurePeak('relaxed-dot-i8', { accumulators: [8], warmUpSeconds: 0.05, repetitions: 3 });
    assert.equal(relaxed === null, !relaxedSimdSupported());
  });
});

describe('turns', () => {
  /** A call that keeps the thread busy for `ms`, as a decode call does. */
  const busy = (ms: number) => () => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };

  it('calls every contender in each round, many short calls to a turn, and reports their medians', async () => {
    const order: string[] = [];
    const players = [
      { contender: 'fast', run: () => (order.push('fast'), busy(0.5)()) },
      { contender: 'slow, async', run: async () => (order.push('slow'), busy(2)()) },
    ];
    const played = await playTurns({ model: 'm', batch: 1, seconds: 0.2, contenders: ['fast', 'slow, async'] }, players);
    const [fast, slow] = played.contenders;
    assert.ok(played.rounds >= 3);
    assert.ok(fast.callsPerTurn > slow.callsPerTurn, `${fast.callsPerTurn} vs ${slow.callsPerTurn}`);
    for (const c of played.contenders) assert.equal(c.calls, played.rounds * c.callsPerTurn);
    assert.ok(fast.medianMs >= 0.5 && fast.medianMs < slow.medianMs && slow.medianMs >= 2);
    assert.ok(fast.p10Ms <= fast.medianMs && fast.medianMs <= fast.p90Ms);
    // After the warm-ups, every round is a turn of fast calls, then a turn of slow ones.
    const round = [...Array(fast.callsPerTurn).fill('fast'), ...Array(slow.callsPerTurn).fill('slow')];
    assert.deepEqual(order.slice(order.length - played.rounds * round.length), Array.from({ length: played.rounds }, () => round).flat());
  });
});

describe('report', () => {
  const RUN = 'bench/results/2026-11-22-vm-session6.json';
  const load = () => JSON.parse(readFileSync(RUN, 'utf8')) as BenchResults;
  const peak = (kind: 'dot-i16' | 'relaxed-dot-i8', gflops: number) => ({ kind, gflops, accumulators: 12, byAccumulators: { 12: gflops } });

  it('states the int8 peaks when the run measured them, and holds our int8 rows against the dot_i16x8_s one', () => {
    const results = load();
    results.peak.int8 = peak('dot-i16', 50);
    results.peak.relaxedInt8 = peak('relaxed-dot-i8', 100);
    results.peak.relaxedDotMatchesSpec = false;
    const text = renderSpeedSection(results, RUN);
    assert.match(text, /plus `i32x4.add` \*\*50\.0 GOP\/s\*\*/);
    assert.match(text, /100\.0 GOP\/s, though this engine computes it wrong/);
    // The first model's table comes first in the section.
    const model = results.models[0].name;
    const at64 = (contender: string) => results.throughput.find((t) => t.model === model && t.contender === contender && t.batch === 64)!;
    const row = (contender: string) => text.split('\n').find((line) => line.startsWith(`| ${contender} |`))!;
    assert.ok(row('edgevae int8 strict').includes(`| ${((100 * at64('edgevae int8 strict').gflops) / 50).toFixed(0)}% of int8 |`), row('edgevae int8 strict'));
    assert.ok(row('edgevae f32 strict').includes(`| ${(100 * at64('edgevae f32 strict').fractionOfPeak).toFixed(0)}% |`), row('edgevae f32 strict'));
  });

  it('leaves the int8 peaks out for a run that did not measure them', () => {
    const text = renderSpeedSection(load(), RUN);
    assert.doesNotMatch(text, /GOP\/s|of int8/);
  });
});

describe('per-node profile', () => {
  /** tinyConvDecoder: dense, a reshape (no code of its own), convolutions and activations. */
  const model = () => exportModel(tinyConvDecoder(2), { dtype: 'f32', meta: { output: { shape: [10, 18, 1] } } });

  it('Decoder.profile runs the plan a node at a time to the same bits, timing every node that runs code', async () => {
    const decoder = await Decoder.load(model());
    const latents = decoder.sampleLatents(5, { seed: 3 });
    let clock = 0;
    const { output, layerMs } = decoder.profile(latents, undefined, () => (clock += 1));
    assert.ok(sameBits(output, decoder.decode(latents)));
    assert.equal(layerMs.length, decoder.info.layers.length);
    decoder.info.layers.forEach((layer, i) => {
      // A reshape reads its input's memory: no record, no time; every other node is one record, read between two ticks.
      assert.equal(layerMs[i], layer.type === 'reshape' ? null : 1, `${layer.name} (${layer.type})`);
    });
    assert.ok(decoder.info.layers.some((l) => l.type === 'reshape'));
    assert.equal(decoder.info.layers.reduce((sum, l) => sum + l.macsPerSample, 0), decoder.info.macsPerSample);
    const small = await Decoder.load(model(), { maxBatch: 4 });
    assert.throws(() => small.profile(latents), /at most maxBatch \(4\) samples, got 5/);
  });

  it('profileLayers gives each node a median, a share and a rate, shares summing to one', async () => {
    const decoder = await Decoder.load(model());
    const profile = await profileLayers(decoder, benchInputs(decoder, 4), { seconds: 0.05, warmUpSeconds: 0.01, minPasses: 3 });
    assert.equal(profile.batch, 4);
    assert.ok(profile.passes >= 3);
    assert.deepEqual(profile.nodes.map((n) => n.name), decoder.info.layers.map((l) => l.name));
    const shares = profile.nodes.reduce((sum, n) => sum + n.share, 0);
    assert.ok(Math.abs(shares - 1) < 1e-9, `shares sum to ${shares}`);
    assert.ok(Math.abs(profile.nodes.reduce((sum, n) => sum + n.ms, 0) - profile.sumMs) < 1e-9);
    for (const node of profile.nodes) {
      assert.equal(node.runs, node.type !== 'reshape', node.name);
      if (node.gflops !== null) assert.ok(Math.abs(node.gflops - (2 * node.macsPerSample * 4) / (node.ms * 1e6)) < 1e-9 * node.gflops);
      else assert.ok(node.macsPerSample === 0 || node.ms === 0);
    }
    assert.ok(profile.decodeMs > 0);
  });

  describe('edgevae bench --layers', () => {
    let dir: string;
    let file: string;
    it('lists every node with its time, share and GFLOP/s, per dtype and batch', () => {
      dir = mkdtempSync(join(tmpdir(), 'edgevae-layers-'));
      file = join(dir, 'tiny-conv.evae');
      writeFileSync(file, model());
      const names = readModelNames(file);
      const json = edgevae('bench', '--model', file, '--layers', '--batch', '1,4', '--dtype', 'f32,int8', '--seconds', '0.2', '--json');
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout);
      assert.ok(report.peak.mulAdd.gflops > 0 && report.peak.int8.gflops > 0);
      assert.deepEqual(report.profiles.map((p: { contender: string; batch: number }) => [p.contender, p.batch]), [['edgevae f32 strict', 1], ['edgevae f32 strict', 4], ['edgevae int8 strict', 1], ['edgevae int8 strict', 4]]);
      for (const profile of report.profiles) {
        assert.deepEqual(profile.nodes.map((n: { name: string }) => n.name), names);
        const shares = profile.nodes.reduce((sum: number, n: { share: number }) => sum + n.share, 0);
        assert.ok(Math.abs(shares - 1) < 1e-6, `shares sum to ${shares}`);
        assert.equal(profile.peakGflops, profile.dtype === 'i8' ? report.peak.int8.gflops : report.peak.mulAdd.gflops);
      }
      const text = edgevae('bench', '--model', file, '--layers', '--batch', '2', '--seconds', '0.2');
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /wasm SIMD peak of one core, measured now: f32x4 mul\+add [\d.]+ GFLOP\/s/);
      assert.match(text.stdout, /^edgevae f32 strict, batch 2: \d+ passes; the nodes sum to [\d.]+ ms a pass/m);
      assert.match(text.stdout, /#\s+node\s+kind\s+output\s+multiply-adds\s+ms\s+share\s+GFLOP\/s\s+% of peak/);
      // Every node on its own row; the rows' shares add up to 100% (to their rounding).
      const rows = names.map((name, i) => text.stdout.split('\n').find((line) => new RegExp(`^${i}\\s+${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s`).test(line)));
      assert.ok(rows.every(Boolean), text.stdout);
      const percents = rows.map((row) => Number(/\s([\d.]+)%(\s|$)/.exec(row!)?.[1] ?? 0));
      const total = percents.reduce((sum, p) => sum + p, 0);
      assert.ok(Math.abs(total - 100) <= 0.05 * names.length + 1e-9, `shares add up to ${total}%`);
      assert.match(text.stdout, /\salias\s*$/m);
    });

    it('refuses what it cannot profile with a clear one-line error', () => {
      const cases: [string[], RegExp][] = [
        [['--model', join(dir, 'missing.evae')], /model file .*missing\.evae does not exist/],
        [['--model', file, '--batch', '0'], /expected batch sizes as a comma-separated list of integers in 1\.\.4096, got "0"/],
        [['--model', file, '--batch', 'big'], /got "big"/],
        [['--model', file, '--threads', '2'], /--layers profiles one thread: drop --threads 2/],
        [['--model', file, '--dtype', 'int4'], /expected weight dtypes from f32, f16, int8/],
      ];
      for (const [flags, pattern] of cases) {
        const { code, stderr } = edgevae('bench', '--layers', '--seconds', '0.1', ...flags);
        assert.notEqual(code, 0, flags.join(' '));
        assert.match(stderr, pattern, flags.join(' '));
        assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      }
      rmSync(dir, { recursive: true, force: true });
    });
  });
});

/** The names of a model file's nodes, as info.layers gives them. */
function readModelNames(file: string): string[] {
  const json = JSON.parse(edgevae('info', file, '--json').stdout) as { layers: { name: string }[] };
  return json.layers.map((l) => l.name);
}
