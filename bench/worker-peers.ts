/**
 * edgevae, onnxruntime-web and tfjs-backend-wasm in the same workerd: each peer Worker in
 * bench/worker-peers/ is bundled as `wrangler deploy` would, its size taken against Workers' limits,
 * then run in miniflare letting the library load its wasm its own way (and, for onnxruntime-web, from
 * bytes handed to it), and with WebAssembly.instantiate routed to the module bundled with the Worker. Where it loads, decoding
 * throughput is timed from outside (R batches of N samples per request, the peers taking turns).
 *
 * Run: npm run bench:worker-peers   (results: bench/results/<date>-<host>-worker-peers.json)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { exportOnnx } from '../src/export/onnx.ts';
import type { Miniflare } from 'miniflare';
import { bundleWorker, gzippedSizes, linkPackageInto, startWorker, type WorkerBundle } from '../scripts/wrangler-bundle.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const loadAverageBefore = loadavg(); // other work on the machine shares its two cores
const peersDir = `${root}bench/worker-peers`;
const PEERS = ['edgevae', 'onnxruntime-web', 'tfjs-backend-wasm'] as const;
/** How each peer is tried: edgevae only as it is meant to run; the others also as their documentation says. */
const MODES: Record<(typeof PEERS)[number], RunResult['mode'][]> = {
  edgevae: ['precompiled'],
  'onnxruntime-web': ['defaults', 'wasmBinary', 'precompiled'],
  'tfjs-backend-wasm': ['defaults', 'precompiled'],
};
const BATCH = 64;
const REPEATS = 20;
const ROUNDS = 9;

interface RunResult {
  mode: 'defaults' | 'wasmBinary' | 'precompiled';
  loads: boolean;
  error?: string;
  firstRequestMs?: number;
  /** Median over the rounds, each one request of REPEATS batches. */
  samplesPerSecond?: number;
  checksum?: number;
}

interface Started {
  peer: string;
  result: RunResult;
  worker: Miniflare;
  batchUrl?: URL;
  rates: number[];
}

async function timeRequest(url: URL): Promise<{ ms: number; status: number; body: { checksum?: number; error?: string } }> {
  const started = performance.now();
  const response = await fetch(url);
  const body = await response.json();
  return { ms: performance.now() - started, status: response.status, body };
}

/** Starts the Worker in one mode and sends its first request, which loads the runtime. */
async function start(peer: string, bundle: WorkerBundle, mode: RunResult['mode']): Promise<Started> {
  const worker = startWorker(bundle, { port: 0, bindings: { INSTANTIATE: mode } });
  const base = await worker.ready;
  const first = await timeRequest(new URL('/run?n=1', base));
  if (first.status !== 200) return { peer, worker, rates: [], result: { mode, loads: false, error: first.body.error } };
  const batchUrl = new URL(`/run?n=${BATCH}&repeats=${REPEATS}`, base);
  await timeRequest(batchUrl); // warm-up: workerd tiers the wasm up
  return { peer, worker, batchUrl, rates: [], result: { mode, loads: true, firstRequestMs: Math.round(first.ms) } };
}

/** One timed request per loaded Worker per round, in turn, so load from elsewhere on the machine falls on all alike. */
async function timeInRounds(started: Started[]): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of started.filter((x) => x.batchUrl && !x.result.error)) {
      const timed = await timeRequest(s.batchUrl!);
      if (timed.status !== 200) s.result.error = timed.body.error;
      s.rates.push((BATCH * REPEATS) / (timed.ms / 1000));
      s.result.checksum = timed.body.checksum;
    }
  }
  for (const s of started) {
    const sorted = [...s.rates].sort((a, b) => a - b);
    if (sorted.length) s.result.samplesPerSecond = Math.round(sorted[Math.floor(sorted.length / 2)]);
  }
}

// The peers' inputs: the shipped cvae as ONNX (int8 weights dequantized in the graph), and the package linked by name.
writeFileSync(`${peersDir}/onnxruntime-web/cvae.onnx`, exportOnnx(readFileSync(`${root}models/cvae.evae`), { weights: 'i8' }));
linkPackageInto(`${peersDir}/edgevae`, root);

const results: Record<string, unknown>[] = [];
const started: Started[] = [];
try {
  for (const peer of PEERS) {
    let bundle: WorkerBundle;
    try {
      bundle = await bundleWorker(`${peersDir}/${peer}`);
    } catch (err) {
      results.push({ peer, buildError: (err as Error).message });
      continue;
    }
    results.push({ peer, size: sizeOf(bundle) });
    for (const mode of MODES[peer]) started.push(await start(peer, bundle, mode));
  }
  await timeInRounds(started);
} finally {
  for (const s of started) await s.worker.dispose();
}
for (const entry of results) {
  entry.runs = started.filter((s) => s.peer === entry.peer).map((s) => s.result);
  const size = entry.size as ReturnType<typeof sizeOf> | undefined;
  console.log(`${entry.peer}: ${size ? `code ${(size.codeGzipped / 1024).toFixed(1)} KiB gzipped, with model ${(size.totalGzipped / 1024).toFixed(1)} KiB` : `build failed: ${entry.buildError}`}`);
  for (const r of entry.runs as RunResult[]) {
    const outcome = r.loads ? `loads, ${r.samplesPerSecond} samples/s at batch ${BATCH} (median of ${ROUNDS}), first request ${r.firstRequestMs} ms, checksum ${r.checksum}` : 'does not load';
    console.log(`  ${r.mode}: ${outcome}${r.error ? ` (${r.error})` : ''}`);
  }
}

function sizeOf(bundle: WorkerBundle) {
  const sizes = gzippedSizes(bundle.modules);
  return {
    modules: sizes.map(({ type, bytes, gzipped }, i) => ({ type, source: bundle.modules[i].source?.replace(/^.*node_modules\//, '').replace(root, '') ?? 'bundled JavaScript', bytes, gzipped })),
    codeGzipped: sizes.filter((s) => s.type !== 'Data').reduce((sum, s) => sum + s.gzipped, 0),
    totalGzipped: sizes.reduce((sum, s) => sum + s.gzipped, 0),
  };
}

const stamp = `${new Date().toISOString().slice(0, 10)}-${hostname()}`;
mkdirSync(`${root}bench/results`, { recursive: true });
const file = `${root}bench/results/${stamp}-worker-peers.json`;
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), batch: BATCH, repeats: REPEATS, rounds: ROUNDS, loadAverageBefore, results }, null, 2)}\n`);
console.log(`wrote ${file}`);
