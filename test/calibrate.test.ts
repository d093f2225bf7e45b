// int8 calibration (src/convert/gptq.ts, src/convert/calibrate.ts): GPTQ's algebra against direct
// computation, its rounding against plain rounding, and calibrated models of every weighted kind
// against the same models rounded to nearest, on latents the calibration never saw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calibrateInt8 } from '../src/convert/calibrate.ts';
import { GPTQ_DAMPING, gptqRound, inverseFactor } from '../src/convert/gptq.ts';
import { convertDtype, quantizeCalibrated } from '../src/export/convert-dtype.ts';
import { quantizeInt8PerChannel } from '../src/format/int8.ts';
import { readModel, tensorData } from '../src/format/read.ts';
import { Decoder } from '../src/index.ts';
import { GraphBuilder } from './helpers/graph-builder.ts';
import { seededRandom } from './helpers/numbers.ts';

/** X^T X of n random rows of K values in which column j + 1 nearly repeats column j for odd j (as after a nearest upsample). */
function correlatedGram(n: number, K: number, random: () => number): { x: Float64Array; h: Float64Array } {
  const x = new Float64Array(n * K);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < K; j++) x[r * K + j] = j % 2 === 1 ? x[r * K + j - 1] + 0.05 * (random() - 0.5) : random() * 2 - 1;
  }
  const h = new Float64Array(K * K);
  for (let r = 0; r < n; r++) for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j] += x[r * K + i] * x[r * K + j];
  return { x, h };
}

describe('GPTQ rounding', () => {
  it('inverseFactor gives the upper-triangular U with U^T U = (H + damping)^-1', () => {
    const K = 7;
    const { h } = correlatedGram(40, K, seededRandom(3));
    const damped = Float64Array.from(h);
    let mean = 0;
    for (let i = 0; i < K; i++) mean += h[i * K + i] / K;
    for (let i = 0; i < K; i++) damped[i * K + i] += GPTQ_DAMPING * mean;
    const u = inverseFactor(Float64Array.from(h), K);
    for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) assert.equal(u[i * K + j], 0, 'U is upper triangular');
    // (U^T U) (H + damping) = I
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          let utu = 0;
          for (let m = 0; m < K; m++) utu += u[m * K + i] * u[m * K + k];
          s += utu * damped[k * K + j];
        }
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8, `(${i}, ${j}): ${s}`);
      }
    }
  });

  it('with uncorrelated inputs (a diagonal H) it rounds every weight to nearest, as quantizeInt8PerChannel does', () => {
    const rows = 5, K = 13;
    const random = seededRandom(5);
    const w = Float32Array.from({ length: rows * K }, () => random() * 2 - 1);
    // Row-major [rows, K]: the output channel is axis 0.
    const plain = quantizeInt8PerChannel(w, [rows, K], 0);
    const h = new Float64Array(K * K);
    for (let i = 0; i < K; i++) h[i * K + i] = 1 + random();
    const q = new Int8Array(rows * K);
    gptqRound(rows, K, h, plain.scales, (r, j) => w[r * K + j], (r, j, level) => { q[r * K + j] = level; });
    assert.deepEqual(q, plain.q);
  });

  it('with correlated inputs its levels leave less output error on those inputs than rounding to nearest', () => {
    const rows = 6, K = 24, n = 200;
    const random = seededRandom(9);
    const { x, h } = correlatedGram(n, K, random);
    const w = Float32Array.from({ length: rows * K }, () => random() * 2 - 1);
    const plain = quantizeInt8PerChannel(w, [rows, K], 0);
    const q = new Int8Array(rows * K);
    gptqRound(rows, K, h, plain.scales, (r, j) => w[r * K + j], (r, j, level) => { q[r * K + j] = level; });
    const outputError = (levels: Int8Array) => {
      let e = 0;
      for (let s = 0; s < n; s++) for (let r = 0; r < rows; r++) {
        let d = 0;
        for (let j = 0; j < K; j++) d += (w[r * K + j] - levels[r * K + j] * plain.scales[r]) * x[s * K + j];
        e += d * d;
      }
      return e;
    };
    for (const level of q) assert.ok(level >= -127 && level <= 127);
    const ratio = outputError(q) / outputError(plain.q);
    assert.ok(ratio < 0.5, `GPTQ / nearest output error: ${ratio}`);
  });
});

/** A small decoder with every weighted kind: dense (on a vector and over an image's channels), conv2dTranspose (stride 2, phases), conv2d (grouped, depthwise, plain), a nearest upsample. */
function everyWeightedKind(): Uint8Array {
  const g = new GraphBuilder({ latent: [6], seed: 11 });
  const fc = g.dense('fc', 'z', 4 * 4 * 8, 'relu');
  const grid = g.add('reshape', 'grid', [fc], { shape: [4, 4, 8] });
  const up = g.conv2dTranspose('up', grid, 8, 4, { activation: 'relu' });
  const near = g.add('resize', 'near', [up], { mode: 'nearest', coordinate: 'asymmetric', nearest: 'floor', size: [16, 16], scales: [2, 2] });
  const grouped = g.conv2d('grouped', near, 8, 3, { groups: 2, activation: 'relu' });
  const depthwise = g.conv2d('depthwise', grouped, 8, 3, { groups: 8, activation: 'relu' });
  const pixels = g.dense('pixels', depthwise, 6, 'relu');
  const rgb = g.conv2d('rgb', pixels, 3, 3, { activation: 'tanh' });
  return g.write(rgb, [-1, 1]);
}

/** RMS difference between two decodes of the same latents. */
function rms(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

describe('int8 calibration (calibrateInt8, quantizeCalibrated)', () => {
  it('rounds every weighted node with plain rounding\'s scales, and on unseen latents errs less than rounding to nearest', async () => {
    const f32 = everyWeightedKind();
    const model = readModel(f32);
    const kernels = await calibrateInt8(model, { samples: 64, seed: 3 });
    const weighted = model.graph.nodes.filter((n) => 'kernel' in n.layer).map((n) => n.name);
    assert.deepEqual([...kernels.keys()].sort(), [...weighted].sort());
    const nearest = readModel(convertDtype(model, 'i8'));
    for (const node of nearest.graph.nodes) {
      if (!('kernel' in node.layer)) continue;
      assert.deepEqual(kernels.get(node.name)!.scales, tensorData(nearest, node.layer.scale!), `${node.name}: scales`);
    }
    const calibrated = await quantizeCalibrated(model, { samples: 64, seed: 3 });
    const reference = await Decoder.load(f32);
    const latents = reference.sampleLatents(64, { seed: 1234 });
    const want = reference.decode(latents);
    const errorOf = async (bytes: Uint8Array) => rms((await Decoder.load(bytes)).decode(latents), want);
    const [gptq, plain] = [await errorOf(calibrated), await errorOf(convertDtype(model, 'i8'))];
    assert.ok(gptq < plain, `calibrated ${gptq} vs nearest ${plain}`);
  });

  it('is deterministic for a seed, and a conditional model calibrates on labels of every class', async () => {
    const g = new GraphBuilder({ latent: [5], classes: 4, seed: 2 });
    const joined = g.add('concatenate', 'joined', ['z', 'label'], {} as never);
    const fc = g.dense('fc', joined, 32, 'relu');
    const out = g.dense('out', fc, 12, 'sigmoid');
    const f32 = g.write(out);
    const a = await quantizeCalibrated(f32, { samples: 32, seed: 7 });
    const b = await quantizeCalibrated(f32, { samples: 32, seed: 7 });
    assert.deepEqual(a, b);
    assert.equal(readModel(a).header.meta.dtype, 'i8');
  });

  it('refuses an int8 model and a bad sample count, naming what is wrong', async () => {
    const f32 = everyWeightedKind();
    await assert.rejects(calibrateInt8(convertDtype(readModel(f32), 'i8')), /calibration needs the f32 or f16 model/);
    await assert.rejects(calibrateInt8(f32, { samples: 0 }), /calibration samples must be a positive integer/);
  });
});
