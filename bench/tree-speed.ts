/**
 * One checkout's runtime timed on model files, for comparing two versions of the code whose wasm
 * modules cannot load under each other's host (bench/builds.ts needs the same interface): run it from
 * each checkout in turn, alternating processes, and compare the medians.
 *
 *   git worktree add /tmp/old <commit> && (cd /tmp/old && ln -s "$PWD/node_modules" . && npm run build:wasm && npm run build:embed)
 *   for r in 1 2 3; do (cd /tmp/old && node --import tsx "$OLDPWD/bench/tree-speed.ts" .) ; node --import tsx bench/tree-speed.ts . ; done
 *
 * Cases (`CASES`, comma-separated FILE:dtype:batch[:threads], FILE an f32 edgevae file its checkout
 * can read, dtype f32 or i8 converted by that checkout's convertDtype, threads for Decoder.load's
 * `threads` from edgevae/node, default 1): each warmed up 1 s, then decoded for SECONDS_EACH seconds
 * (default 4), strict SIMD; prints the median ms of a `sample(batch)` call.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { summarizeLatency, timeCalls, warmUp } from '../src/bench/measure.ts';

const root = resolve(process.argv[2] ?? '.');
const { Decoder } = await import(pathToFileURL(resolve(root, 'src/node/index.ts')).href);
const { convertDtype } = await import(pathToFileURL(resolve(root, 'src/export/convert-dtype.ts')).href);
const seconds = Number(process.env.SECONDS_EACH ?? 4);
const cases = (process.env.CASES ?? '').split(',').filter(Boolean);
if (!cases.length) throw new Error('set CASES, e.g. CASES=/tmp/seed/denseDecoder.evae:i8:64');
const out: string[] = [];
for (const spec of cases) {
  const [file, dtype, b, t = '1'] = spec.split(':');
  const batch = Number(b), threads = Number(t);
  if (!(dtype === 'f32' || dtype === 'i8') || !Number.isInteger(batch) || batch < 1 || !Number.isInteger(threads) || threads < 1) {
    throw new Error(`expected FILE:f32|i8:batch[:threads], got ${spec}`);
  }
  const f32 = new Uint8Array(readFileSync(file));
  const decoder = await Decoder.load(dtype === 'f32' ? f32 : convertDtype(f32, dtype), { simd: 'strict', ...(threads > 1 ? { threads } : {}) });
  let seed = 0;
  const decode = () => decoder.sample(batch, { seed: seed++ });
  await warmUp(decode, 1);
  out.push(`${spec} ${summarizeLatency(await timeCalls(decode, { seconds })).p50Ms.toFixed(3)} ms`);
  await decoder.close?.(); // ends its threads (older checkouts have no close)
}
console.log(`${root}: ${out.join(' | ')}`);
