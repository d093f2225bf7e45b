// Same model, same seed, same bytes: the strict build's samples in Deno against Node's. (Chromium is
// held to the same bytes in web.test.ts and workerd in worker.test.ts, through the page and the Worker.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Decoder } from '../src/index.ts';

const run = promisify(execFile);
const deno = fileURLToPath(new URL('../node_modules/.bin/deno', import.meta.url));
const script = fileURLToPath(new URL('./deno/sample-digest.ts', import.meta.url));

describe('bit-identical samples across engines (strict build)', () => {
  // The two int8 dense decoders, and the conv-vae for the int8 convolutions.
  for (const name of ['cvae', 'aae', 'conv-vae']) {
    it(`${name}: Deno draws the same bytes as Node`, async () => {
      const modelPath = fileURLToPath(new URL(`../models/${name}.evae`, import.meta.url));
      const decoder = await Decoder.load(await readFile(modelPath), { simd: 'strict' });
      const samples = decoder.sample(16, { seed: 42 });
      const node = createHash('sha256').update(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)).digest('hex');
      const { stdout } = await run(deno, ['run', '--allow-read', script, modelPath, '16', '42'], { timeout: 120_000 });
      assert.equal(stdout.trim(), node);
    });
  }
});
