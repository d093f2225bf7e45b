// `npm run worker:local`: the example Worker served on this machine in workerd without wrangler (which
// needs Node 22.12+) or an account; it answers with the Node runtime's bytes and stops on SIGTERM.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Decoder, encodePng, toImageGrid } from '../src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../scripts/worker-local.ts', import.meta.url));

describe('worker:local', () => {
  it('serves examples/worker in workerd on a free port: /sample gives the Node runtime\'s PNG; SIGTERM stops it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk;
          const match = /serving the Worker in .*examples\/worker at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
          if (match) resolve(match[1]);
        });
        child.stderr.on('data', (chunk: Buffer) => (output += chunk));
        child.on('exit', (code) => reject(new Error(`worker:local exited with ${code} before serving: ${output}`)));
      });
      const response = await fetch(new URL('sample?n=9&seed=7&label=3', url));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'image/png');
      const decoder = await Decoder.load(await readFile(`${root}models/cvae.evae`));
      const expected = encodePng(toImageGrid(decoder.sample(9, { seed: 7, labels: 3 }), { shape: decoder.info.outputShape, range: decoder.info.range }));
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), expected);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      assert.deepEqual(await exited, [143, null], "miniflare stops workerd and exits as the shell's 128 + SIGTERM");
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a folder without wrangler.toml and a bad --port, in one line', () => {
    for (const [args, message] of [
      [['--port', 'http'], /--port must be an integer in 0\.\.65535 \(0: any free port\), got "http"/],
      [[root + 'src'], /src has no wrangler\.toml: give the folder of a Worker/],
    ] as const) {
      const result = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 1, args.join(' '));
      assert.match(result.stderr, message);
    }
  });
});
