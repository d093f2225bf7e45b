// The wasm executor against the scalar reference decoder (src/runtime/reference.ts), over every layer
// type, padding, stride, activation and weight dtype, at batch sizes on both sides of the kernels'
// 4-row block and 8-column panel.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder } from '../src/index.ts';
import { readModel } from '../src/format/read.ts';
import { referenceDecode } from '../src/runtime/reference.ts';
import { relaxedSimdSupported } from '../src/runtime/wasm.ts';
import { GRAPH_PLANS, buildGraphModel, buildModel, type GraphPlan } from './helpers/random-models.ts';
import { fixCrc } from './helpers/corrupt.ts';
import { FormatError, InputError } from '../src/errors.ts';
import { toChannelsFirst } from '../src/runtime/layout.ts';
import { LAYER_PLANS as PLANS } from './helpers/plans.ts';
import { maxAbsDiff, randomValues, seededRandom } from './helpers/numbers.ts';


// int8: the reference quantizes activations from f64 values, the runtime from f32 ones, so a value a
// hair from a rounding boundary can land one quantization step apart; hence the looser bound.
const TOLERANCE = { f32: 1e-5, f16: 1e-5, i8: 5e-5 } as const;

describe('wasm executor vs scalar reference', () => {
  for (const [name, plan] of Object.entries(PLANS)) {
    for (const dtype of ['f32', 'f16', 'i8'] as const) {
      it(`${name} (${dtype})`, async () => {
        const bytes = buildModel({ ...plan, dtype, seed: 7 });
        const decoder = await Decoder.load(bytes);
        const model = readModel(bytes);
        const random = seededRandom(3);
        for (const n of [1, 3, 4, 5, 9]) {
          const latents = randomValues(n * plan.latentSize, random, 1.5);
          const labels = plan.classes ? Array.from({ length: n }, (_, i) => (i * 7) % plan.classes!) : undefined;
          const got = decoder.decode(latents, labels);
          const want = referenceDecode(model, latents, labels);
          const diff = maxAbsDiff(got, want);
          assert.ok(diff <= TOLERANCE[dtype], `batch ${n}: max abs diff ${diff}`);
        }
      });
    }
  }
});

describe('relaxed SIMD build (fused multiply-add)', { skip: !relaxedSimdSupported() && 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' }, () => {
  for (const name of ['conv-vae-like decoder', 'conditional, label joined first, mid-network, then convolutions']) {
    it(`${name}: agrees with the reference, and a sample never depends on its batch`, async () => {
      const plan = PLANS[name];
      for (const dtype of ['f32', 'f16', 'i8'] as const) {
        const bytes = buildModel({ ...plan, dtype, seed: 7 });
        const decoder = await Decoder.load(bytes, { simd: 'relaxed' });
        assert.equal(decoder.info.simd, 'relaxed');
        const latents = randomValues(5 * plan.latentSize, seededRandom(3), 1.5);
        const labels = plan.classes ? [0, 1, 2, 3, 4].map((i) => i % plan.classes!) : undefined;
        const diff = maxAbsDiff(decoder.decode(latents, labels), referenceDecode(readModel(bytes), latents, labels));
        assert.ok(diff <= TOLERANCE[dtype], `${dtype}: max abs diff ${diff}`);
        const whole = decoder.sample(9, { seed: 4 });
        const split = await Decoder.load(bytes, { simd: 'relaxed', maxBatch: 4 });
        assert.deepEqual(split.sample(9, { seed: 4 }), whole, `${dtype}: chunks of 4 give the same bytes`);
      }
    });
  }
});

describe('simd option', () => {
  it('defaults to the strict build, and names bad values', async () => {
    const bytes = buildModel({ ...PLANS['dense chain, every activation'], seed: 1 });
    assert.equal((await Decoder.load(bytes)).info.simd, 'strict');
    assert.equal((await Decoder.load(bytes, { simd: 'auto' })).info.simd, relaxedSimdSupported() ? 'relaxed' : 'strict');
    await assert.rejects(Decoder.load(bytes, { simd: 'fast' as never }), /simd must be 'strict', 'relaxed' or 'auto', got "fast"/);
    if (!relaxedSimdSupported()) await assert.rejects(Decoder.load(bytes, { simd: 'relaxed' }), /does not support relaxed SIMD/);
  });
});

describe('weights', () => {
  it('a model holding inf or NaN is refused at load, naming the tensor and index', async () => {
    for (const [dtype, bad] of [['f32', (data: DataView, at: number) => data.setFloat32(at, NaN, true)], ['f16', (data: DataView, at: number) => data.setUint16(at, 0x7c00, true)]] as const) {
      const bytes = buildModel({ ...PLANS['dense chain, every activation'], dtype, seed: 2 });
      const model = readModel(bytes);
      const kernel = (model.header.nodes.find((l) => l.type === 'dense') as { kernel: number }).kernel;
      const file = bytes.slice();
      bad(new DataView(file.buffer), model.header.tensors[kernel].offset + (dtype === 'f32' ? 12 : 6));
      await assert.rejects(Decoder.load(fixCrc(file)), (err: Error) => err instanceof FormatError && new RegExp(`tensor ${kernel} holds (NaN|infinity) at index 3; weights must be finite`).test(err.message), dtype);
    }
  });

  it('a sample decoded alone gets the bits it gets in a batch, its zero activations skipped', async () => {
    // 2100 ReLU outputs: the int8 lone-row kernel's list spans two 2048-k blocks.
    const plan = { latentSize: 6, layers: [{ type: 'dense', units: 2100, activation: 'relu' }, { type: 'dense', units: 40, activation: 'relu' }, { type: 'dense', units: 19, activation: 'sigmoid' }], outputShape: [19] } as const;
    for (const dtype of ['f32', 'f16', 'i8'] as const) {
      const decoder = await Decoder.load(buildModel({ ...plan, layers: [...plan.layers], outputShape: [...plan.outputShape], dtype, seed: 5 }));
      const latents = randomValues(8 * plan.latentSize, seededRandom(9), 1.5);
      const batch = decoder.decode(latents);
      for (let i = 0; i < 8; i++) {
        const alone = decoder.decode(latents.subarray(i * plan.latentSize, (i + 1) * plan.latentSize));
        assert.deepEqual(alone, batch.subarray(i * 19, (i + 1) * 19), `${dtype}, sample ${i}`);
      }
    }
  });
});

describe('sampling', () => {
  const bytes = buildModel({ ...PLANS['conv-vae-like decoder'], seed: 11 });

  it('gives the same bytes for the same seed across loads and batch splits', async () => {
    const a = await Decoder.load(bytes);
    const b = await Decoder.load(bytes, { maxBatch: 5 });
    const whole = a.sample(64, { seed: 42 });
    assert.deepEqual(b.sample(64, { seed: 42 }), whole, 'another load with smaller chunks');
    const first = a.sample(32, { seed: 42 });
    const second = a.sample(32, { seed: 42, offset: 32 });
    const joined = new Float32Array(whole.length);
    joined.set(first);
    joined.set(second, first.length);
    assert.deepEqual(joined, whole, 'sample(32) + sample(32, {offset: 32}) equals sample(64)');
    assert.notDeepEqual(a.sample(4, { seed: 43 }), whole.subarray(0, 4 * 784), 'another seed gives other samples');
  });

  it('draws standard normal latents, scaled by stddev', async () => {
    const decoder = await Decoder.load(bytes);
    const z = decoder.sampleLatents(4000, { seed: 5 });
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length;
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
    const wide = decoder.sampleLatents(4000, { seed: 5, stddev: 2 });
    assert.ok(Math.abs(wide[17] - 2 * z[17]) < 1e-6, 'stddev scales the same draws');
    assert.deepEqual(decoder.decode(z.subarray(0, 8 * 3)), decoder.sample(3, { seed: 5 }), 'sample() decodes sampleLatents()');
  });

  it('walks one latent dimension with traverse()', async () => {
    const decoder = await Decoder.load(bytes);
    const walk = decoder.traverse({ dim: 7, from: -2.5, to: 2.5, steps: 5 });
    const latents = new Float32Array(5 * 8);
    [-2.5, -1.25, 0, 1.25, 2.5].forEach((v, i) => (latents[i * 8 + 7] = v));
    assert.deepEqual(walk, decoder.decode(latents));
  });
});

describe('graph models: image latents and RGB outputs', () => {
  const RGB = ['rgb from an image latent', 'rgb from a flat latent', 'conditional rgb', 'branch joined along channels'] as const;
  const labelsFor = (plan: GraphPlan, n: number) => (plan.label ? Array.from({ length: n }, (_, i) => (i * 3) % plan.label!.classes) : undefined);

  for (const name of RGB) {
    const plan: GraphPlan = GRAPH_PLANS[name];
    for (const dtype of ['f32', 'f16', 'i8'] as const) {
      it(`${name} (${dtype}): agrees with the reference, within the output's range`, async () => {
        const bytes = buildGraphModel({ ...plan, dtype, seed: 7 });
        const decoder = await Decoder.load(bytes);
        assert.equal(decoder.info.outputShape[2], 3);
        const [lo, hi] = decoder.info.range;
        const model = readModel(bytes);
        const random = seededRandom(3);
        for (const n of [1, 3, 4, 5, 9]) {
          const latents = randomValues(n * decoder.info.latentSize, random, 1.5);
          const labels = labelsFor(plan, n);
          const got = decoder.decode(latents, labels);
          const diff = maxAbsDiff(got, referenceDecode(model, latents, labels));
          assert.ok(diff <= TOLERANCE[dtype], `batch ${n}: max abs diff ${diff}`);
          assert.ok(got.every((v) => v >= lo && v <= hi), `batch ${n}: every value in [${lo}, ${hi}]`);
        }
      });
    }

    it(`${name}: sample() is the same bytes per seed, whatever the chunking, and decodes sampleLatents()`, async () => {
      const bytes = buildGraphModel({ ...plan, seed: 11 });
      const whole = await Decoder.load(bytes);
      const chunked = await Decoder.load(bytes, { maxBatch: 3 });
      const samples = whole.sample(10, { seed: 42 });
      assert.deepEqual(chunked.sample(10, { seed: 42 }), samples, 'chunks of 3 give the same bytes');
      assert.deepEqual(whole.sample(10, { seed: 42 }), samples, 'the same seed again');
      assert.notDeepEqual(whole.sample(10, { seed: 43 }), samples, 'another seed');
      const labels = plan.label ? Array.from({ length: 10 }, (_, i) => i % plan.label!.classes) : undefined;
      assert.deepEqual(whole.decode(whole.sampleLatents(10, { seed: 42 }), labels), samples);
      const diff = maxAbsDiff(samples, referenceDecode(readModel(bytes), whole.sampleLatents(10, { seed: 42 }), labels));
      assert.ok(diff <= TOLERANCE.f32, `sample vs reference: max abs diff ${diff}`);
    });
  }

  describe('an image latent [4, 4, 8], recorded as PyTorch NCHW', async () => {
    const decoder = await Decoder.load(buildGraphModel({ ...GRAPH_PLANS['rgb from an image latent'], seed: 5 }));
    const flat = await Decoder.load(buildGraphModel({ ...GRAPH_PLANS['rgb from a flat latent'], seed: 5 }));

    it('info gives the latent shape as held (channels-last) and the layout from the file', () => {
      assert.deepEqual([decoder.info.latentSize, decoder.info.latentShape, decoder.info.latentLayout], [128, [4, 4, 8], 'NCHW']);
      assert.deepEqual([flat.info.latentSize, flat.info.latentShape, flat.info.latentLayout], [6, [6], undefined]);
    });

    it('decode takes channels-last latents by default, and channels-first ones with layout NCHW', () => {
      const held = randomValues(3 * 128, seededRandom(8), 1.5);
      // The same latents written out channels-first by index arithmetic: [c, h, w] from [h, w, c].
      const pytorch = new Float32Array(held.length);
      for (let s = 0; s < 3; s++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 8; c++) {
        pytorch[s * 128 + (c * 4 + y) * 4 + x] = held[s * 128 + (y * 4 + x) * 8 + c];
      }
      assert.deepEqual(toChannelsFirst(held, [4, 4, 8]), pytorch);
      const expected = decoder.decode(held);
      assert.deepEqual(decoder.decode(pytorch, undefined, { layout: 'NCHW' }), expected);
      assert.deepEqual(decoder.decode(held, undefined, { layout: 'NHWC' }), expected);
      const rows = Array.from({ length: 3 }, (_, s) => Array.from(pytorch.subarray(s * 128, (s + 1) * 128)));
      assert.deepEqual(decoder.decode(rows, undefined, { layout: 'NCHW' }), expected, 'rows of channels-first values');
      assert.notDeepEqual(decoder.decode(pytorch), expected, 'the order matters');
    });

    it('refuses a layout it does not know, NCHW for a vector latent, and latents of the wrong length', () => {
      const refuses = (call: () => unknown, message: RegExp) => assert.throws(call, (err: Error) => err instanceof InputError && message.test(err.message));
      refuses(() => decoder.decode(new Float32Array(128), undefined, { layout: 'CHW' as never }), /layout must be one of NHWC, NCHW, got "CHW"/);
      refuses(() => decoder.decode(new Float32Array(128), undefined, null as never), /decode options must be an object, got null/);
      refuses(() => flat.decode(new Float32Array(6), undefined, { layout: 'NCHW' }), /layout NCHW is for image latents; this model's latent is a \[6\] vector/);
      refuses(() => decoder.decode(new Float32Array(130), undefined, { layout: 'NCHW' }), /130 latent values is not a whole number of 128-value vectors/);
      refuses(() => decoder.decode([new Array(127).fill(0)], undefined, { layout: 'NCHW' }), /latent row 0 has 127 values; the model's latent size is 128/);
    });

    it('traverse walks one coordinate of the flattened, channels-last latent', () => {
      const dim = (2 * 4 + 1) * 8 + 5; // pixel (y 2, x 1), channel 5
      const walk = decoder.traverse({ dim, from: -2, to: 2, steps: 3, seed: 4 });
      const base = decoder.sampleLatents(1, { seed: 4 });
      const latents = new Float32Array(3 * 128);
      [-2, 0, 2].forEach((v, i) => {
        latents.set(base, i * 128);
        latents[i * 128 + dim] = v;
      });
      assert.deepEqual(walk, decoder.decode(latents));
      assert.throws(() => decoder.traverse({ dim: 128 }), /dim must be an integer in 0\.\.127, got 128/);
    });
  });
});

describe('result sizes', () => {
  it('a request for more than 2^28 values (1 GiB) is an InputError saying how many fit, not a RangeError or a stall', async () => {
    const decoder = await Decoder.load(buildModel({ latentSize: 4, layers: [{ type: 'dense', units: 784, activation: 'sigmoid' }], outputShape: [784] }));
    for (const call of [() => decoder.sample(1e9), () => decoder.sample(400_000)]) {
      assert.throws(call, (err: unknown) => err instanceof InputError && /at most 342392 at a time \(offset continues the stream\)/.test((err as Error).message));
    }
    assert.throws(() => decoder.sampleLatents(2 ** 31), InputError);
    assert.equal(decoder.sample(3, { seed: 1 }).length, 3 * 784);
  });
});
