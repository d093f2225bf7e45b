// The Cloudflare Worker (examples/worker), built as `wrangler deploy` builds it and run in workerd
// through miniflare: the good paths give the same bytes as the Node runtime, every bad request gets a
// 4xx JSON error, the limits follow wrangler.toml's [vars], and the bundle stays small. A page on
// another origin can read every response (CORS, preflights, a cors option that lists origins), HEAD
// is GET without the body, and seeded samples carry an ETag and Cache-Control while drawn ones are
// never stored. The cors option's checks run in Node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodePng } from 'fast-png';
import { Miniflare } from 'miniflare';
import { Decoder, toChannelsFirst, toImageGrid } from '../src/core.ts';
import { GRAPH_PLANS, buildGraphModel } from './helpers/random-models.ts';
import { encodePng } from '../src/runtime/png.ts';
import { InputError } from '../src/errors.ts';
import { ANY_ORIGIN, DEFAULT_LIMITS, corsPolicy, createWorker, handleRequest } from '../src/worker/index.ts';
import { bundleWorker, gzippedSizes, linkPackageInto, startWorker, type WorkerBundle } from '../scripts/wrangler-bundle.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const exampleDir = `${root}examples/worker`;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let bundle: WorkerBundle;
let worker: Miniflare;
/** The same model and wasm build in Node, to hold the Worker's output against. */
let reference: Decoder;

async function request(path: string, init?: RequestInit & { duplex?: 'half' }, on: Miniflare = worker) {
  const response = await on.dispatchFetch(`http://localhost${path}`, init as never);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes, text: () => new TextDecoder().decode(bytes), json: () => JSON.parse(new TextDecoder().decode(bytes)) };
}

function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return request(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

/**
 * An oversized upload races the Worker's early 413: workerd may close the connection while the client
 * is still sending, and fetch then reports a reset instead of the answer (about 1 in 200 runs). That
 * transport error is retried with a fresh body; every answer that arrives is checked as usual.
 */
async function despiteReset(send: () => ReturnType<typeof request>, attempts = 3): ReturnType<typeof request> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (attempt >= attempts || (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET')) throw error;
    }
  }
}

async function assertJsonError(response: Promise<Awaited<ReturnType<typeof request>>>, status: number, message: RegExp) {
  const { status: got, headers, json } = await response;
  assert.equal(got, status);
  assert.match(headers.get('content-type') ?? '', /^application\/json/);
  assert.match(json().error, message);
}

before(async () => {
  linkPackageInto(exampleDir, root);
  bundle = await bundleWorker(exampleDir);
  worker = startWorker(bundle);
  const wasm = await WebAssembly.compile(await readFile(`${root}build/edgevae.wasm`));
  reference = await Decoder.load(await readFile(`${root}models/cvae.evae`), { wasm });
});
after(() => worker?.dispose());

describe('Worker bundle', () => {
  it('is what wrangler uploads: the entry, the wasm as a compiled module, the model as data', () => {
    assert.deepEqual(bundle.modules.map((m) => m.type), ['ESModule', 'CompiledWasm', 'Data']);
    assert.equal(bundle.modules[1].source, `${root}build/edgevae.wasm`);
    assert.equal(bundle.modules[2].source, `${root}models/cvae.evae`);
    assert.doesNotMatch(new TextDecoder().decode(bundle.modules[0].contents), /from\s*["']node:/);
  });

  it('has to carry the wasm as a module: workerd refuses to compile wasm bytes at run time', async () => {
    const probe = new Miniflare({
      modules: true,
      compatibilityDate: bundle.config.compatibility_date,
      script: `export default { async fetch() {
        try { await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); return new Response('compiled'); }
        catch (err) { return new Response(String(err)); } } }`,
    });
    try {
      assert.match(await (await probe.dispatchFetch('http://localhost/')).text(), /CompileError: .*Wasm code generation disallowed by embedder/);
    } finally {
      await probe.dispose();
    }
  });

  it('stays under 100 KB gzipped without the model', () => {
    const sizes = gzippedSizes(bundle.modules.filter((m) => m.type !== 'Data'));
    const total = sizes.reduce((sum, s) => sum + s.gzipped, 0);
    assert.ok(total < 100 * 1024, `the Worker without its model is ${total} bytes gzipped: ${JSON.stringify(sizes)}`);
  });
});

describe('Worker in workerd: good requests', () => {
  it('GET /sample gives a PNG grid of n digits, the same bytes as the Node runtime', async () => {
    const { status, headers, bytes } = await request('/sample?n=5&seed=42&format=png');
    assert.equal(status, 200);
    assert.equal(headers.get('content-type'), 'image/png');
    assert.equal(headers.get('x-edgevae-seed'), '42');
    assert.deepEqual([...bytes.subarray(0, 8)], PNG_SIGNATURE);
    const image = decodePng(bytes);
    assert.deepEqual([image.width, image.height], [3 * 29 + 1, 2 * 29 + 1]); // 3 columns, 2 rows of 28x28 with 1px padding
    const expected = encodePng(toImageGrid(reference.sample(5, { seed: 42 }), { shape: reference.info.outputShape, range: reference.info.range }));
    assert.deepEqual(bytes, expected);
  });

  it('defaults to 16 samples as a PNG, with a drawn seed it reports', async () => {
    const { status, headers, bytes } = await request('/sample');
    assert.equal(status, 200);
    assert.equal(headers.get('content-type'), 'image/png');
    assert.deepEqual([decodePng(bytes).width, decodePng(bytes).height], [4 * 29 + 1, 4 * 29 + 1]);
    const seed = headers.get('x-edgevae-seed')!;
    const again = await request(`/sample?seed=${seed}`);
    assert.deepEqual(again.bytes, bytes);
  });

  it('the same seed gives the same bytes; another seed, other bytes', async () => {
    const first = await request('/sample?n=8&seed=7&label=2');
    const second = await request('/sample?n=8&seed=7&label=2');
    const other = await request('/sample?n=8&seed=8&label=2');
    assert.deepEqual(first.bytes, second.bytes);
    assert.notDeepEqual(first.bytes, other.bytes);
  });

  it('format=json gives each sample\'s values, bit-identical to the Node runtime, for a label', async () => {
    const { status, json } = await request('/sample?n=3&seed=11&label=3&format=json');
    assert.equal(status, 200);
    const body = json();
    assert.deepEqual({ seed: body.seed, n: body.n, label: body.label, prior: body.prior, shape: body.shape, range: body.range }, { seed: 11, n: 3, label: 3, prior: 'model', shape: [28, 28, 1], range: [0, 1] });
    assert.equal(body.samples.length, 3);
    assert.deepEqual(Float32Array.from(body.samples.flat()), reference.sample(3, { seed: 11, labels: 3 }));
  });

  it('prior=standard draws from N(0, I) even where the model has a fitted prior (this one has none: the same samples)', async () => {
    const body = (await request('/sample?n=3&seed=11&prior=standard&format=json')).json();
    assert.equal(body.prior, 'standard');
    assert.deepEqual(Float32Array.from(body.samples.flat()), reference.sample(3, { seed: 11, prior: 'standard' }));
  });

  it('GET /info describes the model and the limits', async () => {
    const { status, json } = await request('/info');
    assert.equal(status, 200);
    const { model, limits } = json();
    assert.deepEqual([model.latentSize, model.classes, model.outputShape, model.simd], [10, 10, [28, 28, 1], 'strict']);
    assert.deepEqual([model.latentShape, model.latentLayout], [[10], null], 'a vector latent; the file records no layout');
    assert.deepEqual(limits, { maxSamples: 256, maxBodyBytes: 1048576 });
  });

  it('POST /decode decodes given latents with their labels, as JSON or a PNG', async () => {
    const latents = reference.sampleLatents(4, { seed: 5 });
    const rows = Array.from({ length: 4 }, (_, i) => Array.from(latents.subarray(i * 10, (i + 1) * 10)));
    const labels = [0, 1, 2, 9];
    const asJson = await postJson('/decode?format=json', { latents: rows, labels });
    assert.equal(asJson.status, 200);
    assert.deepEqual(asJson.json().labels, labels);
    assert.deepEqual(Float32Array.from(asJson.json().samples.flat()), reference.sample(4, { seed: 5, labels }));
    const asPng = await postJson('/decode', { latents: rows, labels: 7 });
    assert.equal(asPng.headers.get('content-type'), 'image/png');
    assert.deepEqual(asPng.bytes, encodePng(toImageGrid(reference.decode(latents, 7), { shape: [28, 28, 1] })));
  });

  it('takes a charset on the content type and n up to the limit', async () => {
    assert.equal((await postJson('/decode?format=json', { latents: [new Array(10).fill(0)], labels: 1 }, { 'content-type': 'Application/JSON; charset=utf-8' })).status, 200);
    assert.equal((await request('/sample?n=256&seed=1&format=png')).status, 200);
  });
});

describe('Worker in workerd: bad requests get a 4xx JSON error', () => {
  const badSamples: [string, RegExp][] = [
    ['n=0', /n must be an integer in 1\.\.256, got "0"/],
    ['n=257', /n must be an integer in 1\.\.256/],
    ['n=abc', /n must be an integer/],
    ['n=1.5', /n must be an integer/],
    ['n=1e2', /n must be an integer/],
    ['n=', /n must be an integer/],
    ['seed=-1', /seed must be an integer in 0\.\.9007199254740991/],
    ['seed=2.5', /seed must be an integer/],
    ['seed=9007199254740992', /seed must be an integer/],
    ['seed=x', /seed must be an integer/],
    ['label=10', /label 10 is not a class of this model: it has 10 classes, 0\.\.9/],
    ['label=70000', /label 70000 is not a class of this model: it has 10 classes, 0\.\.9/],
    ['label=-1', /label must be a class: an integer in 0\.\.9, got "-1"/],
    ['label=three', /label must be a class: an integer in 0\.\.9, got "three"/],
    ['format=gif', /format must be one of png, json, got "gif"/],
    ['prior=gmm', /prior must be one of model, standard, got "gmm"/],
    ['lable=3', /unknown query parameter "lable"; this endpoint takes n, seed, label, stddev, prior, format/],
    ['n=1&n=2', /"n" is given more than once/],
  ];
  for (const [query, message] of badSamples) {
    it(`GET /sample?${query}`, () => assertJsonError(request(`/sample?${query}`), 400, message));
  }

  it('GET /info takes no parameters', () => assertJsonError(request('/info?verbose=1'), 400, /unknown query parameter "verbose"/));

  const row = new Array(10).fill(0.5);
  const badBodies: [string, unknown, RegExp][] = [
    ['not JSON', '{"latents": [[', /not valid JSON/],
    ['an empty body', '', /body is empty/],
    ['an array', [[0, 1]], /body must be a JSON object/],
    ['null', 'null', /body must be a JSON object/],
    ['no latents', { labels: 1 }, /"latents" must be a non-empty array/],
    ['no rows', { latents: [], labels: 1 }, /"latents" must be a non-empty array/],
    ['a flat latent', { latents: row, labels: 1 }, /latents\[0\] must be an array of 10 numbers/],
    ['a short row', { latents: [row, [1, 2]], labels: 1 }, /latents\[1\] must be an array of 10 numbers/],
    ['a string value', { latents: [[...row.slice(1), '1']], labels: 1 }, /latents\[0\]\[9\] must be a number, got "1"/],
    ['a value past float32', { latents: [[1e39, ...row.slice(1)]], labels: 1 }, /latent value 0 is Infinity/],
    ['too many rows', { latents: new Array(257).fill(row), labels: 1 }, /257 latent rows is over the limit of 256/],
    ['an unknown field', { latents: [row], labels: 1, seed: 3 }, /unknown field "seed"/],
    ['no labels for a conditional model', { latents: [row] }, /conditional: give a label in 0\.\.9/],
    ['a label out of range', { latents: [row], labels: 10 }, /label 10 is not a class of this model: it has 10 classes, 0\.\.9/],
    ['a label out of range in a list', { latents: [row, row], labels: [1, 12] }, /labels\[1\] 12 is not a class of this model: it has 10 classes, 0\.\.9/],
    ['a label per row, miscounted', { latents: [row, row], labels: [1] }, /1 labels given for 2 samples/],
    ['labels as strings', { latents: [row], labels: ['1'] }, /labels\[0\] must be a class: an integer in 0\.\.9, got "1"/],
    ['labels as an object', { latents: [row], labels: { 0: 1 } }, /"labels" must be one integer class or an array/],
  ];
  for (const [what, body, message] of badBodies) {
    it(`POST /decode with ${what}`, () => assertJsonError(postJson('/decode', body), 400, message));
  }

  it('POST /decode with a bad format or parameter', async () => {
    await assertJsonError(postJson('/decode?format=gif', { latents: [row], labels: 1 }), 400, /format must be one of png, json/);
    await assertJsonError(postJson('/decode?n=3', { latents: [row], labels: 1 }), 400, /unknown query parameter "n"; this endpoint takes format, layout/);
    await assertJsonError(postJson('/decode?layout=CHW', { latents: [row], labels: 1 }), 400, /layout must be one of NHWC, NCHW, got "CHW"/);
    await assertJsonError(postJson('/decode?layout=NCHW', { latents: [row], labels: 1 }), 400, /layout NCHW is for image latents; this model's latent is a \[10\] vector/);
  });

  it('POST /decode with invalid UTF-8', () => assertJsonError(request('/decode', { method: 'POST', body: new Uint8Array([0x7b, 0xff, 0x7d]), headers: { 'content-type': 'application/json' } }), 400, /not valid UTF-8/));

  it('POST /decode without a JSON content type: 415', async () => {
    await assertJsonError(postJson('/decode', { latents: [row], labels: 1 }, { 'content-type': 'text/plain' }), 415, /content-type: application\/json \(got "text\/plain"\)/);
    await assertJsonError(request('/decode', { method: 'POST', body: new Blob([JSON.stringify({ latents: [row], labels: 1 })]) }), 415, /got none/);
  });

  it('POST /decode over the body limit: 413, whether it declares its length or streams', async () => {
    const big = JSON.stringify({ latents: [row], labels: 1, padding: 'x'.repeat(1 << 20) });
    await assertJsonError(despiteReset(() => postJson('/decode', big)), 413, /over the limit of 1048576 bytes/);
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    const stream = () => {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 20) controller.enqueue(chunk); // 1.25 MiB in 64 KiB pieces, no Content-Length
          else controller.close();
        },
      });
    };
    const streamed = () => request('/decode', { method: 'POST', body: stream(), duplex: 'half', headers: { 'content-type': 'application/json' } });
    await assertJsonError(despiteReset(streamed), 413, /over the limit/);
  });

  it('a wrong method: 405 with Allow', async () => {
    const cases = [['POST', '/sample', 'GET, HEAD, OPTIONS'], ['GET', '/decode', 'POST, OPTIONS'], ['PUT', '/info', 'GET, HEAD, OPTIONS'], ['DELETE', '/sample', 'GET, HEAD, OPTIONS'], ['PATCH', '/decode', 'POST, OPTIONS']];
    for (const [method, path, allow] of cases) {
      const response = request(path, { method, ...(method === 'POST' || method === 'PUT' ? { body: '{}' } : {}) });
      await assertJsonError(response, 405, new RegExp(`${path} takes ${allow}, not ${method}`));
      assert.equal((await response).headers.get('allow'), allow);
    }
  });

  it('an unknown path: 404', async () => {
    for (const path of ['/', '/samples', '/sample/', '/favicon.ico']) await assertJsonError(request(path), 404, /no endpoint at/);
  });

  it('still serves after all of them', async () => assert.equal((await request('/info')).status, 200));
});

describe('Worker in workerd: limits from wrangler.toml [vars]', () => {
  it('MAX_SAMPLES and MAX_BODY_BYTES set the limits', async () => {
    const small = startWorker(bundle, { bindings: { MAX_SAMPLES: '8', MAX_BODY_BYTES: 300 } });
    try {
      assert.equal((await request('/sample?n=8', undefined, small)).status, 200);
      await assertJsonError(request('/sample?n=9', undefined, small), 400, /n must be an integer in 1\.\.8/);
      const body = JSON.stringify({ latents: new Array(8).fill(new Array(10).fill(0.125)), labels: 1 });
      await assertJsonError(request('/decode', { method: 'POST', body, headers: { 'content-type': 'application/json' } }, small), 413, /over the limit of 300 bytes/);
    } finally {
      await small.dispose();
    }
  });

  it('a bad limit is the deployment\'s error: a 500 naming the variable', async () => {
    const broken = startWorker(bundle, { bindings: { MAX_SAMPLES: 'lots' } });
    try {
      await assertJsonError(request('/info', undefined, broken), 500, /misconfigured: MAX_SAMPLES must be an integer in 1\.\.4096, got "lots"/);
      const seen = await request('/info', { headers: { origin: 'https://page.example' } }, broken);
      assert.equal(seen.headers.get('access-control-allow-origin'), '*');
      assert.equal(seen.headers.get('cache-control'), 'no-store');
    } finally {
      await broken.dispose();
    }
  });
});

describe('Worker in workerd: CORS, HEAD, OPTIONS and caching', () => {
  const page = { origin: 'https://page.example' };

  it('every response lets any origin read it, with or without an Origin, and exposes its own headers', async () => {
    for (const headers of [page, {}]) {
      const { status, headers: got } = await request('/sample?n=2&seed=4', { headers });
      assert.equal(status, 200);
      assert.equal(got.get('access-control-allow-origin'), '*');
      assert.deepEqual(got.get('access-control-expose-headers')!.split(', ').sort(), ['etag', 'x-edgevae-seed']);
      assert.equal(got.get('vary'), null, 'one answer for every origin: nothing to vary on');
      assert.equal(got.get('access-control-allow-credentials'), null);
    }
    const info = await request('/info', { headers: page });
    assert.equal(info.headers.get('access-control-allow-origin'), '*');
    const decoded = await postJson('/decode?format=json', { latents: [new Array(10).fill(0)], labels: 4 }, page);
    assert.equal(decoded.status, 200);
    assert.equal(decoded.headers.get('access-control-allow-origin'), '*');
  });

  it('4xx errors carry the CORS headers too, so a page can read their message and Allow', async () => {
    const row = new Array(10).fill(0);
    const errors: [Promise<Awaited<ReturnType<typeof request>>>, number, string[]][] = [
      [request('/sample?n=0', { headers: page }), 400, []],
      [request('/nowhere', { headers: page }), 404, []],
      [request('/sample', { method: 'DELETE', headers: page }), 405, ['allow']],
      [postJson('/decode', { latents: [row], labels: 1, padding: 'x'.repeat(1 << 20) }, page), 413, []],
      [postJson('/decode', { latents: [row], labels: 1 }, { ...page, 'content-type': 'text/plain' }), 415, ['accept-post']],
    ];
    for (const [response, status, exposed] of errors) {
      const { status: got, headers, json } = await response;
      assert.equal(got, status);
      assert.equal(typeof json().error, 'string');
      assert.equal(headers.get('access-control-allow-origin'), '*', `${status}`);
      assert.equal(headers.get('cache-control'), 'no-store', `${status}: an error is not stored`);
      assert.equal(headers.get('etag'), null);
      assert.deepEqual(headers.get('access-control-expose-headers')?.split(', ') ?? [], exposed, `${status}`);
    }
  });

  it('answers a preflight with 204: the path\'s methods, the JSON content type, a max age', async () => {
    const preflight = { ...page, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' };
    const { status, headers, bytes } = await request('/decode', { method: 'OPTIONS', headers: preflight });
    assert.equal(status, 204);
    assert.equal(bytes.length, 0);
    assert.equal(headers.get('access-control-allow-origin'), '*');
    assert.equal(headers.get('access-control-allow-methods'), 'POST, OPTIONS');
    assert.deepEqual(headers.get('access-control-allow-headers')!.split(', '), ['content-type', 'if-none-match']);
    assert.equal(headers.get('access-control-max-age'), '86400');
    assert.equal(headers.get('allow'), 'POST, OPTIONS');
    const sample = await request('/sample', { method: 'OPTIONS', headers: { ...preflight, 'access-control-request-method': 'GET' } });
    assert.equal(sample.status, 204);
    assert.equal(sample.headers.get('access-control-allow-methods'), 'GET, HEAD, OPTIONS');
  });

  it('answers a plain OPTIONS with 204 and Allow; OPTIONS of an unknown path is a 404 a page can read', async () => {
    const info = await request('/info', { method: 'OPTIONS' });
    assert.equal(info.status, 204);
    assert.equal(info.headers.get('allow'), 'GET, HEAD, OPTIONS');
    assert.equal(info.bytes.length, 0);
    await assertJsonError(request('/nowhere', { method: 'OPTIONS', headers: page }), 404, /no endpoint at \/nowhere/);
    assert.equal((await request('/nowhere', { method: 'OPTIONS', headers: page })).headers.get('access-control-allow-origin'), '*');
  });

  it('answers HEAD as GET, same status and headers, without the body', async () => {
    const ignored = new Set(['content-length', 'transfer-encoding', 'content-encoding', 'mf-content-encoding']); // framing, not the answer
    const comparable = (headers: Headers) => [...headers].filter(([name]) => !ignored.has(name));
    for (const path of ['/sample?n=4&seed=3', '/sample?n=2&seed=3&label=5&format=json', '/info', '/sample?n=0', '/sample?lable=1', '/nowhere']) {
      const get = await request(path, { headers: page });
      const head = await request(path, { method: 'HEAD', headers: page });
      assert.equal(head.status, get.status, path);
      assert.equal(head.bytes.length, 0, path);
      assert.deepEqual(comparable(head.headers), comparable(get.headers), path);
      assert.equal(head.headers.get('content-length'), String(get.bytes.length), path);
    }
    const drawn = await request('/sample?n=1', { method: 'HEAD' });
    assert.equal(drawn.status, 200);
    assert.match(drawn.headers.get('x-edgevae-seed')!, /^[0-9]+$/);
    const wrong = await request('/decode', { method: 'HEAD' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST, OPTIONS');
    assert.equal(wrong.bytes.length, 0);
  });

  it('samples of a given seed carry a strong ETag (SHA-256 of the body) and a day of caching', async () => {
    const png = await request('/sample?n=4&seed=9&label=1');
    const etag = png.headers.get('etag');
    assert.equal(etag, `"${createHash('sha256').update(png.bytes).digest('hex').slice(0, 32)}"`);
    assert.equal(png.headers.get('cache-control'), 'public, max-age=86400');
    assert.equal((await request('/sample?label=1&seed=9&n=4')).headers.get('etag'), etag, 'the same bytes, the same tag');
    const json = await request('/sample?n=4&seed=9&label=1&format=json');
    assert.equal(json.headers.get('etag'), `"${createHash('sha256').update(json.bytes).digest('hex').slice(0, 32)}"`);
    assert.notEqual(json.headers.get('etag'), etag);
    assert.notEqual((await request('/sample?n=4&seed=10&label=1')).headers.get('etag'), etag);
  });

  it('If-None-Match naming the ETag gets a 304 without body; another tag gets the samples', async () => {
    const { headers } = await request('/sample?n=3&seed=21');
    const etag = headers.get('etag')!;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"0123", ${etag}`, '*']) {
      const revalidated = await request('/sample?n=3&seed=21', { headers: { ...page, 'if-none-match': ifNoneMatch } });
      assert.equal(revalidated.status, 304, ifNoneMatch);
      assert.equal(revalidated.bytes.length, 0);
      assert.equal(revalidated.headers.get('etag'), etag);
      assert.equal(revalidated.headers.get('cache-control'), 'public, max-age=86400');
      assert.equal(revalidated.headers.get('content-type'), null);
      assert.equal(revalidated.headers.get('access-control-allow-origin'), '*');
      assert.equal((await request('/sample?n=3&seed=21', { method: 'HEAD', headers: { 'if-none-match': ifNoneMatch } })).status, 304);
    }
    const stale = await request('/sample?n=3&seed=21', { headers: { 'if-none-match': '"0123456789abcdef0123456789abcdef"' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('content-type'), 'image/png');
    assert.equal(stale.headers.get('etag'), etag);
  });

  it('samples of a drawn seed and POST /decode are never stored and carry no ETag', async () => {
    const drawn = await request('/sample?n=2', { headers: { 'if-none-match': '*' } });
    assert.equal(drawn.status, 200, 'a drawn seed\'s samples are new: no 304');
    assert.equal(drawn.headers.get('cache-control'), 'no-store');
    assert.equal(drawn.headers.get('etag'), null);
    assert.deepEqual(drawn.headers.get('access-control-expose-headers')!.split(', '), ['x-edgevae-seed']);
    const decoded = await postJson('/decode', { latents: [new Array(10).fill(0)], labels: 2 }, { 'if-none-match': '*' });
    assert.equal(decoded.status, 200);
    assert.equal(decoded.headers.get('cache-control'), 'no-store');
    assert.equal(decoded.headers.get('etag'), null);
  });

  it('GET /info is revalidated on every use: no-cache with an ETag, a 304 while it holds', async () => {
    const info = await request('/info');
    assert.equal(info.headers.get('cache-control'), 'no-cache');
    const etag = info.headers.get('etag')!;
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    assert.equal((await request('/info', { headers: { 'if-none-match': etag } })).status, 304);
    const small = startWorker(bundle, { bindings: { MAX_SAMPLES: '8' } });
    try {
      const other = await request('/info', { headers: { 'if-none-match': etag } }, small);
      assert.equal(other.status, 200, 'other limits, another body, another tag');
      assert.notEqual(other.headers.get('etag'), etag);
    } finally {
      await small.dispose();
    }
  });
});

/** A Worker serving `model` (written beside its entry as model.evae), bundled as wrangler would from a temporary folder the caller removes. */
async function bundleWithModel(model: Uint8Array): Promise<WorkerBundle> {
  const dir = mkdtempSync(join(tmpdir(), 'edgevae-model-worker-'));
  mkdirSync(join(dir, 'src'));
  copyFileSync(join(exampleDir, 'wrangler.toml'), join(dir, 'wrangler.toml'));
  writeFileSync(join(dir, 'model.evae'), model);
  writeFileSync(join(dir, 'src/index.ts'), [
    "import wasm from 'edgevae/wasm';",
    "import model from '../model.evae';",
    "import { createWorker } from 'edgevae/worker';",
    'export default createWorker({ model, wasm });',
  ].join('\n'));
  linkPackageInto(dir, root);
  return bundleWorker(dir);
}

describe('Worker in workerd: an RGB decoder from a [4, 4, 8] image latent (NCHW in its source), in [-1, 1]', () => {
  const model = buildGraphModel({ ...GRAPH_PLANS['rgb from an image latent'], seed: 21 });
  let rgb: Miniflare;
  let dir: string;
  let node: Decoder;
  const gridPng = (samples: Float32Array) => encodePng(toImageGrid(samples, { shape: [8, 8, 3], range: [-1, 1] }));
  const rowsOf = (values: Float32Array) => Array.from({ length: values.length / 128 }, (_, i) => Array.from(values.subarray(i * 128, (i + 1) * 128)));
  const post = (path: string, body: unknown) =>
    request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }, rgb);

  before(async () => {
    const rgbBundle = await bundleWithModel(model);
    dir = rgbBundle.dir;
    rgb = startWorker(rgbBundle);
    node = await Decoder.load(model, { wasm: await WebAssembly.compile(await readFile(`${root}build/edgevae.wasm`)) });
  });
  after(async () => {
    await rgb?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET /sample draws a colour PNG, the same bytes as Node\'s Decoder for the seed', async () => {
    const { status, headers, bytes } = await request('/sample?n=6&seed=42', undefined, rgb);
    assert.equal(status, 200);
    assert.equal(headers.get('content-type'), 'image/png');
    assert.deepEqual(bytes, gridPng(node.sample(6, { seed: 42 })));
    const image = decodePng(bytes);
    assert.deepEqual([image.width, image.height, image.channels], [3 * 9 + 1, 2 * 9 + 1, 4]);
  });

  it('format=json gives the samples bit for bit, with the shape and range from the file', async () => {
    const body = (await request('/sample?n=3&seed=7&format=json', undefined, rgb)).json();
    assert.deepEqual([body.shape, body.range], [[8, 8, 3], [-1, 1]]);
    assert.deepEqual(Float32Array.from(body.samples.flat()), node.sample(3, { seed: 7 }));
  });

  it('GET /info reports the latent shape as held and the layout from the file', async () => {
    const { model: info } = (await request('/info', undefined, rgb)).json();
    assert.deepEqual([info.latentSize, info.latentShape, info.latentLayout, info.outputShape, info.range], [128, [4, 4, 8], 'NCHW', [8, 8, 3], [-1, 1]]);
    assert.deepEqual(info.layers.map((l: { name: string; inputs: string[] }) => [l.name, l.inputs]), [['up', ['z']], ['rgb', ['up']]]);
  });

  it('POST /decode takes rows channels-last, or channels-first with layout=NCHW: the same bytes', async () => {
    const held = node.sampleLatents(4, { seed: 3 });
    const expected = node.decode(held);
    const nhwc = await post('/decode?format=json', { latents: rowsOf(held) });
    assert.equal(nhwc.status, 200);
    assert.deepEqual(Float32Array.from(nhwc.json().samples.flat()), expected);
    const nchw = await post('/decode?format=json&layout=NCHW', { latents: rowsOf(toChannelsFirst(held, [4, 4, 8])) });
    assert.equal(nchw.status, 200);
    assert.equal(nchw.json().layout, 'NCHW');
    assert.deepEqual(Float32Array.from(nchw.json().samples.flat()), expected);
    const png = await post('/decode?layout=NCHW', { latents: rowsOf(toChannelsFirst(held, [4, 4, 8])) });
    assert.deepEqual(png.bytes, gridPng(expected));
  });

  it('refuses a bad layout, rows of the wrong length and labels with a 400 naming the problem', async () => {
    const zeros = new Array(128).fill(0);
    const refused = async (path: string, body: unknown, message: RegExp) => {
      const { status, json } = await post(path, body);
      assert.equal(status, 400, path);
      assert.match(json().error, message);
    };
    await refused('/decode?layout=nchw', { latents: [zeros] }, /layout must be one of NHWC, NCHW, got "nchw"/);
    await refused('/decode?layout=NCHW', { latents: [zeros.slice(1)] }, /latents\[0\] must be an array of 128 numbers \(the model's \[4, 4, 8\] image latent, flattened\)/);
    await refused('/decode', { latents: [zeros], labels: 1 }, /not conditional/);
  });
});

/** examples/worker with `cors` (source text) given to createWorker, bundled from a temporary folder the caller removes. */
async function bundleWithCors(cors: string): Promise<WorkerBundle> {
  const dir = mkdtempSync(join(tmpdir(), 'edgevae-cors-worker-'));
  mkdirSync(join(dir, 'src'));
  copyFileSync(join(exampleDir, 'wrangler.toml'), join(dir, 'wrangler.toml'));
  writeFileSync(join(dir, 'src/index.ts'), [
    "import wasm from 'edgevae/wasm';",
    "import model from 'edgevae/models/cvae.evae';",
    "import { createWorker } from 'edgevae/worker';",
    `export default createWorker({ model, wasm, cors: ${cors} });`,
  ].join('\n'));
  linkPackageInto(dir, root);
  return bundleWorker(dir);
}

describe('Worker in workerd: createWorker\'s cors option', () => {
  let listed: Miniflare;
  let dir: string;
  before(async () => {
    const listedBundle = await bundleWithCors("{ origin: ['https://a.example', 'http://localhost:8080'], maxAge: 600 }");
    dir = listedBundle.dir;
    listed = startWorker(listedBundle);
  });
  after(async () => {
    await listed?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names a listed origin back, with Vary: Origin, on samples, errors and 304s', async () => {
    for (const origin of ['https://a.example', 'http://localhost:8080']) {
      const ok = await request('/sample?n=1&seed=1', { headers: { origin } }, listed);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('access-control-allow-origin'), origin);
      assert.equal(ok.headers.get('vary'), 'Origin');
      const error = await request('/sample?n=0', { headers: { origin } }, listed);
      assert.equal(error.status, 400);
      assert.equal(error.headers.get('access-control-allow-origin'), origin);
      const revalidated = await request('/sample?n=1&seed=1', { headers: { origin, 'if-none-match': ok.headers.get('etag')! } }, listed);
      assert.equal(revalidated.status, 304);
      assert.equal(revalidated.headers.get('access-control-allow-origin'), origin);
      assert.equal(revalidated.headers.get('vary'), 'Origin');
    }
  });

  it('gives any other origin, or none, no Access-Control-Allow-Origin (still Vary: Origin), and the same body', async () => {
    const listedBytes = (await request('/sample?n=1&seed=1', { headers: { origin: 'https://a.example' } }, listed)).bytes;
    for (const headers of [{ origin: 'https://b.example' }, { origin: 'https://a.example:443.evil' }, { origin: 'null' }, {}] as Record<string, string>[]) {
      const other = await request('/sample?n=1&seed=1', { headers }, listed);
      assert.equal(other.status, 200, 'CORS keeps the response from the page; the server still answers');
      assert.deepEqual(other.bytes, listedBytes);
      assert.equal(other.headers.get('access-control-allow-origin'), null, JSON.stringify(headers));
      assert.equal(other.headers.get('access-control-expose-headers'), null);
      assert.equal(other.headers.get('vary'), 'Origin');
    }
  });

  it('answers a listed origin\'s preflight with its max age, and another\'s without CORS headers', async () => {
    const preflight = { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' };
    const yes = await request('/decode', { method: 'OPTIONS', headers: { ...preflight, origin: 'https://a.example' } }, listed);
    assert.equal(yes.status, 204);
    assert.equal(yes.headers.get('access-control-allow-origin'), 'https://a.example');
    assert.equal(yes.headers.get('access-control-allow-methods'), 'POST, OPTIONS');
    assert.equal(yes.headers.get('access-control-max-age'), '600');
    const no = await request('/decode', { method: 'OPTIONS', headers: { ...preflight, origin: 'https://b.example' } }, listed);
    assert.equal(no.status, 204);
    for (const name of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age']) {
      assert.equal(no.headers.get(name), null, name);
    }
  });
  it('a bad cors option stops the Worker at start-up, where a deployment runs it too, naming the fix', async () => {
    const bad = await bundleWithCors("{ origin: 'https://a.example/' }");
    let stderr = '';
    const broken = new Miniflare({
      modulesRoot: bad.dir,
      modules: bad.modules.map((m) => ({ type: m.type, path: join(bad.dir, m.name), contents: m.contents })),
      compatibilityDate: bad.config.compatibility_date,
      handleRuntimeStdio(stdout: Readable, errors: Readable) {
        stdout.resume();
        errors.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      },
    });
    try {
      await assert.rejects(broken.ready, /Workers runtime failed to start/);
      assert.match(stderr, /Uncaught Error: .*cors\.origin: "https:\/\/a\.example\/" is not an origin as browsers send it .*did you mean "https:\/\/a\.example"\?/);
    } finally {
      await broken.dispose().catch(() => undefined);
      rmSync(bad.dir, { recursive: true, force: true });
    }
  });
});

describe('edgevae/worker cors option (in Node)', () => {
  const throwsInput = (make: () => unknown, message: RegExp) => assert.throws(make, (err: unknown) => err instanceof InputError && message.test(err.message));

  it('defaults to any origin and a day of preflight caching', () => {
    assert.deepEqual(corsPolicy(), { origins: '*', maxAge: 86400 });
    assert.deepEqual(corsPolicy({}), ANY_ORIGIN);
    assert.deepEqual(corsPolicy({ origin: '*', maxAge: 0 }), { origins: '*', maxAge: 0 });
  });

  it('takes one origin or a list, each as browsers send it', () => {
    assert.deepEqual(corsPolicy({ origin: 'https://example.com' }).origins, new Set(['https://example.com']));
    assert.deepEqual(corsPolicy({ origin: ['http://localhost:8787', 'https://b.example:8443', 'http://[::1]:3000'] }).origins, new Set(['http://localhost:8787', 'https://b.example:8443', 'http://[::1]:3000']));
  });

  it('refuses an origin a browser would never send, saying what it should be', () => {
    throwsInput(() => corsPolicy({ origin: 'https://example.com/' }), /"https:\/\/example\.com\/" is not an origin as browsers send it .*did you mean "https:\/\/example\.com"\?/);
    throwsInput(() => corsPolicy({ origin: 'https://Example.com' }), /did you mean "https:\/\/example\.com"/);
    throwsInput(() => corsPolicy({ origin: 'https://example.com:443' }), /did you mean "https:\/\/example\.com"/);
    throwsInput(() => corsPolicy({ origin: ['https://a.example', 'https://b.example/app'] }), /"https:\/\/b\.example\/app" is not an origin/);
    throwsInput(() => corsPolicy({ origin: 'example.com' }), /"example\.com" is not an origin as browsers send it \(scheme:\/\/host\[:port\], nothing after\)$/);
    throwsInput(() => corsPolicy({ origin: 'null' }), /"null" is not an origin/);
    throwsInput(() => corsPolicy({ origin: '' }), /"" is not an origin/);
    throwsInput(() => corsPolicy({ origin: ['https://a.example', 7] as unknown as string[] }), /7 is not an origin/);
  });

  it('refuses an empty list, a "*" in a list, and what is not a string or list', () => {
    throwsInput(() => corsPolicy({ origin: [] }), /cors\.origin must be '\*', an origin .* or a non-empty array of origins, got \[\]/);
    throwsInput(() => corsPolicy({ origin: ['*', 'https://a.example'] }), /'\*' stands alone/);
    throwsInput(() => corsPolicy({ origin: 42 as unknown as string }), /cors\.origin must be .* got 42/);
    throwsInput(() => corsPolicy({ origin: true as unknown as string }), /got true/);
  });

  it('refuses a max age out of 0..86400 or not whole seconds, an unknown option, a cors that is not an object', () => {
    for (const maxAge of [-1, 86401, 1.5, Number.NaN, '600' as unknown as number]) {
      throwsInput(() => corsPolicy({ maxAge }), /cors\.maxAge must be an integer number of seconds in 0\.\.86400/);
    }
    throwsInput(() => corsPolicy({ origins: ['https://a.example'] } as never), /unknown cors option "origins"; it takes origin and maxAge/);
    throwsInput(() => corsPolicy(null as never), /cors must be an object/);
    throwsInput(() => corsPolicy('https://a.example' as never), /cors must be an object/);
  });

  it('createWorker checks it when the Worker is made, not at its first request', async () => {
    const wasm = await WebAssembly.compile(await readFile(`${root}build/edgevae.wasm`));
    const model = await readFile(`${root}packages/models/aae.evae`);
    throwsInput(() => createWorker({ model, wasm, cors: { origin: 'https://a.example/' } }), /did you mean "https:\/\/a\.example"/);
    const worker = createWorker({ model, wasm, cors: { origin: 'https://a.example' } });
    const response = await worker.fetch(new Request('http://localhost/sample?n=1&seed=1', { headers: { origin: 'https://a.example' } }));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://a.example');
  });

  it('handleRequest answers a method named like an Object property with a 405, not by calling it', async () => {
    const wasm = await WebAssembly.compile(await readFile(`${root}build/edgevae.wasm`));
    const decoder = await Decoder.load(await readFile(`${root}packages/models/aae.evae`), { wasm });
    for (const method of ['toString', 'constructor', 'hasOwnProperty']) {
      const response = await handleRequest(new Request('http://localhost/info', { method }), decoder);
      assert.equal(response.status, 405, method);
      assert.match((await response.json()).error, new RegExp(`/info takes GET, HEAD, OPTIONS, not ${method}`));
    }
  });

  it('handleRequest takes a policy beside its limits (for other web-standard servers)', async () => {
    const wasm = await WebAssembly.compile(await readFile(`${root}build/edgevae.wasm`));
    const decoder = await Decoder.load(await readFile(`${root}packages/models/aae.evae`), { wasm });
    const policy = corsPolicy({ origin: ['https://a.example'] });
    const get = (origin: string) => handleRequest(new Request('http://localhost/info', { headers: { origin } }), decoder, DEFAULT_LIMITS, policy);
    assert.equal((await get('https://a.example')).headers.get('access-control-allow-origin'), 'https://a.example');
    assert.equal((await get('https://b.example')).headers.get('access-control-allow-origin'), null);
    assert.equal((await handleRequest(new Request('http://localhost/info'), decoder)).headers.get('access-control-allow-origin'), '*');
  });
});

describe('edgevae/worker with an unconditional model (in Node: the handler is runtime-agnostic)', () => {
  it('refuses labels, decodes rows of the model\'s latent size', async () => {
    const wasm = await WebAssembly.compile(await readFile(`${root}build/edgevae.wasm`));
    const aae = createWorker({ model: await readFile(`${root}packages/models/aae.evae`), wasm });
    const get = (path: string) => aae.fetch(new Request(`http://localhost${path}`));
    const post = (body: unknown) => aae.fetch(new Request('http://localhost/decode?format=json', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));
    const refused = await get('/sample?label=1');
    assert.equal(refused.status, 400);
    assert.match((await refused.json()).error, /not conditional: it takes no label/);
    assert.equal((await get('/sample?n=2&seed=3')).status, 200);
    const withLabels = await post({ latents: [[0, 0]], labels: 1 });
    assert.equal(withLabels.status, 400);
    assert.match((await withLabels.json()).error, /not conditional/);
    const decoded = await post({ latents: [[0.5, -1]] });
    assert.equal(decoded.status, 200);
    assert.equal((await decoded.json()).samples[0].length, 784);
  });
});
