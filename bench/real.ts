/**
 * `npm run bench:real` (issue 23): real decoder architectures, one thread each, in one process: the
 * DCGAN generator, the PyTorch-VAE 64x64x3 decoder and TAESD at 8x8 and 32x32 latents (full size,
 * exported by torch: `scripts/torch-fixtures.py --bench`), the README's TensorFlow.js example and the
 * three seed decoders. Contenders: ours (f32, f16, int8 weights; strict and relaxed SIMD builds),
 * onnxruntime-web (wasm, one thread) on the same ONNX model, tfjs-backend-wasm where a TensorFlow.js
 * version exists, onnxruntime-node (native, one thread) as the ceiling (bench/real-contenders.ts).
 *
 * 1. Every contender's output is checked against our f32 one (onnxruntime-node's where edgevae
 *    refuses the model), and that reference against torch's own output on the fixture's inputs.
 * 2. The wasm SIMD peak is measured (src/bench/peak.ts).
 * 3. Rounds: each round is one benny suite that times every case once, the contenders of a model and
 *    batch one after another, their order rotated from round to round, the mul+add peak first; a
 *    case's figure is its median over the rounds, so a slow spell of the shared machine falls on all
 *    contenders alike. `--rounds` sets how many.
 *
 * Writes bench/results/<date>-<host>-real.json and the table of docs/BENCHMARKS.md
 * (bench/real-report.ts); a run narrowed by --models or --batches is saved as -real-partial.json
 * (git-ignored) and leaves the docs alone. The f32 files it times go to --dir as NAME.evae, for
 * `edgevae bench --model bench/real-models/NAME.evae --layers`.
 *
 *   /usr/bin/python3 scripts/torch-fixtures.py --bench bench/real-models   # once: the full-size ONNX models
 *   npm run bench:real -- --rounds 3
 */
import { loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import b from 'benny';
import { Command, InvalidArgumentError } from 'commander';
import { integer, list } from '../src/cli/options.ts';
import { gflops, isThenable, warmUp } from '../src/bench/measure.ts';
import { measurePeak, peakKernel, type PeakResult } from '../src/bench/peak.ts';
import { VERSION } from '../src/version.ts';
import { machineInfo, RESULTS_FOLDER } from './machine.ts';
import { checkAgreement, prepareOrSkip, realContenders, referenceContender, type Agreement, type RealContender, type RealPrepared, type RealRunner } from './real-contenders.ts';
import { inputsOf, MAKE_REAL_MODELS, missingTorchModels, realInputs, realModels, REAL_MODELS_DIR, TORCH_MODELS, type RealModel } from './real-models.ts';
import { writeRealSection } from './real-report.ts';
import type { RealResults, RealSkip, RealThroughput } from './real-results.ts';

const BENNY = { minSamples: 5, maxTime: 0.5 };
/** Cases whose call takes longer than this (seconds) settle for fewer benny samples a round. */
const SLOW_CALL = { seconds: 0.3, minSamples: 2 };
const WARM_UP_SECONDS = 0.3;
/** A contender whose single call at some batch takes longer is not timed there nor at larger batches. */
const MAX_CALL_SECONDS = 5;
const VERIFICATION_BATCH = 2;
const PEAK_CASE = 'wasm SIMD peak (mul+add)';

const program: Command = new Command('npm run bench:real --')
  .description('real decoder architectures, our runtime against onnxruntime-web, tfjs-backend-wasm and onnxruntime-node, in rounds')
  .option('--models <names>', 'only these models (comma-separated)', list((name) => name.trim()))
  .option('--batches <sizes>', 'only these batch sizes (comma-separated)', list(integer(1, 4096)))
  .option('--rounds <n>', 'rounds: each times every case once, and a figure is the median over them', integer(1, 100), 3)
  .option('--max-time <s>', "benny's time per case and round, in seconds", (value: string) => {
    const n = Number(value);
    if (!(n > 0 && n <= 60)) throw new InvalidArgumentError(`expected seconds in (0, 60], got "${value}"`);
    return n;
  }, BENNY.maxTime)
  .option('--dir <folder>', 'where scripts/torch-fixtures.py --bench wrote the full-size ONNX models', REAL_MODELS_DIR)
  .parse();
const args = program.opts<{ models?: string[]; batches?: number[]; rounds: number; maxTime: number; dir: string }>();

interface Case {
  name: string;
  model: RealModel;
  contender: RealContender;
  batch: number;
  runner: RealRunner;
  async: boolean;
  callMs: number;
}

function packageVersions(): Record<string, string> {
  const versionOf = (name: string) => (JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  return { edgevae: VERSION, ...Object.fromEntries(['onnxruntime-web', 'onnxruntime-node', '@tensorflow/tfjs-backend-wasm', 'benny'].map((name) => [name, versionOf(name)])) };
}

async function firstRun(runner: RealRunner): Promise<{ output: Float32Array; async: boolean }> {
  const result = runner.run();
  return isThenable(result) ? { output: await result, async: true } : { output: result, async: false };
}

/** The reference's output at the verification batch, after checking the reference itself against torch's output where the model has one. */
async function referenceOutput(model: RealModel, reference: RealPrepared, name: string, agreement: Agreement[]): Promise<Float32Array> {
  if (model.torchCheck) {
    const runner = reference.forBatch(inputsOf(model, model.torchCheck.latents));
    const { output } = await firstRun(runner);
    agreement.push(checkAgreement(model, name, 'f32', 'torch', model.torchCheck.batch, runner.toOurs(output), model.torchCheck.output));
    runner.dispose();
  }
  const runner = reference.forBatch(realInputs(model, VERIFICATION_BATCH));
  const { output } = await firstRun(runner);
  runner.dispose();
  return runner.toOurs(output);
}

/** Prepares every contender on a model, checks its output, warms each batch up and returns the cases to time. */
async function prepareModel(model: RealModel, contenders: RealContender[], batches: number[], out: { cases: Case[]; agreement: Agreement[]; skipped: RealSkip[]; prepared: RealPrepared[] }) {
  console.log(`\n${model.name}: ${model.macsPerSample.toLocaleString('en-US')} multiply-adds per sample; batches ${batches.join(', ')}`);
  const preparedBy = new Map<string, RealPrepared>();
  for (const contender of contenders) {
    const { prepared, reason } = await prepareOrSkip(contender, model);
    if (!prepared) {
      out.skipped.push({ model: model.name, contender: contender.name, reason: reason! });
      console.log(`  ${contender.name}: not run (${reason})`);
      continue;
    }
    preparedBy.set(contender.name, prepared);
    out.prepared.push(prepared);
  }
  const referenceName = referenceContender(model);
  const expected = await referenceOutput(model, preparedBy.get(referenceName)!, referenceName, out.agreement);
  const verification = realInputs(model, VERIFICATION_BATCH);
  for (const contender of contenders) {
    const prepared = preparedBy.get(contender.name);
    if (!prepared) continue;
    if (contender.name !== referenceName) {
      const runner = prepared.forBatch(verification);
      const { output } = await firstRun(runner);
      const agreed = checkAgreement(model, contender.name, contender.precision, referenceName, VERIFICATION_BATCH, runner.toOurs(output), expected);
      out.agreement.push(agreed);
      runner.dispose();
    }
    for (const [i, batch] of batches.entries()) {
      const runner = prepared.forBatch(realInputs(model, batch));
      const { async } = await firstRun(runner);
      const callMs = await warmUp(() => runner.run(), WARM_UP_SECONDS, 2);
      if (callMs > MAX_CALL_SECONDS * 1000) {
        const reason = `one call at batch ${batch} takes ${(callMs / 1000).toFixed(1)} s (over ${MAX_CALL_SECONDS} s): batches ${batches.slice(i).join(', ')} not timed`;
        for (const skipped of batches.slice(i)) out.skipped.push({ model: model.name, contender: contender.name, batch: skipped, reason });
        console.log(`  ${contender.name}: ${reason}`);
        runner.dispose();
        break;
      }
      out.cases.push({ name: `${model.name} | ${contender.name} | batch ${batch}`, model, contender, batch, runner, async, callMs });
    }
    console.log(`  ${contender.name}: checked, warmed up (${out.cases.filter((c) => c.model === model && c.contender === contender).map((c) => `batch ${c.batch} ${c.callMs.toFixed(1)} ms`).join(', ')})`);
  }
}

/** One round's order: model by model, batch by batch, the contenders rotated by the round's index. */
function roundOrder(cases: Case[], round: number): Case[] {
  const groups = new Map<string, Case[]>();
  for (const c of cases) {
    const key = `${c.model.name}/${c.batch}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()].flatMap((group) => {
    const shift = round % group.length;
    return [...group.slice(shift), ...group.slice(0, shift)];
  });
}

interface BennyResult {
  name: string;
  ops: number;
  margin: number;
  samples: number;
}

/**
 * One round as a benny suite. benny probes every case while it builds the suite, all at once; two
 * onnxruntime-web runs in flight at once break its single-threaded wasm, so async cases answer those
 * probes without running (as bench/decode.ts does).
 */
async function runRound(round: number, cases: Case[], peakRun: () => void): Promise<BennyResult[]> {
  const probing = { active: true };
  const ordered = roundOrder(cases, round);
  const add = (c: Case) => {
    const options = c.callMs > SLOW_CALL.seconds * 1000 ? { minSamples: SLOW_CALL.minSamples } : {};
    if (!c.async) return b.add(c.name, () => void c.runner.run(), options);
    return b.add(c.name, async () => {
      if (!probing.active) await c.runner.run();
    }, options);
  };
  let done = 0;
  const summary = await b.suite(
    `bench:real, round ${round + 1} of ${args.rounds}`,
    b.configure({ cases: { minSamples: BENNY.minSamples, maxTime: args.maxTime } }),
    b.add(PEAK_CASE, peakRun),
    ...ordered.map(add),
    b.cycle((result: BennyResult) => {
      done++;
      console.log(`[round ${round + 1}, ${done}/${ordered.length + 1}] ${result.name}: ${result.ops} calls/s ±${result.margin}%`);
    }),
    async () => (suite: unknown) => {
      probing.active = false;
      return suite;
    },
  );
  return summary.results as BennyResult[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function measurePeaks(): Promise<RealResults['peak']['start']> {
  const mulAdd = (await measurePeak('mul-add'))!;
  const fma = await measurePeak('fma');
  const int8 = (await measurePeak('dot-i16'))!;
  console.log(`wasm SIMD peak, one core: mul+add ${mulAdd.gflops.toFixed(1)} GFLOP/s, dot_i16x8_s+add ${int8.gflops.toFixed(1)} GOP/s${fma ? `, relaxed_madd ${fma.gflops.toFixed(1)} GFLOP/s` : ''}`);
  return { mulAdd, fma, int8 };
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = loadavg()[0];
  const wantedTorch = TORCH_MODELS.map((m) => m.name).filter((name) => !args.models || args.models.includes(name));
  const missing = missingTorchModels(args.dir, wantedTorch);
  if (missing.length) {
    console.error(`bench:real: the full-size models ${missing.join(', ')} are not in ${args.dir}. Make them (Debian's python3-torch and python3-onnx; about 20 s) with:\n  ${MAKE_REAL_MODELS}${args.dir === REAL_MODELS_DIR ? '' : ` (or --bench ${args.dir})`}`);
    process.exit(1);
  }
  const machine = machineInfo();
  const partial = Boolean(args.models || args.batches);
  const date = new Date();
  const stamp = `${date.toISOString().slice(0, 10)}-${machine.hostname}-real${partial ? '-partial' : ''}`;
  console.log(`bench:real on ${machine.cpu} (${machine.logicalCores} logical cores), Node ${machine.node}; every contender on one thread; ${args.rounds} rounds`);
  const peakStart = await measurePeaks();
  const models = await realModels(args.models, args.dir);
  if (args.models) {
    const unknown = args.models.filter((name) => !models.some((m) => m.name === name));
    if (unknown.length) program.error(`unknown model ${unknown.join(', ')}; the models: ${TORCH_MODELS.map((m) => m.name).join(', ')}, readme-example, convVaeDecoder, denseDecoder, conditionalDecoder`);
  }
  // The f32 files timed, for `edgevae bench --model DIR/NAME.evae --layers` (the per-node profiles in docs/BENCHMARKS.md).
  for (const model of models) if (model.f32) writeFileSync(join(args.dir, `${model.name}.evae`), model.f32);
  const contenders = realContenders();
  const collected = { cases: [] as Case[], agreement: [] as Agreement[], skipped: [] as RealSkip[], prepared: [] as RealPrepared[] };
  for (const model of models) {
    const batches = model.batches.filter((batch) => !args.batches || args.batches.includes(batch));
    if (batches.length) await prepareModel(model, contenders, batches, collected);
  }

  const peak = await peakKernel('mul-add', peakStart.mulAdd.accumulators);
  const perRound = new Map<string, BennyResult[]>();
  const peakRounds: number[] = [];
  for (let round = 0; round < args.rounds; round++) {
    for (const result of await runRound(round, collected.cases, peak.run)) {
      if (result.name === PEAK_CASE) peakRounds.push((result.ops * peak.flopsPerCall) / 1e9);
      else perRound.set(result.name, [...(perRound.get(result.name) ?? []), result]);
    }
  }
  const peakGflops = median(peakRounds);
  const throughput: RealThroughput[] = collected.cases.map((c) => {
    const rounds = perRound.get(c.name)!;
    const samplesPerSecond = median(rounds.map((r) => r.ops * c.batch));
    const rate = gflops(c.model.macsPerSample, samplesPerSecond);
    return {
      model: c.model.name,
      contender: c.contender.name,
      batch: c.batch,
      samplesPerSecond,
      gflops: rate,
      fractionOfPeak: rate / peakGflops,
      rounds: rounds.map((r) => ({ samplesPerSecond: r.ops * c.batch, marginPercent: r.margin, samples: r.samples })),
    };
  });
  const results: RealResults = {
    command: process.argv.length > 2 ? `npm run bench:real -- ${process.argv.slice(2).join(' ')}` : 'npm run bench:real',
    date: date.toISOString(),
    machine,
    versions: packageVersions(),
    peak: { start: peakStart, rounds: peakRounds, mulAddGflops: peakGflops },
    settings: { rounds: args.rounds, benny: { minSamples: BENNY.minSamples, maxTime: args.maxTime }, slowCall: SLOW_CALL, warmUpSeconds: WARM_UP_SECONDS, maxCallSeconds: MAX_CALL_SECONDS, verificationBatch: VERIFICATION_BATCH },
    models: models.map((m) => ({ name: m.name, description: m.description, source: m.source, macsPerSample: m.macsPerSample, ...(m.macsNote ? { macsNote: m.macsNote } : {}), ...(m.refused ? { refused: m.refused } : {}), batches: m.batches.filter((batch) => !args.batches || args.batches.includes(batch)) })),
    contenders: contenders.map(({ name, engine, precision }) => ({ name, engine, precision })),
    throughput,
    agreement: collected.agreement,
    skipped: collected.skipped,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    loadAverage: { start: loadAtStart, end: loadavg()[0] },
  };
  mkdirSync(RESULTS_FOLDER, { recursive: true });
  const file = `${RESULTS_FOLDER}/${stamp}.json`;
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
  for (const c of collected.cases) c.runner.dispose();
  await Promise.all(collected.prepared.map((p) => p.dispose()));
  if (!partial) writeRealSection(results, file);
}

await main();
