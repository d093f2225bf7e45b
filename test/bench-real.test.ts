// `npm run bench:real`'s harness on the small committed torch fixtures (test/fixtures/torch): the model
// builders (import, the ONNX side's layout, torch's own outputs), the contenders and the check of
// their outputs against each other, and the report's targets. Nothing here is timed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkAgreement, oursContender, ortContender, prepareOrSkip, REAL, referenceContender, tfjsWasmContender, type RealContender } from '../bench/real-contenders.ts';
import { asOurs, inputsOf, MAKE_REAL_MODELS, missingTorchModels, readmeExample, realInputs, torchModel, type RealModel } from '../bench/real-models.ts';
import { renderLayersSection, renderRealSection } from '../bench/real-report.ts';
import type { NodeProfile } from '../src/bench/profile.ts';
import type { RealResults } from '../bench/real-results.ts';
import { toChannelsFirst } from '../src/runtime/layout.ts';
import { tf } from './helpers/setup.ts';

const FIXTURES = 'test/fixtures/torch';

/** Every contender's output on `batch` samples of `model`, laid out as ours. */
async function outputs(model: RealModel, contenders: RealContender[], batch: number): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const contender of contenders) {
    const { prepared, reason } = await prepareOrSkip(contender, model);
    assert.ok(prepared, `${contender.name}: ${reason}`);
    const runner = prepared.forBatch(realInputs(model, batch));
    out.set(contender.name, runner.toOurs(await runner.run()));
    runner.dispose();
    await prepared.dispose();
  }
  return out;
}

describe('bench:real models', () => {
  it('a torch export: imported, its ONNX side channels-first, torch\'s outputs channels-last', () => {
    const dcgan = torchModel(FIXTURES, 'dcgan', [1, 16]);
    assert.ok(dcgan.f32 && !dcgan.refused);
    assert.equal(dcgan.source, 'torch');
    assert.deepEqual([dcgan.latentShape, dcgan.outputShape, dcgan.onnxNchw, dcgan.onnxOutputNchw, dcgan.range], [[1, 1, 100], [64, 64, 3], true, true, [-1, 1]]);
    assert.deepEqual(dcgan.onnxInputs, { latent: 'z' });
    assert.ok(dcgan.macsPerSample > 0);
    assert.equal(dcgan.torchCheck!.batch, 2);
    assert.equal(dcgan.torchCheck!.output.length, 2 * 64 * 64 * 3);

    const taesd = torchModel(FIXTURES, 'taesd-4ch-8', [1]);
    assert.deepEqual([taesd.latentShape, taesd.outputShape, taesd.onnxInputs, taesd.onnxOutput], [[8, 8, 4], [64, 64, 3], { latent: 'latent' }, 'image']);
    const inputs = realInputs(taesd, 3);
    assert.equal(inputs.latents.length, 3 * 8 * 8 * 4);
    assert.deepEqual(inputs.onnxLatents, toChannelsFirst(inputs.latents, [8, 8, 4]));
    assert.deepEqual(realInputs(taesd, 3).latents, inputs.latents, 'seeded');
    assert.notDeepEqual(realInputs(taesd, 3, 2).latents, inputs.latents);
  });

  it('a conditional torch export feeds its one-hot label', () => {
    const cvae = torchModel(FIXTURES, 'pytorch-cvae', [1]);
    assert.deepEqual([cvae.classes, cvae.onnxInputs, cvae.onnxNchw, cvae.onnxOutputNchw], [40, { latent: 'z', label: 'y' }, false, true]);
    const inputs = realInputs(cvae, 3);
    assert.deepEqual(Array.from(inputs.labels!), [0, 1, 2]);
    assert.equal(inputs.oneHot![40 + 1], 1);
    assert.equal(cvae.torchCheck, undefined);
  });

  it('says which full-size models are missing and the command that makes them', () => {
    const empty = mkdtempSync(join(tmpdir(), 'edgevae-real-'));
    assert.deepEqual(missingTorchModels(empty), ['dcgan-full', 'pytorch-vae-full', 'taesd-full-8', 'taesd-full-32']);
    assert.deepEqual(missingTorchModels(FIXTURES, ['dcgan', 'taesd-4ch-8']), []);
    assert.equal(MAKE_REAL_MODELS, '/usr/bin/python3 scripts/torch-fixtures.py --bench bench/real-models');
    rmSync(empty, { recursive: true });
  });
});

describe('bench:real contenders and output checks', () => {
  it('ours and onnxruntime agree on a torch export, and agree with torch', async () => {
    const model = torchModel(FIXTURES, 'taesd-4ch-8', [1]);
    assert.equal(referenceContender(model), REAL.f32);
    const contenders = [oursContender('f32', 'strict'), oursContender('i8', 'strict'), ortContender('onnxruntime-web'), ortContender('onnxruntime-node')];
    const out = await outputs(model, contenders, 2);
    const reference = out.get(REAL.f32)!;
    for (const contender of contenders.slice(1)) {
      const agreed = checkAgreement(model, contender.name, contender.precision, REAL.f32, 2, out.get(contender.name)!, reference);
      assert.ok(agreed.maxAbsDiff <= agreed.tolerance);
      assert.equal(agreed.tolerance, (contender.precision === 'f32' ? 1e-4 : 0.1) * 2, 'a fraction of the range [-1, 1]');
    }
    // Against torch's own output on the fixture's inputs.
    const { prepared } = await prepareOrSkip(oursContender('f32', 'strict'), model);
    const runner = prepared!.forBatch(inputsOf(model, model.torchCheck!.latents));
    const torch = checkAgreement(model, REAL.f32, 'f32', 'torch', 2, await runner.run(), model.torchCheck!.output);
    assert.ok(torch.maxAbsDiff < 1e-4);
  });

  it('a vector latent with an image out: the ONNX output comes back channels-last, labels fed one-hot', async () => {
    for (const name of ['pytorch-vae', 'pytorch-cvae']) {
      const model = torchModel(FIXTURES, name, [1]);
      const out = await outputs(model, [oursContender('f32', 'strict'), ortContender('onnxruntime-node')], 3);
      checkAgreement(model, REAL.ortNode, 'f32', REAL.f32, 3, out.get(REAL.ortNode)!, out.get(REAL.f32)!);
    }
  });

  it('refuses outputs that are not the same model: a layout left channels-first, a different size', async () => {
    const model = torchModel(FIXTURES, 'dcgan', [1]);
    const out = await outputs(model, [oursContender('f32', 'strict'), ortContender('onnxruntime-node')], 2);
    const ours = out.get(REAL.f32)!;
    const nchw = toChannelsFirst(out.get(REAL.ortNode)!, model.outputShape);
    assert.deepEqual(asOurs(model, nchw), out.get(REAL.ortNode));
    assert.throws(() => checkAgreement(model, REAL.ortNode, 'f32', REAL.f32, 2, nchw, ours), /onnxruntime-node f32 on dcgan: output differs from edgevae f32 strict's by .* \(tolerance 2\.00e-4\): not the same model/);
    assert.throws(() => checkAgreement(model, REAL.ortNode, 'f32', REAL.f32, 2, ours.subarray(1), ours), /24575 output values against 24576 from edgevae f32 strict: not the same model/);
  });

  it('the README example: ours, onnxruntime on our ONNX export and tfjs-backend-wasm agree; tfjs does not run torch models', async () => {
    const model = await readmeExample([1]);
    assert.deepEqual([model.source, model.latentShape, model.outputShape, model.onnxNchw], ['tfjs', [8], [28, 28, 1], false]);
    const contenders = [oursContender('f32', 'strict'), oursContender('f16', 'strict'), ortContender('onnxruntime-web'), tfjsWasmContender()];
    const out = await outputs(model, contenders, 3);
    await tf.setBackend('cpu');
    for (const contender of contenders.slice(1)) checkAgreement(model, contender.name, contender.precision, REAL.f32, 3, out.get(contender.name)!, out.get(REAL.f32)!);
    assert.equal(tfjsWasmContender().unavailable(torchModel(FIXTURES, 'dcgan', [1])), 'a PyTorch model: no TensorFlow.js version of it');
  });
});

describe('bench:real report', () => {
  /** A results file with figures made up for the targets: DCGAN and the README example only. */
  function results(): RealResults {
    const peak = { kind: 'mul-add' as const, gflops: 30, accumulators: 12, byAccumulators: { 12: 30 } };
    const rate = (model: string, contender: string, batch: number, samplesPerSecond: number) => ({
      model, contender, batch, samplesPerSecond, gflops: 1, fractionOfPeak: 0.1, rounds: [{ samplesPerSecond, marginPercent: 2, samples: 5 }, { samplesPerSecond: samplesPerSecond * 1.1, marginPercent: 3, samples: 5 }],
    });
    return {
      command: 'npm run bench:real', date: '2026-12-07T00:00:00.000Z',
      machine: { cpu: 'a CPU', logicalCores: 2, hostname: 'h', platform: 'linux', arch: 'x64', node: 'v20', v8: '11', totalMemoryGiB: 1, vectorFlags: [] },
      versions: { edgevae: '0.1.0' },
      peak: { start: { mulAdd: peak, fma: null, int8: { ...peak, kind: 'dot-i16' } }, rounds: [29, 31], mulAddGflops: 30 },
      settings: { rounds: 2, benny: { minSamples: 5, maxTime: 0.5 }, slowCall: { seconds: 0.3, minSamples: 2 }, warmUpSeconds: 0.3, maxCallSeconds: 5, verificationBatch: 2 },
      models: [
        { name: 'dcgan-full', description: 'DCGAN', source: 'torch', macsPerSample: 100, batches: [1, 16] },
        { name: 'taesd-full-32', description: 'TAESD', source: 'torch', macsPerSample: 1600, macsNote: '16 x', refused: 'over the limit', batches: [1] },
        { name: 'readme-example', description: 'README', source: 'tfjs', macsPerSample: 10, batches: [1, 64, 256] },
      ],
      contenders: [REAL.f32, REAL.int8, REAL.ortWeb, REAL.tfjsWasm].map((name) => ({ name, engine: name, precision: name === REAL.int8 ? 'int8' : 'f32' })),
      throughput: [
        rate('dcgan-full', REAL.f32, 1, 140), rate('dcgan-full', REAL.ortWeb, 1, 100),
        rate('dcgan-full', REAL.f32, 16, 120), rate('dcgan-full', REAL.ortWeb, 16, 100),
        rate('dcgan-full', REAL.int8, 1, 250), rate('dcgan-full', REAL.int8, 16, 190),
        rate('taesd-full-32', REAL.ortWeb, 1, 1),
        ...[1, 64, 256].flatMap((batch) => [rate('readme-example', REAL.f32, batch, 2000), rate('readme-example', REAL.tfjsWasm, batch, batch === 1 ? 1000 : 1500), rate('readme-example', REAL.ortWeb, batch, 1000)]),
      ],
      agreement: [],
      skipped: [{ model: 'taesd-full-32', contender: REAL.f32, reason: 'over the limit' }],
      durationSeconds: 60,
      loadAverage: { start: 1, end: 1 },
    };
  }

  it('marks each target met or missed, and says why one was not measured', () => {
    const text = renderRealSection(results(), 'bench/results/x-real.json');
    const row = (start: string) => text.split('\n').find((line) => line.startsWith(`| ${start}`));
    // Both rounds of every made-up case are 1 and 1.1 times its figure: the same ratio in each round.
    assert.equal(row('DCGAN f32, batch 1:'), '| DCGAN f32, batch 1: >= 1.3x ORT-web f32 | 1.40x | 1.40x, 1.40x (2 of 2 met) | met |');
    assert.equal(row('DCGAN f32, batch 16:'), '| DCGAN f32, batch 16: >= 1.3x ORT-web f32 | 1.20x | 1.20x, 1.20x (0 of 2 met) | **missed** |');
    assert.equal(row('DCGAN int8, batch 1:'), '| DCGAN int8, batch 1: >= 2x ORT-web f32 | 2.50x | 2.50x, 2.50x (2 of 2 met) | met |');
    assert.equal(row('DCGAN int8, batch 16:'), '| DCGAN int8, batch 16: >= 2x ORT-web f32 | 1.90x | 1.90x, 1.90x (0 of 2 met) | **missed** |');
    assert.match(row('TAESD 32x32')!, /not measured \(edgevae refuses the model: over the limit\) \| – \| \*\*missed\*\* \|$/);
    assert.match(row('TAESD 8x8')!, /not measured \(not in this run\)/);
    assert.equal(row('README example f32, batch 1:'), '| README example f32, batch 1: >= 1.5x tfjs-wasm | 2.00x | 2.00x, 2.00x (2 of 2 met) | met |');
    assert.equal(row('README example f32, batch 64:'), '| README example f32, batch 64: >= 1.5x tfjs-wasm | 1.33x | 1.33x, 1.33x (0 of 2 met) | **missed** |');
    // Every row of a model's table carries its ratio to each wasm peer at each batch.
    assert.match(text, /^\| edgevae f32 strict \| 2,000 \| 2\.00x \| 2\.00x \| 2,000 \| 2\.00x \| 1\.33x \| 2,000 \| 2\.00x \| 1\.33x \| 1\.0 \| 10% \|$/m);
    assert.match(text, /on no model and batch is any of our builds slower than a wasm peer .* \| none slower \| – \| met \|/);
    assert.match(text, /- edgevae f32 strict on taesd-full-32: over the limit/);
  });

  it('lists where our builds are slower than a wasm peer', () => {
    const slow = results();
    slow.throughput.find((t) => t.model === 'readme-example' && t.contender === REAL.f32 && t.batch === 64)!.samplesPerSecond = 750;
    const text = renderRealSection(slow, 'bench/results/x-real.json');
    assert.match(text, /slower on 1 of 3 models \| – \| \*\*missed\*\* \|/);
    assert.match(text, /- readme-example: 2 of 6; worst f32 strict, batch 64, 0\.50x tfjs-wasm/);
  });

  it('groups a profile\'s nodes of the same kind and shape, and holds the 3x3 convs against the 70% target', () => {
    const conv = (name: string, ms: number, gflops: number): NodeProfile => ({
      name, type: 'conv2d', outputShape: [8, 8, 64], macsPerSample: 2_359_296, detail: '3x3 conv, stride 1, 64 → 64 channels',
      conv: { kernel: [3, 3], strides: [1, 1], inChannels: 64, outChannels: 64, groups: 1, transposed: false }, ms, runs: true, share: 0, gflops,
    });
    const nodes = [conv('a', 1, 24), conv('b', 1, 18), { ...conv('up', 0.5, 10), detail: '3x3 conv, stride 1, 4 → 64 channels', conv: { ...conv('x', 0, 0).conv!, inChannels: 4 } },
      { name: 'r', type: 'reshape', outputShape: [64], macsPerSample: 0, detail: '', ms: 0, runs: false, share: 0, gflops: null }];
    const total = 2.5;
    for (const n of nodes) n.share = n.ms / total;
    const profile = { batch: 1, passes: 9, sumMs: total, decodeMs: 2.4, nodes, contender: 'edgevae f32 strict', dtype: 'f32', peakGflops: 30 };
    const text = renderLayersSection([{ file: 'bench/results/d-h-layers-m.json', profile: { model: 'bench/real-models/m.evae', macsPerSample: 1, simd: 'strict', seconds: 5, machine: { cpu: 'c', cores: 2, node: 'v20' }, peak: { mulAdd: { kind: 'mul-add', gflops: 30, accumulators: 12, byAccumulators: {} } }, profiles: [profile] } }]);
    assert.match(text, /^\| 3x3 conv, stride 1, 64 → 64 channels, out 8x8x64 \(2\.4 M multiply-adds each\) \| 2 \| 2\.00 \| 80% \| 4\.7 \| 16% \|$/m);
    assert.match(text, /^\| 3x3 conv, stride 1, 4 → 64 channels, out 8x8x64 .* \| 1 \| 0\.500 \| 20% \|/m);
    assert.doesNotMatch(text, /reshape/, 'a node that runs no code has no row');
    assert.match(text, /at >= 70% of the peak": 1 of 2 \(from 60% to 80%, median 80%\), \*\*missed\*\*\./);
    assert.match(text, /edgevae bench --model bench\/real-models\/m\.evae --layers --simd strict --seconds 5 --batch 1 --dtype f32 --json/);
  });
});
