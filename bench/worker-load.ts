/**
 * Load test of the Cloudflare Worker: examples/worker, bundled as `wrangler deploy` bundles it, runs in
 * workerd (miniflare) listening on 127.0.0.1; concurrent clients in this process send a bounded number
 * of requests per scenario and time each one; then one client alone times requests of growing n.
 * Reports requests/s and latency percentiles, and exits non-zero if any request failed.
 *
 * Run: npm run bench:worker [-- --requests 2000 --clients 16]
 * Results: bench/results/<date>-<host>-worker-load.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { bundleWorker, linkPackageInto, startWorker } from '../scripts/wrangler-bundle.ts';
import { integer } from '../src/cli/options.ts';

interface Scenario {
  name: string;
  /** The i-th request of the run: a fresh seed each time, so no response is a repeat. */
  request(base: URL, i: number): Request;
  contentType: string;
}

const LATENT_SIZE = 10; // the bundled cvae's

function sampleScenario(n: number, format: 'png' | 'json', headers: Record<string, string> = {}, suffix = ''): Scenario {
  return {
    name: `GET /sample?n=${n}&format=${format}${suffix}`,
    contentType: format === 'png' ? 'image/png' : 'application/json',
    request: (base, i) => new Request(new URL(`/sample?n=${n}&seed=${i}&label=${i % 10}&format=${format}`, base), { headers }),
  };
}

/** Under load: concurrent clients, --requests each. */
const LOAD_SCENARIOS: Scenario[] = [
  sampleScenario(16, 'png'),
  // fetch asks for gzip, and workerd compresses JSON itself when asked (on Cloudflare the edge does it, outside the Worker's CPU time).
  sampleScenario(16, 'json'),
  sampleScenario(16, 'json', { 'accept-encoding': 'identity' }, ', uncompressed'),
  {
    name: 'POST /decode (16 latents, png)',
    contentType: 'image/png',
    request: (base, i) => {
      const latents = Array.from({ length: 16 }, (_, row) => Array.from({ length: LATENT_SIZE }, (_, k) => Math.sin(i * 16 + row + k * 0.37)));
      return new Request(new URL('/decode', base), { method: 'POST', body: JSON.stringify({ latents, labels: i % 10 }), headers: { 'content-type': 'application/json' } });
    },
  },
];

/** One client, one request at a time: how a request's time grows with n (what counts against a CPU-time limit). */
const LATENCY_SCENARIOS: Scenario[] = [1, 16, 64, 256].flatMap((n) => [sampleScenario(n, 'png'), sampleScenario(n, 'json', { 'accept-encoding': 'identity' }, ', uncompressed')]);
const LATENCY_REQUESTS = 50;

const { requests, clients, warmup, maxSeconds } = new Command('npm run bench:worker --')
  .description('load test of the Cloudflare Worker example in workerd')
  .option('--requests <n>', 'requests per scenario under load', integer(1, 10_000_000), 2000)
  .option('--clients <n>', 'concurrent clients', integer(1, 10_000), 16)
  .option('--warmup <n>', 'requests before timing', integer(0, 1_000_000), 100)
  .option('--max-seconds <s>', 'longest a scenario may run', integer(1, 86_400), 120)
  .parse()
  .opts<{ requests: number; clients: number; warmup: number; maxSeconds: number }>();

interface Result {
  scenario: string;
  requests: number;
  clients: number;
  errors: number;
  firstError?: string;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  responseBytes: number;
}

/** `count` requests from `clients` concurrent loops; stops early (and counts the rest as errors) past the deadline. */
async function run(scenario: Scenario, base: URL, count: number, clients: number, first: number, deadline: number): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  let responseBytes = 0;
  const client = async () => {
    while (next < count && performance.now() < deadline) {
      const i = first + next++;
      const started = performance.now();
      try {
        const response = await fetch(scenario.request(base, i));
        const body = await response.arrayBuffer();
        const problem = response.status !== 200 ? `status ${response.status}: ${new TextDecoder().decode(body).slice(0, 200)}` : !response.headers.get('content-type')?.startsWith(scenario.contentType) ? `content-type ${response.headers.get('content-type')}` : undefined;
        if (problem) throw new Error(problem);
        responseBytes += body.byteLength;
        latencies.push(performance.now() - started);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - started) / 1000;
  errors = count - latencies.length; // failed, or never sent before the deadline
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? NaN);
  return {
    scenario: scenario.name, requests: count, clients, errors, ...(firstError ? { firstError } : {}), seconds: round(seconds),
    requestsPerSecond: round(latencies.length / seconds), latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) }, responseBytes,
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

const root = fileURLToPath(new URL('..', import.meta.url));
const loadBefore = loadavg(); // other work on the machine shares its cores with workerd and the clients
linkPackageInto(`${root}examples/worker`, root);
const worker = startWorker(await bundleWorker(`${root}examples/worker`), { port: 0 });
const base = await worker.ready;
const deadline = performance.now() + maxSeconds * 1000;
const results: Result[] = [];
const latencyByN: Result[] = [];
const report = (r: Result) =>
  console.log(`${r.scenario}: ${r.requests} requests, ${r.clients} clients, ${r.requestsPerSecond} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms, ${r.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ''}`);
try {
  for (const scenario of LOAD_SCENARIOS) {
    if (warmup) await run(scenario, base, warmup, clients, 1_000_000, deadline); // workerd tiers its wasm and JS up first
    results.push(await run(scenario, base, requests, clients, 0, deadline));
    report(results.at(-1)!);
  }
  for (const scenario of LATENCY_SCENARIOS) {
    latencyByN.push(await run(scenario, base, LATENCY_REQUESTS, 1, 0, deadline));
    report(latencyByN.at(-1)!);
  }
} finally {
  await worker.dispose();
}

const stamp = `${new Date().toISOString().slice(0, 10)}-${hostname()}`;
mkdirSync(`${root}bench/results`, { recursive: true });
const file = `${root}bench/results/${stamp}-worker-load.json`;
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverageBefore: loadBefore, target: base.origin, results, latencyByN }, null, 2)}\n`);
console.log(`wrote ${file}`);
if ([...results, ...latencyByN].some((r) => r.errors > 0)) process.exit(1);
