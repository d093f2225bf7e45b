// Loading models from where they are, and writing what they draw: Decoder.fromURL (fetch, here from a
// local HTTP server), Decoder.fromFile (edgevae/node only: the runtime core reads no files), and the
// PNG encoder the runtime entry exports. Each failure names the URL or path.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decode } from 'fast-png';
import * as runtime from '../src/index.ts';
import * as core from '../src/core.ts';
import { Decoder as NodeDecoder } from '../src/node/index.ts';

const { Decoder, FormatError, InputError, encodePng, toImageGrid } = runtime;
const modelUrl = new URL('../packages/models/aae.evae', import.meta.url);
const model = new Uint8Array(readFileSync(modelUrl));

describe('encodePng (edgevae and edgevae/core)', () => {
  it('is exported by both runtime entries', () => {
    assert.equal(runtime.encodePng, core.encodePng);
    assert.equal(typeof encodePng, 'function');
  });

  it('encodes a grey grid as 8-bit greyscale and a colour one as RGBA, pixels intact', async () => {
    const decoder = await Decoder.load(model);
    const grid = toImageGrid(decoder.sample(6, { seed: 1, stddev: 2 }), { shape: decoder.info.outputShape, range: decoder.info.range, columns: 3 });
    const grey = decode(encodePng(grid));
    assert.deepEqual([grey.width, grey.height, grey.channels, grey.depth], [grid.width, grid.height, 1, 8]);
    assert.deepEqual(Array.from(grey.data as Uint8Array), Array.from({ length: grid.width * grid.height }, (_, p) => grid.data[4 * p]));
    const colour = { width: 2, height: 1, data: new Uint8ClampedArray([255, 0, 0, 255, 0, 0, 255, 128]) };
    const rgba = decode(encodePng(colour));
    assert.equal(rgba.channels, 4);
    assert.deepEqual(Array.from(rgba.data as Uint8Array), Array.from(colour.data));
  });
});

describe('Decoder.fromURL', () => {
  let server: Server;
  let base: string;
  /** Requests the server saw, with the header the test sends. */
  const seen: (string | undefined)[] = [];

  before(async () => {
    server = createServer((request, response) => {
      seen.push(request.headers['x-test'] as string | undefined);
      if (request.url === '/aae.evae') return void response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(model);
      if (request.url === '/page.html') return void response.writeHead(200, { 'content-type': 'text/html' }).end('<p>not a model, but long enough for a frame</p>');
      if (request.url === '/truncated.evae') return void response.writeHead(200).end(model.subarray(0, 100));
      response.writeHead(404, 'Not Found').end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  after(() => server.close());

  it('fetches and loads a model: the same decoder as Decoder.load of its bytes, with the load options', async () => {
    const fetched = await Decoder.fromURL(`${base}aae.evae`, { maxBatch: 5, request: { headers: { 'x-test': 'given' } } });
    const local = await Decoder.load(model);
    assert.ok(fetched instanceof Decoder);
    assert.deepEqual(fetched.sample(12, { seed: 3 }), local.sample(12, { seed: 3 }));
    assert.equal(fetched.memoryFor(1000), fetched.memoryFor(5), 'maxBatch 5 reached load()');
    assert.equal(seen.at(-1), 'given', 'the request options reached fetch');
    assert.deepEqual((await Decoder.fromURL(new URL('aae.evae', base))).info, local.info, 'a URL object works too');
  });

  it('names the URL in every failure: HTTP status, not a model, truncated, unreachable', async () => {
    const cases: [string, typeof InputError | typeof FormatError, RegExp][] = [
      [`${base}missing.evae`, InputError, /^could not load the model http:\/\/127\.0\.0\.1:\d+\/missing\.evae: HTTP 404 Not Found$/],
      [`${base}page.html`, FormatError, /^could not load the model http:\/\/127\.0\.0\.1:\d+\/page\.html: not an edgevae model: the file does not start with "EVAE"$/],
      [`${base}truncated.evae`, FormatError, /^could not load the model http:\/\/127\.0\.0\.1:\d+\/truncated\.evae: file is truncated/],
      ['http://127.0.0.1:1/x.evae', InputError, /^could not load the model http:\/\/127\.0\.0\.1:1\/x\.evae: fetch failed$/],
    ];
    for (const [url, type, message] of cases) {
      await assert.rejects(Decoder.fromURL(url), (e: unknown) => e instanceof type && message.test((e as Error).message), url);
    }
  });
});

describe('Decoder.fromFile (edgevae/node)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgevae-from-file-'));
    writeFileSync(join(dir, 'notes.evae'), 'not a model, but long enough to hold a frame');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("is the runtime's Decoder with fromFile: a path or a file: URL, with the load options", async () => {
    assert.equal(NodeDecoder, Decoder);
    const fromPath = await NodeDecoder.fromFile(modelUrl.pathname, { maxBatch: 5 });
    const fromUrl = await NodeDecoder.fromFile(pathToFileURL(modelUrl.pathname));
    assert.ok(fromPath instanceof Decoder);
    const expected = (await Decoder.load(model)).sample(8, { seed: 2 });
    assert.deepEqual(fromPath.sample(8, { seed: 2 }), expected);
    assert.deepEqual(fromUrl.sample(8, { seed: 2 }), expected);
    assert.equal(fromPath.memoryFor(1000), fromPath.memoryFor(5));
  });

  it('names the path in every failure: missing, a folder, not a model', async () => {
    await assert.rejects(NodeDecoder.fromFile(join(dir, 'missing.evae')), (e: unknown) => e instanceof InputError && /^model file .*missing\.evae does not exist$/.test((e as Error).message));
    await assert.rejects(NodeDecoder.fromFile(dir), (e: unknown) => e instanceof InputError && /^model file .* is a folder; give the file itself$/.test((e as Error).message));
    await assert.rejects(NodeDecoder.fromFile(join(dir, 'notes.evae')), (e: unknown) => e instanceof FormatError && /^.*notes\.evae: not an edgevae model: the file does not start with "EVAE"$/.test((e as Error).message));
  });
});
