/**
 * int8 decoding on the two int8 paths, in whichever engine runs this file: the strict build
 * (i32x4.dot_i16x8_s) against the relaxed build, whose int8 layers take
 * i32x4.relaxed_dot_i8x16_i7x16_add_s where its load-time self-test passes (assembly/kernels/
 * gemm-i8-relaxed.ts). The two give the same bits, checked first; what differs is speed, and it
 * differs by engine, so `npm run bench:int8` runs this under Node and under Deno:
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/int8-dot.ts
 *   deno run -A bench/int8-dot.ts
 *
 * Models: the shipped int8 models (their real shapes: aae's decoder is the dense 2 → 1000 → 1000 →
 * 784). Each pair is timed by benny, then again in turns (bench/turns.ts), with the integer dot
 * products' peaks (src/bench/peak.ts) measured in the same run. Writes
 * bench/results/<date>-<host>-int8-dot-<engine>.json and benny's chart beside it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import b from 'benny';
import { Decoder } from '../src/index.ts';
import { benchInputs } from '../src/bench/contender.ts';
import { warmUp } from '../src/bench/measure.ts';
import { shippedModel } from '../src/node/files.ts';
import { sameBits } from '../test/helpers/numbers.ts';
import { machineInfo, RESULTS_FOLDER } from './machine.ts';
import { measurePeak, relaxedDotMatchesSpec } from '../src/bench/peak.ts';
import { playTurns } from './turns.ts';
import type { TurnsCase } from './results.ts';

const MODELS = ['aae', 'conv-vae', 'cvae'];
const BATCHES = [1, 64];
const WARM_UP_SECONDS = 1;
const BENNY = { minSamples: 10, maxTime: 3 };
const TURN_SECONDS = 20;

declare const Deno: { version: { deno: string; v8: string } } | undefined;
const engine = typeof Deno !== 'undefined' ? `Deno ${Deno.version.deno}` : `Node ${process.version.slice(1)}`;

interface Pair {
  model: string;
  batch: number;
  strict: () => Float32Array;
  relaxed: () => Float32Array;
  relaxedPath: Decoder['info']['int8Dot'];
  macsPerSample: number;
}

async function pairsOf(model: string): Promise<Pair[]> {
  const bytes = readFileSync(shippedModel(model));
  const strict = await Decoder.load(bytes, { simd: 'strict' });
  const relaxed = await Decoder.load(bytes, { simd: 'relaxed' });
  if (strict.info.dtype !== 'i8') throw new Error(`models/${model}.evae is ${strict.info.dtype}, not int8`);
  return BATCHES.map((batch) => {
    const { latents, labels } = benchInputs(strict, batch);
    const runStrict = () => strict.decode(latents, labels);
    const runRelaxed = () => relaxed.decode(latents, labels);
    if (!sameBits(runStrict(), runRelaxed())) throw new Error(`${model}, batch ${batch}: the relaxed build's int8 output differs from the strict build's`);
    return { model, batch, strict: runStrict, relaxed: runRelaxed, relaxedPath: relaxed.info.int8Dot, macsPerSample: strict.info.macsPerSample };
  });
}

const caseName = (pair: Pair, build: 'strict' | 'relaxed') => `${pair.model} int8 ${build} batch ${pair.batch}`;

async function runBenny(pairs: Pair[], stamp: string): Promise<Map<string, number>> {
  const opsByName = new Map<string, number>();
  await b.suite(
    `edgevae int8 paths on ${engine}: batches (calls) per second`,
    b.configure({ cases: BENNY }),
    ...pairs.flatMap((pair) => [b.add(caseName(pair, 'strict'), () => void pair.strict()), b.add(caseName(pair, 'relaxed'), () => void pair.relaxed())]),
    b.cycle((result: { name: string; ops: number; margin: number }) => {
      opsByName.set(result.name, result.ops);
      console.log(`${result.name}: ${result.ops} calls/s ±${result.margin}%`);
    }),
    b.save({ file: stamp, folder: RESULTS_FOLDER, format: 'chart.html' }),
  );
  return opsByName;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const stamp = `${new Date().toISOString().slice(0, 10)}-${machine.hostname}-int8-dot-${engine.split(' ')[0].toLowerCase()}`;
  console.log(`edgevae int8 paths on ${engine} (V8 ${machine.v8}), ${machine.cpu}`);
  const peaks = { dotI16: await measurePeak('dot-i16'), relaxedDotI8: await measurePeak('relaxed-dot-i8'), relaxedDotMatchesSpec: await relaxedDotMatchesSpec() };
  console.log(`peaks: dot_i16x8_s+add ${peaks.dotI16!.gflops.toFixed(1)} GOP/s; relaxed dot ${peaks.relaxedDotI8 ? `${peaks.relaxedDotI8.gflops.toFixed(1)} GOP/s` : 'not available'}; relaxed dot computes right: ${peaks.relaxedDotMatchesSpec}`);
  const pairs = (await Promise.all(MODELS.map(pairsOf))).flat();
  console.log(`relaxed build's int8 path here: ${pairs[0].relaxedPath}; outputs bit-identical to the strict build's`);
  for (const pair of pairs) {
    await warmUp(pair.strict, WARM_UP_SECONDS);
    await warmUp(pair.relaxed, WARM_UP_SECONDS);
  }
  const ops = await runBenny(pairs, stamp);
  const turns: TurnsCase[] = [];
  for (const pair of pairs) {
    const match = { model: pair.model, batch: pair.batch, seconds: TURN_SECONDS, contenders: ['int8 strict', 'int8 relaxed'] };
    console.log(`turns: ${pair.model}, batch ${pair.batch}, ${TURN_SECONDS} s`);
    turns.push(await playTurns(match, [{ contender: 'int8 strict', run: pair.strict }, { contender: 'int8 relaxed', run: pair.relaxed }]));
  }
  const rows = pairs.map((pair, i) => {
    const [strict, relaxed] = turns[i].contenders;
    const bennyStrict = ops.get(caseName(pair, 'strict'))!;
    const bennyRelaxed = ops.get(caseName(pair, 'relaxed'))!;
    return {
      model: pair.model,
      batch: pair.batch,
      macsPerSample: pair.macsPerSample,
      benny: { strictSamplesPerSecond: bennyStrict * pair.batch, relaxedSamplesPerSecond: bennyRelaxed * pair.batch, ratio: bennyRelaxed / bennyStrict },
      turns: { strictMedianMs: strict.medianMs, relaxedMedianMs: relaxed.medianMs, ratio: strict.medianMs / relaxed.medianMs, rounds: turns[i].rounds },
    };
  });
  for (const row of rows) {
    console.log(`${row.model} batch ${row.batch}: relaxed/strict ${row.benny.ratio.toFixed(2)}x (benny), ${row.turns.ratio.toFixed(2)}x (turns: ${row.turns.strictMedianMs.toFixed(3)} vs ${row.turns.relaxedMedianMs.toFixed(3)} ms)`);
  }
  mkdirSync(RESULTS_FOLDER, { recursive: true });
  const file = `${RESULTS_FOLDER}/${stamp}.json`;
  const command = typeof Deno !== 'undefined' ? 'deno run -A bench/int8-dot.ts' : 'node --experimental-wasm-relaxed-simd --import tsx bench/int8-dot.ts';
  writeFileSync(file, JSON.stringify({ command, date: new Date().toISOString(), engine, machine, relaxedPath: pairs[0].relaxedPath, peaks, rows, turns }, null, 2) + '\n');
  console.log(`wrote ${file} and ${RESULTS_FOLDER}/${stamp}.chart.html`);
}

await main();
