// The general convolution (assembly/kernels/conv.ts: dilation, groups, the depthwise kernel) against
// its scalar specification (src/layers/conv-reference.ts), on shapes at the kernels' edges: 1, 63, 64,
// 65 and 130 output pixels per sample (64-row tiles, tiles across samples at batch 3), channel counts
// on both sides of 4 and 8 (vector lanes, 8-column panels), groups 1, 2, 3, 4 and depthwise (C, with
// one and two outputs per channel), dilation 1-3, strides 1-3, transposed or not. The strict build
// must give the specification's bits; the relaxed build fuses the f32 multiply-adds. The f32 3x3 convs at
// stride 1 that run by Winograd tiles are held to the exact conv within a bound instead (last suite).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import '../src/runtime/embedded.ts';
import { instantiate, relaxedSimdSupported, type Kernels } from '../src/runtime/wasm.ts';
import { encodeF16 } from '../src/format/f16.ts';
import { convReference, type ConvActivation, type ConvShape, type ConvWeights } from '../src/layers/conv-reference.ts';
import { activate } from '../src/layers/activation.ts';
import { Arena } from './helpers/arena.ts';
import { randomValues, sameBits, seededRandom } from './helpers/numbers.ts';

const WEIGHT_CODES = { f32: 0, f16: 1, i8: 2 } as const;
const ACT_CODES: Record<ConvActivation | 'sigmoid' | 'tanh', number> = { linear: 0, relu: 1, leakyRelu: 2, sigmoid: 3, tanh: 4 };
type Dtype = keyof typeof WEIGHT_CODES;
const DTYPES: Dtype[] = ['f32', 'f16', 'i8'];
const NO_RELAXED = !relaxedSimdSupported() && 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)';

interface Case extends ConvShape {
  name: string;
}

/** Output pixels per sample at the 64-row tile's edges: 1, 63, 64, 65, 130. */
const PIXELS: [number, number][] = [[1, 1], [7, 9], [8, 8], [5, 13], [10, 13]];

/** [C, OC, groups]: plain, grouped, depthwise (multiplier 1 and 2). */
const CHANNELS: [number, number, number][] = [
  [1, 1, 1], [3, 7, 1], [4, 8, 1], [7, 9, 1], [8, 16, 1], [9, 3, 1], [16, 17, 1], [17, 4, 1],
  [4, 8, 2], [8, 4, 2], [16, 16, 2], [3, 9, 3], [9, 3, 3], [4, 4, 4], [8, 16, 4], [16, 8, 4],
  [3, 3, 3], [4, 4, 4], [7, 7, 7], [8, 8, 8], [9, 9, 9], [16, 16, 16], [17, 17, 17],
  [3, 6, 3], [4, 8, 4], [8, 16, 8], [17, 34, 17],
];

/** Kernels, strides, dilations, transposed or not, batch: cycled through against the channels and pixels. */
const GEOMETRIES = [
  { kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, transposed: false, batch: 1 },
  { kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 2, transposed: false, batch: 3 },
  { kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, transposed: false, batch: 3 },
  { kh: 3, kw: 2, sh: 3, sw: 1, dh: 3, dw: 2, transposed: false, batch: 1 },
  { kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, transposed: false, batch: 3 },
  { kh: 5, kw: 5, sh: 1, sw: 2, dh: 1, dw: 3, transposed: false, batch: 1 },
  { kh: 4, kw: 4, sh: 2, sw: 2, dh: 1, dw: 1, transposed: true, batch: 1 },
  { kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, transposed: true, batch: 3 },
  { kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 2, transposed: true, batch: 1 },
  { kh: 2, kw: 3, sh: 3, sw: 3, dh: 1, dw: 2, transposed: true, batch: 3 },
  { kh: 3, kw: 3, sh: 3, sw: 2, dh: 3, dw: 1, transposed: true, batch: 1 },
  { kh: 4, kw: 3, sh: 2, sw: 1, dh: 2, dw: 3, transposed: false, batch: 3 },
];

/** A case of this geometry: padding varied with `i`, the input sized to reach every output pixel. */
function caseOf(C: number, OC: number, groups: number, [OH, OW]: [number, number], geometry: (typeof GEOMETRIES)[number], i: number): Case {
  const { kh, kw, sh, sw, dh, dw, transposed, batch } = geometry;
  const span = (k: number, d: number) => d * (k - 1);
  const padTop = i % 3 === 0 ? 0 : Math.min(span(kh, dh), Math.floor(span(kh, dh) / 2) + (i % 2));
  const padLeft = i % 4 === 1 ? span(kw, dw) : Math.floor(span(kw, dw) / 2);
  const inputSize = (O: number, k: number, s: number, d: number, pad: number) =>
    transposed ? Math.max(1, Math.ceil((O + 2 * pad - span(k, d) - 1) / s) + 1) : Math.max(1, (O - 1) * s + 1 + span(k, d) - 2 * pad);
  const H = inputSize(OH, kh, sh, dh, padTop), W = inputSize(OW, kw, sw, dw, padLeft);
  const shape = { batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, dh, dw, groups, transposed };
  const name = `${transposed ? 'conv2dTranspose' : 'conv2d'} ${batch}x${H}x${W}x${C} -> ${OH}x${OW}x${OC}, groups ${groups}, kernel ${kh}x${kw}, strides ${sh},${sw}, dilation ${dh},${dw}, pad ${padTop},${padLeft}`;
  return { name, ...shape };
}

const CASES: Case[] = [];
CHANNELS.forEach(([C, OC, groups], ci) => PIXELS.forEach((pixels, pi) => {
  const i = ci * PIXELS.length + pi;
  CASES.push(caseOf(C, OC, groups, pixels, GEOMETRIES[i % GEOMETRIES.length], i));
}));

/** Random weights of the case's kernel in each dtype (int8 with a scale per output channel). */
function weightsOf(shape: ConvShape, dtype: Dtype, random: () => number): ConvWeights {
  const n = (shape.kh * shape.kw * shape.C * shape.OC) / shape.groups;
  if (dtype === 'f32') return { dtype, values: randomValues(n, random, 1) };
  if (dtype === 'f16') return { dtype, bits: encodeF16(randomValues(n, random, 1)) };
  return { dtype, values: Int8Array.from({ length: n }, () => Math.floor(random() * 255) - 127), scales: Float32Array.from({ length: shape.OC }, () => 0.001 + random() * 0.01) };
}

function storedKernel(weights: ConvWeights): Float32Array | Uint16Array | Int8Array {
  return weights.dtype === 'f16' ? weights.bits : weights.values;
}

interface Problem {
  x: Float32Array;
  weights: ConvWeights;
  bias: Float32Array;
}

/** Inputs about a third zeros (as after a ReLU; some -0): the GEMM's zero skipping must not change a bit. */
function problemOf(shape: ConvShape, dtype: Dtype, seed: number): Problem {
  const random = seededRandom(seed);
  const x = randomValues(shape.batch * shape.H * shape.W * shape.C, random, 2);
  for (let i = 0; i < x.length; i++) if (random() < 0.3) x[i] = random() < 0.1 ? -0 : 0;
  return { x, weights: weightsOf(shape, dtype, random), bias: randomValues(shape.OC, random, 1) };
}

/**
 * Which entry point runs, and how its operands are packed: convGeneral (packConvKernel) with the
 * kernel packed by its geometry (phases, the direct kernel) or, `gemm`, packed as a host that predates
 * that packs (ConvPacking.Gemm: the depthwise kernel or the im2col GEMM); convGroups (the grouped GEMM
 * whatever the groups: packConvKernelGroups); or today's `conv` with the packing the host does today
 * (packPanels*, padVector; one group, no dilation).
 */
type Entry = 'general' | 'gemm' | 'groups' | 'conv';
/** abi.ts ConvPacking. */
const CONV_PACKING = { gemm: 0, byGeometry: 1 } as const;

/** Runs one conv in a fresh arena; the input ends at the last byte of memory, the output starts as NaN. */
function runConv(kernels: Kernels, entry: Entry, shape: ConvShape, problem: Problem, act: keyof typeof ACT_CODES = 'linear', alpha = 0.3): Float32Array {
  const { batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, dh, dw, groups, transposed } = shape;
  const packing = entry === 'general' ? CONV_PACKING.byGeometry : CONV_PACKING.gemm;
  const code = WEIGHT_CODES[problem.weights.dtype];
  const arena = new Arena(kernels.memory, kernels.heapBase());
  const src = arena.put(storedKernel(problem.weights));
  let w: number, bias: number, scale = 0, scratchBytes: number;
  const vector = (values: Float32Array) => {
    if (entry === 'conv') {
      const at = arena.alloc(Math.ceil(OC / 8) * 32);
      kernels.padVector(arena.put(values), at, OC);
      return at;
    }
    const at = arena.alloc(kernels.convVectorBytes(OC, groups));
    kernels.packConvVector(arena.put(values), at, OC, groups);
    return at;
  };
  if (entry === 'conv') {
    assert.ok(groups === 1 && dh === 1 && dw === 1, 'conv takes no groups or dilation');
    const K = kh * kw * C;
    w = arena.alloc(Math.ceil(OC / 8) * 8 * (code === 2 ? Math.ceil(K / 4) * 4 : K) * 4);
    const pack = [kernels.packPanelsF32, kernels.packPanelsF16, kernels.packPairsI8Panels][code];
    pack(src, w, K, OC, transposed ? C : 0);
    scratchBytes = kernels.convScratchBytes(code, H, W, C, OH, OW, kh, kw);
  } else if (entry === 'general' || entry === 'gemm') {
    const T = transposed ? 1 : 0;
    w = arena.alloc(kernels.convKernelBytes(code, kh, kw, C, OC, groups, T, sh, sw, dh, dw, packing));
    assert.equal(kernels.packConvKernel(code, src, w, kh, kw, C, OC, groups, T, sh, sw, dh, dw, packing), 1);
    scratchBytes = kernels.convGeneralScratchBytes(code, H, W, C, OH, OW, OC, kh, kw, groups, T, sh, sw, dh, dw, padTop, padLeft, packing);
  } else {
    w = arena.alloc(kernels.convGroupsKernelBytes(code, kh, kw, C, OC, groups));
    assert.equal(kernels.packConvKernelGroups(code, src, w, kh, kw, C, OC, groups, transposed ? 1 : 0), 1);
    scratchBytes = kernels.convGroupsScratchBytes(code, H, W, C, OH, OW, kh, kw, groups);
  }
  bias = vector(problem.bias);
  if (problem.weights.dtype === 'i8') scale = vector(problem.weights.scales);
  const scratch = arena.alloc(scratchBytes);
  const outputs = batch * OH * OW * OC;
  const y = arena.alloc(outputs * 4);
  new Float32Array(kernels.memory.buffer, y, outputs).fill(NaN);
  // The input last, ending where memory ends: a read past it would trap.
  const xBytes = problem.x.byteLength;
  arena.alloc(xBytes + 16);
  const x = kernels.memory.buffer.byteLength - xBytes;
  new Float32Array(kernels.memory.buffer, x, problem.x.length).set(problem.x);
  const T = transposed ? 1 : 0;
  const ok = entry === 'conv'
    ? kernels.conv(code, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, T, w, bias, scale, scratch, ACT_CODES[act], alpha)
    : entry === 'general' || entry === 'gemm'
      ? kernels.convGeneral(code, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, T, dh, dw, groups, w, bias, scale, scratch, ACT_CODES[act], alpha, packing)
      : kernels.convGroups(code, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, T, dh, dw, groups, w, bias, scale, scratch, ACT_CODES[act], alpha);
  assert.equal(ok, 1);
  return arena.f32(y, outputs);
}

/** The first index where two outputs' bits differ, for the message. */
function firstDifference(got: Float32Array, want: Float32Array): string {
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) return `output ${i}: ${got[i]} vs ${want[i]}`;
  return 'none';
}

describe('convGeneral against the scalar specification (conv-reference.ts)', () => {
  for (const dtype of DTYPES) {
    it(`${dtype} weights, strict build: the specification's bits on ${CASES.length} shapes`, async () => {
      const kernels = await instantiate(undefined, 'strict');
      CASES.forEach((shape, i) => {
        const problem = problemOf(shape, dtype, i + 1);
        const got = runConv(kernels, 'general', shape, problem);
        const want = convReference(shape, problem.x, problem.weights, problem.bias);
        assert.ok(sameBits(got, want), `${shape.name}: ${firstDifference(got, want)}`);
      });
    });
  }

  it('fused ReLU and leaky ReLU, every dtype: the specification\'s bits', async () => {
    const kernels = await instantiate(undefined, 'strict');
    for (const dtype of DTYPES) {
      CASES.filter((_, i) => i % 4 === 0).forEach((shape, i) => {
        const act: ConvActivation = i % 2 ? 'relu' : 'leakyRelu';
        const problem = problemOf(shape, dtype, 1000 + i);
        const got = runConv(kernels, 'general', shape, problem, act);
        const want = convReference(shape, problem.x, problem.weights, problem.bias, act, 0.3);
        assert.ok(sameBits(got, want), `${dtype} ${act} ${shape.name}: ${firstDifference(got, want)}`);
      });
    }
  });

  it('int8 rows past one 2048-k block (K = 3*3*256 = 2304, and 1152 per group): block sums added in f32, as specified', async () => {
    const kernels = await instantiate(undefined, 'strict');
    for (const groups of [1, 2]) {
      const shape = caseOf(256, groups === 2 ? 10 : 9, groups, [5, 13], GEOMETRIES[1], 1);
      const problem = problemOf(shape, 'i8', 77);
      const got = runConv(kernels, 'general', shape, problem);
      const want = convReference(shape, problem.x, problem.weights, problem.bias);
      assert.ok(sameBits(got, want), `${shape.name}: ${firstDifference(got, want)}`);
    }
  });

  it('relaxed build: f32 and f16 within 1e-5 of the specification (fused multiply-adds), int8 bit for bit', { skip: NO_RELAXED }, async () => {
    const kernels = await instantiate(undefined, 'relaxed');
    for (const dtype of DTYPES) {
      CASES.forEach((shape, i) => {
        const problem = problemOf(shape, dtype, i + 1);
        const got = runConv(kernels, 'general', shape, problem);
        const want = convReference(shape, problem.x, problem.weights, problem.bias);
        if (dtype === 'i8') {
          assert.ok(sameBits(got, want), `${dtype} ${shape.name}: ${firstDifference(got, want)}`);
          return;
        }
        for (let j = 0; j < got.length; j++) {
          assert.ok(Math.abs(got[j] - want[j]) <= 1e-5 * (1 + Math.abs(want[j])), `${dtype} ${shape.name}: output ${j}: ${got[j]} vs ${want[j]}`);
        }
      });
    }
  });

  it('a record packed for the GEMM (ConvPacking.Gemm, as a host that predates the word packs) runs the im2col path: convGroups\'s bits', async () => {
    const kernels = await instantiate(undefined, 'strict');
    for (const dtype of DTYPES) {
      CASES.forEach((shape, i) => {
        const problem = problemOf(shape, dtype, 700 + i);
        const gemm = runConv(kernels, 'gemm', shape, problem);
        const groups = runConv(kernels, shape.groups === shape.C && shape.OC === shape.C && shape.groups > 1 ? 'general' : 'groups', shape, problem);
        assert.ok(sameBits(gemm, groups), `${dtype} ${shape.name}: ${firstDifference(gemm, groups)}`);
        if (shape.groups === 1 && !(shape.groups === shape.C && shape.OC === shape.C)) {
          const { kh, kw, C, OC, sh, sw, dh, dw, transposed } = shape;
          assert.equal(kernels.convKernelBytes(WEIGHT_CODES[dtype], kh, kw, C, OC, 1, transposed ? 1 : 0, sh, sw, dh, dw, 0), kernels.convGroupsKernelBytes(WEIGHT_CODES[dtype], kh, kw, C, OC, 1));
        }
      });
    }
  });

  it('refuses groups that do not divide the channels, and unknown weight types', async () => {
    const kernels = await instantiate();
    const arena = new Arena(kernels.memory, kernels.heapBase());
    const buffer = arena.alloc(4096);
    // C 6, OC 4, groups 3: OC is not a multiple of 3.
    assert.equal(kernels.convGeneral(0, buffer, buffer, 1, 2, 2, 6, 2, 2, 4, 1, 1, 1, 1, 0, 0, 0, 1, 1, 3, buffer, buffer, 0, buffer, 0, 0, 1), 0);
    assert.equal(kernels.convGeneral(0, buffer, buffer, 1, 2, 2, 6, 2, 2, 6, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, buffer, buffer, 0, buffer, 0, 0, 1), 0);
    assert.equal(kernels.convGeneral(3, buffer, buffer, 1, 2, 2, 6, 2, 2, 6, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, buffer, buffer, 0, buffer, 0, 0, 1), 0);
    assert.equal(kernels.packConvKernel(0, buffer, buffer, 1, 1, 6, 4, 3, 0, 1, 1, 1, 1, 1), 0);
    assert.equal(kernels.convGeneralScratchBytes(0, 2, 2, 6, 2, 2, 4, 1, 1, 3, 0, 1, 1, 1, 1, 0, 0, 1), 0);
  });
});

describe('the depthwise kernel (groups = C = OC)', () => {
  const depthwise = CASES.filter((c) => c.groups === c.C && c.OC === c.C && c.groups > 1);
  for (const build of ['strict', 'relaxed'] as const) {
    it(`${build} build: the grouped GEMM's bits (convGroups), every dtype, ${depthwise.length} shapes`, { skip: build === 'relaxed' && NO_RELAXED }, async () => {
      const kernels = await instantiate(undefined, build);
      for (const dtype of DTYPES) {
        depthwise.forEach((shape, i) => {
          const problem = problemOf(shape, dtype, 500 + i);
          const direct = runConv(kernels, 'general', shape, problem);
          const gemm = runConv(kernels, 'groups', shape, problem);
          assert.ok(sameBits(direct, gemm), `${dtype} ${shape.name}: ${firstDifference(direct, gemm)}`);
        });
      }
    });
  }

  it('packs [kh, kw, 1, C] into fewer bytes than the grouped GEMM\'s panels (one column of 8 per channel)', async () => {
    const kernels = await instantiate();
    // 3x3, 32 channels: 9 x 32 floats against 32 panels of 9 x 8.
    assert.equal(kernels.convKernelBytes(0, 3, 3, 32, 32, 32, 0, 1, 1, 1, 1, 1), 9 * 32 * 4);
    assert.equal(kernels.convGroupsKernelBytes(0, 3, 3, 32, 32, 32), 32 * 9 * 8 * 4);
    assert.equal(kernels.convKernelBytes(1, 3, 3, 17, 17, 17, 0, 1, 1, 1, 1, 1), 9 * 24 * 4, 'f16 widened to f32, channels padded to 8');
    assert.equal(kernels.convKernelBytes(2, 3, 3, 17, 17, 17, 0, 1, 1, 1, 1, 1), Math.ceil((9 * 24) / 16) * 16, 'int8 stays int8');
    // Two outputs per channel go through the grouped GEMM.
    assert.equal(kernels.convKernelBytes(0, 3, 3, 16, 32, 16, 0, 1, 1, 1, 1, 1), kernels.convGroupsKernelBytes(0, 3, 3, 16, 32, 16));
  });
});

describe('one group, no dilation: today\'s conv', () => {
  const plain = CASES.filter((c) => c.groups === 1 && c.dh === 1 && c.dw === 1);
  /**
   * SHA-256 (first 16 hex digits) of the outputs of `conv` over the plain cases, each dtype, strict
   * build, computed with the module built from 71a880d (before dilation and groups).
   */
  const BEFORE: Record<Dtype, string> = { f32: '097aabec77b7d497', f16: '403b1e0283bf42e2', i8: 'c1f9808cd2a37b53' };

  it('packConvKernel and packConvVector with one group write the bytes packPanels*/packPairsI8Panels and padVector write (layers on the GEMM)', async () => {
    const kernels = await instantiate();
    for (const dtype of DTYPES) {
      // Strided transposed convs pack by phases, conv2d layers of few channels at stride 1 for the direct kernel (tested below).
      const onGemm = plain.filter((c) => !kernels.usesPhases(WEIGHT_CODES[dtype], c.C, c.kh, c.kw, c.sh, c.sw, 1, 1, 1, c.transposed ? 1 : 0)
        && !kernels.usesDirectConv(WEIGHT_CODES[dtype], c.C, c.OC, c.kh, c.kw, c.sh, c.sw, 1, c.transposed ? 1 : 0));
      assert.ok(onGemm.length >= 2, `${dtype}: ${onGemm.length} shapes on the GEMM`);
      for (const shape of onGemm) {
        const { kh, kw, C, OC, sh, sw, transposed } = shape;
        const T = transposed ? 1 : 0;
        const problem = problemOf(shape, dtype, 3);
        const code = WEIGHT_CODES[dtype];
        const arena = new Arena(kernels.memory, kernels.heapBase());
        const src = arena.put(storedKernel(problem.weights));
        const K = kh * kw * C;
        const bytes = Math.ceil(OC / 8) * 8 * (code === 2 ? Math.ceil(K / 4) * 4 : K) * [4, 2, 1][code];
        assert.equal(kernels.convKernelBytes(code, kh, kw, C, OC, 1, T, sh, sw, 1, 1, 1), bytes);
        const today = arena.alloc(bytes), ours = arena.alloc(bytes);
        [kernels.packPanelsF32, kernels.packPanelsF16, kernels.packPairsI8Panels][code](src, today, K, OC, transposed ? C : 0);
        kernels.packConvKernel(code, src, ours, kh, kw, C, OC, 1, T, sh, sw, 1, 1, 1);
        const view = (at: number) => new Uint8Array(kernels.memory.buffer, at, bytes).slice();
        assert.deepEqual(view(ours), view(today), `${dtype} ${shape.name}`);
      }
    }
    const kernelsVector = await instantiate();
    const arena = new Arena(kernelsVector.memory, kernelsVector.heapBase());
    const values = randomValues(13, seededRandom(1), 1);
    assert.equal(kernelsVector.convVectorBytes(13, 1), 16 * 4);
    const a = arena.alloc(64), b = arena.alloc(64);
    kernelsVector.padVector(arena.put(values), a, 13);
    kernelsVector.packConvVector(arena.put(values), b, 13, 1);
    assert.deepEqual(arena.f32(b, 16), arena.f32(a, 16));
  });

  for (const build of ['strict', 'relaxed'] as const) {
    it(`${build} build: convGeneral(dilation 1, groups 1) gives conv's bits on ${plain.length} shapes, every dtype${build === 'strict' ? ', and the outputs conv gave before dilation and groups' : ''}`, { skip: build === 'relaxed' && NO_RELAXED }, async () => {
      const kernels = await instantiate(undefined, build);
      for (const dtype of DTYPES) {
        const digest = createHash('sha256');
        plain.forEach((shape, i) => {
          const problem = problemOf(shape, dtype, 200 + i);
          const today = runConv(kernels, 'conv', shape, problem);
          const general = runConv(kernels, 'general', shape, problem);
          assert.ok(sameBits(general, today), `${dtype} ${shape.name}: ${firstDifference(general, today)}`);
          digest.update(new Uint8Array(today.buffer));
        });
        if (build === 'strict') assert.equal(digest.digest('hex').slice(0, 16), BEFORE[dtype], `${dtype}: conv's outputs changed`);
      }
    });
  }
});

describe('PyTorch\'s padding conventions need no kernel change', () => {
  /**
   * PyTorch's ConvTranspose2d written from its documentation, in f64: input pixel i of channel c adds
   * x * weight[c, o, k] (ONNX/PyTorch layout [C, OC/G, kh, kw]) to output o' = i*s - p + k*d of channel
   * g*OC/G + o, g = c / (C/G); OH = (H - 1)*s - 2p + d*(k - 1) + output_padding + 1.
   */
  function torchConvTranspose(x: Float32Array, [batch, H, W, C]: number[], weight: Float32Array, OC: number, k: number, s: number, p: number, op: number, d: number, groups: number) {
    const OH = (H - 1) * s - 2 * p + d * (k - 1) + op + 1, OW = (W - 1) * s - 2 * p + d * (k - 1) + op + 1;
    const Cg = C / groups, OCg = OC / groups;
    const y = new Float64Array(batch * OH * OW * OC);
    for (let b = 0; b < batch; b++) for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      for (let o = 0; o < OCg; o++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const oy = iy * s - p + ky * d, ox = ix * s - p + kx * d;
        if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
        y[((b * OH + oy) * OW + ox) * OC + g * OCg + o] += x[((b * H + iy) * W + ix) * C + c] * weight[((c * OCg + o) * k + ky) * k + kx];
      }
    }
    return { y, OH, OW };
  }

  const TORCH_CASES = [
    { name: 'ConvTranspose2d(k=3, s=2, p=1, output_padding=1): OH = 2H', k: 3, s: 2, p: 1, op: 1, d: 1, groups: 1, C: 5, OC: 6 },
    { name: 'ConvTranspose2d(k=4, s=2, p=1)', k: 4, s: 2, p: 1, op: 0, d: 1, groups: 1, C: 3, OC: 8 },
    { name: 'ConvTranspose2d(k=3, s=3, p=2, output_padding=2, dilation=2, groups=2)', k: 3, s: 3, p: 2, op: 2, d: 2, groups: 2, C: 4, OC: 6 },
    { name: 'ConvTranspose2d(k=3, s=2, p=1, output_padding=1, groups=8): depthwise', k: 3, s: 2, p: 1, op: 1, d: 1, groups: 8, C: 8, OC: 8 },
  ];
  for (const t of TORCH_CASES) {
    it(`${t.name}: padTop = p, OH from the formula`, async () => {
      const kernels = await instantiate(undefined, 'strict');
      const random = seededRandom(t.k * 100 + t.groups);
      const [batch, H, W] = [2, 5, 4];
      const x = randomValues(batch * H * W * t.C, random, 2);
      const OCg = t.OC / t.groups;
      const torchWeight = randomValues(t.C * OCg * t.k * t.k, random, 1); // [C, OC/G, k, k]
      // To [kh, kw, OC/G, C].
      const ours = new Float32Array(torchWeight.length);
      for (let c = 0; c < t.C; c++) for (let o = 0; o < OCg; o++) for (let ky = 0; ky < t.k; ky++) for (let kx = 0; kx < t.k; kx++) {
        ours[((ky * t.k + kx) * OCg + o) * t.C + c] = torchWeight[((c * OCg + o) * t.k + ky) * t.k + kx];
      }
      const bias = new Float32Array(t.OC);
      const { y: want, OH, OW } = torchConvTranspose(x, [batch, H, W, t.C], torchWeight, t.OC, t.k, t.s, t.p, t.op, t.d, t.groups);
      if (t.op === 1 && t.s === 2 && t.k === 3 && t.p === 1) assert.deepEqual([OH, OW], [2 * H, 2 * W]);
      const shape: ConvShape = { batch, H, W, C: t.C, OH, OW, OC: t.OC, kh: t.k, kw: t.k, sh: t.s, sw: t.s, padTop: t.p, padLeft: t.p, dh: t.d, dw: t.d, groups: t.groups, transposed: true };
      const got = runConv(kernels, 'general', shape, { x, weights: { dtype: 'f32', values: ours }, bias });
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `output ${i}: ${got[i]} vs ${want[i]}`);
      // And the specification agrees with PyTorch's definition.
      const spec = convReference(shape, x, { dtype: 'f32', values: ours }, bias);
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(spec[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `specification, output ${i}`);
    });
  }

  it('Conv2d(k=3, groups=2, dilation=2) with padding only after (padTop 0, OH reaching past the input): PyTorch\'s F.pad then conv', async () => {
    const kernels = await instantiate(undefined, 'strict');
    const random = seededRandom(9);
    const [batch, H, W, C, OC, k, d, groups] = [3, 6, 7, 4, 6, 3, 2, 2];
    // F.pad(x, (left 0, right 3, top 0, bottom 2)), then a valid conv: OH = H + 2 - d*(k-1).
    const [padBottom, padRight] = [2, 3];
    const OH = H + padBottom - d * (k - 1), OW = W + padRight - d * (k - 1);
    const x = randomValues(batch * H * W * C, random, 2);
    const Cg = C / groups, OCg = OC / groups;
    const torchWeight = randomValues(OC * Cg * k * k, random, 1); // [OC, C/G, k, k]
    const ours = new Float32Array(torchWeight.length); // [kh, kw, C/G, OC]
    for (let oc = 0; oc < OC; oc++) for (let ci = 0; ci < Cg; ci++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
      ours[((ky * k + kx) * Cg + ci) * OC + oc] = torchWeight[((oc * Cg + ci) * k + ky) * k + kx];
    }
    const want = new Float64Array(batch * OH * OW * OC);
    for (let b = 0; b < batch; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let oc = 0; oc < OC; oc++) {
      const g = Math.floor(oc / OCg);
      let sum = 0;
      for (let ci = 0; ci < Cg; ci++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const iy = oy + ky * d, ix = ox + kx * d;
        if (iy < H && ix < W) sum += x[((b * H + iy) * W + ix) * C + g * Cg + ci] * torchWeight[((oc * Cg + ci) * k + ky) * k + kx];
      }
      want[((b * OH + oy) * OW + ox) * OC + oc] = sum;
    }
    const shape: ConvShape = { batch, H, W, C, OH, OW, OC, kh: k, kw: k, sh: 1, sw: 1, padTop: 0, padLeft: 0, dh: d, dw: d, groups, transposed: false };
    const got = runConv(kernels, 'general', shape, { x, weights: { dtype: 'f32', values: ours }, bias: new Float32Array(OC) });
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `output ${i}: ${got[i]} vs ${want[i]}`);
  });
});

describe('transposed convs by phases (conv-phases.ts)', () => {
  /**
   * A transposed conv in PyTorch's terms: pads [top, left, bottom, right], output padding [h, w];
   * OH = (H - 1)*sh - top - bottom + kh + oph (dilation 1).
   */
  function phaseCase(C: number, OC: number, [kh, kw]: number[], [sh, sw]: number[], [top, left, bottom, right]: number[], [oph, opw]: number[], [H, W]: number[], batch: number): Case {
    const OH = (H - 1) * sh - top - bottom + kh + oph, OW = (W - 1) * sw - left - right + kw + opw;
    const shape = { batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop: top, padLeft: left, dh: 1, dw: 1, groups: 1, transposed: true };
    return { name: `conv2dTranspose ${batch}x${H}x${W}x${C} -> ${OH}x${OW}x${OC}, kernel ${kh}x${kw}, strides ${sh},${sw}, pads ${top},${left},${bottom},${right}, output padding ${oph},${opw}`, ...shape };
  }
  // Phase pixels per sample at the 64-row tile's edges (a 4x4 stride-2 kernel with padding 1 gives
  // each of its four phases H x W pixels): 1, 63, 64, 65, 130; then DCGAN's and PyTorch-VAE's
  // layers, asymmetric pads, unequal strides, phases with unequal tap counts (5x5 at stride 3), one
  // tap per phase (2x2 at stride 2), and one input or output channel (the README's decoder).
  const PHASE_CASES: Case[] = [
    ...[[1, 1], [7, 9], [8, 8], [5, 13], [10, 13]].map(([H, W], i) => phaseCase([3, 8, 9, 16, 1][i], [7, 8, 16, 3, 4][i], [4, 4], [2, 2], [1, 1, 1, 1], [0, 0], [H, W], i % 2 ? 3 : 1)),
    phaseCase(8, 16, [4, 4], [2, 2], [1, 1, 1, 1], [0, 0], [4, 4], 3),
    phaseCase(5, 3, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], [5, 7], 1),
    phaseCase(3, 9, [4, 4], [2, 2], [0, 2, 3, 1], [0, 0], [6, 5], 2),
    phaseCase(4, 5, [4, 5], [2, 3], [1, 2, 0, 1], [1, 2], [5, 4], 3),
    phaseCase(6, 10, [5, 5], [3, 3], [2, 2, 2, 2], [1, 0], [4, 5], 1),
    phaseCase(9, 8, [2, 2], [2, 2], [0, 0, 0, 0], [1, 1], [6, 6], 2),
    phaseCase(1, 16, [4, 4], [2, 2], [1, 1, 1, 1], [0, 0], [7, 7], 3),
    phaseCase(16, 1, [4, 4], [2, 2], [1, 1, 1, 1], [0, 0], [14, 14], 2),
    phaseCase(7, 2, [3, 3], [3, 1], [0, 1, 0, 1], [2, 0], [4, 6], 1),
    // One output channel: phase rows past 16 pixels and an odd count of them (narrowPhase1's steps).
    phaseCase(3, 1, [4, 4], [2, 2], [1, 1, 1, 1], [0, 0], [9, 19], 2),
    phaseCase(2, 1, [5, 3], [3, 2], [2, 0, 1, 1], [1, 1], [5, 11], 1),
    // Output padding past the kernel's reach: the last row and column read nothing (bias alone).
    phaseCase(3, 2, [2, 2], [2, 2], [0, 0, 0, 0], [1, 1], [5, 6], 2),
    phaseCase(2, 1, [2, 3], [2, 3], [0, 0, 0, 0], [1, 2], [3, 18], 1),
    // Inputs taller than a band of 16 rows (conv-direct.ts: several bands, their edges mid-phase).
    phaseCase(3, 1, [4, 4], [2, 2], [1, 1, 1, 1], [0, 0], [19, 5], 1),
    phaseCase(2, 3, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], [21, 6], 2),
    phaseCase(4, 6, [5, 5], [3, 3], [2, 2, 2, 2], [2, 0], [17, 3], 1),
  ];

  for (const build of ['strict', 'relaxed'] as const) {
    it(`${build} build: the im2col path's bits (convGroups), every dtype, ${PHASE_CASES.length} shapes${build === 'strict' ? ', and the specification\'s' : ''}`, { skip: build === 'relaxed' && NO_RELAXED }, async () => {
      const kernels = await instantiate(undefined, build);
      for (const dtype of DTYPES) {
        PHASE_CASES.forEach((shape, i) => {
          const problem = problemOf(shape, dtype, 300 + i);
          const act: ConvActivation = (['linear', 'relu', 'leakyRelu'] as const)[i % 3];
          const phases = runConv(kernels, 'general', shape, problem, act);
          const im2col = runConv(kernels, 'groups', shape, problem, act);
          assert.ok(sameBits(phases, im2col), `${dtype} ${act} ${shape.name}: ${firstDifference(phases, im2col)}`);
          if (build === 'strict') {
            const want = convReference(shape, problem.x, problem.weights, problem.bias, act, 0.3);
            assert.ok(sameBits(phases, want), `${dtype} ${act} ${shape.name}: ${firstDifference(phases, want)}`);
          }
        });
      }
    });
  }

  it('sigmoid and tanh (applied after the products): the im2col path\'s bits, every dtype', async () => {
    const kernels = await instantiate(undefined, 'strict');
    for (const dtype of DTYPES) {
      PHASE_CASES.forEach((shape, i) => {
        const act = i % 2 ? 'sigmoid' : 'tanh';
        const problem = problemOf(shape, dtype, 400 + i);
        const phases = runConv(kernels, 'general', shape, problem, act);
        const im2col = runConv(kernels, 'groups', shape, problem, act);
        assert.ok(sameBits(phases, im2col), `${dtype} ${act} ${shape.name}: ${firstDifference(phases, im2col)}`);
      });
    }
  });

  it('runs by phases exactly where it applies, with one sub-kernel per phase', async () => {
    const kernels = await instantiate();
    const phases = (code: number, C: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, groups: number, transposed: number) =>
      kernels.usesPhases(code, C, kh, kw, sh, sw, dh, dw, groups, transposed) === 1;
    for (const code of [0, 1, 2]) {
      assert.ok(phases(code, 5, 3, 3, 2, 2, 1, 1, 1, 1));
      assert.ok(phases(code, 5, 4, 3, 2, 3, 1, 1, 1, 1), 'unequal strides');
      assert.ok(phases(code, 5, 3, 3, 2, 1, 1, 1, 1, 1), 'stride 1 along one axis');
      assert.ok(!phases(code, 5, 3, 3, 2, 2, 1, 1, 1, 0), 'a conv2d');
      assert.ok(!phases(code, 5, 3, 3, 1, 1, 1, 1, 1, 1), 'stride 1');
      assert.ok(!phases(code, 5, 3, 3, 2, 2, 2, 1, 1, 1), 'dilation');
      assert.ok(!phases(code, 6, 3, 3, 2, 2, 1, 1, 2, 1), 'groups');
      assert.ok(!phases(code, 5, 2, 3, 3, 3, 1, 1, 1, 1), 'a kernel smaller than the stride');
    }
    // 3x3 stride 2, 33 -> 9 channels: phases of 2x2, 2x1, 1x2 and 1x1 taps, 9 in all, in panels of 8
    // columns; 129 -> 65 int8 (on the GEMM past 8192 channel pairs): each phase's K a multiple of 4.
    assert.equal(kernels.convKernelBytes(0, 3, 3, 33, 9, 1, 1, 2, 2, 1, 1, 1), 9 * 33 * 16 * 4);
    assert.equal(kernels.convKernelBytes(1, 3, 3, 33, 9, 1, 1, 2, 2, 1, 1, 1), 9 * 33 * 16 * 2);
    assert.equal(kernels.convKernelBytes(2, 3, 3, 129, 65, 1, 1, 2, 2, 1, 1, 1), (516 + 260 + 260 + 132) * 72);
    // Few channels (conv-direct.ts): f32 per tap [c][OC rounded up to 4], f16 widened; int8 per tap [c pair][OC rounded up to 4] i16 pairs.
    assert.equal(kernels.convKernelBytes(0, 3, 3, 5, 3, 1, 1, 2, 2, 1, 1, 1), 9 * 5 * 4 * 4);
    assert.equal(kernels.convKernelBytes(1, 3, 3, 5, 9, 1, 1, 2, 2, 1, 1, 1), 9 * 5 * 12 * 4);
    assert.equal(kernels.convKernelBytes(2, 3, 3, 5, 3, 1, 1, 2, 2, 1, 1, 1), 9 * 3 * 4 * 4);
  });

  describe('int8 past one 2048-k block: each phase\'s sums split where the whole kernel\'s do', () => {
    // 4x4 stride 2 over 512 channels (DCGAN's second layer): every 2048-k block of the whole kernel
    // is one ky row, two of whose taps a phase reads, so phases run blocks of 1024 k; over 256
    // channels, 512; over 200 channels, unequal phases (648 and 152 k, 400 and 400, ...), a block
    // ending inside a tap; over 300 channels one phase meets three blocks unevenly (300, 496, 404 k),
    // so the layer stays on im2col. 512 -> 17 channels run the GEMM (over 8192 channel pairs), the
    // others the direct kernel (conv-direct.ts).
    const CASES_I8: [number, number, boolean][] = [[512, 17, true], [512, 9, true], [256, 9, true], [200, 9, true], [300, 9, false], [512, 3, true], [200, 2, true], [256, 33, true]];
    for (const build of ['strict', 'relaxed'] as const) {
      for (const [C, OC, phases] of CASES_I8) {
        // 7x7 inputs with padding 2 at batch 2: 72 rows a phase, whose first block of four reads no
        // padding, so the GEMM's tiles take the relaxed int8 path (from 32 rows, where no block of the
        // tile's first is sparse) where the engine has it (Deno; not Node 20, whose V8 fails the self-test).
        it(`${build} build, ${C} -> ${OC} channels: ${phases ? 'by phases' : 'the im2col path'}, the specification's bits`, { skip: build === 'relaxed' && NO_RELAXED }, async () => {
          const kernels = await instantiate(undefined, build);
          const shape = phaseCase(C, OC, [4, 4], [2, 2], [2, 2, 2, 2], [0, 0], [7, 7], 2);
          assert.equal(kernels.usesPhases(2, C, 4, 4, 2, 2, 1, 1, 1, 1) === 1, phases);
          const problem = problemOf(shape, 'i8', C + OC);
          const got = runConv(kernels, 'general', shape, problem);
          const want = convReference(shape, problem.x, problem.weights, problem.bias);
          assert.ok(sameBits(got, want), `${shape.name}: ${firstDifference(got, want)}`);
        });
      }
    }
  });
});

describe('conv2d at stride 1 with few channels: the direct kernel (conv-direct.ts)', () => {
  /** A conv2d with pads [top, left, bottom, right]: OH = H + top + bottom - dh*(kh - 1). */
  function directCase(C: number, OC: number, [kh, kw]: number[], [dh, dw]: number[], [top, left, bottom, right]: number[], [H, W]: number[], batch: number): Case {
    const OH = H + top + bottom - dh * (kh - 1), OW = W + left + right - dw * (kw - 1);
    const shape = { batch, H, W, C, OH, OW, OC, kh, kw, sh: 1, sw: 1, padTop: top, padLeft: left, dh, dw, groups: 1, transposed: false };
    return { name: `conv2d ${batch}x${H}x${W}x${C} -> ${OH}x${OW}x${OC}, kernel ${kh}x${kw}, dilation ${dh},${dw}, pads ${top},${left},${bottom},${right}`, ...shape };
  }
  // Output rows of 1, 3, 4, 5, 15, 16, 17 and 33 pixels (blocks of four, steps of 16), odd row counts,
  // 1-5 output channels (a partial group of four), 1-4 input channels with up to 9 outputs (two
  // groups), dilation, padding on one side only, and int8 past one 2048-k block (256 channels).
  const DIRECT_CASES: Case[] = [
    directCase(16, 3, [3, 3], [1, 1], [1, 1, 1, 1], [5, 17], 2),
    directCase(16, 1, [3, 3], [1, 1], [1, 1, 1, 1], [7, 33], 1),
    directCase(6, 1, [3, 3], [1, 1], [1, 1, 1, 1], [3, 15], 3),
    directCase(5, 2, [5, 3], [1, 2], [2, 0, 2, 3], [6, 4], 2),
    directCase(9, 4, [3, 3], [2, 2], [2, 2, 2, 2], [5, 16], 1),
    directCase(3, 9, [3, 3], [1, 1], [1, 1, 1, 1], [4, 5], 2),
    directCase(4, 5, [1, 1], [1, 1], [0, 0, 0, 0], [3, 3], 3),
    directCase(1, 16, [3, 2], [1, 1], [0, 1, 2, 0], [1, 1], 2),
    directCase(2, 3, [4, 4], [1, 1], [0, 0, 0, 0], [4, 7], 1),
    directCase(256, 3, [3, 3], [1, 1], [1, 1, 1, 1], [3, 5], 2),
    directCase(255, 2, [2, 2], [1, 1], [1, 0, 0, 1], [3, 4], 2),
    // Padding wider than the kernel's reach: the border rows and columns read nothing (bias alone).
    directCase(3, 2, [3, 3], [1, 1], [5, 6, 4, 7], [3, 4], 2),
    directCase(2, 1, [2, 3], [2, 1], [4, 0, 1, 5], [2, 3], 1),
    directCase(1, 5, [1, 1], [1, 1], [2, 3, 1, 0], [2, 2], 1),
    // Inputs taller than a band of 16 rows, with dilation and with int8 past one block.
    directCase(3, 2, [3, 3], [1, 1], [1, 1, 1, 1], [35, 9], 1),
    directCase(16, 1, [5, 5], [2, 1], [4, 2, 4, 2], [18, 17], 2),
    directCase(256, 3, [3, 3], [1, 1], [1, 1, 1, 1], [20, 3], 1),
    directCase(2, 4, [3, 3], [1, 1], [20, 1, 0, 1], [17, 2], 1),
  ];

  it('runs exactly the conv2d layers at stride 1, one group, with few channels', async () => {
    const kernels = await instantiate();
    const direct = (code: number, C: number, OC: number, kh: number, kw: number, sh: number, sw: number, groups: number, transposed: number) =>
      kernels.usesDirectConv(code, C, OC, kh, kw, sh, sw, groups, transposed) === 1;
    for (const code of [0, 1, 2]) {
      assert.ok(direct(code, 64, 3, 3, 3, 1, 1, 1, 0));
      assert.ok(direct(code, 4, 64, 3, 3, 1, 1, 1, 0));
      assert.ok(direct(code, 16, 16, 3, 3, 1, 1, 1, 0), 'C x OC <= 256');
      assert.equal(direct(code, 64, 64, 3, 3, 1, 1, 1, 0), code === 2, 'C x OC <= 8192 for int8 only');
      assert.ok(!direct(code, 128, 128, 3, 3, 1, 1, 1, 0), 'many channels both ways');
      assert.ok(!direct(code, 64, 3, 3, 3, 2, 2, 1, 0), 'stride 2');
      assert.ok(!direct(code, 6, 3, 3, 3, 1, 1, 3, 0), 'groups');
      assert.ok(!direct(code, 64, 3, 3, 3, 1, 1, 1, 1), 'transposed (by phases, or im2col at stride 1)');
    }
    // int8 with an odd C past one block: pairs would straddle the blocks' ends.
    assert.ok(direct(2, 255, 3, 2, 2, 1, 1, 1, 0), 'odd C, one block (1020 k)');
    assert.ok(!direct(2, 255, 3, 3, 3, 1, 1, 1, 0), 'odd C, 2295 k');
    assert.ok(direct(0, 255, 3, 3, 3, 1, 1, 1, 0));
  });

  for (const build of ['strict', 'relaxed'] as const) {
    it(`${build} build: the im2col path's bits (convGroups), every dtype and activation, ${DIRECT_CASES.length} shapes${build === 'strict' ? ', and the specification\'s' : ''}`, { skip: build === 'relaxed' && NO_RELAXED }, async () => {
      const kernels = await instantiate(undefined, build);
      for (const dtype of DTYPES) {
        DIRECT_CASES.forEach((shape, i) => {
          const act = (['linear', 'relu', 'leakyRelu', 'sigmoid', 'tanh'] as const)[i % 5];
          const problem = problemOf(shape, dtype, 600 + i);
          const direct = runConv(kernels, 'general', shape, problem, act);
          const im2col = runConv(kernels, 'groups', shape, problem, act);
          assert.ok(sameBits(direct, im2col), `${dtype} ${act} ${shape.name}: ${firstDifference(direct, im2col)}`);
          if (build === 'strict' && act !== 'sigmoid' && act !== 'tanh') {
            const want = convReference(shape, problem.x, problem.weights, problem.bias, act, 0.3);
            assert.ok(sameBits(direct, want), `${dtype} ${act} ${shape.name}: ${firstDifference(direct, want)}`);
          }
        });
      }
    });
  }
});

describe('3x3 conv2d at stride 1 by Winograd tiles, F(2x2, 3x3) (conv-winograd.ts)', () => {
  /** [batch, H, W, C, OC, padTop, padLeft, padBottom, padRight]: odd and even sizes, a 1x1 output, edges past the padding, blocks of 64 tiles across samples. */
  const SHAPES: [number, number, number, number, number, number, number, number, number][] = [
    [1, 1, 1, 16, 20, 1, 1, 1, 1],
    [1, 2, 3, 16, 20, 1, 1, 1, 1],
    [3, 5, 7, 20, 16, 1, 1, 1, 1],
    [2, 9, 17, 16, 28, 1, 1, 1, 1],
    [1, 8, 8, 64, 64, 1, 1, 1, 1],
    [2, 6, 11, 24, 36, 0, 0, 0, 0],
    [1, 7, 6, 16, 24, 2, 0, 1, 2],
    [3, 4, 4, 32, 16, 0, 2, 2, 1],
    [1, 3, 20, 16, 40, 3, 1, 4, 2],
    [1, 33, 5, 20, 16, 1, 1, 1, 1],
  ];
  const caseOfShape = ([batch, H, W, C, OC, padTop, padLeft, padBottom, padRight]: (typeof SHAPES)[number]): Case => {
    const OH = H + padTop + padBottom - 2, OW = W + padLeft + padRight - 2;
    const name = `${batch}x${H}x${W}x${C} -> ${OH}x${OW}x${OC}, pads ${padTop},${padLeft},${padBottom},${padRight}`;
    return { name, batch, H, W, C, OH, OW, OC, kh: 3, kw: 3, sh: 1, sw: 1, padTop, padLeft, dh: 1, dw: 1, groups: 1, transposed: false };
  };
  const WINOGRAD_CASES = SHAPES.map(caseOfShape);
  /**
   * Winograd's error against the exact (f64) conv, relative to each output's sum of |terms|, stays
   * within this. Measured on these shapes: at most 2.0e-7 (strict and relaxed), where the im2col GEMM's
   * is at most 1.7e-7; float32's epsilon is 1.2e-7.
   */
  const RELATIVE_ERROR_BOUND = 1e-6;
  /** The absolute error of the kernels' sigmoid and tanh (activation.ts), met by the im2col path as well. */
  const ACTIVATION_ERROR = 1e-6;

  /** The exact conv in f64 with its activation, and each output's sum of |bias| and |w x| (the scale of its rounding error). */
  function exactConv(shape: Case, problem: Problem, act: 'linear' | 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh', alpha: number): { exact: Float64Array; magnitude: Float64Array } {
    const { batch, H, W, C, OH, OW, OC, padTop, padLeft } = shape;
    const w = (problem.weights as { values: Float32Array }).values;
    const exact = new Float64Array(batch * OH * OW * OC), magnitude = new Float64Array(exact.length);
    for (let b = 0; b < batch; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let oc = 0; oc < OC; oc++) {
      let sum = problem.bias[oc], size = Math.abs(problem.bias[oc]);
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
        const iy = oy + ky - padTop, ix = ox + kx - padLeft;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
        for (let c = 0; c < C; c++) {
          const term = problem.x[((b * H + iy) * W + ix) * C + c] * w[((ky * 3 + kx) * C + c) * OC + oc];
          sum += term;
          size += Math.abs(term);
        }
      }
      const at = ((b * OH + oy) * OW + ox) * OC + oc;
      exact[at] = activate(sum, act, { alpha });
      magnitude[at] = size;
    }
    return { exact, magnitude };
  }

  /**
   * The largest error against the exact conv, relative to each output's sum of |terms|. Sigmoid and tanh
   * (slope at most 1) are computed by the kernels' own exp approximation, whose error adds to the conv's:
   * their outputs are allowed ACTIVATION_ERROR more, absolute.
   */
  const worstRelativeError = (got: Float32Array, { exact, magnitude }: { exact: Float64Array; magnitude: Float64Array }, act: string) => {
    const allowance = act === 'sigmoid' || act === 'tanh' ? ACTIVATION_ERROR : 0;
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.max(0, Math.abs(got[i] - exact[i]) - allowance) / Math.max(magnitude[i], 1e-30));
    return worst;
  };

  it('runs exactly the f32 3x3 conv2d layers at stride 1, without dilation or groups, of at least 16 channels in whole fours, past the direct kernel\'s', async () => {
    const kernels = await instantiate();
    const winograd = (code: number, C: number, OC: number, kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1, groups = 1, transposed = 0) =>
      kernels.usesWinograd(code, C, OC, kh, kw, sh, sw, dh, dw, groups, transposed) === 1;
    assert.ok(winograd(0, 64, 64));
    assert.ok(winograd(0, 16, 20) && winograd(0, 20, 16));
    assert.ok(winograd(0, 512, 20));
    assert.ok(!winograd(0, 16, 16) && kernels.usesDirectConv(0, 16, 16, 3, 3, 1, 1, 1, 0) === 1, '16 x 16: the direct kernel');
    assert.ok(!winograd(1, 64, 64), 'f16 kept as f16 (keepF16) runs the im2col GEMM');
    assert.ok(!winograd(2, 64, 64), 'int8: integer sums are exact, transforms are not');
    assert.ok(!winograd(0, 12, 64) && !winograd(0, 64, 12), 'fewer than 16 channels either way');
    assert.ok(!winograd(0, 18, 64) && !winograd(0, 64, 18), 'channels not in whole fours');
    assert.ok(!winograd(0, 64, 64, 3, 3, 2, 2), 'stride 2');
    assert.ok(!winograd(0, 64, 64, 3, 3, 1, 1, 2, 2), 'dilation');
    assert.ok(!winograd(0, 64, 64, 3, 3, 1, 1, 1, 1, 2), 'groups');
    assert.ok(!winograd(0, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1), 'transposed');
    assert.ok(!winograd(0, 64, 64, 1, 1) && !winograd(0, 64, 64, 5, 5) && !winograd(0, 64, 64, 3, 1), 'other kernel sizes');
  });

  for (const build of ['strict', 'relaxed'] as const) {
    it(`${build} build: within ${RELATIVE_ERROR_BOUND} of the exact conv on ${WINOGRAD_CASES.length} shapes, every activation, each sample as decoded alone`, { skip: build === 'relaxed' && NO_RELAXED }, async () => {
      const kernels = await instantiate(undefined, build);
      let worstWinograd = 0, worstDirect = 0;
      WINOGRAD_CASES.forEach((shape, i) => {
        const act = (['linear', 'relu', 'leakyRelu', 'sigmoid', 'tanh'] as const)[i % 5];
        const problem = problemOf(shape, 'f32', 900 + i);
        assert.equal(kernels.usesWinograd(0, shape.C, shape.OC, 3, 3, 1, 1, 1, 1, 1, 0), 1);
        const got = runConv(kernels, 'general', shape, problem, act);
        const reference = exactConv(shape, problem, act, 0.3);
        const error = worstRelativeError(got, reference, act);
        assert.ok(error <= RELATIVE_ERROR_BOUND, `${act} ${shape.name}: ${error}`);
        worstWinograd = Math.max(worstWinograd, error);
        // The im2col GEMM on the same problem, for scale: Winograd's error is of the same order.
        worstDirect = Math.max(worstDirect, worstRelativeError(runConv(kernels, 'gemm', shape, problem, act), reference, act));
        // Tiles never span samples: the last sample decoded alone gives the same bits.
        if (shape.batch > 1) {
          const one = { ...shape, batch: 1 };
          const per = shape.H * shape.W * shape.C;
          const alone = runConv(kernels, 'general', one, { ...problem, x: problem.x.slice((shape.batch - 1) * per) }, act);
          assert.ok(sameBits(alone, got.subarray(got.length - alone.length)), `${shape.name}: the last sample alone`);
        }
      });
      assert.ok(worstWinograd > 0 && worstDirect > 0, 'both differ from the exact conv somewhere');
      assert.ok(worstWinograd <= 16 * worstDirect, `Winograd ${worstWinograd} against the direct conv's ${worstDirect}`);
    });
  }
});
