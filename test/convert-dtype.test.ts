// convertDtype (src/export/convert-dtype.ts): a model file re-encoded in another weight dtype decodes
// as the same model does in that dtype, and int8 round trips keep their values and scales.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Decoder } from '../src/index.ts';
import { convertDtype, InputError } from '../src/export/index.ts';
import { readModel, tensorData } from '../src/format/read.ts';
import { kernelValues } from '../src/runtime/reference.ts';
import { buildModel } from './helpers/random-models.ts';
import { LAYER_PLANS } from './helpers/plans.ts';
import { maxAbsDiff } from './helpers/numbers.ts';

async function decodeBoth(a: Uint8Array, b: Uint8Array) {
  const [first, second] = await Promise.all([Decoder.load(a), Decoder.load(b)]);
  const options = { seed: 4, ...(first.info.classes ? { labels: 1 } : {}) };
  return maxAbsDiff(first.sample(6, options), second.sample(6, options));
}

describe('convertDtype', () => {
  for (const [name, plan] of Object.entries(LAYER_PLANS)) {
    it(`${name}: f32 to f16 and i8 decodes as a model written in that dtype`, async () => {
      const f32 = buildModel({ ...plan, dtype: 'f32', seed: 2 });
      for (const dtype of ['f16', 'i8'] as const) {
        const converted = convertDtype(f32, dtype);
        assert.equal(readModel(converted).header.meta.dtype, dtype);
        // buildModel encodes its f32 values the same way, so the files decode identically.
        assert.equal(await decodeBoth(converted, buildModel({ ...plan, dtype, seed: 2 })), 0, dtype);
      }
    });
  }

  it('i8 to f32 holds the dequantized values, and back to i8 gives the same file contents', async () => {
    const i8 = new Uint8Array(readFileSync(new URL('../models/cvae.evae', import.meta.url)));
    const f32 = readModel(convertDtype(i8, 'f32'));
    const original = readModel(i8);
    const weighted = (m: typeof original) => m.header.nodes.filter((l): l is Extract<typeof l, { kernel: number }> => 'kernel' in l);
    assert.deepEqual(weighted(f32).map((l) => Array.from(tensorData(f32, l.kernel))), weighted(original).map((l) => Array.from(kernelValues(original, l))));
    assert.equal(f32.header.meta.dtype, 'f32');
    const again = readModel(convertDtype(f32, 'i8'));
    const kernels = (m: typeof original) => m.header.nodes.flatMap((l) => ('kernel' in l ? [Array.from(tensorData(m, l.kernel)), Array.from(tensorData(m, l.scale!))] : []));
    assert.deepEqual(kernels(again), kernels(original));
    assert.deepEqual(again.header.meta, original.header.meta);
  });

  it('refuses an unknown dtype and a value f16 cannot hold', () => {
    const bytes = buildModel({ ...LAYER_PLANS['dense chain, every activation'], seed: 1 });
    assert.throws(() => convertDtype(bytes, 'f64' as 'f32'), InputError);
    const huge = readModel(bytes);
    (tensorData(huge, (huge.header.nodes[0] as { kernel: number }).kernel) as Float32Array)[0] = 1e6;
    assert.throws(() => convertDtype(huge, 'f16'), /beyond the f16 range/);
  });
});
