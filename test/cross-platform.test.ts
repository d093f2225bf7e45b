// Same model, same seed, same bytes: the strict build's samples in Deno against Node's. (Chromium is
// held to the same bytes in web.test.ts and workerd in worker.test.ts, through the page and the Worker.)
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Decoder } from '../src/index.ts';
import { shippedModel } from '../src/node/files.ts';
import { GRAPH_PLANS, buildGraphModel, type GraphPlan } from './helpers/random-models.ts';

const run = promisify(execFile);
const deno = fileURLToPath(new URL('../node_modules/.bin/deno', import.meta.url));
const script = fileURLToPath(new URL('./deno/sample-digest.ts', import.meta.url));

/** Node's digest of a model file's samples for a seed, and Deno's (test/deno/sample-digest.ts), for the same file. */
async function digests(modelPath: string, n: number, seed: number): Promise<{ node: string; deno: string }> {
  const decoder = await Decoder.load(await readFile(modelPath), { simd: 'strict' });
  const samples = decoder.sample(n, { seed });
  const node = createHash('sha256').update(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)).digest('hex');
  const { stdout } = await run(deno, ['run', '--allow-read', script, modelPath, String(n), String(seed)], { timeout: 120_000 });
  return { node, deno: stdout.trim() };
}

describe('bit-identical samples across engines (strict build)', () => {
  // The two int8 dense decoders, and the conv-vae for the int8 convolutions.
  for (const name of ['cvae', 'aae', 'conv-vae']) {
    it(`${name}: Deno draws the same bytes as Node`, async () => {
      const { node, deno: denoDigest } = await digests(shippedModel(name), 16, 42);
      assert.equal(denoDigest, node);
    });
  }
});

describe('bit-identical RGB graph models across engines (strict build)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevae-cross-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // An image latent with explicit-padding convolutions, a conditional one, and a branch joined along channels, each in f32 and int8.
  const names = ['rgb from an image latent', 'conditional rgb', 'branch joined along channels'] as const;
  const cases: [string, GraphPlan][] = names.map((name) => [name, GRAPH_PLANS[name]]);
  for (const [name, plan] of cases) {
    for (const dtype of ['f32', 'i8'] as const) {
      it(`${name} (${dtype}): Deno draws the same bytes as Node`, async () => {
        const modelPath = join(dir, `${name.replaceAll(' ', '-')}-${dtype}.evae`);
        writeFileSync(modelPath, buildGraphModel({ ...plan, dtype, seed: 31 }));
        const { node, deno: denoDigest } = await digests(modelPath, 12, 42);
        assert.equal(denoDigest, node);
      });
    }
  }
});
