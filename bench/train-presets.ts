/**
 * Training throughput of every preset on every TensorFlow.js backend present: samples/s over a few
 * steps of each preset's own training step (forward, backward, all its optimizers) at its default
 * batch, on real MNIST, after two warm-up steps.
 *
 * Contenders: `edgevae` (tfjs-backend-wasm with edgevae's own kernels), `edgevae:2` (the same,
 * data-parallel on 2 threads: `edgevae train --threads 2`), stock `wasm` and stock `cpu`; any
 * backend can be given as BACKEND:THREADS. Add --experimental-wasm-relaxed-simd to node's flags to
 * measure edgevae's relaxed-SIMD build (the description printed and saved says which build ran).
 *
 * Run: node --import tsx bench/train-presets.ts --data DIR [--backends edgevae,edgevae:2,wasm,cpu] [--presets cvae,ae] [--steps 5] [--out FILE]
 * Results: FILE, by default bench/results/<date>-<host>-train.json
 *
 * Timed with a plain loop rather than benny: benny prepares a case by calling its setup up to three
 * times and its step once before timing, which at seconds per step and one model per backend
 * measures the wrong thing; here each preset is built once, on the backend being measured. With
 * threads, the worker threads start inside the first (warm-up) step's time.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { integer, list, oneOf } from '../src/cli/options.ts';
import { loadDataset } from '../src/data/datasets.ts';
import { BACKEND_CHOICES, selectBackend, type BackendChoice } from '../src/train/backend.ts';
import { PRESETS } from '../src/train/presets/index.ts';
import { timeTrainingSteps } from './training-steps.ts';

interface Contender {
  backend: BackendChoice;
  threads: number;
}

/** A contender of --backends: BACKEND, or BACKEND:THREADS for data-parallel training. */
function parseContender(spec: string): Contender {
  const [backend, threads = '1', ...rest] = spec.split(':');
  if (rest.length || !/^\d+$/.test(threads) || Number(threads) < 1) throw new InvalidArgumentError(`expected BACKEND or BACKEND:THREADS items (THREADS >= 1), got "${spec}"`);
  return { backend: oneOf(BACKEND_CHOICES, 'backend')(backend), threads: Number(threads) };
}

const program: Command = new Command('bench/train-presets.ts')
  .description("samples/s of every preset's training step on every TensorFlow.js backend present")
  .option('--data <dir>', 'folder with the MNIST IDX files (default: $EDGEVAE_MNIST_DIR, then the cache)')
  .option('--backends <list>', 'BACKEND or BACKEND:THREADS items (comma-separated)', list(parseContender), ['edgevae', 'edgevae:2', 'wasm', 'cpu'].map(parseContender))
  .option('--presets <names>', 'presets (comma-separated)', list(oneOf(Object.keys(PRESETS), 'preset')), Object.keys(PRESETS))
  .option('--steps <n>', 'timed steps after two warm-up steps', integer(1, 100_000), 5)
  .option('--out <file>', 'results file (default: bench/results/<date>-<host>-train.json)')
  .parse();
const values = program.opts<{ data?: string; backends: Contender[]; presets: string[]; steps: number; out?: string }>();
const WARM_UP = 2;
const { steps, backends: contenders } = values;

const data = await loadDataset('mnist', { dir: values.data }).catch((error: Error) => program.error(error.message));
const results: { preset: string; backend: string; threads: number; description: string; batch: number; samplesPerSecond: number; secondsPerStep: number; steps: number }[] = [];
const root = mkdtempSync(join(tmpdir(), 'edgevae-bench-'));
try {
  for (const { backend: choice, threads } of contenders) {
    const selected = await selectBackend(choice);
    const description = threads > 1 ? `${selected.description}, data-parallel on ${threads} threads (edgevae train --threads)` : selected.description;
    for (const name of values.presets) {
      const times: number[] = [];
      const batch = await timeTrainingSteps(name, data, root, WARM_UP + steps, threads, (_, ms) => times.push(ms));
      const measured = times.slice(WARM_UP);
      const secondsPerStep = measured.reduce((a, b) => a + b, 0) / measured.length / 1000;
      const entry = { preset: name, backend: choice, threads, description, batch, samplesPerSecond: batch / secondsPerStep, secondsPerStep, steps: measured.length };
      results.push(entry);
      console.log(`${name.padEnd(15)} ${description}: ${entry.samplesPerSecond.toFixed(1)} samples/s (${secondsPerStep.toFixed(2)} s/step of ${entry.batch})`);
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
const file = values.out ?? `bench/results/${new Date().toISOString().slice(0, 10)}-${hostname()}-train.json`;
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), host: hostname(), node: process.version, results }, null, 2) + '\n');
console.log(`wrote ${file}`);
