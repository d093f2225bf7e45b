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
import { Command, InvalidArgumentError } from 'commander';
import { Decoder } from '../src/index.ts';
import { benchInputs } from '../src/bench/contender.ts';
import { integer, list } from '../src/cli/options.ts';
import { shippedModel } from '../src/node/files.ts';
import { sameBits } from '../test/helpers/numbers.ts';
import { machineInfo, RESULTS_FOLDER } from './machine.ts';
import { playTurns } from './turns.ts';
import { readWasm } from './wasm-file.ts';

const program: Command = new Command('npm run bench:builds --')
  .description('time two builds of the wasm module in turns on the same models, after checking they give the same bits')
  .argument('<base.wasm>', 'the build to compare against')
  .argument('[candidate.wasm]', "the build to time against it: this checkout's strict build unless given", 'build/edgevae.wasm')
  .option('--models <names>', 'shipped model names or FILE.evae paths (comma-separated)', list((name) => name.trim()), ['aae', 'conv-vae', 'cvae'])
  .option('--batches <sizes>', 'batch sizes (comma-separated)', list(integer(1, 4096)), [1, 64])
  .option('--seconds <n>', 'seconds of turns per case', integer(1, 3600), 15)
  .option('--label <name>', 'suffix of the results file (letters, digits, - or _)', (value: string) => {
    if (!/^[\w-]+$/.test(value)) throw new InvalidArgumentError(`expected letters, digits, - or _, got "${value}"`);
    return value;
  })
  .parse();
const values = program.opts<{ models: string[]; batches: number[]; seconds: number; label?: string }>();
const [basePath, candidatePath] = program.processedArgs as [string, string];

async function loadDecoder(path: string, bytes: Uint8Array, wasm: Uint8Array<ArrayBuffer>): Promise<Decoder> {
  try {
    return await Decoder.load(bytes, { wasm });
  } catch (error) {
    program.error(`${path}: ${(error as Error).message}`);
  }
}

function readBuild(path: string): Uint8Array<ArrayBuffer> {
  try {
    return readWasm(path);
  } catch (error) {
    program.error((error as Error).message);
  }
}

const base = readBuild(basePath);
const candidate = readBuild(candidatePath);
const { models, batches, seconds } = values;

const rows = [];
for (const model of models) {
  const path = model.endsWith('.evae') ? model : shippedModel(model);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    program.error(`cannot read the model ${path}: ${(error as Error).message}`);
  }
  const a = await loadDecoder(path, bytes, base);
  const b = await loadDecoder(path, bytes, candidate);
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
