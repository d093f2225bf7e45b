// TensorFlow.js functional models with branches, joins and the layers format 2 added, exported with
// exportModel and decoded by our wasm runtime: the same values as model.predict (f32, within 1e-5).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Decoder } from '../src/index.ts';
import { exportModel, UnsupportedError } from '../src/export/index.ts';
import { readModel } from '../src/format/read.ts';
import { maxAbsDiff } from './helpers/numbers.ts';
import { tf } from './helpers/setup.ts';

const TOLERANCE = 1e-5;
const BATCH = 4;
type T = tf.SymbolicTensor;
const L = tf.layers;

/** Seeded random weights everywhere (biases and BN statistics too, so a dropped one shows). */
let seed = 1;
const init = () => ({
  kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
  biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed++ }),
});
const bnInit = () => ({
  gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }),
  betaInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed++ }),
  movingMeanInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: seed++ }),
  movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: seed++ }),
  epsilon: 0.01,
});
const apply = (layer: tf.layers.Layer, x: T | T[]) => layer.apply(x) as T;

/** Exports `model`, decodes a batch with our runtime and with TensorFlow.js; returns the parsed file. */
async function assertSameOutputs(model: tf.LayersModel, options: { labelClasses?: number } = {}) {
  const bytes = exportModel(model, { meta: { output: { range: [-1, 1] } } });
  const parsed = readModel(bytes);
  const decoder = await Decoder.load(bytes);
  const latents = decoder.sampleLatents(BATCH, { seed: 3 });
  const labels = options.labelClasses ? Int32Array.from({ length: BATCH }, (_, i) => i % options.labelClasses!) : undefined;
  const ours = decoder.decode(latents, labels);
  const theirs = tf.tidy(() => {
    const z = tf.tensor(latents, [BATCH, ...parsed.graph.latent.shape]);
    const inputs = labels ? [z, tf.oneHot(tf.tensor1d(labels, 'int32'), options.labelClasses!).toFloat()] : z;
    return (model.predict(inputs) as tf.Tensor).dataSync() as Float32Array;
  });
  assert.equal(ours.length, theirs.length);
  const diff = maxAbsDiff(ours, theirs);
  assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
  // Not trivially zero: the model computes something.
  assert.ok(theirs.some((v) => Math.abs(v) > 1e-3));
  return parsed;
}

const types = (parsed: ReturnType<typeof readModel>) => parsed.header.nodes.map((n) => n.type);

describe('exportModel: functional graphs', () => {
  test('a residual block: Add of a branch, its relu fused into the add', async () => {
    const z = tf.input({ shape: [12], name: 'z' });
    const h = apply(L.dense({ units: 16, activation: 'relu', name: 'h', ...init() }), z);
    const b1 = apply(L.dense({ units: 16, activation: 'relu', name: 'b1', ...init() }), h);
    const b2 = apply(L.dense({ units: 16, name: 'b2', ...init() }), b1);
    const sum = apply(L.add({ name: 'skip' }), [h, b2]);
    const out = apply(L.activation({ activation: 'relu', name: 'skip_relu' }), sum);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: out }));
    const skip = parsed.header.nodes.find((n) => n.name === 'skip')!;
    assert.deepEqual([skip.type, skip.inputs, 'activation' in skip && skip.activation], ['binary', ['h', 'b2'], 'relu']);
    assert.equal(parsed.header.nodes.length, 4);
  });

  test('a conv residual block with a shared value read three times', async () => {
    const z = tf.input({ shape: [32], name: 'z' });
    const x = apply(L.reshape({ targetShape: [4, 4, 2] }), z);
    const c = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c', ...init() }), x);
    const r = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'r', ...init() }), c);
    const s = apply(L.add({ name: 'sum3' }), [c, r, c]);
    await assertSameOutputs(tf.model({ inputs: z, outputs: s }));
  });

  test('Multiply gates a value; Average of three', async () => {
    const z = tf.input({ shape: [8], name: 'z' });
    const a = apply(L.dense({ units: 6, activation: 'sigmoid', ...init() }), z);
    const b = apply(L.dense({ units: 6, activation: 'tanh', ...init() }), z);
    const c = apply(L.dense({ units: 6, ...init() }), z);
    const gated = apply(L.multiply({ name: 'gate' }), [a, b]);
    const mean = apply(L.average({ name: 'mean' }), [gated, c, a]);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: mean }));
    assert.ok(types(parsed).includes('binary'));
  });

  test('Add and Multiply broadcast a per-channel value over an image', async () => {
    const z = tf.input({ shape: [16], name: 'z' });
    const image = apply(L.reshape({ targetShape: [4, 4, 1] }), apply(L.dense({ units: 16, ...init() }), z));
    const wide = apply(L.conv2d({ filters: 3, kernelSize: 1, ...init() }), image);
    const perChannel = apply(L.reshape({ targetShape: [1, 1, 3] }), apply(L.dense({ units: 3, ...init() }), z));
    const added = apply(L.add(), [perChannel, wide]);
    const scaled = apply(L.multiply(), [added, perChannel]);
    await assertSameOutputs(tf.model({ inputs: z, outputs: scaled }));
  });

  test('a U-Net-like block: Concatenate of an upsampled value and an encoder value', async () => {
    const z = tf.input({ shape: [32], name: 'z' });
    const x = apply(L.reshape({ targetShape: [4, 4, 2] }), z);
    const enc = apply(L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'enc', ...init() }), x);
    const down = apply(L.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'down', ...init() }), enc);
    const up = apply(L.upSampling2d({ size: [2, 2], name: 'up' }), down);
    const joined = apply(L.concatenate({ name: 'join' }), [up, enc]);
    const out = apply(L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'out', ...init() }), joined);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: out }));
    const join = parsed.header.nodes.find((n) => n.name === 'join')!;
    assert.deepEqual(join.inputs, ['up', 'enc']);
    assert.deepEqual(parsed.header.meta.output.shape, [4, 4, 2]);
  });

  test('UpSampling2D nearest and bilinear, square and not', async () => {
    for (const interpolation of ['nearest', 'bilinear'] as const) {
      for (const size of [[2, 2], [3, 2]]) {
        const z = tf.input({ shape: [18], name: 'z' });
        const x = apply(L.reshape({ targetShape: [3, 2, 3] }), apply(L.dense({ units: 18, ...init() }), z));
        const up = apply(L.upSampling2d({ size, interpolation, name: 'up' }), x);
        const out = apply(L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', ...init() }), up);
        const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: out }));
        const resize = parsed.header.nodes.find((n) => n.name === 'up')!;
        assert.equal(resize.type, 'resize');
        assert.equal('mode' in resize && resize.mode, interpolation === 'nearest' ? 'nearest' : 'linear');
      }
    }
  });

  test('BatchNormalization after a non-linearity, after the input and after a shared conv becomes an affine node', async () => {
    const z = tf.input({ shape: [16], name: 'z' });
    const n0 = apply(L.batchNormalization({ name: 'n0', ...bnInit() }), z);
    const h = apply(L.dense({ units: 8, activation: 'relu', name: 'h', ...init() }), n0);
    const n1 = apply(L.batchNormalization({ name: 'n1', ...bnInit() }), h);
    const img = apply(L.reshape({ targetShape: [2, 2, 2] }), n1);
    const c = apply(L.conv2d({ filters: 3, kernelSize: 2, padding: 'same', name: 'c', ...init() }), img);
    const n2 = apply(L.batchNormalization({ name: 'n2', ...bnInit() }), c);
    const both = apply(L.add(), [n2, c]);
    const n3 = apply(L.batchNormalization({ name: 'n3', ...bnInit() }), apply(L.conv2d({ filters: 3, kernelSize: 1, name: 'folded', ...init() }), both));
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: n3 }));
    const affines = parsed.header.nodes.filter((n) => n.type === 'affine').map((n) => n.name);
    assert.deepEqual(affines, ['n0', 'n1', 'n2']);
  });

  test('Conv2D with dilationRate, DepthwiseConv2D (multiplier 2), SeparableConv2D', async () => {
    const z = tf.input({ shape: [72], name: 'z' });
    const x = apply(L.reshape({ targetShape: [6, 6, 2] }), z);
    const d = apply(L.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu', name: 'dilated', ...init() }), x);
    const dw = apply(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'dw', depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed++ }), biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed++ }) }), d);
    const dwValid = apply(L.depthwiseConv2d({ kernelSize: 2, strides: 2, padding: 'valid', activation: 'tanh', name: 'dw2', depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed++ }), biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed++ }) }), dw);
    const sep = apply(L.separableConv2d({ filters: 4, kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'sigmoid', name: 'sep', depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed++ }), pointwiseInitializer: tf.initializers.glorotUniform({ seed: seed++ }), biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed++ }) }), dwValid);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: sep }));
    const dwNode = parsed.header.nodes.find((n) => n.name === 'dw')!;
    assert.equal('groups' in dwNode && dwNode.groups, 3);
    assert.deepEqual(parsed.header.nodes.slice(1).map((n) => n.name), ['dilated', 'dw', 'dw2', 'sep_depthwise', 'sep']);
    assert.deepEqual(types(parsed), ['reshape', 'conv2d', 'conv2d', 'conv2d', 'conv2d', 'conv2d']);
  });

  test('LayerNormalization over the last axis, on an image and on a flat value', async () => {
    const z = tf.input({ shape: [12], name: 'z' });
    const flat = apply(L.layerNormalization({ name: 'ln_flat', betaInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed++ }), gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }) }), apply(L.dense({ units: 12, ...init() }), z));
    const img = apply(L.reshape({ targetShape: [2, 2, 3] }), flat);
    const ln = apply(L.layerNormalization({ name: 'ln', epsilon: 1e-5, betaInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed++ }) }), img);
    const out = apply(L.activation({ activation: 'tanh' }), ln);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: out }));
    assert.deepEqual(types(parsed).filter((t) => t === 'layerNorm').length, 2);
  });

  test('activations: elu, softplus, swish, gelu, gelu_new, relu6 and the ELU, ReLU(maxValue), LeakyReLU layers', async () => {
    for (const activation of ['elu', 'softplus', 'swish', 'gelu', 'gelu_new', 'relu6'] as const) {
      const z = tf.input({ shape: [6], name: 'z' });
      const h = apply(L.dense({ units: 8, activation, name: 'h', ...init() }), z);
      const a = apply(L.activation({ activation, name: 'again' }), apply(L.dense({ units: 8, ...init() }), h));
      await assertSameOutputs(tf.model({ inputs: z, outputs: a }));
    }
    const z = tf.input({ shape: [6], name: 'z' });
    const e = apply(L.elu({ name: 'e' }), apply(L.dense({ units: 8, ...init() }), z));
    const r = apply(L.reLU({ maxValue: 0.5, name: 'r6' }), apply(L.dense({ units: 8, ...init() }), e));
    const l = apply(L.leakyReLU({ alpha: 0.1, name: 'lk' }), apply(L.dense({ units: 8, ...init() }), r));
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: l }));
    assert.deepEqual(parsed.header.nodes.map((n) => ('activation' in n ? `${n.type}:${n.activation}` : n.type)), ['dense:linear', 'activation:elu', 'dense:linear', 'activation:clip', 'dense:leakyRelu']);
  });

  test('Permute, and a Dropout inside a branch', async () => {
    const z = tf.input({ shape: [24], name: 'z' });
    const x = apply(L.reshape({ targetShape: [2, 3, 4] }), z);
    const p = apply(L.permute({ dims: [2, 1, 3], name: 'swap' }), x);
    const q = apply(L.dropout({ rate: 0.5 }), apply(L.conv2d({ filters: 4, kernelSize: 1, ...init() }), p));
    const out = apply(L.add(), [p, q]);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: out }));
    assert.ok(types(parsed).includes('transpose'));
  });

  test('a conditional graph: the label joins a flat value; a residual after it', async () => {
    const z = tf.input({ shape: [5], name: 'z' });
    const label = tf.input({ shape: [3], name: 'label' });
    const h = apply(L.dense({ units: 8, activation: 'relu', ...init() }), z);
    const j = apply(L.concatenate({ name: 'join' }), [h, label]);
    const a = apply(L.dense({ units: 8, activation: 'relu', ...init() }), j);
    const b = apply(L.dense({ units: 8, ...init() }), a);
    const out = apply(L.add({ name: 'res' }), [a, b]);
    const parsed = await assertSameOutputs(tf.model({ inputs: [z, label], outputs: out }), { labelClasses: 3 });
    assert.deepEqual(parsed.header.meta.conditioning, { classes: 3 });
  });

  test('a layer called twice gets a value per call', async () => {
    const z = tf.input({ shape: [6], name: 'z' });
    const shared = L.dense({ units: 6, activation: 'tanh', name: 'shared', ...init() });
    const once = apply(shared, z);
    const twice = apply(shared, once);
    const out = apply(L.add({ name: 'both' }), [once, twice]);
    await assertSameOutputs(tf.model({ inputs: z, outputs: out }));
  });

  test('ZeroPadding2D folds into the Conv2D, DepthwiseConv2D or SeparableConv2D it feeds; Cropping2D into a valid Conv2DTranspose', async () => {
    const z = tf.input({ shape: [32], name: 'z' });
    const x = apply(L.reshape({ targetShape: [4, 4, 2] }), z);
    const p1 = apply(L.zeroPadding2d({ padding: [[0, 1], [1, 2]], name: 'p1' }), x);
    const c1 = apply(L.conv2d({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', name: 'c1', ...init() }), p1);
    const p2 = apply(L.zeroPadding2d({ padding: 1, name: 'p2' }), c1);
    const dw = apply(L.depthwiseConv2d({ kernelSize: 3, name: 'dw', depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed++ }) }), p2);
    const t = apply(L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: 't', ...init() }), dw);
    const crop = apply(L.cropping2D({ cropping: [[1, 0], [1, 1]], name: 'crop' }), t);
    // kernel 2 < stride 3: the valid output has bias-only rows past the full one, which output padding keeps.
    const t2 = apply(L.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3, padding: 'valid', name: 't2', ...init() }), crop);
    const crop2 = apply(L.cropping2D({ cropping: [[0, 0], [2, 1]], name: 'crop2' }), t2);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: crop2 }));
    assert.deepEqual(types(parsed), ['reshape', 'conv2d', 'conv2d', 'conv2dTranspose', 'conv2dTranspose']);
    const c = parsed.header.nodes.find((n) => n.name === 'c1')!;
    // [0, 1, 1, 2] from the ZeroPadding2D, plus 'same' padding of the padded 5x7 input: one row and one column after.
    assert.deepEqual('pads' in c && c.pads, [0, 1, 2, 3]);
    const last = parsed.header.nodes.find((n) => n.name === 't2')!;
    assert.deepEqual('outputPadding' in last && [last.pads, last.outputPadding], [[0, 2, 0, 0], [1, 0]]);
    const pad = apply(L.zeroPadding2d({ padding: 1, name: 'lone_pad' }), x);
    assert.throws(
      () => exportModel(tf.model({ inputs: z, outputs: apply(L.flatten(), pad) })),
      (err: Error) => err instanceof UnsupportedError && /layer "lone_pad" \(ZeroPadding2D\) feeds layer ".*" \(Flatten\)/.test(err.message),
    );
  });

  test('an image latent [h, w, c] (a VAE whose latent is a feature map)', async () => {
    const z = tf.input({ shape: [3, 3, 4], name: 'z' });
    const c = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c', ...init() }), z);
    const skip = apply(L.add({ name: 'skip' }), [z, c]);
    const out = apply(L.conv2dTranspose({ filters: 3, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh', ...init() }), skip);
    const parsed = await assertSameOutputs(tf.model({ inputs: z, outputs: out }));
    assert.deepEqual(parsed.graph.latent.shape, [3, 3, 4]);
    assert.equal(parsed.header.meta.latentSize, 36);
  });

  test('f16 and i8 weights: a graph with BN, depthwise and transposed convs stays within the chain exports\' tolerances', async () => {
    const z = tf.input({ shape: [32], name: 'z' });
    const x = apply(L.reshape({ targetShape: [4, 4, 2] }), z);
    const c = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', ...init() }), x);
    const n = apply(L.batchNormalization({ ...bnInit() }), c);
    const dw = apply(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed++ }) }), n);
    const sum = apply(L.add(), [apply(L.conv2d({ filters: 8, kernelSize: 1, ...init() }), n), dw]);
    const out = apply(L.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh', ...init() }), sum);
    const model = tf.model({ inputs: z, outputs: out });
    const latents = tf.randomNormal([3, 32], 0, 1, 'float32', 5);
    const expected = (model.predict(latents) as tf.Tensor).dataSync() as Float32Array;
    for (const [dtype, tolerance] of [['f16', 1e-3], ['i8', 2e-2]] as const) {
      const decoder = await Decoder.load(exportModel(model, { dtype }));
      const diff = maxAbsDiff(decoder.decode(latents.dataSync() as Float32Array), expected);
      assert.ok(diff <= tolerance, `${dtype}: max abs diff ${diff}`);
      assert.ok(diff > 0, `${dtype} weights are rounded, so the outputs differ a little`);
    }
  });

  test('still refused: Maximum, a Concatenate on another axis, Softmax, naming the layer', () => {
    const z = tf.input({ shape: [8], name: 'z' });
    const a = apply(L.dense({ units: 4 }), z);
    const b = apply(L.dense({ units: 4 }), z);
    const named = (name: string, className: string) => (err: Error) => err instanceof UnsupportedError && err.message.includes(`layer "${name}" (${className})`);
    assert.throws(() => exportModel(tf.model({ inputs: z, outputs: apply(L.maximum({ name: 'max' }), [a, b]) })), named('max', 'Maximum'));
    const img = apply(L.reshape({ targetShape: [2, 2, 2] }), z);
    assert.throws(() => exportModel(tf.model({ inputs: z, outputs: apply(L.concatenate({ axis: 1, name: 'rows' }), [img, img]) })), named('rows', 'Concatenate'));
    assert.throws(() => exportModel(tf.model({ inputs: z, outputs: apply(L.softmax({ name: 'sm' }), a) })), named('sm', 'Softmax'));
  });
});
