// edgevae/core: the runtime without embedded wasm (what a Worker bundles). This file imports only
// src/core.ts, so no embedded copy is registered in its process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Decoder, RuntimeError } from '../src/core.ts';
import { buildModel } from './helpers/random-models.ts';
import { LAYER_PLANS } from './helpers/plans.ts';

const model = buildModel({ ...LAYER_PLANS['conv-vae-like decoder'], seed: 2 });

describe('edgevae/core', () => {
  it('asks for a wasm module when given none', async () => {
    await assert.rejects(Decoder.load(model), (err: unknown) => err instanceof RuntimeError && /edgevae\/core carries no wasm of its own/.test(err.message));
  });

  it('runs either build passed as a compiled module, each with its own bytes', async () => {
    const strict = await WebAssembly.compile(await readFile(new URL('../build/edgevae.wasm', import.meta.url)));
    const decoder = await Decoder.load(model, { wasm: strict });
    assert.equal(decoder.info.simd, 'strict');
    assert.equal(decoder.sample(3, { seed: 9 }).length, 3 * decoder.info.outputSize);
    const relaxedBytes = await readFile(new URL('../build/edgevae-relaxed.wasm', import.meta.url));
    if (WebAssembly.validate(relaxedBytes)) {
      const relaxed = await Decoder.load(model, { wasm: await WebAssembly.compile(relaxedBytes) });
      assert.equal(relaxed.info.simd, 'relaxed');
    }
  });
});
