/**
 * Two builds of the training module (build/edgevae-train.wasm) on the heavy products of conv-vae's
 * training step at batch 64, timed in turns (bench/turns.ts) after checking that they give the same
 * bits: whether a kernel change makes training faster, product by product.
 *
 *   git worktree add /tmp/base HEAD && (cd /tmp/base && npm ci && npm run build:wasm)
 *   npm run build:wasm && npm run bench:train-builds -- /tmp/base/build/edgevae-train.wasm
 *
 * Inputs are seeded random values. The operands the kernels skip zeros in (a product's left operand,
 * the filter gradient's input) get zeros in runs of four consecutive values (four channels, or four
 * features) at the --zeros rate, since a block of four rows skips only what is zero in all four. In a
 * real conv-vae step the filter gradients' inputs have 0-14% of their four-channel runs zero (20-60%
 * of their single values), hence the default of 0.1.
 *
 * With --presets (and MNIST: --data DIR or $EDGEVAE_MNIST_DIR), it then times whole training steps of
 * those presets on the edgevae backend, the two builds taking alternate steps of one training run
 * (the backend's kernels swapped between steps): on this shared host the same code's steps vary by
 * more between runs minutes apart than a kernel change gains. Writes
 * bench/results/<date>-<host>-train-builds[-LABEL].json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { edgevaeMemory, swapEdgevaeKernels, type TrainKernels } from '../src/train/edgevae-backend.ts';
import { integer, list, oneOf } from '../src/cli/options.ts';
import { percentile } from '../src/bench/measure.ts';
import { loadDataset } from '../src/data/datasets.ts';
import { selectBackend } from '../src/train/backend.ts';
import { PRESETS } from '../src/train/presets/index.ts';
import { timeTrainingSteps } from './training-steps.ts';
import { sameBits, seededRandom } from '../test/helpers/numbers.ts';
import { Arena } from '../test/helpers/arena.ts';
import { machineInfo, RESULTS_FOLDER } from './machine.ts';
import { playTurns } from './turns.ts';
import { readWasm } from './wasm-file.ts';

const program: Command = new Command('npm run bench:train-builds --')
  .description("time two builds of the training module in turns on conv-vae's heavy products, after checking they give the same bits")
  .argument('<base.wasm>', 'the build to compare against')
  .argument('[candidate.wasm]', "the build to time against it: this checkout's strict build unless given", 'build/edgevae-train.wasm')
  .option('--zeros <share>', 'share of the skippable operands zero, in runs of four (0 to 1)', (value: string) => {
    const share = Number(value);
    if (!(share >= 0 && share <= 1)) throw new InvalidArgumentError(`expected a number from 0 to 1, got "${value}"`);
    return share;
  }, 0.1)
  .option('--seconds <n>', 'seconds of turns per case', integer(1, 3600), 10)
  .option('--presets <names>', 'then time whole training steps of these presets, the builds taking turns (comma-separated)', list(oneOf(Object.keys(PRESETS), 'preset')), [])
  .option('--steps <n>', "each build's timed steps per preset, after two warm-up steps each", integer(1, 100_000), 10)
  .option('--data <dir>', 'folder with the MNIST IDX files, for --presets (default: $EDGEVAE_MNIST_DIR, then the cache)')
  .option('--label <name>', 'suffix of the results file (letters, digits, - or _)', (value: string) => {
    if (!/^[\w-]+$/.test(value)) throw new InvalidArgumentError(`expected letters, digits, - or _, got "${value}"`);
    return value;
  })
  .parse();
const values = program.opts<{ zeros: number; seconds: number; presets: string[]; steps: number; data?: string; label?: string }>();
const [basePath, candidatePath] = program.processedArgs as [string, string];

/** One product: its operands' lengths (floats; `sparse` ones get the zeros), its output's, and the call. */
interface ProductCase {
  name: string;
  inputs: { length: number; sparse: boolean }[];
  output: number;
  scratch: (k: TrainKernels) => number;
  run: (k: TrainKernels, inputs: number[], output: number, scratch: number) => void;
}

const BATCH = 64;
/** conv-vae's two 64-channel 4x4 stride-1 transposed convolutions at 14x14, 'same' (pad 1 before). */
const CONV = { H: 14, W: 14, C: 64, OC: 64, k: 4, pad: 1 };
const convInput = BATCH * CONV.H * CONV.W * CONV.C;
const filter = CONV.k * CONV.k * CONV.C * CONV.OC;

const CASES: ProductCase[] = [
  matMulCase('dense weight gradient x^T dy, 12544x64x784', 12544, 64, 784, true, false),
  matMulCase('dense forward x W, 64x12544x784', 64, 12544, 784, false, false),
  matMulCase('dense input gradient dy W^T, 64x784x12544', 64, 784, 12544, false, true),
  {
    name: 'conv filter gradient, 14x14x64 to 14x14x64, 4x4 stride 1',
    inputs: [{ length: convInput, sparse: true }, { length: convInput, sparse: false }],
    output: filter,
    scratch: (k) => k.convFilterGradientScratchBytes(CONV.k * CONV.k * CONV.C, CONV.OC),
    run: (k, [x, dy], dw, scratch) => k.convFilterGradient(x, dy, dw, BATCH, CONV.H, CONV.W, CONV.C, CONV.H, CONV.W, CONV.OC, CONV.k, CONV.k, 1, 1, CONV.pad, CONV.pad, scratch),
  },
  {
    name: 'conv2d, 14x14x64 to 14x14x64, 4x4 stride 1',
    inputs: [{ length: convInput, sparse: true }, { length: filter, sparse: false }],
    output: convInput,
    scratch: (k) => k.conv2dScratchBytes(CONV.k * CONV.k * CONV.C, CONV.OC),
    run: (k, [x, w], y, scratch) => k.conv2d(x, w, 0, y, BATCH, CONV.H, CONV.W, CONV.C, CONV.H, CONV.W, CONV.OC, CONV.k, CONV.k, 1, 1, CONV.pad, CONV.pad, 0, 0, scratch),
  },
];

function matMulCase(name: string, M: number, K: number, N: number, transposeA: boolean, transposeB: boolean): ProductCase {
  return {
    name,
    inputs: [{ length: M * K, sparse: true }, { length: K * N, sparse: false }],
    output: M * N,
    scratch: (k) => k.matMulScratchBytes(M, K, N, transposeA ? 1 : 0),
    run: (k, [a, b], y, scratch) => k.matMul(a, b, 0, y, M, K, N, transposeA ? 1 : 0, transposeB ? 1 : 0, 0, 0, scratch),
  };
}

/** A build instantiated over its own memory with the case's operands in place. */
async function prepare(bytes: Uint8Array<ArrayBuffer>, c: ProductCase, operands: Float32Array[]) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
  const kernels = instance.exports as unknown as TrainKernels;
  // The training module has no static data: its memory is all ours.
  const arena = new Arena(memory, 64);
  const inputs = operands.map((values) => arena.put(values));
  const output = arena.alloc(c.output * 4);
  const scratch = arena.alloc(c.scratch(kernels));
  const run = () => c.run(kernels, inputs, output, scratch);
  return { run, result: () => arena.f32(output, c.output) };
}

/** Seeded values in [-1, 1), runs of four zeroed together at `zeros` where the operand is sparse. */
function operand(length: number, sparse: boolean, zeros: number, random: () => number): Float32Array {
  const out = Float32Array.from({ length }, () => 2 * random() - 1);
  if (sparse) for (let at = 0; at < length; at += 4) if (random() < zeros) out.fill(0, at, at + 4);
  return out;
}

let base: Uint8Array<ArrayBuffer>, candidate: Uint8Array<ArrayBuffer>;
try {
  base = readWasm(basePath);
  candidate = readWasm(candidatePath);
} catch (error) {
  program.error((error as Error).message);
}

const rows = [];
for (const c of CASES) {
  const random = seededRandom(rows.length + 1);
  const operands = c.inputs.map(({ length, sparse }) => operand(length, sparse, values.zeros, random));
  const a = await prepare(base, c, operands);
  const b = await prepare(candidate, c, operands);
  a.run();
  b.run();
  const same = sameBits(a.result(), b.result());
  console.log(`${c.name}: ${same ? 'same bits' : 'OUTPUTS DIFFER'}; ${values.seconds} s of turns`);
  const turns = await playTurns({ model: c.name, batch: BATCH, seconds: values.seconds, contenders: ['base', 'candidate'] }, [
    { contender: 'base', run: a.run },
    { contender: 'candidate', run: b.run },
  ]);
  const [baseTimes, candidateTimes] = turns.contenders;
  const speedup = baseTimes.medianMs / candidateTimes.medianMs;
  console.log(`  base ${baseTimes.medianMs.toFixed(2)} ms, candidate ${candidateTimes.medianMs.toFixed(2)} ms (medians): candidate ${speedup.toFixed(3)}x`);
  rows.push({ product: c.name, sameBits: same, speedup, turns });
}

/** Whole training steps of each preset, base and candidate taking alternate steps of one run. */
async function timeSteps() {
  const data = await loadDataset('mnist', { dir: values.data }).catch((error: Error) => program.error(error.message));
  await selectBackend('edgevae');
  const memory = edgevaeMemory();
  const builds = await Promise.all([base, candidate].map(async (bytes) => (await WebAssembly.instantiate(bytes, { env: { memory } })).instance.exports as unknown as TrainKernels));
  const embedded = swapEdgevaeKernels(builds[0]);
  const WARM_UP = 2;
  const root = mkdtempSync(join(tmpdir(), 'edgevae-bench-'));
  const stepRows = [];
  try {
    for (const name of values.presets) {
      const times: number[][] = [[], []];
      swapEdgevaeKernels(builds[0]);
      // Step i runs on build i % 2; the swap for the next step happens between steps, untimed.
      const batch = await timeTrainingSteps(name, data, root, 2 * (WARM_UP + values.steps), 1, (index, ms) => {
        if (index >= 2 * WARM_UP) times[index % 2].push(ms);
        swapEdgevaeKernels(builds[(index + 1) % 2]);
      });
      const [baseMs, candidateMs] = times.map((t) => percentile([...t].sort((a, b) => a - b), 50));
      const speedup = baseMs / candidateMs;
      console.log(`${name} training step (batch ${batch}), ${values.steps} steps each in turns: base ${baseMs.toFixed(1)} ms, candidate ${candidateMs.toFixed(1)} ms (medians): candidate ${speedup.toFixed(3)}x`);
      stepRows.push({ preset: name, batch, baseMs: times[0], candidateMs: times[1], baseMedianMs: baseMs, candidateMedianMs: candidateMs, speedup });
    }
  } finally {
    swapEdgevaeKernels(embedded);
    rmSync(root, { recursive: true, force: true });
  }
  return stepRows;
}
const steps = values.presets.length ? await timeSteps() : [];

const machine = machineInfo();
const stamp = `${new Date().toISOString().slice(0, 10)}-${machine.hostname}-train-builds${values.label ? `-${values.label}` : ''}`;
mkdirSync(RESULTS_FOLDER, { recursive: true });
const file = `${RESULTS_FOLDER}/${stamp}.json`;
writeFileSync(file, JSON.stringify({ command: `npm run bench:train-builds -- ${process.argv.slice(2).join(' ')}`, date: new Date().toISOString(), machine, base: basePath, candidate: candidatePath, zeros: values.zeros, rows, steps }, null, 2) + '\n');
console.log(`wrote ${file}`);
