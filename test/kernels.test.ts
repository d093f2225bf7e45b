// Each wasm kernel on its own against a scalar reference written here in plain TypeScript, on shapes
// on both sides of every blocking boundary (4-row blocks, 8-column panels, 8-value quantization
// groups, 2048-k integer blocks, 64-row tiles). Whole networks are checked in runtime.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import '../src/runtime/embedded.ts';
import { instantiate, relaxedSimdSupported, type Kernels } from '../src/runtime/wasm.ts';
import { decodeF16 } from '../src/format/f16.ts';
import { quantizeActivations } from '../src/runtime/reference.ts';
import { Arena } from './helpers/arena.ts';
import { randomValues, seededRandom } from './helpers/numbers.ts';

/** The kernels' activation codes (assembly/kernels/activation.ts). */
const LINEAR = 0, RELU = 1, LEAKY_RELU = 2, SIGMOID = 3, TANH = 4;

/** A padded bias vector as the executor places it: whole panels of 8, zeros past N. */
function paddedBias(arena: Arena, bias: Float32Array): number {
  const padded = new Float32Array(Math.ceil(bias.length / 8) * 8);
  padded.set(bias);
  return arena.put(padded);
}

/** y = x . w + bias in f32 arithmetic, adding k in order from zero: what the strict build computes. */
function gemmF32Reference(x: Float32Array, w: Float32Array, bias: Float32Array, rows: number, K: number, N: number): Float32Array {
  const y = new Float32Array(rows * N);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = Math.fround(acc + Math.fround(x[r * K + k] * w[k * N + n]));
      y[r * N + n] = Math.fround(acc + bias[n]);
    }
  }
  return y;
}

const SHAPES = [
  { rows: 1, K: 1, N: 1 },
  { rows: 3, K: 7, N: 8 },
  { rows: 4, K: 9, N: 13 },
  { rows: 5, K: 33, N: 40 },
  { rows: 9, K: 64, N: 3 },
  { rows: 70, K: 17, N: 9 },
  // Lone rows go through panels in pairs: whole pairs, a pair plus a single panel.
  { rows: 2, K: 100, N: 16 },
  { rows: 1, K: 1000, N: 24 },
];

/**
 * Zeroes about half of x as a ReLU layer's output would (some as -0), and the whole of row 1 (the
 * lone-row kernels skip zero activations: the skipped products must not change a bit).
 */
function reluLike(x: Float32Array, K: number, random: () => number): Float32Array {
  for (let i = 0; i < x.length; i++) if (random() < 0.5) x[i] = random() < 0.1 ? -0 : 0;
  x.fill(0, K, 2 * K);
  return x;
}

/**
 * Zeros in the rows: none; about half, at random (reluLike); or also shared by every row, as after a
 * ReLU with dead units, in two of every three (k, k+1) pairs of the first 2048 k. There a block of
 * four rows lists only the rest (the kernels' sparse path; int8: its first 2048-k block, the next
 * one dense).
 */
type Zeros = 'none' | 'relu' | 'shared';
const ZEROS_SAID: Record<Zeros, string> = { none: '', relu: ', rows half zeros and one all zeros', shared: ', and zeros shared by all rows in the first 2048 k' };

function withZeros(x: Float32Array, rows: number, K: number, zeros: Zeros, random: () => number): void {
  if (zeros !== 'none') reluLike(x, K, random);
  if (zeros === 'shared') {
    for (let r = 0; r < rows; r++) for (let k = 0; k < Math.min(K, 2048); k++) if ((k >> 1) % 3 !== 0) x[r * K + k] = 0;
  }
}

async function runGemmF32(kernels: Kernels, shape: (typeof SHAPES)[number], seed: number, zeros: Zeros = 'none', act = LINEAR) {
  const { rows, K, N } = shape;
  const random = seededRandom(seed);
  const x = randomValues(rows * K, random, 2);
  withZeros(x, rows, K, zeros, random);
  const w = randomValues(K * N, random, 1);
  const bias = randomValues(N, random, 1);
  const arena = new Arena(kernels.memory, kernels.heapBase());
  const packed = arena.alloc(Math.ceil(N / 8) * 8 * K * 4);
  kernels.packPanelsF32(arena.put(w), packed, K, N, 0);
  const y = arena.alloc(rows * N * 4);
  const packedRows = arena.alloc(Math.max(16, kernels.gemmF32ScratchBytes(rows, K)));
  kernels.gemmF32(arena.put(x), K * 4, rows, K, N, packed, paddedBias(arena, bias), y, N * 4, act, 0.3, packedRows);
  return { got: arena.f32(y, rows * N), want: gemmF32Reference(x, w, bias, rows, K, N) };
}

/** The standalone activation op on a copy of `values`. */
function activated(kernels: Kernels, values: Float32Array, act: number): Float32Array {
  const arena = new Arena(kernels.memory, kernels.heapBase());
  const at = arena.put(values);
  kernels.activateInPlace(at, values.length, act, 0.3);
  return arena.f32(at, values.length);
}

describe('f32 GEMM microkernel', () => {
  for (const shape of SHAPES) {
    it(`strict build is bit-identical to in-order f32 sums (rows ${shape.rows}, K ${shape.K}, N ${shape.N})`, async () => {
      const { got, want } = await runGemmF32(await instantiate(undefined, 'strict'), shape, shape.K);
      assert.deepEqual(got, want);
    });
  }
  it('strict build: rows half zeros (some -0), one all zeros, and zeros shared by all rows, give the in-order sums\' bits', async () => {
    for (const zeros of ['relu', 'shared'] as const) {
      for (const shape of SHAPES) {
        const { got, want } = await runGemmF32(await instantiate(undefined, 'strict'), shape, shape.K, zeros);
        assert.deepEqual(got, want, `rows ${shape.rows}, K ${shape.K}, N ${shape.N}${ZEROS_SAID[zeros]}`);
      }
    }
  });
  it('a fused activation gives the standalone op\'s bits, in blocks of four (sigmoid and tanh after them) and lone rows', async () => {
    const kernels = await instantiate(undefined, 'strict');
    for (const act of [RELU, LEAKY_RELU, SIGMOID, TANH]) {
      for (const shape of SHAPES) {
        const { got, want } = await runGemmF32(kernels, shape, shape.K, 'relu', act);
        assert.deepEqual(got, activated(kernels, want, act), `activation ${act}, rows ${shape.rows}, K ${shape.K}, N ${shape.N}`);
      }
    }
  });
  it('relaxed build (fused multiply-add) agrees to rounding', { skip: !relaxedSimdSupported() && 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' }, async () => {
    for (const shape of SHAPES) {
      const { got, want } = await runGemmF32(await instantiate(undefined, 'relaxed'), shape, shape.K);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `element ${i}: ${got[i]} vs ${want[i]}`);
    }
  });
});

describe('int8 GEMM: row quantization and i32x4.dot_i16x8_s', () => {
  it('quantizes rows exactly as the reference does (K around the 8-value groups, an all-zero row)', async () => {
    const kernels = await instantiate();
    const random = seededRandom(5);
    for (const K of [1, 7, 8, 9, 31, 1000]) {
      const rows = 3;
      const x = randomValues(rows * K, random, 3);
      x.fill(0, K, 2 * K); // row 1: all zeros
      const arena = new Arena(kernels.memory, kernels.heapBase());
      const rowLength = Math.ceil(K / 8) * 8;
      const q = arena.alloc(rows * rowLength * 2);
      const scales = arena.alloc(rows * 4);
      kernels.quantizeRows(arena.put(x), K * 4, rows, K, q, scales);
      const gotScales = arena.f32(scales, rows);
      for (let r = 0; r < rows; r++) {
        const want = quantizeActivations(x.subarray(r * K, (r + 1) * K));
        const got = new Int16Array(kernels.memory.buffer, q + r * rowLength * 2, rowLength);
        assert.deepEqual(Array.from(got.subarray(0, K)), Array.from(want.q), `K ${K} row ${r}`);
        assert.ok(got.subarray(K).every((v) => v === 0), 'the padding quantizes to zero');
        assert.equal(gotScales[r], want.scale);
      }
    }
  });

  it('rounds halves to even, and zeroes a row holding inf or NaN (its scale is not finite)', async () => {
    const kernels = await instantiate();
    // max 16382 makes the factor exactly 0.5, so odd integers land on halves.
    const K = 11;
    const ties = Float32Array.of(16382, 1, 3, 5, -1, -3, -5, 7, 9, -16382, 2);
    const rows = [ties, Float32Array.of(1, Infinity, ...new Array(K - 2).fill(2)), Float32Array.of(...new Array(K - 1).fill(-1), NaN)];
    const arena = new Arena(kernels.memory, kernels.heapBase());
    const rowLength = Math.ceil(K / 8) * 8;
    const q = arena.alloc(rows.length * rowLength * 2);
    const scales = arena.alloc(rows.length * 4);
    const x = new Float32Array(rows.length * K);
    rows.forEach((row, r) => x.set(row, r * K));
    kernels.quantizeRows(arena.put(x), K * 4, rows.length, K, q, scales);
    const got = (r: number) => Array.from(new Int16Array(kernels.memory.buffer, q + r * rowLength * 2, K));
    assert.deepEqual(got(0), [8191, 0, 2, 2, 0, -2, -2, 4, 4, -8191, 1]);
    assert.deepEqual(got(0), Array.from(quantizeActivations(ties).q));
    for (const r of [1, 2]) {
      assert.deepEqual(got(r), new Array(K).fill(0), `row ${r}`);
      assert.ok(!Number.isFinite(arena.f32(scales, rows.length)[r]), `row ${r}'s scale`);
    }
  });

  /** k the int8 kernel sums in i32 before adding to f32 (assembly/kernels/i8-partials.ts, K_BLOCK). */
  const I8_K_BLOCK = 2048;

  /** Random rows (with `zeros`), quantized, and random int8 weights, packed, in a fresh arena. */
  function int8Problem(kernels: Kernels, rows: number, K: number, N: number, seed: number, zeros: Zeros) {
    const random = seededRandom(seed);
    const x = randomValues(rows * K, random, 2);
    withZeros(x, rows, K, zeros, random);
    const w = Int8Array.from({ length: K * N }, () => Math.floor(random() * 256) - 128);
    const colScale = Float32Array.from({ length: N }, () => 0.001 + random() * 0.01);
    const bias = randomValues(N, random, 1);
    const arena = new Arena(kernels.memory, kernels.heapBase());
    const packed = arena.alloc(Math.ceil(N / 8) * 8 * Math.ceil(K / 4) * 4);
    kernels.packPairsI8Panels(arena.put(w), packed, K, N, 0);
    const qStride = Math.ceil(K / 8) * 16;
    const q = arena.alloc(rows * qStride);
    const rowScales = arena.alloc(rows * 4);
    kernels.quantizeRows(arena.put(x), K * 4, rows, K, q, rowScales);
    const scratch = arena.alloc(Math.max(16, kernels.packedQuantizedRowsBytes(rows, K)));
    return { x, w, colScale, bias, arena, packed, q, qStride, rowScales, colScaleAt: paddedBias(arena, colScale), biasAt: paddedBias(arena, bias), scratch };
  }

  /** gemmI8 on random rows and int8 weights; returns the output and what the exact block sums, added in f32 and scaled, give. */
  async function runGemmI8(kernels: Kernels, rows: number, K: number, N: number, zeros: Zeros = 'none') {
    const { x, w, colScale, bias, arena, packed, q, qStride, rowScales, colScaleAt, biasAt, scratch } = int8Problem(kernels, rows, K, N, K + N, zeros);
    const y = arena.alloc(rows * N * 4);
    kernels.gemmI8(q, qStride, rowScales, rows, K, N, packed, colScaleAt, biasAt, y, N * 4, LINEAR, 0, scratch);
    const got = arena.f32(y, rows * N);
    const want = (r: number, n: number) => {
      const { q: qr, scale } = quantizeActivations(x.subarray(r * K, (r + 1) * K));
      // As the kernel sums: each block of I8_K_BLOCK k exactly, the blocks' sums added in f32 (where a
      // row's blocks cancel, that rounding is all that is left of the result's precision).
      let sum = 0;
      for (let k0 = 0; k0 < K; k0 += I8_K_BLOCK) {
        let block = 0;
        for (let k = k0; k < Math.min(K, k0 + I8_K_BLOCK); k++) block += qr[k] * w[k * N + n];
        sum = Math.fround(sum + Math.fround(block));
      }
      return { value: sum * scale * colScale[n] + bias[n], tolerance: 1e-6 * (1 + Math.abs(sum * scale * colScale[n])) };
    };
    return { got, want };
  }

  // K past I8_K_BLOCK sums in several blocks; rows 19 has several blocks of four and lone rows after them;
  // from 32 rows, the relaxed build takes its relaxed path where the engine passes the self-test.
  const I8_SHAPES = [...SHAPES, { rows: 5, K: 4100, N: 9 }, { rows: 6, K: 2050, N: 17 }, { rows: 19, K: 4100, N: 9 }, { rows: 37, K: 4100, N: 17 }];
  for (const zeros of ['none', 'relu', 'shared'] as const) {
    for (const { rows, K, N } of I8_SHAPES) {
      it(`matches exact integer block sums, added in f32 and scaled (rows ${rows}, K ${K}, N ${N}${ZEROS_SAID[zeros]})`, async () => {
        const { got, want } = await runGemmI8(await instantiate(), rows, K, N, zeros);
        for (let r = 0; r < rows; r++) {
          for (let n = 0; n < N; n++) {
            const { value, tolerance } = want(r, n);
            assert.ok(Math.abs(got[r * N + n] - value) <= tolerance, `row ${r} col ${n}: ${got[r * N + n]} vs ${value}`);
          }
        }
      });
    }
  }

  it('a row alone (its zero pairs skipped) gives the bits it gets in a tile of 32 (blocks of four, sparse where zeros are shared, relaxed path where on)', async () => {
    for (const build of ['strict', 'relaxed'] as const) {
      if (build === 'relaxed' && !relaxedSimdSupported()) continue;
      const kernels = await instantiate(undefined, build);
      for (const [K, N, zeros] of [[4100, 17, 'relu'], [1000, 40, 'relu'], [30, 9, 'relu'], [4100, 17, 'shared'], [1000, 40, 'shared']] as const) {
        const rows = 32;
        const { arena, packed, q, qStride, rowScales, colScaleAt, biasAt, scratch } = int8Problem(kernels, rows, K, N, K * N, zeros);
        const tile = arena.alloc(rows * N * 4);
        kernels.gemmI8(q, qStride, rowScales, rows, K, N, packed, colScaleAt, biasAt, tile, N * 4, LINEAR, 0, scratch);
        const alone = arena.alloc(rows * N * 4);
        for (let r = 0; r < rows; r++) {
          kernels.gemmI8(q + r * qStride, qStride, rowScales + r * 4, 1, K, N, packed, colScaleAt, biasAt, alone + r * N * 4, N * 4, LINEAR, 0, scratch);
        }
        assert.deepEqual(arena.f32(alone, rows * N), arena.f32(tile, rows * N), `${build}, K ${K}, N ${N}, zeros ${zeros}`);
      }
    }
  });

  it('relaxed build: its int8 path gives the strict path\'s bits (relaxed_dot_i8x16_i7x16_add_s where its self-test passes)', { skip: !relaxedSimdSupported() && 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' }, async () => {
    const relaxed = await instantiate(undefined, 'relaxed');
    // Node 20's V8 computes the instruction wrong: there the self-test fails and the strict path runs.
    assert.equal(relaxed.relaxedDotEnabled(), relaxed.relaxedDotSelfTest());
    for (const zeros of ['none', 'shared'] as const) {
      for (const { rows, K, N } of I8_SHAPES) {
        const strict = await runGemmI8(await instantiate(undefined, 'strict'), rows, K, N, zeros);
        const ours = await runGemmI8(await instantiate(undefined, 'relaxed'), rows, K, N, zeros);
        assert.deepEqual(ours.got, strict.got, `rows ${rows}, K ${K}, N ${N}${ZEROS_SAID[zeros]}`);
      }
    }
  });

  it('the strict build has no relaxed int8 path', async () => {
    const strict = await instantiate(undefined, 'strict');
    assert.equal(strict.relaxedDotSelfTest(), 0);
    assert.equal(strict.setRelaxedDot(1), 0);
    assert.equal(strict.relaxedDotEnabled(), 0);
  });
});

describe('f16 widening', () => {
  it('widens every finite f16 value exactly', async () => {
    const kernels = await instantiate();
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00);
    const arena = new Arena(kernels.memory, kernels.heapBase());
    const dst = arena.alloc(bits.length * 4);
    kernels.widenF16(arena.put(bits), dst, bits.length);
    assert.deepEqual(arena.f32(dst, bits.length), decodeF16(bits));
  });
});

describe('packing', () => {
  it('lays a conv2dTranspose kernel [kh, kw, OC, C] out as the K x N matrix of its im2col rows', async () => {
    const kernels = await instantiate();
    const [taps, OC, C] = [6, 11, 3];
    const src = Float32Array.from({ length: taps * OC * C }, (_, i) => i);
    const arena = new Arena(kernels.memory, kernels.heapBase());
    const K = taps * C;
    const packed = arena.alloc(16 * K * 4);
    kernels.packPanelsF32(arena.put(src), packed, K, OC, C);
    const got = arena.f32(packed, 16 * K);
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < 16; n++) {
        const tap = Math.floor(k / C), c = k % C;
        const want = n < OC ? src[(tap * OC + n) * C + c] : 0;
        assert.equal(got[(Math.floor(n / 8) * K + k) * 8 + (n % 8)], want, `k ${k} n ${n}`);
      }
    }
  });
});

describe('im2col', () => {
  const GEOMETRIES = [
    { name: 'conv2d same, stride 2, odd size', H: 5, W: 7, C: 3, OH: 3, OW: 4, kh: 3, kw: 3, sh: 2, sw: 2, padTop: 1, padLeft: 1, transposed: false },
    { name: 'conv2d valid, asymmetric kernel', H: 6, W: 5, C: 9, OH: 5, OW: 3, kh: 2, kw: 3, sh: 1, sw: 1, padTop: 0, padLeft: 0, transposed: false },
    { name: 'conv2dTranspose, stride 2 (reads between input pixels are zero)', H: 3, W: 4, C: 2, OH: 6, OW: 8, kh: 4, kw: 4, sh: 2, sw: 2, padTop: 1, padLeft: 1, transposed: true },
    { name: 'conv2dTranspose, kernel smaller than stride', H: 3, W: 3, C: 8, OH: 9, OW: 9, kh: 2, kw: 2, sh: 3, sw: 3, padTop: 0, padLeft: 0, transposed: true },
    { name: 'conv2dTranspose, stride 1, 64 channels (whole 16-byte copies)', H: 4, W: 3, C: 64, OH: 4, OW: 3, kh: 3, kw: 3, sh: 1, sw: 1, padTop: 1, padLeft: 1, transposed: true },
    { name: 'conv2d, one channel (2- and 4-byte copies)', H: 5, W: 4, C: 1, OH: 5, OW: 4, kh: 3, kw: 3, sh: 1, sw: 1, padTop: 1, padLeft: 1, transposed: false },
    { name: 'conv2d, 160 channels (f32 pixels past the inline copy size)', H: 3, W: 3, C: 160, OH: 2, OW: 2, kh: 2, kw: 2, sh: 1, sw: 1, padTop: 0, padLeft: 0, transposed: false },
  ];
  type Geometry = (typeof GEOMETRIES)[number];
  /** What row pixel m, tap (ky, kx), channel c reads from `value(sample, iy, ix, c)`, straight from the definitions. */
  function expected(g: Geometry, m: number, ky: number, kx: number, c: number, value: (b: number, iy: number, ix: number, c: number) => number): number {
    const b = Math.floor(m / (g.OH * g.OW)), oy = Math.floor((m % (g.OH * g.OW)) / g.OW), ox = m % g.OW;
    // conv reads i = o*s + k - pad; transposed conv's input i reaches o = i*s + k - pad.
    const iy = g.transposed ? (oy + g.padTop - ky) / g.sh : oy * g.sh + ky - g.padTop;
    const ix = g.transposed ? (ox + g.padLeft - kx) / g.sw : ox * g.sw + kx - g.padLeft;
    const inside = Number.isInteger(iy) && Number.isInteger(ix) && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
    return inside ? value(b, iy, ix, c) : 0;
  }
  for (const g of GEOMETRIES) {
    it(g.name, async () => {
      const kernels = await instantiate();
      const batch = 2;
      const x = Float32Array.from({ length: batch * g.H * g.W * g.C }, (_, i) => i + 1);
      const arena = new Arena(kernels.memory, kernels.heapBase());
      const K = g.kh * g.kw * g.C;
      const pixels = batch * g.OH * g.OW;
      const first = 3;
      const count = pixels - first;
      const dst = arena.alloc(count * K * 4);
      kernels.im2col(arena.put(x), dst, first, count, g.H, g.W, g.C, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, g.transposed ? 1 : 0);
      const got = arena.f32(dst, count * K);
      const value = (b: number, iy: number, ix: number, c: number) => x[((b * g.H + iy) * g.W + ix) * g.C + c];
      for (let m = first; m < pixels; m++) {
        for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) for (let c = 0; c < g.C; c++) {
          assert.equal(got[(m - first) * K + (ky * g.kw + kx) * g.C + c], expected(g, m, ky, kx, c, value), `pixel ${m} tap ${ky},${kx} channel ${c}`);
        }
      }
    });
    it(`${g.name}: i16 rows from sample slots, zero-padded to whole 8s`, async () => {
      const kernels = await instantiate();
      const arena = new Arena(kernels.memory, kernels.heapBase());
      // Three samples in two slots (sample b in slot b % 2), as the int8 conv keeps them; gather samples 1 and 2.
      const sampleValues = g.H * g.W * g.C;
      const sampleBytes = Math.ceil((sampleValues * 2) / 16) * 16;
      const slots = new Int16Array((2 * sampleBytes) / 2);
      const value = (b: number, iy: number, ix: number, c: number) => -(b * 1000 + ((iy * g.W + ix) * g.C + c) + 1);
      for (const b of [1, 2]) {
        for (let i = 0; i < sampleValues; i++) slots[((b % 2) * sampleBytes) / 2 + i] = value(b, Math.floor(i / (g.W * g.C)), Math.floor(i / g.C) % g.W, i % g.C);
      }
      const K = g.kh * g.kw * g.C;
      const rowValues = Math.ceil(K / 8) * 8;
      const first = g.OH * g.OW;
      const count = 2 * g.OH * g.OW;
      const src = arena.alloc(slots.byteLength);
      new Int16Array(kernels.memory.buffer, src, slots.length).set(slots);
      const dst = arena.alloc(count * rowValues * 2);
      new Int16Array(kernels.memory.buffer, dst, count * rowValues).fill(7); // the padding must be overwritten
      kernels.im2colI16(src, sampleBytes, 2, dst, rowValues * 2, first, count, g.H, g.W, g.C, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, g.transposed ? 1 : 0);
      const got = new Int16Array(kernels.memory.buffer, dst, count * rowValues).slice();
      for (let m = first; m < first + count; m++) {
        const row = (m - first) * rowValues;
        for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) for (let c = 0; c < g.C; c++) {
          assert.equal(got[row + (ky * g.kw + kx) * g.C + c], expected(g, m, ky, kx, c, value), `pixel ${m} tap ${ky},${kx} channel ${c}`);
        }
        for (let k = K; k < rowValues; k++) assert.equal(got[row + k], 0, `pixel ${m}: padding ${k}`);
      }
    });
  }
});

describe('activations (fused into every store, and standalone)', () => {
  const CODES = { relu: RELU, leakyRelu: LEAKY_RELU, sigmoid: SIGMOID, tanh: TANH } as const;
  const exact = { relu: (v: number) => Math.max(v, 0), leakyRelu: (v: number) => (v > 0 ? v : 0.3 * v), sigmoid: (v: number) => 1 / (1 + Math.exp(-v)), tanh: Math.tanh };
  // Odd count: the tail lanes run through the vector code too. Extremes check the clamped exp.
  const inputs = Float32Array.from([...randomValues(1001, seededRandom(8), 12), -200, -88, -87.5, 0, 1e-30, -1e-30, 87.5, 88, 200, 3e38]);
  for (const [name, code] of Object.entries(CODES) as [keyof typeof CODES, number][]) {
    it(`${name} agrees with Math to a few ulp, saturating cleanly`, async () => {
      const kernels = await instantiate();
      const arena = new Arena(kernels.memory, kernels.heapBase());
      const ptr = arena.put(inputs);
      kernels.activateInPlace(ptr, inputs.length, code, 0.3);
      const got = arena.f32(ptr, inputs.length);
      for (let i = 0; i < inputs.length; i++) {
        const want = exact[name](inputs[i]);
        assert.ok(Number.isFinite(got[i]), `${name}(${inputs[i]}) is ${got[i]}`);
        assert.ok(Math.abs(got[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${name}(${inputs[i]}): ${got[i]} vs ${want}`);
      }
    });
  }
});

describe('label concat', () => {
  it('joins a one-hot label before or after each sample, and refuses an out-of-range label', async () => {
    const kernels = await instantiate();
    const [batch, size, classes] = [3, 5, 4];
    const arena = new Arena(kernels.memory, kernels.heapBase());
    const x = arena.put(Float32Array.from({ length: batch * size }, (_, i) => i + 1));
    const labels = arena.alloc(batch * 4);
    new Int32Array(kernels.memory.buffer, labels, batch).set([2, 0, 3]);
    for (const labelFirst of [0, 1]) {
      const y = arena.alloc(batch * (size + classes) * 4);
      assert.equal(kernels.concatLabel(x, y, batch, size, labels, classes, labelFirst), 1);
      const got = arena.f32(y, batch * (size + classes));
      [2, 0, 3].forEach((label, b) => {
        const features = Array.from({ length: size }, (_, i) => b * size + i + 1);
        const oneHot = Array.from({ length: classes }, (_, c) => (c === label ? 1 : 0));
        assert.deepEqual(Array.from(got.subarray(b * (size + classes), (b + 1) * (size + classes))), labelFirst ? [...oneHot, ...features] : [...features, ...oneHot]);
      });
    }
    new Int32Array(kernels.memory.buffer, labels, batch).set([1, 4, 0]);
    assert.equal(kernels.concatLabel(x, arena.alloc(batch * (size + classes) * 4), batch, size, labels, classes, 0), 0);
  });
});
