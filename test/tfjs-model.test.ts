// evae -> TensorFlow.js LayersModel (src/export/tfjs-model.ts): every layer type, padding, stride and
// dtype of the test catalogue, the three seed decoders and the shipped models, run by TensorFlow.js's
// cpu backend against our wasm runtime decoding the same file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Decoder } from '../src/index.ts';
import { convertDtype, exportModel, InputError, toLayersModel } from '../src/export/index.ts';
import { readModel } from '../src/format/read.ts';
import { shippedModel, shippedModels } from '../src/node/files.ts';
import { ALL_FIXTURES } from './fixtures/models.ts';
import { buildModel } from './helpers/random-models.ts';
import { GraphBuilder } from './helpers/graph-builder.ts';
import { GRAPHS } from './helpers/graph-cases.ts';
import { UnsupportedError } from '../src/errors.ts';
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
  const { classes } = decoder.info;
  const latents = decoder.sampleLatents(BATCH, { seed: 5 });
  const labels = classes ? Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % classes) : undefined;
  const ours = decoder.decode(latents, labels);
  const oursInt8 = i8 ? (await Decoder.load(bytes)).decode(latents, labels) : undefined;
  const latentShape = readModel(bytes).graph.latent.shape;
  const theirs = tf.tidy(() => {
    const z = tf.tensor(latents, [BATCH, ...latentShape]);
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

  for (const name of shippedModels()) {
    it(`the shipped model ${name}.evae`, async (t) => {
      const { ours, theirs } = await bothOutputs(new Uint8Array(readFileSync(shippedModel(name))));
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

describe('toLayersModel: format 2 graphs of the kinds Keras has', () => {
  /** A flat latent of 32 re-viewed as [4, 4, 2], for image graphs. */
  const imageStart = (b: GraphBuilder) => b.add('reshape', 'img', [b.latent], { shape: [4, 4, 2] });
  const graphs: Record<string, (dtype: 'f32' | 'f16' | 'i8') => Uint8Array> = {
    'a residual block, an upsample, a channel concat, explicit pads, layerNorm, affine, transpose, a product of values': (dtype) => {
      const b = new GraphBuilder({ latent: [32], dtype, seed: 3 });
      const x = imageStart(b);
      const c1 = b.conv2d('c1', x, 4, 3, { activation: 'relu' });
      const c2 = b.conv2d('c2', c1, 4, 3);
      const sum = b.add('binary', 'sum', [c1, c2], { op: 'add', activation: 'relu' });
      const up = b.add('resize', 'up', [sum], { mode: 'nearest', coordinate: 'asymmetric', nearest: 'floor', size: [8, 8], scales: [2, 2] });
      const skip = b.add('resize', 'up_skip', [c1], { mode: 'nearest', coordinate: 'asymmetric', nearest: 'floor', size: [8, 8], scales: [2, 2] });
      const joined = b.add('concatenate', 'join', [up, skip], {});
      const odd = b.conv2d('odd', joined, 3, 2, { pads: [0, 1, 1, 0], activation: 'leakyRelu', alpha: 0.2 });
      const ln = b.add('layerNorm', 'ln', [odd], { epsilon: 1e-5, gamma: b.f32([3]), beta: b.f32([3]), activation: 'tanh' });
      const aff = b.add('affine', 'aff', [ln], { multiplier: b.f32([3]), offset: b.f32([3]), activation: 'silu' });
      const t = b.add('transpose', 'swap', [aff], { perm: [1, 0, 2] });
      const prod = b.add('binary', 'prod', [t, aff], { op: 'mul', activation: 'geluErf' });
      return b.write(prod, [-1, 1]);
    },
    'depthwise (multiplier 2), dilated and strided convs, a per-channel broadcast add': (dtype) => {
      const b = new GraphBuilder({ latent: [32], dtype, seed: 4 });
      const x = imageStart(b);
      const dw = b.conv2d('dw', x, 4, 3, { groups: 2, activation: 'relu' });
      const dil = b.conv2d('dil', dw, 3, 3, { dilations: [2, 2], pads: [2, 2, 2, 2] });
      const strided = b.conv2d('strided', dil, 3, 3, { strides: [2, 2], pads: [1, 1, 1, 1], padding: 'explicit' });
      const bias = b.dense('bias', b.latent, 3);
      const shifted = b.add('binary', 'shift', [strided, bias], { op: 'add', activation: 'softplus' });
      return b.write(shifted, [-1, 1]);
    },
    'transposed convs with explicit pads and output padding, a bilinear upsample, activations': (dtype) => {
      const b = new GraphBuilder({ latent: [32], dtype, seed: 5 });
      const x = imageStart(b);
      const t1 = b.conv2dTranspose('t1', x, 3, 3, { pads: [1, 1, 1, 1], outputPadding: [1, 1], activation: 'relu' });
      const t2 = b.conv2dTranspose('t2', t1, 2, 4, { pads: [1, 1, 1, 1] });
      const e = b.add('activation', 'e', [t2], { activation: 'elu', alpha: 1 });
      const lin = b.add('resize', 'lin', [e], { mode: 'linear', coordinate: 'asymmetric', size: [32, 48], scales: [2, 3] });
      const c = b.add('activation', 'c', [lin], { activation: 'clip', min: 0, max: 0.5 });
      const g = b.add('activation', 'g', [c], { activation: 'geluTanh' });
      return b.write(g, [-1, 1]);
    },
    'a conditional graph: the label joins, then a flat residual with layerNorm': (dtype) => {
      const b = new GraphBuilder({ latent: [6], classes: 3, dtype, seed: 6 });
      const h = b.dense('h', b.latent, 8, 'relu');
      const j = b.add('concatenate', 'join', [b.label!, h], {});
      const a = b.dense('a', j, 8, 'tanh');
      const n = b.add('layerNorm', 'n', [a], { epsilon: 1e-3, gamma: b.f32([8]), beta: b.f32([8]), activation: 'linear' });
      const r = b.add('binary', 'r', [n, h], { op: 'add', activation: 'linear' });
      return b.write(r, [-1, 1]);
    },
  };
  for (const [name, build] of Object.entries(graphs)) {
    for (const dtype of ['f32', 'f16', 'i8'] as const) {
      it(`${name} (${dtype})`, async () => {
        const { ours, theirs } = await bothOutputs(build(dtype));
        const diff = maxAbsDiff(ours, theirs);
        assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
        assert.ok(theirs.some((v) => Math.abs(v) > 1e-3));
      });
    }
  }

  for (const [name, build] of Object.entries(graphs)) {
    it(`round trip: ${name}, rebuilt in TensorFlow.js and exported again, decodes as the original file`, async () => {
      const original = build('f32');
      const rebuilt = toLayersModel(original);
      const again = exportModel(rebuilt, { meta: { output: { range: [-1, 1] } } });
      rebuilt.dispose();
      const [a, b] = await Promise.all([Decoder.load(original), Decoder.load(again)]);
      const latents = a.sampleLatents(BATCH, { seed: 11 });
      const labels = a.info.classes ? Int32Array.from({ length: BATCH }, (_, i) => i % a.info.classes!) : undefined;
      const diff = maxAbsDiff(a.decode(latents, labels), b.decode(latents, labels));
      assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
      // The same kinds come back (a ZeroPadding2D or Cropping2D folded into its conv again).
      const kinds = (bytes: Uint8Array) => readModel(bytes).header.nodes.map((n) => n.type).sort();
      assert.deepEqual(kinds(again), kinds(original));
    });
  }

  /** The shared graph cases Keras has no layers for; every other one is rebuilt. */
  const REFUSED: Record<string, string> = {
    'bilinear, half_pixel': 'node "up" (resize)',
    'bilinear, align_corners, to 7x9': 'node "up" (resize)',
    'groupNorm (4 groups) with relu': 'node "gn" (groupNorm)',
    'instanceNorm (groups = channels)': 'node "in" (groupNorm)',
    'depthToSpace CRD (PixelShuffle) after a conv': 'node "ps" (depthToSpace)',
    'depthToSpace DCR': 'node "d2s" (depthToSpace)',
    'grouped conv (4 groups) then a 1x1': 'node "grouped" (conv2d)',
    'grouped transposed conv': 'node "gt" (conv2dTranspose)',
    'tanh(x / 3) * 3 (TAESD clamp)': 'node "div" (binary)',
    '1 - x, a constant first': 'node "oneMinus" (binary)',
    'x * per-channel constant, x - full-shape constant': 'node "scale" (binary)',
    'a value times a per-sample channel vector (squeeze-excite)': 'node "pool" (resize)',
    'a per-sample scalar divides the value (reversed: the smaller operand first)': 'node "pool" (resize)',
    'elu activation node': 'node "elu" (activation)',
    'clip activation node': 'node "clip" (activation)',
  };
  for (const [name, build] of Object.entries(GRAPHS)) {
    it(`shared graph case: ${name}`, async () => {
      const g = new GraphBuilder({ latent: [4, 4, 8], seed: 12 });
      const bytes = g.write(build(g), [-1, 1]);
      if (REFUSED[name]) {
        assert.throws(() => toLayersModel(bytes), (err: Error) => err instanceof UnsupportedError && err.message.includes(REFUSED[name]));
        return;
      }
      const { ours, theirs } = await bothOutputs(bytes);
      const diff = maxAbsDiff(ours, theirs);
      assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
      // And exported back from TensorFlow.js, the file decodes as the original.
      const rebuilt = toLayersModel(bytes);
      const again = exportModel(rebuilt, { meta: { output: { range: [-1, 1] } } });
      rebuilt.dispose();
      const [a, b] = await Promise.all([Decoder.load(bytes), Decoder.load(again)]);
      const latents = a.sampleLatents(BATCH, { seed: 13 });
      const back = maxAbsDiff(a.decode(latents), b.decode(latents));
      assert.ok(back <= TOLERANCE, `max abs diff ${back} after exporting back`);
    });
  }

  it('the layers it builds: ZeroPadding2D, DepthwiseConv2D, Cropping2D, UpSampling2D, Add, Multiply, BatchNormalization, LayerNormalization, Permute', () => {
    const classes = new Set<string>();
    for (const build of Object.values(graphs)) {
      const model = toLayersModel(build('f32'));
      for (const layer of model.layers) classes.add(layer.getClassName());
      model.dispose();
    }
    for (const c of ['ZeroPadding2D', 'DepthwiseConv2D', 'Cropping2D', 'UpSampling2D', 'Add', 'Multiply', 'BatchNormalization', 'LayerNormalization', 'Permute', 'ELU', 'ReLU', 'LeakyReLU']) {
      assert.ok(classes.has(c), `no ${c} among ${[...classes].join(', ')}`);
    }
  });

  it('refuses what Keras has no layer for, naming the node and its kind', () => {
    const refusals: [string, string, (b: GraphBuilder, x: string) => string][] = [
      ['sub', 'binary', (b, x) => b.add('binary', 'sub', [x, x], { op: 'sub', activation: 'linear' })],
      ['plus_one', 'binary', (b, x) => b.add('binary', 'plus_one', [x], { op: 'add', constant: b.f32([1]), activation: 'linear' })],
      ['gn', 'groupNorm', (b, x) => b.add('groupNorm', 'gn', [x], { groups: 1, epsilon: 1e-5, gamma: b.f32([2]), beta: b.f32([2]), activation: 'linear' })],
      ['d2s', 'depthToSpace', (b, x) => b.add('depthToSpace', 'd2s', [b.conv2d('wide', x, 4, 1)], { blockSize: 2, mode: 'DCR' })],
      ['half', 'resize', (b, x) => b.add('resize', 'half', [x], { mode: 'linear', coordinate: 'half_pixel', size: [8, 8], scales: [2, 2] })],
      ['grouped', 'conv2d', (b, x) => b.conv2d('grouped', b.conv2d('four', x, 4, 1), 4, 3, { groups: 2 })],
      ['clip', 'activation', (b, x) => b.add('activation', 'clip', [x], { activation: 'clip', min: -1, max: 1 })],
      ['elu', 'activation', (b, x) => b.add('activation', 'elu', [x], { activation: 'elu', alpha: 0.5 })],
    ];
    for (const [node, kind, make] of refusals) {
      const b = new GraphBuilder({ latent: [32], seed: 7 });
      const bytes = b.write(make(b, imageStart(b)), [-1, 1]);
      assert.throws(
        () => toLayersModel(bytes),
        (err: Error) => err instanceof UnsupportedError && err.message.includes(`node "${node}" (${kind})`),
        `${node} (${kind})`,
      );
    }
  });
});
