// createWebPool (edgevae/web) in Debian's Chromium (headless, through playwright-core): `edgevae serve`
// serves the browser bundles (dist/browser/edgevae-pool.js and the pool-worker.js it starts as module
// workers); the page fetches a shipped model and samples it on 2 workers. The samples are Node's
// Decoder.sample, bit for bit (strict SIMD on both sides), for conditional and unconditional models
// and batches the workers split unevenly; close() ends the workers; bad labels, corrupt models and a
// worker script that cannot be loaded reject with the library's errors (as Node words them), not a hang.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type Page, type Worker } from 'playwright-core';
import { Decoder, EdgeVaeError, type SampleOptions } from '../src/index.ts';
import type { DecoderPool } from '../src/runtime/pool.ts';
import { startServe, type RunningServer } from './helpers/serve.ts';
import { shippedModel } from '../src/node/files.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `Debian's chromium is not at ${CHROMIUM}: install it with "apt-get install -y chromium" (.ci/run does)`;
/** Per test: a pool that never answers fails the test rather than hanging the suite. */
const timeout = 60_000;

const modelBytes = (name: string) => new Uint8Array(readFileSync(shippedModel(name)));
const decoders = { cvae: await Decoder.load(modelBytes('cvae')), aae: await Decoder.load(modelBytes('aae')) };
type ModelName = keyof typeof decoders;

/** The page's pool, between page.evaluate calls. */
type PoolWindow = { pool: DecoderPool; poolModule: typeof import('../src/web/index.ts') };

/** An error as it reached the page: what the library's errors carry, and whether it is an instance of the class it names (edgevae/web exports them). */
type ErrorSeen = { name: string; code?: string; message: string; ofItsClass: boolean };

/** Bit patterns, so NaN and -0 compare exactly. */
const bits = (samples: Float32Array) => new Uint32Array(samples.buffer, samples.byteOffset, samples.length);

/** What Node's Decoder throws (or rejects with) for the same request, as an ErrorSeen. */
async function nodeError(call: () => unknown): Promise<ErrorSeen> {
  const error = await Promise.resolve().then(call).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof EdgeVaeError, `Node's decoder should fail with an EdgeVaeError, got ${String(error)}`);
  return { name: error.name, code: error.code, message: error.message, ofItsClass: true };
}

describe('createWebPool in Chromium (module workers)', { skip }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  /** Workers the page has started and not yet ended, as Chromium reports them. */
  const running = new Set<Worker>();

  before(async () => {
    server = await startServe();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless'] });
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('worker', (worker) => {
      running.add(worker);
      worker.on('close', () => running.delete(worker));
    });
    // The demo page, for its origin: module workers must come from the page's own.
    await page.goto(server.url);
    await page.evaluate(async () => {
      (window as unknown as PoolWindow).poolModule = await import(new URL('edgevae-pool.js', location.href).href);
    });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Starts the page's pool on a shipped model; resolves with what it reports once its workers loaded the model. */
  function startPool(model: ModelName, threads: number) {
    return page.evaluate(async ({ model, threads }) => {
      const w = window as unknown as PoolWindow;
      const bytes = await (await fetch(`models/${model}.evae`)).arrayBuffer();
      w.pool = await w.poolModule.createWebPool(bytes, { threads });
      return { threads: w.pool.threads, simd: w.pool.info.simd, classes: w.pool.info.classes };
    }, { model, threads });
  }

  /** pool.sample in the page, as bit patterns, with how the pool split the batch. */
  async function poolSample(n: number, options: SampleOptions): Promise<{ bits: Uint32Array; shares: number[] }> {
    const got = await page.evaluate(async ({ n, options }) => {
      const pool = (window as unknown as PoolWindow).pool;
      const samples = await pool.sample(n, options);
      return { bits: Array.from(new Uint32Array(samples.buffer, samples.byteOffset, samples.length)), shares: pool.shareSizes(n) };
    }, { n, options });
    return { bits: Uint32Array.from(got.bits), shares: got.shares };
  }

  /** Waits until Chromium reports every worker of the page ended (a little after terminate() returns). */
  async function waitForNoWorkers(): Promise<void> {
    // A worker that ended already has left `running`; the others cannot end before the listener is on.
    await Promise.all([...running].map((worker) => new Promise((resolve) => worker.once('close', resolve))));
    assert.equal(running.size, 0);
  }

  /** Closes the page's pool and waits until its workers ended. */
  async function closePool(): Promise<void> {
    await page.evaluate(() => (window as unknown as PoolWindow).pool.close());
    await waitForNoWorkers();
  }

  /** Runs `script` (the body of an async function of `w`, the page's PoolWindow) in the page; what it rejects with, as an ErrorSeen. */
  async function errorInPage(script: string): Promise<ErrorSeen | 'no error'> {
    return page.evaluate(async (script) => {
      const run = new Function('w', `return (async () => { ${script} })();`) as (w: unknown) => Promise<unknown>;
      try {
        await run(window);
        return 'no error' as const;
      } catch (error) {
        const e = error as { name: string; code?: string; message: string };
        const classes = (window as unknown as PoolWindow).poolModule as unknown as Record<string, new () => unknown>;
        const ofItsClass = error instanceof classes.EdgeVaeError && e.name in classes && error instanceof classes[e.name];
        return { name: e.name, code: e.code, message: e.message, ofItsClass };
      }
    }, script);
  }

  it('starts 2 module workers on the conditional VAE and reports its size', { timeout }, async () => {
    assert.deepEqual(await startPool('cvae', 2), { threads: 2, simd: 'strict', classes: 10 });
    assert.equal(running.size, 2, 'Chromium runs 2 workers for the pool');
    assert.deepEqual(pageErrors, []);
  });

  it('cvae: 64 labelled samples, the default labels, and an odd batch (63) equal Node\'s Decoder.sample bit for bit', { timeout }, async () => {
    const decoder = decoders.cvae;
    const labels = Array.from({ length: 64 }, (_, i) => (i * 7) % 10);
    const cases: { n: number; options: SampleOptions; shares: number[] }[] = [
      { n: 64, options: { seed: 20261121, labels }, shares: [32, 32] },
      { n: 64, options: { seed: 1, labels: 3 }, shares: [32, 32] },
      { n: 63, options: { seed: 2 }, shares: [32, 31] },
      { n: 63, options: { seed: 2 ** 40 + 3, offset: 1000, stddev: 0.5, labels: labels.slice(0, 63) }, shares: [32, 31] },
    ];
    for (const { n, options, shares } of cases) {
      const got = await poolSample(n, options);
      assert.deepEqual(got.shares, shares, `sample(${n}) is split over both workers`);
      assert.deepEqual(got.bits, bits(decoder.sample(n, options)), `sample(${n}, ${JSON.stringify(options)})`);
    }
  });

  it('close() ends the workers; a call after it rejects with a RuntimeError', { timeout }, async () => {
    await closePool();
    assert.equal(running.size, 0);
    assert.deepEqual(await errorInPage('await w.pool.sample(4, { seed: 1 });'), {
      name: 'RuntimeError', code: 'RUNTIME', message: 'the decoder pool is closed', ofItsClass: true,
    });
  });

  it('aae (unconditional): 64 samples and an odd batch (63), stddev 2, equal Node\'s Decoder.sample bit for bit', { timeout }, async () => {
    assert.deepEqual(await startPool('aae', 2), { threads: 2, simd: 'strict', classes: 0 });
    for (const n of [64, 63]) {
      const options = { seed: 7, stddev: 2 };
      const got = await poolSample(n, options);
      assert.equal(got.shares.length, 2, `sample(${n}) is split (${got.shares})`);
      assert.deepEqual(got.bits, bits(decoders.aae.sample(n, options)), `sample(${n})`);
    }
    await closePool();
  });

  it('a bad label rejects with Node\'s InputError, even when the batch was split', { timeout }, async () => {
    const decoder = decoders.cvae;
    await startPool('cvae', 2);
    const badAt200 = Array.from({ length: 256 }, (_, i) => (i === 200 ? 11 : i % 10));
    const cases = [
      { script: 'await w.pool.sample(8, { seed: 1, labels: 12 });', node: () => decoder.sample(8, { seed: 1, labels: 12 }) },
      { script: `await w.pool.sample(256, { seed: 1, labels: ${JSON.stringify(badAt200)} });`, node: () => decoder.sample(256, { seed: 1, labels: badAt200 }) },
      { script: 'await w.pool.sample(4, { labels: [1, 2] });', node: () => decoder.sample(4, { labels: [1, 2] }) },
    ];
    for (const { script, node } of cases) {
      const expected = await nodeError(node);
      assert.equal(expected.name, 'InputError');
      assert.deepEqual(await errorInPage(script), expected);
    }
    // The pool is still usable after refusing them.
    assert.deepEqual((await poolSample(8, { seed: 5, labels: 4 })).bits, bits(decoder.sample(8, { seed: 5, labels: 4 })));
    await closePool();
  });

  it('a corrupt model rejects with Node\'s FormatError and leaves no worker running', { timeout }, async () => {
    const file = modelBytes('cvae');
    const flipped = file.slice();
    flipped[file.length - 1000] ^= 0xff;
    const badMagic = file.slice();
    badMagic[0] = 0x58;
    const cases = [
      { corrupt: 'bytes = bytes.slice(0, 100);', node: () => Decoder.load(file.subarray(0, 100)) },
      { corrupt: 'bytes[bytes.length - 1000] ^= 0xff;', node: () => Decoder.load(flipped) },
      { corrupt: 'bytes[0] = 0x58;', node: () => Decoder.load(badMagic) },
    ];
    for (const { corrupt, node } of cases) {
      const expected = await nodeError(node);
      assert.equal(expected.name, 'FormatError');
      const seen = await errorInPage(`let bytes = new Uint8Array(await (await fetch('models/cvae.evae')).arrayBuffer()); ${corrupt}
        await w.poolModule.createWebPool(bytes, { threads: 2 });`);
      assert.deepEqual(seen, expected, corrupt);
      await waitForNoWorkers();
    }
  });

  it('a worker script that cannot be loaded rejects with a RuntimeError naming the worker, not a hang', { timeout }, async () => {
    const seen = await errorInPage(`const bytes = await (await fetch('models/cvae.evae')).arrayBuffer();
      await w.poolModule.createWebPool(bytes, { threads: 2, workerUrl: 'missing-pool-worker.js' });`);
    assert.notEqual(seen, 'no error');
    const { name, code, message, ofItsClass } = seen as ErrorSeen;
    assert.deepEqual({ name, code, ofItsClass }, { name: 'RuntimeError', code: 'RUNTIME', ofItsClass: true });
    assert.match(message, /^decoder pool worker [01] failed: .+; the pool is closed \(start a new one\)$/);
    await waitForNoWorkers();
  });
});
