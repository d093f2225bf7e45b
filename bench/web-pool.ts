/**
 * createWebPool in headless Chromium: samples/s of the shipped conditional VAE (models/cvae.evae) at
 * batch 256, on the page's main thread (the demo's <edgevae-sampler> element's Decoder) and on pools
 * of 1 and 2 module workers (dist/browser/edgevae-pool.js, as `edgevae serve` serves it). The
 * contenders take turns, `--rounds` times `--seconds` each, so a change in the machine's load falls on
 * all of them; samples/s is the batch over the median time of a call, timed in the page.
 *
 * Threads only scale on idle cores: the report gives the cores other processes kept busy just before
 * the run (from /proc/stat, Linux only) and the load average at its start and end.
 *
 * Run: npm run bench:web-pool [-- --seconds 3 --rounds 3]   (needs `npm run build:web` and /usr/bin/chromium)
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { chromium } from 'playwright-core';
import type { DecoderPool } from '../src/runtime/pool.ts';
import type { EdgeVaeSampler } from '../src/web/sampler-element.ts';
import { startServe } from '../test/helpers/serve.ts';
import { integer, positive } from '../src/cli/options.ts';

const CHROMIUM = '/usr/bin/chromium';
const BATCH = 256;
const WARM_UP_CALLS = 5;
const CONTENDERS = ['main thread (Decoder)', 'pool, 1 worker', 'pool, 2 workers'] as const;

const program: Command = new Command('npm run bench:web-pool --')
  .description('samples/s of createWebPool in headless Chromium against the page\'s main thread')
  .option('--seconds <s>', 'seconds a contender runs in each round', positive, 3)
  .option('--rounds <n>', 'rounds of turns', integer(1, 1000), 3)
  .parse();
const { seconds, rounds } = program.opts<{ seconds: number; rounds: number }>();
if (!existsSync(CHROMIUM)) program.error(`Debian's chromium is not at ${CHROMIUM}`);

/** Cores busy over `ms` milliseconds, all processes (nothing of this benchmark runs yet); null without /proc/stat. */
async function busyCores(ms: number): Promise<number | null> {
  if (!existsSync('/proc/stat')) return null;
  const busy = () => {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return user + nice + system + irq + softirq + steal; // USER_HZ ticks, 100 per second on Linux
  };
  const before = busy();
  await sleep(ms);
  return (busy() - before) / 100 / (ms / 1000);
}

type BenchWindow = { pools: DecoderPool[] };

const othersBusy = await busyCores(2000);
const loadAtStart = loadavg();
const server = await startServe();
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless'] });
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.querySelector<EdgeVaeSampler>('#cvae')!.state === 'ready');
  const version = browser.version();
  await page.evaluate(async () => {
    const { createWebPool } = (await import(new URL('edgevae-pool.js', location.href).href)) as typeof import('../src/web/index.ts');
    const bytes = await (await fetch('models/cvae.evae')).arrayBuffer();
    (window as unknown as BenchWindow).pools = [await createWebPool(bytes, { threads: 1 }), await createWebPool(bytes, { threads: 2 })];
  });

  /** Calls contender `which` (an index into CONTENDERS) for `ms` milliseconds (at least once), or `calls` times; the time of each call. */
  const timeCalls = (which: number, ms: number, calls = Number.POSITIVE_INFINITY) =>
    page.evaluate(async ({ which, ms, calls, batch }) => {
      const pools = (window as unknown as BenchWindow).pools;
      const decoder = document.querySelector<EdgeVaeSampler>('#cvae')!.decoder!;
      const times: number[] = [];
      const end = performance.now() + ms;
      for (let seed = 1; times.length < calls && (times.length === 0 || performance.now() < end); seed++) {
        const start = performance.now();
        await (which === 0 ? decoder.sample(batch, { seed }) : pools[which - 1].sample(batch, { seed }));
        times.push(performance.now() - start);
      }
      return times;
    }, { which, ms, calls, batch: BATCH });

  // V8 runs wasm in its baseline tier first: each contender is warmed up on its own instances.
  for (let k = 0; k < CONTENDERS.length; k++) await timeCalls(k, Number.POSITIVE_INFINITY, WARM_UP_CALLS);
  const times: number[][] = CONTENDERS.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < CONTENDERS.length; k++) times[k].push(...(await timeCalls(k, seconds * 1000)));
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`${version}, models/cvae.evae, batch ${BATCH}, ${rounds} rounds of ${seconds} s per contender`);
  console.log(`before the run, other processes kept ${othersBusy === null ? '?' : othersBusy.toFixed(2)} cores busy; load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`);
  const base = BATCH / (median(times[1]) / 1000);
  CONTENDERS.forEach((name, k) => {
    const perSecond = BATCH / (median(times[k]) / 1000);
    console.log(`${name}: ${Math.round(perSecond)} samples/s (median call ${median(times[k]).toFixed(1)} ms over ${times[k].length} calls; ${(perSecond / base).toFixed(2)}x the 1-worker pool)`);
  });
  await page.evaluate(() => Promise.all((window as unknown as BenchWindow).pools.map((pool) => pool.close())));
} finally {
  await browser.close();
  await server.stop();
}
