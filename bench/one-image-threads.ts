/**
 * One image on several threads: the TAESD-style decoder (bench/real-models) at latents 8x8, 32x32 and
 * 64x64 (64x64, 256x256 and 512x512 images), batch 1, f32 strict, decoded by one thread and shared by
 * 2 threads (Decoder.load's `threads`: each conv's output rows split between them, same bytes). The
 * outputs are checked to be identical before timing; rounds alternate the contenders' order so drift
 * hits both; each case records how many cores other processes kept busy while it ran, since two
 * threads only scale on two idle cores. Last, each model's pair is timed again in turns
 * (bench/turns.ts: one call of each, alternately, for the model's turnSeconds), whose ratio of
 * medians a slow spell of the shared host skews far less than benny's cases of several seconds each.
 *
 * Run: npm run bench:one-image [-- --rounds N --threads T]
 *   (results: bench/results/<date>-<host>-one-image-threads.json)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import b from 'benny';
import { Decoder } from '../src/node/index.ts';
import { importOnnx } from '../src/import/onnx.ts';
import { cpuClock, machineInfo, RESULTS_FOLDER } from './machine.ts';
import { MAKE_REAL_MODELS, REAL_MODELS_DIR } from './real-models.ts';
import { playTurns } from './turns.ts';
import type { TurnsCase } from './results.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, threads: { type: 'string', default: '2' } } });
const rounds = Number(values.rounds), threads = Number(values.threads);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
if (!Number.isInteger(threads) || threads < 2) throw new Error(`--threads must be an integer of at least 2, got ${values.threads}`);

/** Seconds of turns per model: a 512x512 decode takes about 2 s on one thread. */
const MODELS = [
  { name: 'taesd-full-8', image: '64x64x3', turnSeconds: 10 },
  { name: 'taesd-full-32', image: '256x256x3', turnSeconds: 30 },
  { name: 'taesd-full-64', image: '512x512x3', turnSeconds: 60 },
];
for (const { name } of MODELS) {
  if (!existsSync(join(REAL_MODELS_DIR, `${name}.onnx`))) throw new Error(`${REAL_MODELS_DIR}/${name}.onnx is missing: make the models with \`${MAKE_REAL_MODELS}\``);
}

type Case = { name: string; model: string; contender: string; run: () => unknown };
const cases: Case[] = [];
const decoders: Decoder[] = [];
for (const { name, image } of MODELS) {
  const bytes = importOnnx(new Uint8Array(readFileSync(join(REAL_MODELS_DIR, `${name}.onnx`))));
  const one = await Decoder.load(bytes);
  const shared = await Decoder.load(bytes, { threads });
  decoders.push(one, shared);
  const latents = one.sampleLatents(1, { seed: 1 });
  const [a, b2] = [one.decode(latents), shared.decode(latents)];
  if (!a.every((v, i) => Object.is(v, b2[i]))) throw new Error(`${name}: ${threads} threads did not give one thread's bytes`);
  // Warm-up: V8 runs wasm in its baseline tier first.
  for (let i = 0; i < 3; i++) one.decode(latents), shared.decode(latents);
  const model = `${name} (${image}, ${(one.info.macsPerSample / 1e9).toFixed(2)} G multiply-adds)`;
  cases.push({ name: `${model} | 1 thread`, model, contender: '1 thread', run: () => one.decode(latents) });
  cases.push({ name: `${model} | ${threads} threads`, model, contender: `${threads} threads`, run: () => shared.decode(latents) });
  console.log(`${model}: outputs identical, warmed up`);
}

type Row = { round: number; model: string; contender: string; msPerImage: number; marginPercent: number; calls: number; otherProcessesCores: number | null };
const rows: Row[] = [];
for (let round = 0; round < rounds; round++) {
  // Each model's pair in turn, the pair's order flipped every round.
  const ordered = cases.map((_, i) => cases[i ^ (round % 2)]);
  const busy: (number | null)[] = [];
  let clock = cpuClock();
  await b.suite(
    `one image on ${threads} threads, round ${round + 1} of ${rounds}`,
    b.configure({ cases: { maxTime: 4, minSamples: 3 } }),
    ...ordered.map((c) => b.add(c.name, c.run)),
    b.cycle(() => {
      const now = cpuClock();
      busy.push(now && clock ? Math.max(0, (now.all - clock.all - (now.ours - clock.ours)) / (now.wall - clock.wall)) : null);
      clock = now;
    }),
    b.complete((summary) => {
      summary.results.forEach((result, i) => {
        const c = ordered[i];
        rows.push({ round: round + 1, model: c.model, contender: c.contender, msPerImage: result.details.median * 1000, marginPercent: result.margin, calls: result.samples, otherProcessesCores: busy[i] === null ? null : Number(busy[i]!.toFixed(2)) });
      });
    }),
  );
}

const turns: (TurnsCase & { speedup: number })[] = [];
for (const [m, { turnSeconds }] of MODELS.entries()) {
  const pair = [cases[2 * m], cases[2 * m + 1]];
  const played = await playTurns({ model: pair[0].model, batch: 1, seconds: turnSeconds, contenders: pair.map((c) => c.contender) }, pair.map((c) => ({ contender: c.contender, run: c.run })));
  const [one, shared] = played.contenders;
  turns.push({ ...played, speedup: Number((one.medianMs / shared.medianMs).toFixed(2)) });
}
await Promise.all(decoders.map((d) => d.close()));

const speedups = MODELS.map((_, m) => {
  const model = cases[2 * m].model;
  const perRound = Array.from({ length: rounds }, (_, r) => {
    const of = (contender: string) => rows.find((row) => row.round === r + 1 && row.model === model && row.contender === contender)!.msPerImage;
    return of('1 thread') / of(`${threads} threads`);
  });
  return { model, perRound: perRound.map((x) => Number(x.toFixed(2))), median: Number(perRound.sort((x, y) => x - y)[Math.floor(rounds / 2)].toFixed(2)) };
});
const stamp = `${new Date().toISOString().slice(0, 10)}-${machineInfo().hostname}`;
const file = join(RESULTS_FOLDER, `${stamp}-one-image-threads.json`);
mkdirSync(RESULTS_FOLDER, { recursive: true });
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine: machineInfo(), threads, rounds, rows, speedups, turns }, null, 2) + '\n');
console.log(`\nms per image (other processes' cores busy meanwhile):`);
for (const r of rows) console.log(`round ${r.round}: ${r.model}, ${r.contender}: ${r.msPerImage.toFixed(1)} ms ±${r.marginPercent}% (${r.otherProcessesCores ?? '?'})`);
console.log(`\n${threads} threads against 1, per round (median):`);
for (const s of speedups) console.log(`${s.model}: ${s.perRound.join(', ')} (${s.median}x)`);
console.log(`\nin turns (one call of each, alternately), medians:`);
for (const t of turns) console.log(`${t.model}: ${t.contenders.map((c) => `${c.contender} ${c.medianMs.toFixed(1)} ms (p10 ${c.p10Ms.toFixed(1)}, p90 ${c.p90Ms.toFixed(1)}, ${c.calls} calls)`).join('; ')}: ${t.speedup}x`);
console.log(`\nwritten to ${file}`);
