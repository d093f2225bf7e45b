/**
 * Two builds of the edgevae wasm module on the shipped models (or any given as FILE.evae), timed in
 * turns: whether a kernel change makes decoding faster, and whether it keeps the bits.
 *
 *   git worktree add /tmp/base HEAD && (cd /tmp/base && npm ci && npm run build:wasm)
 *   npm run build:wasm && npm run bench:builds -- /tmp/base/build/edgevae.wasm
 *
 * The candidate defaults to this checkout's build/edgevae.wasm (the strict build; pass
 * build/edgevae-relaxed.wasm twice over for the relaxed one). Both load side by side in one process
 * and take turns (bench/turns.ts): on a core shared with other guests, two runs minutes apart differ
 * by more than most kernel changes gain. Before timing, each case decodes the same latents with both
 * and reports whether every output bit agrees. Writes bench/results/<date>-<host>-builds[-LABEL].json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Decoder } from '../src/index.ts';
import { benchInputs } from '../src/bench/contender.ts';
import { sameBits } from '../test/helpers/numbers.ts';
import { machineInfo, RESULTS_FOLDER } from './machine.ts';
import { playTurns } from './turns.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    models: { type: 'string', default: 'aae,conv-vae,cvae' },
    batches: { type: 'string', default: '1,64' },
    seconds: { type: 'string', default: '15' },
    label: { type: 'string', default: '' },
  },
});

function usage(problem: string): never {
  console.error(`${problem}\nusage: npm run bench:builds -- BASE.wasm [CANDIDATE.wasm] [--models aae,conv-vae,cvae,FILE.evae] [--batches 1,64] [--seconds 15] [--label NAME]`);
  process.exit(2);
}

function readWasm(path: string): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    usage(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (!WebAssembly.validate(bytes)) usage(`${path} is not a WebAssembly module this engine accepts`);
  return bytes;
}

function positiveIntegers(text: string, what: string): number[] {
  const list = text.split(',').map((part) => Number(part.trim()));
  if (list.length === 0 || !list.every((n) => Number.isSafeInteger(n) && n >= 1 && n <= 4096)) usage(`--${what} must be integers in 1..4096, got "${text}"`);
  return list;
}

if (positionals.length < 1 || positionals.length > 2) usage('give the base build, and optionally the candidate');
if (!/^[\w-]*$/.test(values.label!)) usage(`--label must be letters, digits, - or _, got "${values.label}"`);
const [basePath, candidatePath = 'build/edgevae.wasm'] = positionals;
const base = readWasm(basePath);
const candidate = readWasm(candidatePath);
const batches = positiveIntegers(values.batches!, 'batches');
const [seconds] = positiveIntegers(values.seconds!, 'seconds');
const models = values.models!.split(',').map((name) => name.trim());

const rows = [];
for (const model of models) {
  const path = model.endsWith('.evae') ? model : `models/${model}.evae`;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    usage(`cannot read the model ${path}`);
  }
  const a = await Decoder.load(bytes, { wasm: base });
  const b = await Decoder.load(bytes, { wasm: candidate });
  for (const batch of batches) {
    const { latents, labels } = benchInputs(a, batch);
    const runBase = () => a.decode(latents, labels);
    const runCandidate = () => b.decode(latents, labels);
    const same = sameBits(runBase(), runCandidate());
    console.log(`${model} (${a.info.dtype}), batch ${batch}: ${same ? 'same bits' : 'OUTPUTS DIFFER'}; ${seconds} s of turns`);
    const turns = await playTurns({ model, batch, seconds, contenders: ['base', 'candidate'] }, [
      { contender: 'base', run: runBase },
      { contender: 'candidate', run: runCandidate },
    ]);
    const [baseTimes, candidateTimes] = turns.contenders;
    const speedup = baseTimes.medianMs / candidateTimes.medianMs;
    console.log(`  base ${baseTimes.medianMs.toFixed(3)} ms, candidate ${candidateTimes.medianMs.toFixed(3)} ms (medians): candidate ${speedup.toFixed(3)}x`);
    rows.push({ model, dtype: a.info.dtype, batch, sameBits: same, speedup, turns });
  }
}

const machine = machineInfo();
const stamp = `${new Date().toISOString().slice(0, 10)}-${machine.hostname}-builds${values.label ? `-${values.label}` : ''}`;
mkdirSync(RESULTS_FOLDER, { recursive: true });
const file = `${RESULTS_FOLDER}/${stamp}.json`;
writeFileSync(file, JSON.stringify({ command: `npm run bench:builds -- ${process.argv.slice(2).join(' ')}`, date: new Date().toISOString(), machine, base: basePath, candidate: candidatePath, rows }, null, 2) + '\n');
console.log(`wrote ${file}`);
