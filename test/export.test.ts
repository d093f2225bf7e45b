import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { EdgeVaeError, InputError, UnsupportedError, VERSION, exportModel, outputChannelAxis } from '../src/export/index.ts';
import { DTYPES, readModel, tensorData, type DType, type LayerSpec, type ParsedModel } from '../src/format/index.ts';
import { ALL_FIXTURES, conditionalDecoder, tinyConditionalDecoder, tinyConvDecoder, tinyLinearDecoder, type Fixture } from './fixtures/models.ts';
import { kernelValues, referenceDecode } from '../src/runtime/reference.ts';
import { maxAbsDiff } from './helpers/numbers.ts';
import { latentBatch, tf } from './helpers/setup.ts';

type Weighted = Extract<LayerSpec, { kernel: number }>;
const isWeighted = <L extends LayerSpec>(layer: L): layer is L & Weighted => 'kernel' in layer;
const weightedLayers = (model: ParsedModel) => model.header.nodes.filter(isWeighted);

/** Largest output difference from the source model we accept, per weight dtype (measured: ~1e-8, ~1e-4, ~5e-3). */
const OUTPUT_TOLERANCE: Record<DType, number> = { f32: 1e-5, f16: 1e-3, i8: 2e-2 };

/** The format layers each fixture should become: type, plus the fused activation where there is one. */
const EXPECTED_LAYERS: Record<string, string[]> = {
  convVaeDecoder: [
    'dense:leakyRelu',
    'dense:leakyRelu',
    'reshape',
    'conv2dTranspose:leakyRelu',
    'conv2dTranspose:leakyRelu',
    'conv2dTranspose:leakyRelu',
    'flatten',
    'dense:sigmoid',
    'reshape',
  ],
  denseDecoder: ['dense:relu', 'dense:relu', 'dense:sigmoid', 'reshape'],
  conditionalDecoder: ['concatenate', 'dense:relu', 'dense:relu', 'dense:sigmoid', 'reshape'],
  tinyConvDecoder: ['dense:relu', 'reshape', 'conv2d:leakyRelu', 'conv2dTranspose:relu', 'conv2d:sigmoid', 'activation:tanh', 'conv2dTranspose:tanh'],
  tinyConditionalDecoder: ['dense:tanh', 'concatenate', 'dense:relu', 'dense:sigmoid', 'reshape'],
  tinyLinearDecoder: ['dense:tanh', 'reshape', 'flatten', 'dense:linear'],
};

const describeLayer = (layer: LayerSpec) => layer.type + ('activation' in layer ? `:${layer.activation}` : '');

/** The source model's output for `z` (and one-hot `labels`), fed in the order of the model's inputs. */
function predict(model: tf.LayersModel, fixture: Fixture, z: number[][], labels: number[]): Float32Array {
  return tf.tidy(() => {
    const latent = tf.tensor2d(z);
    const inputs = fixture.conditional
      ? [latent, tf.oneHot(tf.tensor1d(labels, 'int32'), model.inputs[1].shape[1] as number).toFloat()]
      : latent;
    return (model.predict(inputs) as tf.Tensor).dataSync() as Float32Array;
  });
}

/** The tfjs layers whose kernels were changed by folding a BatchNormalization into them. */
function foldedLayerNames(model: tf.LayersModel): Set<string> {
  const names = new Set<string>();
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'BatchNormalization') names.add(model.layers[i - 1].name);
  });
  return names;
}

/** Asserts |original[j] - decoded[j]| <= bound(j) for every j, reporting the first value that is off. */
function assertWithin(original: Float32Array, decoded: Float32Array, bound: (j: number) => number, what: string) {
  assert.equal(decoded.length, original.length);
  for (let j = 0; j < original.length; j++) {
    if (!(Math.abs(original[j] - decoded[j]) <= bound(j))) {
      assert.fail(`${what}[${j}]: ${original[j]} became ${decoded[j]}, off by more than ${bound(j)}`);
    }
  }
}

for (const fixture of ALL_FIXTURES) {
  describe(`exporting ${fixture.name}`, () => {
    let model: tf.LayersModel;
    const exported = new Map<DType, ParsedModel>();
    let z: number[][];
    before(() => {
      model = fixture.build(1);
      z = latentBatch(7, 3, model.inputs[0].shape[1] as number);
      for (const dtype of DTYPES) {
        const meta = { output: { shape: fixture.outputShape }, preset: 'test', dataset: 'random', metrics: { loss: 0.25 }, note: 'kept' };
        exported.set(dtype, readModel(exportModel(model, { dtype, meta })));
      }
    });
    after(() => model.dispose());

    for (const dtype of DTYPES) {
      test(`${dtype}: meta describes the model`, () => {
        const { meta } = exported.get(dtype)!.header;
        assert.equal(meta.latentSize, model.inputs[0].shape[1]);
        assert.deepEqual(meta.output, { shape: fixture.outputShape, range: fixture.range });
        assert.equal(meta.dtype, dtype);
        assert.equal(meta.producer, `edgevae ${VERSION}`);
        assert.equal(meta.preset, 'test');
        assert.equal(meta.dataset, 'random');
        assert.deepEqual(meta.metrics, { loss: 0.25 });
        assert.equal(meta.note, 'kept');
        if (fixture.conditional) {
          const joinsAt = exported.get(dtype)!.header.nodes.findIndex((l) => l.type === 'concatenate');
          assert.deepEqual(meta.conditioning, { classes: model.inputs[1].shape[1], joinsAt });
        } else {
          assert.equal(meta.conditioning, null);
        }
      });

      test(`${dtype}: layers, names and shapes`, () => {
        const parsed = exported.get(dtype)!;
        assert.deepEqual(parsed.header.nodes.map(describeLayer), EXPECTED_LAYERS[fixture.name]);
        assert.deepEqual(parsed.graph.nodes.at(-1)!.outShape, fixture.outputShape);
        for (const layer of parsed.header.nodes) {
          if (!/^layers\[\d+\]$/.test(layer.name)) assert.doesNotThrow(() => model.getLayer(layer.name), `no tfjs layer "${layer.name}"`);
        }
        // Only a reshape the exporter appended to re-view the output goes without a name.
        const unnamed = parsed.header.nodes.filter((l) => /^layers\[\d+\]$/.test(l.name));
        assert.ok(unnamed.every((l, i) => l.type === 'reshape' && i === 0 && parsed.header.nodes.at(-1) === l));
        for (const layer of weightedLayers(parsed)) {
          const kernel = parsed.header.tensors[layer.kernel];
          assert.equal(kernel.dtype, dtype);
          assert.equal(parsed.header.tensors[layer.bias].dtype, 'f32');
          assert.equal(layer.scale !== undefined, dtype === 'i8');
          if (layer.activation === 'leakyRelu') assert.equal(typeof layer.alpha, 'number');
        }
      });

      test(`${dtype}: the file computes what the model computes`, () => {
        const labels = [1, 0, 3];
        const expected = predict(model, fixture, z, labels);
        const actual = referenceDecode(exported.get(dtype)!, Float32Array.from(z.flat()), fixture.conditional ? labels : undefined);
        assert.ok(maxAbsDiff(actual, expected) <= OUTPUT_TOLERANCE[dtype]);
      });
    }

    test('f32 stores the kernels and biases exactly as tfjs holds them', () => {
      const parsed = exported.get('f32')!;
      const folded = foldedLayerNames(model);
      for (const layer of weightedLayers(parsed)) {
        if (folded.has(layer.name!)) continue; // checked numerically in the BatchNormalization test
        const source = model.getLayer(layer.name!).getWeights();
        assert.deepEqual(tensorData(parsed, layer.kernel), source[0].dataSync());
        const bias = source[1]?.dataSync() ?? new Float32Array(parsed.header.tensors[layer.bias].shape[0]);
        assert.deepEqual(tensorData(parsed, layer.bias), bias);
      }
    });

    test('f16 kernels are the f32 ones rounded to half precision', () => {
      const [f32, f16] = [weightedLayers(exported.get('f32')!), weightedLayers(exported.get('f16')!)];
      for (const [i, layer] of f16.entries()) {
        const original = tensorData(exported.get('f32')!, f32[i].kernel) as Float32Array;
        const decoded = kernelValues(exported.get('f16')!, layer);
        // Round to nearest: half an ulp of 2^-10 relative for normals, half the 2^-24 step for subnormals.
        assertWithin(original, decoded, (j) => Math.abs(original[j]) * 2 ** -11 + 2 ** -25, layer.name!);
        assert.deepEqual(tensorData(exported.get('f16')!, layer.bias), tensorData(exported.get('f32')!, f32[i].bias));
      }
    });

    test('i8 kernels are within half a step of the f32 ones, per output channel', () => {
      const [f32, i8] = [weightedLayers(exported.get('f32')!), weightedLayers(exported.get('i8')!)];
      for (const [i, layer] of i8.entries()) {
        const parsed = exported.get('i8')!;
        const shape = parsed.header.tensors[layer.kernel].shape;
        const axis = outputChannelAxis(layer.type);
        const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
        const scales = tensorData(parsed, layer.scale!) as Float32Array;
        assert.deepEqual(parsed.header.tensors[layer.scale!].shape, [shape[axis]]);
        const original = tensorData(exported.get('f32')!, f32[i].kernel) as Float32Array;
        const decoded = kernelValues(parsed, layer);
        const channelOf = (j: number) => Math.floor(j / inner) % shape[axis];
        // Half a step from rounding to a level, plus the f32 rounding of q * scale.
        assertWithin(original, decoded, (j) => scales[channelOf(j)] / 2 + Math.abs(original[j]) * 2 ** -23, layer.name!);
        const maxAbs = new Float64Array(shape[axis]);
        original.forEach((w, j) => (maxAbs[channelOf(j)] = Math.max(maxAbs[channelOf(j)], Math.abs(w))));
        for (let c = 0; c < scales.length; c++) assert.ok(Math.abs(scales[c] - maxAbs[c] / 127) <= scales[c] * 1e-6);
        assert.deepEqual(tensorData(parsed, layer.bias), tensorData(exported.get('f32')!, f32[i].bias));
      }
    });
  });
}

describe('BatchNormalization folding', () => {
  test('a BN-free twin loaded with the folded weights predicts what the model with BN predicts', () => {
    const withBn = tinyConvDecoder(3);
    const twin = tinyConvDecoder(3, { batchNorm: false });
    try {
      const parsed = readModel(exportModel(withBn));
      const twinWeighted = twin.layers.filter((l) => l.getWeights().length > 0);
      const fileWeighted = weightedLayers(parsed);
      assert.equal(twinWeighted.length, fileWeighted.length);
      for (const [i, layer] of twinWeighted.entries()) {
        const spec = fileWeighted[i];
        const kernelSpec = parsed.header.tensors[spec.kernel];
        const values = [tf.tensor(tensorData(parsed, spec.kernel) as Float32Array, kernelSpec.shape)];
        if (layer.getWeights().length === 2) values.push(tf.tensor(tensorData(parsed, spec.bias) as Float32Array));
        layer.setWeights(values);
        tf.dispose(values);
      }
      const z = tf.tensor2d(latentBatch(11, 5, 6));
      const expected = (withBn.predict(z) as tf.Tensor).dataSync();
      const actual = (twin.predict(z) as tf.Tensor).dataSync();
      assert.ok(maxAbsDiff(actual, expected) < 1e-5, `max difference ${maxAbsDiff(actual, expected)}`);
      // And the folding really changed something: the BN statistics are not the identity.
      const unfoldedKernel = withBn.layers[0].getWeights()[0].dataSync();
      assert.ok(maxAbsDiff(unfoldedKernel, tensorData(parsed, fileWeighted[0].kernel) as Float32Array) > 1e-3);
    } finally {
      withBn.dispose();
      twin.dispose();
    }
  });

  test('exporting leaves the source model untouched', () => {
    const model = tinyConvDecoder(4);
    try {
      const z = tf.tensor2d(latentBatch(2, 2, 6));
      const before = (model.predict(z) as tf.Tensor).dataSync().slice();
      const weightsBefore = model.getWeights().map((w) => w.dataSync().slice());
      exportModel(model, { dtype: 'i8' });
      assert.deepEqual((model.predict(z) as tf.Tensor).dataSync(), before);
      model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), weightsBefore[i]));
    } finally {
      model.dispose();
    }
  });

  test('a BN after an activated layer, after a fused activation layer or after the input becomes an affine node', () => {
    const models = [
      tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4, activation: 'relu', name: 'hidden' }), tf.layers.batchNormalization({ name: 'norm' })] }),
      tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4 }), tf.layers.leakyReLU({ name: 'leaky' }), tf.layers.batchNormalization({ name: 'norm' })] }),
      tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [3], name: 'norm' }), tf.layers.dense({ units: 2 })] }),
    ];
    for (const model of models) {
      const bn = model.getLayer('norm');
      bn.setWeights([tf.tensor1d([1.5, 0.5, 2, 1].slice(0, bn.getWeights()[0].shape[0])), ...bn.getWeights().slice(1).map((w) => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', 3))]);
      const parsed = readModel(exportModel(model, { meta: { output: { range: [-1, 1] } } }));
      const affine = parsed.header.nodes.find((n) => n.name === 'norm')!;
      assert.equal(affine.type, 'affine');
      const z = latentBatch(4, 3, 3);
      const expected = (model.predict(tf.tensor2d(z)) as tf.Tensor).dataSync() as Float32Array;
      assert.ok(maxAbsDiff(referenceDecode(parsed, Float32Array.from(z.flat())), expected) <= 1e-5);
      model.dispose();
    }
  });
});

describe('conditional decoders', () => {
  test('the label joins after the latent (conditionalDecoder) or before the activation (tinyConditionalDecoder)', () => {
    const big = conditionalDecoder(2);
    const tiny = tinyConditionalDecoder(2);
    try {
      const bigLayers = readModel(exportModel(big)).header.nodes;
      const labelOf = (m: ParsedModel) => m.graph.label!.name;
      const bigModel = readModel(exportModel(big));
      assert.deepEqual([bigLayers[0].type, bigLayers[0].name, bigLayers[0].inputs[1]], ['concatenate', 'join_label', labelOf(bigModel)]);
      const tinyModel = readModel(exportModel(tiny));
      const join = tinyModel.header.nodes[1];
      assert.deepEqual([join.type, join.name, join.inputs[0]], ['concatenate', 'label_first', labelOf(tinyModel)]);
      assert.deepEqual(tinyModel.header.meta.conditioning, { classes: 4, joinsAt: 1 });
      assert.equal(tinyModel.header.meta.latentSize, 3);
    } finally {
      big.dispose();
      tiny.dispose();
    }
  });

  test('labelInput names the label explicitly', () => {
    const model = conditionalDecoder(2);
    try {
      assert.deepEqual(exportModel(model, { labelInput: 'label' }), exportModel(model));
      assert.throws(() => exportModel(model, { labelInput: 'nope' }), (err: Error) => err instanceof InputError && /"z", "label"/.test(err.message));
      // Naming the latent as the label is taken at its word: z becomes the 8 classes.
      const swapped = readModel(exportModel(model, { labelInput: 'z' }));
      assert.deepEqual(swapped.header.meta.conditioning, { classes: 8, joinsAt: 0 });
      assert.equal(swapped.header.meta.latentSize, 10);
    } finally {
      model.dispose();
    }
  });

  test('two inputs that cannot be told apart ask for labelInput', () => {
    const a = tf.input({ shape: [3], name: 'a' });
    const b = tf.input({ shape: [2], name: 'b' });
    const joined = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 4, activation: 'sigmoid' }).apply(joined) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: out });
    assert.throws(() => exportModel(model), (err: Error) => err instanceof InputError && /labelInput/.test(err.message));
    const parsed = readModel(exportModel(model, { labelInput: 'b' }));
    assert.deepEqual(parsed.header.meta.conditioning, { classes: 2, joinsAt: 0 });
    assert.deepEqual([parsed.header.nodes[0].type, parsed.header.nodes[0].inputs[1]], ['concatenate', parsed.graph.label!.name]);
  });

  test('labelInput on a model without a label join is an error', () => {
    const model = tinyLinearDecoder(1);
    assert.throws(() => exportModel(model, { labelInput: 'label' }), InputError);
  });
});

describe('meta and options', () => {
  test('output shape: natural by default, re-viewed on request, refused when the sizes differ', () => {
    const model = tinyLinearDecoder(1);
    const natural = readModel(exportModel(model));
    assert.deepEqual(natural.header.meta.output.shape, [6]);
    assert.equal(natural.header.nodes.at(-1)!.type, 'dense');
    assert.deepEqual(readModel(exportModel(model, { meta: { output: { shape: [6] } } })).header.nodes.length, natural.header.nodes.length);
    const viewed = readModel(exportModel(model, { meta: { output: { shape: [2, 3, 1] } } }));
    const { name: _name, inputs: _inputs, ...view } = viewed.header.nodes.at(-1)!;
    assert.deepEqual(view, { type: 'reshape', shape: [2, 3, 1] });
    assert.throws(() => exportModel(model, { meta: { output: { shape: [2, 2, 1] } } }), (err: Error) => err instanceof InputError && /6/.test(err.message));
    assert.throws(() => exportModel(model, { meta: { output: { shape: [6, 1, 1, 1] } } }), InputError);
  });

  test('output range: from sigmoid / tanh, [0, 1] for linear, an override wins, relu must be told', () => {
    assert.deepEqual(readModel(exportModel(tinyLinearDecoder(1))).header.meta.output.range, [0, 1]);
    const overridden = exportModel(conditionalDecoder(1), { meta: { output: { range: [-0.5, 2] } } });
    assert.deepEqual(readModel(overridden).header.meta.output.range, [-0.5, 2]);
    const reluOut = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: 'relu' })] });
    assert.throws(() => exportModel(reluOut), (err: Error) => err instanceof InputError && /range/.test(err.message));
    assert.deepEqual(readModel(exportModel(reluOut, { meta: { output: { range: [0, 4] } } })).header.meta.output.range, [0, 4]);
    assert.throws(() => exportModel(reluOut, { meta: { output: { range: [1, 1] } } }), InputError);
  });

  test('derived fields may be asserted but not changed; bad values are InputErrors', () => {
    const model = tinyLinearDecoder(1);
    assert.doesNotThrow(() => exportModel(model, { meta: { latentSize: 4, conditioning: null, dtype: 'f16' }, dtype: 'f16' }));
    assert.throws(() => exportModel(model, { meta: { latentSize: 5 } }), (err: Error) => err instanceof InputError && /latentSize/.test(err.message));
    const conditional = tinyConditionalDecoder(1);
    assert.doesNotThrow(() => exportModel(conditional, { meta: { conditioning: { joinsAt: 1, classes: 4 } } }));
    assert.throws(() => exportModel(conditional, { meta: { conditioning: { classes: 10, joinsAt: 1 } } }), InputError);
    assert.throws(() => exportModel(conditional, { meta: { conditioning: null } }), InputError);
    assert.throws(() => exportModel(model, { meta: { dtype: 'i8' }, dtype: 'f16' }), InputError);
    assert.throws(() => exportModel(model, { dtype: 'f64' as DType }), InputError);
    assert.throws(() => exportModel(model, { meta: { metrics: { loss: NaN } } }), (err: Error) => err instanceof InputError && /loss/.test(err.message));
    assert.throws(() => exportModel(model, { meta: { preset: 3 as unknown as string } }), InputError);
    assert.equal(readModel(exportModel(model, { meta: { producer: 'my tool 2.0' } })).header.meta.producer, 'my tool 2.0');
  });

  test('weights that f16 cannot hold, or that are not finite, are refused', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, activation: 'sigmoid', name: 'big' })] });
    model.layers[0].setWeights([tf.tensor2d([[1, 2], [3, 1e5]]), tf.zeros([2])]);
    assert.throws(() => exportModel(model, { dtype: 'f16' }), (err: Error) => err instanceof InputError && /"big"/.test(err.message) && /f16/.test(err.message));
    assert.doesNotThrow(() => exportModel(model, { dtype: 'i8' }));
    model.layers[0].setWeights([tf.tensor2d([[1, 2], [3, NaN]]), tf.zeros([2])]);
    assert.throws(() => exportModel(model), (err: Error) => err instanceof InputError && /non-finite/.test(err.message));
  });

  test('VERSION matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    assert.equal(VERSION, pkg.version);
  });
});

describe('unsupported models', () => {
  /** Asserts an UnsupportedError whose message names the layer (and its class, when given). */
  function assertUnsupported(model: tf.LayersModel, layerName: string, className?: string) {
    assert.throws(
      () => exportModel(model),
      (err: Error) => {
        assert.ok(err instanceof UnsupportedError && err instanceof EdgeVaeError, `expected UnsupportedError, got ${err}`);
        assert.equal(err.code, 'UNSUPPORTED');
        const named = className ? `layer "${layerName}" (${className})` : `"${layerName}"`;
        assert.ok(err.message.includes(named), `message does not name ${named}: ${err.message}`);
        return true;
      },
    );
  }

  test('a layer edgevae has no kind for, listing what it supports', () => {
    const model = tf.sequential({
      layers: [tf.layers.reshape({ inputShape: [4], targetShape: [2, 2, 1] }), tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' })],
    });
    assertUnsupported(model, 'pool', 'MaxPooling2D');
    assert.throws(() => exportModel(model), /supported: InputLayer, Dense, Conv2D/);
  });

  test('a softmax activation, on a Dense or as its own layer; selu', () => {
    const dense = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4, activation: 'softmax', name: 'probs' })] });
    assertUnsupported(dense, 'probs', 'Dense');
    assert.throws(() => exportModel(dense), /"softmax"/);
    const layer = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4 }), tf.layers.activation({ activation: 'selu', name: 'act' })] });
    assertUnsupported(layer, 'act', 'Activation');
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4 }), tf.layers.softmax({ name: 'sm' })] });
    assertUnsupported(model, 'sm', 'Softmax');
  });

  test('branches and skip connections now export as graphs (joins are named after their layers)', () => {
    const z = tf.input({ shape: [4], name: 'z' });
    const left = tf.layers.dense({ units: 3, name: 'left' }).apply(z) as tf.SymbolicTensor;
    const right = tf.layers.dense({ units: 3, name: 'right' }).apply(z) as tf.SymbolicTensor;
    const merged = tf.layers.concatenate({ name: 'merge' }).apply([left, right]) as tf.SymbolicTensor;
    const branching = readModel(exportModel(tf.model({ inputs: z, outputs: tf.layers.dense({ units: 2 }).apply(merged) as tf.SymbolicTensor })));
    assert.deepEqual(branching.header.nodes.find((n) => n.name === 'merge')!.inputs, ['left', 'right']);
    const hidden = tf.layers.dense({ units: 4, name: 'hidden' }).apply(z) as tf.SymbolicTensor;
    const added = tf.layers.add({ name: 'skip' }).apply([z, hidden]) as tf.SymbolicTensor;
    assert.deepEqual(readModel(exportModel(tf.model({ inputs: z, outputs: added }))).header.nodes.at(-1)!.inputs, ['z', 'hidden']);
    const joined = tf.layers.concatenate({ name: 'skip_join' }).apply([z, hidden]) as tf.SymbolicTensor;
    const parsed = readModel(exportModel(tf.model({ inputs: z, outputs: joined })));
    assert.deepEqual([parsed.header.nodes.at(-1)!.type, parsed.graph.nodes.at(-1)!.outShape], ['concatenate', [8]]);
  });

  test('a nested model used as a layer', () => {
    const inner = tf.sequential({ name: 'inner', layers: [tf.layers.dense({ inputShape: [2], units: 3 })] });
    const z = tf.input({ shape: [2], name: 'z' });
    const out = tf.layers.dense({ units: 2, activation: 'sigmoid' }).apply(inner.apply(z) as tf.SymbolicTensor) as tf.SymbolicTensor;
    assertUnsupported(tf.model({ inputs: z, outputs: out }), 'inner', 'Sequential');
  });

  test('a model beyond the format limits', () => {
    // 300 unfusable activations: more layers than a file may hold.
    const layers = [tf.layers.reshape({ inputShape: [4], targetShape: [2, 2] }), ...Array.from({ length: 300 }, () => tf.layers.activation({ activation: 'sigmoid' }))];
    assert.throws(
      () => exportModel(tf.sequential({ name: 'too_deep', layers })),
      (err: Error) => err instanceof UnsupportedError && /"too_deep"/.test(err.message) && /layers/.test(err.message) && err.cause instanceof Error,
    );
  });

  test('several outputs, an unused input, an input of rank 2 per sample', () => {
    const z = tf.input({ shape: [4], name: 'z' });
    const a = tf.layers.dense({ units: 2 }).apply(z) as tf.SymbolicTensor;
    const b = tf.layers.dense({ units: 2 }).apply(z) as tf.SymbolicTensor;
    assert.throws(() => exportModel(tf.model({ inputs: z, outputs: [a, b], name: 'two_heads' })), (err: Error) => err instanceof UnsupportedError && /2 outputs/.test(err.message));
    const unused = tf.input({ shape: [3], name: 'spare' });
    assertUnsupported(tf.model({ inputs: [z, unused], outputs: a }), 'spare');
    const image = tf.input({ shape: [4, 4], name: 'image' }); // neither flat nor [h, w, c]
    const flat = tf.layers.flatten().apply(image) as tf.SymbolicTensor;
    assertUnsupported(tf.model({ inputs: image, outputs: flat }), 'image');
  });
});
