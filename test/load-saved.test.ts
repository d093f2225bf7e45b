import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InputError, exportModel, loadSavedModel, saveModel } from '../src/export/index.ts';
import { conditionalDecoder, tinyConvDecoder } from './fixtures/models.ts';
import { latentBatch, tf } from './helpers/setup.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'edgevae-load-saved-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory under the test's temporary root. */
let dirs = 0;
const freshDir = () => join(root, `case-${dirs++}`);

/** Predictions of a single-input model, for comparing a model with its reloaded copy. */
const predict = (model: tf.LayersModel, inputs: tf.Tensor | tf.Tensor[]) => (model.predict(inputs) as tf.Tensor).dataSync();

/** Asserts an InputError whose message matches `pattern`. */
async function rejectsWith(promise: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(promise, (err: Error) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('saveModel and loadSavedModel', () => {
  test('round trip: same predictions, and the same exported file', async () => {
    const dir = freshDir();
    const model = tinyConvDecoder(5);
    await saveModel(model, dir);
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']); // no temporary files left behind
    const loaded = await loadSavedModel(join(dir, 'model.json'));
    const z = tf.tensor2d(latentBatch(3, 4, 6));
    assert.deepEqual(predict(loaded, z), predict(model, z));
    assert.deepEqual(exportModel(loaded, { dtype: 'i8' }), exportModel(model, { dtype: 'i8' }));
    model.dispose();
    loaded.dispose();
  });

  test('a functional graph (residual Add, UpSampling2D, channel Concatenate) saved and loaded exports the same file', async () => {
    const dir = freshDir();
    const z = tf.input({ shape: [32], name: 'z' });
    const x = tf.layers.reshape({ targetShape: [4, 4, 2] }).apply(z) as tf.SymbolicTensor;
    const c = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', biasInitializer: 'randomNormal' }).apply(x) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'skip' }).apply([x, c]) as tf.SymbolicTensor;
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(sum) as tf.SymbolicTensor;
    const upSkip = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(x) as tf.SymbolicTensor;
    const joined = tf.layers.concatenate({ name: 'join' }).apply([up, upSkip]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: z, outputs: joined });
    await saveModel(model, dir);
    const loaded = await loadSavedModel(dir);
    const latents = tf.tensor2d(latentBatch(5, 2, 32));
    assert.deepEqual(predict(loaded, latents), predict(model, latents));
    const options = { meta: { output: { range: [-2, 2] as [number, number] } } };
    const bytes = exportModel(loaded, options);
    assert.deepEqual(bytes, exportModel(model, options));
    model.dispose();
    loaded.dispose();
  });

  test('a functional model with two inputs, loaded from its directory', async () => {
    const dir = freshDir();
    const model = conditionalDecoder(5);
    await saveModel(model, dir);
    const loaded = await loadSavedModel(dir);
    assert.deepEqual(loaded.inputNames, ['z', 'label']);
    const inputs = [tf.tensor2d(latentBatch(4, 2, 8)), tf.oneHot(tf.tensor1d([2, 7], 'int32'), 10).toFloat()];
    assert.deepEqual(predict(loaded, inputs), predict(model, inputs));
    assert.deepEqual(exportModel(loaded), exportModel(model));
    model.dispose();
    loaded.dispose();
  });

  test('saving over an existing model replaces it', async () => {
    const dir = freshDir();
    await saveModel(tinyConvDecoder(1), dir);
    const second = tinyConvDecoder(2);
    await saveModel(second, dir);
    const loaded = await loadSavedModel(dir);
    const z = tf.tensor2d(latentBatch(5, 2, 6));
    assert.deepEqual(predict(loaded, z), predict(second, z));
  });

  test('weights split over several shards are read in manifest order', async () => {
    const dir = freshDir();
    const model = tinyConvDecoder(6);
    await saveModel(model, dir);
    const weights = await readFile(join(dir, 'weights.bin'));
    const cut = Math.floor(weights.length / 3);
    await writeFile(join(dir, 'part-a.bin'), weights.subarray(0, cut));
    await writeFile(join(dir, 'part-b.bin'), weights.subarray(cut));
    await rm(join(dir, 'weights.bin'));
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['part-a.bin', 'part-b.bin'];
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    const loaded = await loadSavedModel(join(dir, 'model.json'));
    const z = tf.tensor2d(latentBatch(6, 2, 6));
    assert.deepEqual(predict(loaded, z), predict(model, z));
  });
});

describe('loadSavedModel errors', () => {
  /** A saved tiny model to damage, in its own directory. */
  async function savedCopy(): Promise<string> {
    const dir = freshDir();
    await saveModel(tinyConvDecoder(7), dir);
    return dir;
  }

  test('a missing model.json', async () => {
    await rejectsWith(loadSavedModel(join(root, 'nowhere', 'model.json')), /no such file/);
  });

  test('invalid JSON', async () => {
    const dir = await savedCopy();
    await writeFile(join(dir, 'model.json'), '{"modelTopology": ');
    await rejectsWith(loadSavedModel(join(dir, 'model.json')), /not valid JSON/);
  });

  test('JSON that is not a layers model', async () => {
    const dir = await savedCopy();
    await writeFile(join(dir, 'model.json'), '[1, 2]');
    await rejectsWith(loadSavedModel(join(dir, 'model.json')), /JSON object/);
    await writeFile(join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: {}, weightsManifest: [] }));
    await rejectsWith(loadSavedModel(join(dir, 'model.json')), /graph model/);
    await writeFile(join(dir, 'model.json'), JSON.stringify({ modelTopology: {} }));
    await rejectsWith(loadSavedModel(join(dir, 'model.json')), /weightsManifest/);
  });

  test('a missing weight shard', async () => {
    const dir = await savedCopy();
    await rm(join(dir, 'weights.bin'));
    await rejectsWith(loadSavedModel(join(dir, 'model.json')), /weight shard.*weights\.bin.*no such file/);
  });

  test('a shard whose size disagrees with the manifest', async () => {
    const dir = await savedCopy();
    const size = (await readFile(join(dir, 'weights.bin'))).length;
    await truncate(join(dir, 'weights.bin'), size - 4);
    await rejectsWith(loadSavedModel(join(dir, 'model.json')), new RegExp(`describes ${size} bytes.*hold ${size - 4} bytes`));
  });

  test('a topology TensorFlow.js cannot build', async () => {
    const dir = await savedCopy();
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    json.modelTopology.config.layers[0].class_name = 'NoSuchLayer';
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await rejectsWith(loadSavedModel(join(dir, 'model.json')), /not.*loadable layers model.*NoSuchLayer/);
  });
});
