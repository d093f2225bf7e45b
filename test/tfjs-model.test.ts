// evae -> TensorFlow.js LayersModel (src/export/tfjs-model.ts): every layer type, padding, stride and
// dtype of the test catalogue, the three seed decoders and the shipped models, run by TensorFlow.js's
// cpu backend against our wasm runtime decoding the same file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Decoder } from '../src/index.ts';
import { convertDtype, exportModel, InputError, toLayersModel } from '../src/export/index.ts';
import { readModel } from '../src/format/read.ts';
import { ALL_FIXTURES } from './fixtures/models.ts';
import { buildModel } from './helpers/random-models.ts';
import { LAYER_PLANS } from './helpers/plans.ts';
import { maxAbsDiff } from './helpers/numbers.ts';
import { tf } from './helpers/setup.ts';

/**
 * Both sides compute in f32 with the same f32 kernel values; only summation order differs. For an int8
 * file that is our runtime decoding its f32 conversion (the dequantized kernels): our int8 kernels also
 * quantize each row of activations to 14 bits, which TensorFlow.js does not.
 */
const TOLERANCE = 1e-5;
/** TensorFlow.js against our int8 kernels themselves (measured: at most 4.7e-4, on the shipped cvae). */
const I8_KERNEL_TOLERANCE = 1e-3;
const BATCH = 5;

/** Our runtime's and the TensorFlow.js model's outputs for the same latents and labels. */
async function bothOutputs(bytes: Uint8Array, model = toLayersModel(bytes)) {
  const i8 = readModel(bytes).header.meta.dtype === 'i8';
  const decoder = await Decoder.load(i8 ? convertDtype(bytes, 'f32') : bytes);
  const { latentSize, classes } = decoder.info;
  const latents = decoder.sampleLatents(BATCH, { seed: 5 });
  const labels = classes ? Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % classes) : undefined;
  const ours = decoder.decode(latents, labels);
  const oursInt8 = i8 ? (await Decoder.load(bytes)).decode(latents, labels) : undefined;
  const theirs = tf.tidy(() => {
    const z = tf.tensor2d(latents, [BATCH, latentSize]);
    const inputs = labels ? [z, tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat()] : z;
    const out = model.predict(inputs) as tf.Tensor;
    assert.deepEqual(out.shape, [BATCH, ...decoder.info.outputShape]);
    return out.dataSync() as Float32Array;
  });
  model.dispose();
  if (oursInt8) {
    const diff = maxAbsDiff(oursInt8, theirs);
    assert.ok(diff <= I8_KERNEL_TOLERANCE, `max abs diff ${diff} from our int8 kernels`);
  }
  return { ours, theirs };
}

describe('toLayersModel: TensorFlow.js runs an edgevae file as our runtime does', () => {
  for (const [name, plan] of Object.entries(LAYER_PLANS)) {
    for (const dtype of ['f32', 'f16', 'i8'] as const) {
      it(`${name} (${dtype})`, async () => {
        const { ours, theirs } = await bothOutputs(buildModel({ ...plan, dtype, seed: 9 }));
        const diff = maxAbsDiff(ours, theirs);
        assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
      });
    }
  }

  for (const fixture of ALL_FIXTURES.filter((f) => f.large)) {
    it(`the seed decoder ${fixture.name}: the rebuilt model matches our runtime and the original`, async (t) => {
      const original = fixture.build(2);
      const bytes = exportModel(original, { dtype: 'f32', meta: { output: { shape: fixture.outputShape } } });
      const { ours, theirs } = await bothOutputs(bytes);
      const diff = maxAbsDiff(ours, theirs);
      // The original model, fed the same inputs in its own input order, gives the same values too.
      const decoder = await Decoder.load(bytes);
      const latents = decoder.sampleLatents(BATCH, { seed: 5 });
      const fromOriginal = tf.tidy(() => {
        const z = tf.tensor2d(latents, [BATCH, decoder.info.latentSize]);
        const labels = fixture.conditional ? tf.oneHot(tf.tensor1d(Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 10), 'int32'), 10).toFloat() : undefined;
        return (original.predict(labels ? [z, labels] : z) as tf.Tensor).dataSync() as Float32Array;
      });
      const originalDiff = maxAbsDiff(fromOriginal, theirs);
      t.diagnostic(`max |tfjs - runtime| ${diff.toExponential(2)}, |rebuilt - original| ${originalDiff.toExponential(2)}`);
      assert.ok(diff <= TOLERANCE, `max abs diff ${diff} from our runtime`);
      assert.ok(originalDiff <= TOLERANCE, `max abs diff ${originalDiff} from the original model`);
    });
  }

  const shipped = readdirSync(new URL('../models/', import.meta.url)).filter((f) => f.endsWith('.evae'));
  for (const file of shipped) {
    it(`the shipped model ${file}`, async (t) => {
      const { ours, theirs } = await bothOutputs(new Uint8Array(readFileSync(new URL(`../models/${file}`, import.meta.url))));
      const diff = maxAbsDiff(ours, theirs);
      t.diagnostic(`max |tfjs - runtime| ${diff.toExponential(2)}`);
      assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
    });
  }

  it('names its inputs z and label, and takes a parsed model too', () => {
    const plan = LAYER_PLANS['conditional, label joined after the latent'];
    const model = toLayersModel(readModel(buildModel({ ...plan, seed: 1 })));
    assert.deepEqual(model.inputNames, ['z', 'label']);
    assert.deepEqual(model.inputs.map((i) => i.shape), [[null, plan.latentSize], [null, plan.classes]]);
    model.dispose();
  });

  it('refuses what is not a model', () => {
    assert.throws(() => toLayersModel({} as Uint8Array), InputError);
    assert.throws(() => toLayersModel(new Uint8Array(8)), /too short/);
  });
});
