// DecoderPool on Node worker threads: the same bytes as the single-threaded Decoder however a request
// is split, the decoder's own errors, and no hang when a worker dies or the pool is closed.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Decoder, DecoderPool, EdgeVaeError, FormatError, InputError, RuntimeError, relaxedSimdSupported } from '../src/index.ts';
import { createNodePool, nodeWorkerEndpoint, startPoolWorkerThread } from '../src/node/index.ts';
import { GRAPH_PLANS, buildGraphModel, buildModel } from './helpers/random-models.ts';
import { LAYER_PLANS } from './helpers/plans.ts';
import { randomValues, seededRandom } from './helpers/numbers.ts';

const CONV = buildModel({ ...LAYER_PLANS['conv-vae-like decoder'], seed: 21 });
const CONDITIONAL = buildModel({ ...LAYER_PLANS['conditional, label joined first, mid-network, then convolutions'], seed: 22 }); // 4 classes
const CONDITIONAL_10 = buildModel({ ...LAYER_PLANS['conditional, label joined after the latent'], seed: 24 }); // 10 classes
const CONV_INT8 = buildModel({ ...LAYER_PLANS['conv2d and transposed, valid padding, odd kernels and strides'], dtype: 'i8', seed: 23 });
const ODD_BATCHES = [0, 1, 2, 3, 5, 9, 13, 33];

/** Pools that split whenever they can (these models are small), closed after the suite. */
const openPools: DecoderPool[] = [];
async function splittingPool(model: Uint8Array, threads: number): Promise<DecoderPool> {
  const pool = await createNodePool(model, { threads, minShareMacs: 0 });
  openPools.push(pool);
  return pool;
}
after(() => Promise.all(openPools.map((pool) => pool.close())));

/** Bit for bit: NaN-safe and -0-safe, unlike a tolerance. */
function assertSameBits(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  assert.deepEqual(new Uint32Array(got.buffer, got.byteOffset, got.length), new Uint32Array(want.buffer, want.byteOffset, want.length), what);
}

/** The pool rejects with the same class and message as the single-threaded decoder throws (or rejects with). */
async function assertSameError(poolCall: () => Promise<unknown>, decoderCall: () => unknown): Promise<void> {
  const expected = await Promise.resolve().then(decoderCall).then(() => undefined, (error: unknown) => error);
  assert.ok(expected instanceof EdgeVaeError, `the decoder should fail with an EdgeVaeError, got ${String(expected)}`);
  await assert.rejects(poolCall, (error: unknown) => {
    assert.equal((error as Error).constructor, expected.constructor);
    assert.equal((error as Error).message, expected.message);
    return true;
  });
}

describe('DecoderPool results equal Decoder, bit for bit', () => {
  for (const threads of [1, 2, 3]) {
    it(`sample() and decode() with ${threads} thread(s), odd batch sizes`, async () => {
      for (const model of [CONV, CONV_INT8]) {
        const decoder = await Decoder.load(model);
        const pool = await splittingPool(model, threads);
        for (const n of ODD_BATCHES) {
          const shares = pool.shareSizes(n);
          assert.equal(shares.reduce((a, b) => a + b, 0), n, `batch ${n}: shares ${shares} cover it`);
          if (threads > 1 && (n === 2 || n >= 8)) assert.ok(shares.length > 1, `batch ${n} is split (${shares})`);
          assertSameBits(await pool.sample(n, { seed: 9 }), decoder.sample(n, { seed: 9 }), `sample(${n})`);
          assertSameBits(await pool.sample(n, { seed: 2 ** 40 + 3, offset: 1000, stddev: 0.5 }), decoder.sample(n, { seed: 2 ** 40 + 3, offset: 1000, stddev: 0.5 }), `sample(${n}) with offset and stddev`);
          const latents = randomValues(n * decoder.info.latentSize, seededRandom(n), 2);
          assertSameBits(await pool.decode(latents), decoder.decode(latents), `decode(${n} rows, flat Float32Array)`);
          const rows = Array.from({ length: n }, (_, i) => Array.from(latents.subarray(i * decoder.info.latentSize, (i + 1) * decoder.info.latentSize)));
          assertSameBits(await pool.decode(rows), decoder.decode(latents), `decode(${n} rows, as arrays)`);
          assertSameBits(await pool.decode(Array.from(latents)), decoder.decode(latents), `decode(${n} rows, flat number[])`);
          const padded = new Float32Array(latents.length + 5);
          padded.set(latents, 5);
          assertSameBits(await pool.decode(padded.subarray(5)), decoder.decode(latents), `decode(${n} rows, a view into a larger buffer)`);
        }
      }
    });
  }

  it('conditional models: default labels cycle over the whole request, one label, one per sample', async () => {
    for (const [model, classes] of [[CONDITIONAL, 4], [CONDITIONAL_10, 10]] as const) {
      const decoder = await Decoder.load(model);
      const pool = await splittingPool(model, 3);
      const latentSize = decoder.info.latentSize;
      for (const n of [2, 3, 9, 33]) {
        // Shares start at rows 1 and 2 of 3, 12 and 24 of 33: the default i % classes must not restart in each share.
        assertSameBits(await pool.sample(n, { seed: 4 }), decoder.sample(n, { seed: 4 }), `sample(${n}) default labels`);
        assertSameBits(await pool.sample(n, { seed: 4, labels: 3 }), decoder.sample(n, { seed: 4, labels: 3 }), `sample(${n}) one label`);
        const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + 1) % classes);
        assertSameBits(await pool.sample(n, { seed: 4, labels }), decoder.sample(n, { seed: 4, labels }), `sample(${n}) labels per sample`);
        assertSameBits(await pool.sample(n, { seed: 4, labels: Array.from(labels) }), decoder.sample(n, { seed: 4, labels }), `sample(${n}) labels as number[]`);
        const latents = randomValues(n * latentSize, seededRandom(n), 2);
        assertSameBits(await pool.decode(latents, labels), decoder.decode(latents, labels), `decode(${n}) labels per sample`);
        assertSameBits(await pool.decode(latents, 2), decoder.decode(latents, 2), `decode(${n}) one label`);
      }
    }
  });

  it('without a seed, one seed is drawn for the request (as Decoder draws it) and every share continues it', async (t) => {
    const decoder = await Decoder.load(CONV);
    const pool = await splittingPool(CONV, 2);
    t.mock.method(Math, 'random', () => 0.25);
    assertSameBits(await pool.sample(9), decoder.sample(9, { seed: 0.25 * 2 ** 32 }), 'sample(9) with the seed Math.random gave');
  });

  it('passes LoadOptions through to every worker: the relaxed SIMD build', { skip: !relaxedSimdSupported() && 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' }, async () => {
    const decoder = await Decoder.load(CONV, { simd: 'relaxed', maxBatch: 4 });
    const pool = await createNodePool(CONV, { threads: 2, minShareMacs: 0, simd: 'relaxed', maxBatch: 4 });
    openPools.push(pool);
    assert.equal(pool.info.simd, 'relaxed');
    assertSameBits(await pool.sample(13, { seed: 7 }), decoder.sample(13, { seed: 7 }), 'sample(13), relaxed build');
  });

  it('decode() of image latents given channels-first (layout NCHW), split over workers', async () => {
    const model = buildGraphModel({ ...GRAPH_PLANS['rgb from an image latent'], seed: 25 });
    const decoder = await Decoder.load(model);
    const pool = await splittingPool(model, 2);
    const latents = randomValues(9 * decoder.info.latentSize, seededRandom(5), 1.5);
    assert.ok(pool.shareSizes(9).length > 1);
    assertSameBits(await pool.decode(latents, undefined, { layout: 'NCHW' }), decoder.decode(latents, undefined, { layout: 'NCHW' }), 'decode NCHW');
    assertSameBits(await pool.decode(latents), decoder.decode(latents), 'decode NHWC');
    await assertSameError(() => pool.decode(latents, undefined, { layout: 'CHW' as 'NCHW' }), () => decoder.decode(latents, undefined, { layout: 'CHW' as 'NCHW' }));
  });

  it('sampleLatents() and traverse()', async () => {
    const decoder = await Decoder.load(CONDITIONAL);
    const pool = await splittingPool(CONDITIONAL, 2);
    assertSameBits(await pool.sampleLatents(11, { seed: 5, offset: 3 }), decoder.sampleLatents(11, { seed: 5, offset: 3 }), 'sampleLatents');
    const walk = { dim: 1, from: -2, to: 2, steps: 9, seed: 6, label: 3 };
    assertSameBits(await pool.traverse(walk), decoder.traverse(walk), 'traverse');
  });

  it('serves concurrent requests, each with its own result', async () => {
    const decoder = await Decoder.load(CONV);
    const pool = await splittingPool(CONV, 3);
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    const results = await Promise.all(seeds.map((seed) => pool.sample(seed * 3, { seed })));
    results.forEach((got, i) => assertSameBits(got, decoder.sample(seeds[i] * 3, { seed: seeds[i] }), `request ${i}`));
  });

  it('splits into whole blocks of four rows, and keeps small requests on one worker', async () => {
    const decoder = await Decoder.load(CONV);
    const macs = decoder.info.macsPerSample;
    const pool = await createNodePool(CONV, { threads: 3, minShareMacs: 10 * macs });
    openPools.push(pool);
    assert.deepEqual(pool.shareSizes(19), [19], 'under two shares of work: whole');
    assert.deepEqual(pool.shareSizes(20), [12, 8], 'five blocks of four over two shares');
    assert.deepEqual(pool.shareSizes(31), [12, 8, 11], 'seven blocks over three shares, the three rows left over in the last');
    assert.deepEqual(pool.shareSizes(1000), [336, 332, 332]);
    assertSameBits(await pool.sample(19, { seed: 3 }), decoder.sample(19, { seed: 3 }), 'whole on one worker');
    const eager = await splittingPool(CONV, 3);
    assert.deepEqual(eager.shareSizes(4), [4], 'one block is not split');
    assert.deepEqual(eager.shareSizes(7), [7], 'one block and three rows are not split');
    assert.deepEqual(eager.shareSizes(9), [4, 5]);
    assert.deepEqual(eager.shareSizes(3), [1, 1, 1], 'below a block, rows are split one by one');
    assert.deepEqual(eager.shareSizes(64), [24, 20, 20]);
  });
});

describe('DecoderPool errors', { timeout: 60_000 }, () => {
  it("rejects bad requests with the decoder's own error class and message", async () => {
    const decoder = await Decoder.load(CONDITIONAL);
    const pool = await splittingPool(CONDITIONAL, 2);
    const labels = [0, 1, 2, 3, 0, 1, 2, 9, 0, 1]; // labels[7] is out of range, in the second share
    await assertSameError(() => pool.sample(-1, { seed: 1 }), () => decoder.sample(-1, { seed: 1 }));
    await assertSameError(() => pool.sample(2.5), () => decoder.sample(2.5));
    await assertSameError(() => pool.sample('8' as unknown as number), () => decoder.sample('8' as unknown as number));
    await assertSameError(() => pool.sample(10, { seed: 1, labels }), () => decoder.sample(10, { seed: 1, labels }));
    await assertSameError(() => pool.sample(10, { seed: 1, labels: labels.slice(1) }), () => decoder.sample(10, { seed: 1, labels: labels.slice(1) }));
    await assertSameError(() => pool.sample(10, { seed: 1, labels: 4 }), () => decoder.sample(10, { seed: 1, labels: 4 }));
    await assertSameError(() => pool.sample(10, { seed: 1, offset: 2 ** 32 - 9 }), () => decoder.sample(10, { seed: 1, offset: 2 ** 32 - 9 }));
    await assertSameError(() => pool.sample(10, { seed: -3 }), () => decoder.sample(10, { seed: -3 }));
    const latents = randomValues(30, seededRandom(1), 1);
    latents[25] = Number.NaN; // row 8, in the second share
    await assertSameError(() => pool.decode(latents, 1), () => decoder.decode(latents, 1));
    await assertSameError(() => pool.decode(latents.subarray(0, 29), 1), () => decoder.decode(latents.subarray(0, 29), 1));
    await assertSameError(() => pool.decode(latents.subarray(0, 24)), () => decoder.decode(latents.subarray(0, 24)));
    await assertSameError(() => pool.traverse({ dim: 3 }), () => decoder.traverse({ dim: 3 }));
    await assert.rejects(() => pool.sample(4, null as unknown as object), (error) => error instanceof InputError && /options must be an object, got null/.test(error.message));
    assertSameBits(await pool.sample(10, { seed: 1, labels: 2 }), decoder.sample(10, { seed: 1, labels: 2 }), 'the pool still works after refusing requests');
  });

  it('rejects a non-conditional model given labels, as Decoder does', async () => {
    const decoder = await Decoder.load(CONV);
    const pool = await splittingPool(CONV, 2);
    await assertSameError(() => pool.sample(6, { labels: 1 }), () => decoder.sample(6, { labels: 1 }));
  });

  it('fails to start with the FormatError of a bad model file, and on bad options', async () => {
    const broken = CONV.slice();
    broken[broken.length - 3] ^= 0xff;
    await assert.rejects(Decoder.load(broken), FormatError);
    await assertSameError(() => createNodePool(broken, { threads: 2 }), () => Decoder.load(broken));
    await assert.rejects(createNodePool(CONV, { threads: 0 }), (error) => error instanceof InputError && /threads must be an integer in 1\.\.256, got 0/.test(error.message));
    await assert.rejects(createNodePool(CONV, { threads: 1.5 }), InputError);
    await assert.rejects(createNodePool('model.evae' as unknown as Uint8Array), (error) => error instanceof InputError && /must be a Uint8Array or an ArrayBuffer/.test(error.message));
    await assert.rejects(createNodePool(CONV, { threads: 2, minShareMacs: -1 }), (error) => error instanceof InputError && /minShareMacs/.test(error.message));
    await assert.rejects(createNodePool(CONV, { threads: 2, maxBatch: 0 }), (error) => error instanceof InputError && /maxBatch must be an integer/.test(error.message));
  });

  it('close() rejects what is in flight and everything after, and can be called again', async () => {
    const pool = await createNodePool(CONV, { threads: 2, minShareMacs: 0 });
    const inFlight = assert.rejects(pool.sample(2000, { seed: 1 }), (error) => error instanceof RuntimeError && error.message === 'the decoder pool is closed');
    await pool.close();
    await inFlight;
    await assert.rejects(pool.sample(4, { seed: 1 }), (error) => error instanceof RuntimeError && error.message === 'the decoder pool is closed');
    await assert.rejects(pool.decode(new Float32Array(8)), RuntimeError);
    await pool.close();
  });

  it('a worker that dies mid-request rejects the request and closes the pool, naming the worker', async () => {
    const threads: Worker[] = [];
    const pool = await DecoderPool.start(CONV, { threads: 2, minShareMacs: 0 }, () => {
      const thread = startPoolWorkerThread();
      threads.push(thread);
      return nodeWorkerEndpoint(thread);
    });
    const request = assert.rejects(pool.sample(3000, { seed: 1 }), (error) => error instanceof RuntimeError && /^decoder pool worker 1 exited with code 1; the pool is closed \(start a new one\)$/.test(error.message));
    await threads[1].terminate();
    await request;
    await assert.rejects(pool.sample(2, { seed: 1 }), (error) => error instanceof RuntimeError && /worker 1 exited/.test(error.message));
    await pool.close();
  });

  it('a worker that throws as it starts fails the start with its error, not a hang', async () => {
    const start = DecoderPool.start(CONV, { threads: 2 }, (index) =>
      nodeWorkerEndpoint(index === 0 ? startPoolWorkerThread() : new Worker('throw new TypeError("no wasm here")', { eval: true })));
    await assert.rejects(start, (error) => error instanceof RuntimeError && /^decoder pool worker 1 threw TypeError: no wasm here;/.test(error.message));
  });
});

describe('DecoderPool from the built package', () => {
  it('runs from edgevae/node (dist) in plain JavaScript, and an idle pool does not keep Node running', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const script = `
      import { createNodePool } from 'edgevae/node';
      import { Decoder } from 'edgevae';
      import { readFileSync } from 'node:fs';
      const model = readFileSync('test/fixtures/cvae-f32.evae');
      const pool = await createNodePool(model, { threads: 2 });
      const got = await pool.sample(24, { seed: 8 });
      const want = (await Decoder.load(model)).sample(24, { seed: 8 });
      console.log(JSON.stringify({ shares: pool.shareSizes(24), same: got.every((v, i) => Object.is(v, want[i])) }));
      // no close(): the process must still exit`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, `exit ${result.status} ${result.signal ?? ''}: ${result.stderr}`);
    assert.deepEqual(JSON.parse(result.stdout.trim()), { shares: [12, 12], same: true });
  });
});
