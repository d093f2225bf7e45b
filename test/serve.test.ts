// `edgevae serve` and its static server: the demo page, the element bundle and the shipped models are
// served; nothing outside the mounted folders ever is (.. in every spelling, symlinks out, NUL bytes);
// only GET and HEAD; bad --port and --host values and a taken port get one clear line. --model FILE
// (repeatable) serves a page of those files, each at its own path, after checking each one loads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaticServer } from '../src/node/static-server.ts';
import { CLI, startServe } from './helpers/serve.ts';

const SECRET = 'the secret next to the served folders';

/** A raw request: fetch would resolve "..", and the point is to send it as written. */
function get(base: string, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

describe('static server', () => {
  let dir: string;
  let server: Server;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgevae-serve-'));
    writeFileSync(join(dir, 'secret.txt'), SECRET);
    mkdirSync(join(dir, 'public', 'sub'), { recursive: true });
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'public', 'index.html'), '<p>page</p>');
    writeFileSync(join(dir, 'public', 'sub', 'file.txt'), 'inside');
    writeFileSync(join(dir, 'models', 'm.evae'), Buffer.from([1, 2, 3]));
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'public', 'escape.txt'));
    symlinkSync(dir, join(dir, 'public', 'up'));
    server = createStaticServer([
      { urlPrefix: '/models/', dir: join(dir, 'models') },
      { urlPrefix: '/', dir: join(dir, 'public') },
    ]);
    base = await listen(server);
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves files of each mount, index.html for a folder, with their content types', async () => {
    const page = await get(base, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.body.toString(), '<p>page</p>');
    assert.equal((await get(base, '/sub/file.txt?cache=1')).body.toString(), 'inside');
    assert.equal((await get(base, '/sub/%66ile.txt')).body.toString(), 'inside');
    const model = await get(base, '/models/m.evae');
    assert.equal(model.headers['content-type'], 'application/octet-stream');
    assert.deepEqual([...model.body], [1, 2, 3]);
  });

  it('HEAD gives the headers only; other methods are refused with 405', async () => {
    const head = await get(base, '/models/m.evae', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '3');
    assert.equal(head.body.length, 0);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await get(base, '/', method);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
  });

  it('never serves a file outside the mounts: every spelling of .. is a 400', async () => {
    const attempts = [
      '/../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt',
      '/sub/../../secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt', '/models/..%2f..%2fsecret.txt', '/..%5csecret.txt',
      '/sub/..%5c..%5csecret.txt', '/..', '/models/..',
    ];
    for (const path of attempts) {
      const res = await get(base, path);
      assert.equal(res.status, 400, path);
      assert.ok(!res.body.toString().includes(SECRET), path);
    }
  });

  it('symlinks out of a mount, absolute-looking paths and missing files are 404s', async () => {
    for (const path of ['/escape.txt', '/up/secret.txt', '//secret.txt', `/${dir}/secret.txt`, '/nothing.html', '/models/', '/sub/']) {
      const res = await get(base, path);
      assert.equal(res.status, 404, path);
      assert.ok(!res.body.toString().includes(SECRET), path);
    }
  });

  it('broken %-escapes and NUL bytes are 400s', async () => {
    for (const path of ['/%zz', '/sub/%', '/file%00.txt', '/sub%2ffile.txt']) assert.equal((await get(base, path)).status, 400, path);
  });
});

describe('edgevae serve', () => {
  it('serves the demo page, the element bundle and the shipped models', async () => {
    const server = await startServe();
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(server.url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<edgevae-sampler id="cvae" model="models\/cvae\.evae"/);
      const bundle = await fetch(new URL('edgevae-sampler.js', server.url));
      assert.equal(bundle.headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.match(await bundle.text(), /edgevae-sampler/);
      const model = await fetch(new URL('models/cvae.evae', server.url));
      assert.deepEqual(new Uint8Array(await model.arrayBuffer()), new Uint8Array(readFileSync(new URL('../models/cvae.evae', import.meta.url))));
      assert.equal((await get(server.url, '/models/../package.json')).status, 400);
    } finally {
      await server.stop();
    }
  });

  it('--model FILE (repeatable, or a shipped name) serves a page of those models, each file at its own path only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgevae-serve-models-'));
    const mine = join(dir, 'my model.evae');
    writeFileSync(mine, readFileSync(new URL('../packages/models/aae.evae', import.meta.url)));
    writeFileSync(join(dir, 'secret.txt'), SECRET);
    const server = await startServe('--model', mine, '--model', 'cvae');
    try {
      const page = await (await fetch(server.url)).text();
      assert.match(page, /<edgevae-sampler model="\.\/given\/1\/my%20model\.evae" seed="1" count="16">/);
      assert.match(page, /<edgevae-sampler model="\.\/given\/2\/cvae\.evae" seed="1" count="16">/);
      assert.ok(page.includes(`<code>${mine}</code>`) && page.includes('2-d latent, [28, 28, 1] output') && page.includes('10 classes'));
      assert.ok(!page.includes('id="aae"'), 'the demo page gives way to the given models');
      const model = await fetch(new URL('given/1/my%20model.evae', server.url));
      assert.equal(model.status, 200);
      assert.deepEqual(new Uint8Array(await model.arrayBuffer()), new Uint8Array(readFileSync(mine)));
      assert.equal((await fetch(new URL('given/2/cvae.evae', server.url))).status, 200);
      for (const path of ['/given/1/secret.txt', '/given/1/', '/given/3/cvae.evae']) assert.equal((await get(server.url, path)).status, 404, path);
      assert.equal((await get(server.url, '/given/1/..%2fsecret.txt')).status, 400);
      // The bundle and the shipped models are still there.
      assert.equal((await fetch(new URL('edgevae-sampler.js', server.url))).status, 200);
      assert.equal((await fetch(new URL('models/aae.evae', server.url))).status, 200);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a --model that is missing, a folder or not an edgevae file is refused before listening, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgevae-serve-bad-'));
    writeFileSync(join(dir, 'notes.evae'), 'not a model, but long enough to hold a frame');
    try {
      for (const [value, message] of [
        [join(dir, 'missing.evae'), /model file .*missing\.evae does not exist \(and it is not a shipped model name; shipped models: aae, conv-vae, cvae\)/],
        [dir, /model file .* is a folder; give the file itself/],
        [join(dir, 'notes.evae'), /--model .*notes\.evae: not an edgevae model: the file does not start with "EVAE"/],
      ] as const) {
        const result = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', '--model', 'cvae', '--model', value], { encoding: 'utf8', timeout: 30_000 });
        assert.equal(result.status, 1, value);
        assert.match(result.stderr, message);
        assert.ok(!result.stdout.includes('serving'), 'refused before listening');
        assert.ok(!result.stderr.includes('    at '), `no stack trace for ${value}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad --port and --host values and a taken port get one clear line', async () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, 'serve', ...args], { encoding: 'utf8', timeout: 30_000 });
    for (const [args, message] of [
      [['--port', '70000'], /expected an integer in 0\.\.65535, got "70000"/],
      [['--port', 'http'], /expected an integer in 0\.\.65535, got "http"/],
      [['--port', '-1'], /expected an integer in 0\.\.65535/],
      [['--host', 'example.com'], /expected an IP address \(such as 127\.0\.0\.1 or ::1\) or localhost, got "example\.com"/],
      [['--host', '192.0.2.1'], /cannot listen on 192\.0\.2\.1: it is not an address of this machine/],
    ] as const) {
      const result = run(...args);
      assert.notEqual(result.status, 0, args.join(' '));
      assert.match(result.stderr, message);
      assert.ok(!result.stderr.includes('    at '), `no stack trace for ${args.join(' ')}`);
    }
    const taken = createStaticServer([]);
    const port = new URL(await listen(taken)).port;
    try {
      const result = run('--port', port);
      assert.equal(result.status, 1);
      assert.match(result.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use: choose another with --port`));
    } finally {
      taken.close();
    }
  });
});
