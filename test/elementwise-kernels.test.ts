// The element-wise wasm kernels (binary, activate, channelAffine, concatChannels, gatherSamples)
// against the scalar references of src/layers/elementwise-reference.ts, at sizes below, at, above and
// multiples of their SIMD width (4), and on both sides of 8 (where binary and channelAffine switch from
// gathered lanes to rows), so every remainder loop and every path runs. Exact ops are held to
// the reference's f32 bits; the transcendental activations to a stated tolerance. Tails must give the
// body's bits, and the strict and relaxed builds the same bits (these kernels use no fused multiply-add).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import '../src/runtime/embedded.ts';
import { instantiate, relaxedSimdSupported, type Kernels } from '../src/runtime/wasm.ts';
import { Act, BinaryOp } from '../src/runtime/abi.ts';
import {
  activationReference, binaryReference, channelAffineReference, concatChannelsReference, erf, gatherReference,
  type BinaryShape,
} from '../src/layers/elementwise-reference.ts';
import { Arena } from './helpers/arena.ts';
import { randomValues, sameBits, seededRandom } from './helpers/numbers.ts';

/** Along the SIMD dimension: below, at and above 4 and 8, and multiples. */
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67];

const ALL_ACTS = [Act.Linear, Act.Relu, Act.LeakyRelu, Act.Sigmoid, Act.Tanh, Act.Silu, Act.GeluErf, Act.GeluTanh, Act.Elu, Act.Softplus, Act.Clip];
/** Activations whose kernel result is exact f32 arithmetic: compared bit for bit. */
const EXACT_ACTS = new Set([Act.Linear, Act.Relu, Act.LeakyRelu, Act.Clip]);
/** alpha and beta each activation is run with (slopes, Clip's bounds). */
const ALPHA = 0.3, BETA = 2.5, CLIP_MIN = -1.25;
const alphaOf = (act: Act) => (act === Act.Clip ? CLIP_MIN : act === Act.Elu ? 1.1 : ALPHA);
const betaOf = (act: Act) => (act === Act.Clip ? BETA : 0);

/**
 * How far each transcendental kernel may stray from the f64 definition: |got - want| <= max(rel |want|,
 * abs). Measured maxima (the "accuracy table" test prints them) sit well inside: sigmoid 2.7e-7, tanh
 * 1.8e-7 absolute (its relative error near 0 is large: 1 - 2/(e^2x + 1) cancels; unchanged here),
 * silu 2.6e-7, gelu-erf 1.4e-6 where |y| >= 1e-3 and 2.0e-6 where |y| >= 1e-6, gelu-tanh 1.1e-6 and
 * 1.8e-6, elu 7.4e-8, softplus 3.3e-7. Below the absolute floors the results are tiny: the clamped
 * exp (e^-87) and f32 rounding of exp's argument in the far negative tail.
 */
const TOLERANCE: Partial<Record<Act, { rel: number; abs: number }>> = {
  [Act.Sigmoid]: { rel: 1e-6, abs: 1e-6 },
  [Act.Tanh]: { rel: 1e-6, abs: 1e-6 },
  [Act.Silu]: { rel: 5e-7, abs: 1e-30 },
  [Act.GeluErf]: { rel: 2.5e-6, abs: 2e-11 },
  [Act.GeluTanh]: { rel: 2.5e-6, abs: 2e-11 },
  [Act.Elu]: { rel: 2e-7, abs: 1e-37 },
  [Act.Softplus]: { rel: 5e-7, abs: 2e-38 },
};

function withinTolerance(act: Act, got: number, want: number): boolean {
  if (EXACT_ACTS.has(act)) return Object.is(got, Math.fround(want));
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  const { rel, abs } = TOLERANCE[act]!;
  return Math.abs(got - want) <= Math.max(rel * Math.abs(want), abs);
}

function assertMatches(act: Act, got: Float32Array, want: ArrayLike<number>, inputs: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < got.length; i++) {
    if (!withinTolerance(act, got[i], want[i])) {
      assert.fail(`${what}: element ${i} (input ${inputs[i]}): got ${got[i]}, want ${want[i]} (${Act[act]})`);
    }
  }
}

let strict: Kernels | undefined;
async function kernels(): Promise<Kernels> {
  strict ??= await instantiate(undefined, 'strict');
  return strict;
}

/** Values an activation is tried on: -100..100, near zero, signed zeros, large magnitudes, NaN. */
function activationInputs(): Float32Array {
  const random = seededRandom(11);
  const values = [
    ...randomValues(600, random, 100), ...randomValues(300, random, 6), ...randomValues(100, random, 1e-3),
    0, -0, 1e-30, -1e-30, 1e-45, -1e-45, 1e-7, -1e-7, 0.5, -0.5, 1, -1, Math.SQRT2, -Math.SQRT2, 1.4142, -1.4142,
    5, -5, 10, -10, 13, -13, 20, -20, 30, -30, 80, -80, 87, -87, 88, -88, 89, -89, 100, -100, 1e4, -1e4, 1e10, -1e10,
    3e38, -3e38, Infinity, -Infinity, NaN,
  ];
  const padded = new Float32Array(Math.ceil(values.length / 4) * 4);
  padded.set(values);
  return padded;
}

function runActivate(k: Kernels, x: Float32Array, act: Act, alpha: number, beta: number, inPlace = false): Float32Array {
  const arena = new Arena(k.memory, k.heapBase());
  const xp = arena.put(x);
  const yp = inPlace ? xp : arena.alloc(x.byteLength);
  k.activate(xp, yp, x.length, act, alpha, beta);
  return arena.f32(yp, x.length);
}

describe('activate: every Act code', () => {
  const inputs = activationInputs();
  for (const act of ALL_ACTS) {
    it(`${Act[act]} against the reference (${EXACT_ACTS.has(act) ? 'bit for bit' : 'to tolerance'}), in place and not`, async () => {
      const k = await kernels();
      const want = Array.from(inputs, (v) => activationReference(v, act, alphaOf(act), betaOf(act)));
      for (const inPlace of [false, true]) {
        assertMatches(act, runActivate(k, inputs, act, alphaOf(act), betaOf(act), inPlace), want, inputs, inPlace ? 'in place' : 'out of place');
      }
    });
  }

  it('a tail lane gives a body lane\'s bits: every input alone (count 1) and at the ends of odd-length buffers', async () => {
    const k = await kernels();
    for (const act of ALL_ACTS) {
      const body = runActivate(k, inputs, act, alphaOf(act), betaOf(act));
      for (let i = 0; i < inputs.length; i++) {
        const alone = runActivate(k, inputs.subarray(i, i + 1), act, alphaOf(act), betaOf(act));
        assert.ok(Object.is(alone[0], body[i]), `${Act[act]}(${inputs[i]}): tail ${alone[0]}, body ${body[i]}`);
      }
      const random = seededRandom(act + 100);
      for (const n of SIZES.filter((n) => n % 2 === 1 && n > 1)) {
        const x = randomValues(n, random, 8);
        x[n - 1] = x[0];
        const y = runActivate(k, x, act, alphaOf(act), betaOf(act));
        assert.ok(Object.is(y[0], y[n - 1]), `${Act[act]}, length ${n}: first ${y[0]}, last ${y[n - 1]}`);
      }
    }
  });

  it('codes Linear..Tanh give exactly activateInPlace\'s bits (the fused epilogues\' activations)', async () => {
    const k = await kernels();
    for (const act of [Act.Linear, Act.Relu, Act.LeakyRelu, Act.Sigmoid, Act.Tanh]) {
      for (const n of [...SIZES, inputs.length]) {
        const x = inputs.subarray(0, n);
        const arena = new Arena(k.memory, k.heapBase());
        const p = arena.put(x);
        k.activateInPlace(p, n, act, ALPHA);
        const old = arena.f32(p, n);
        assert.ok(sameBits(runActivate(k, x, act, ALPHA, 0), old), `${Act[act]}, ${n} values`);
      }
    }
  });

  it('activateInPlace takes the new codes too (Clip through it has no maximum)', async () => {
    const k = await kernels();
    for (const act of [Act.Silu, Act.GeluErf, Act.GeluTanh, Act.Elu, Act.Softplus, Act.Clip]) {
      const arena = new Arena(k.memory, k.heapBase());
      const p = arena.put(inputs);
      k.activateInPlace(p, inputs.length, act, alphaOf(act));
      assert.ok(sameBits(arena.f32(p, inputs.length), runActivate(k, inputs, act, alphaOf(act), Infinity)), Act[act]);
    }
  });

  it('special values: NaN stays NaN, infinities and huge inputs saturate (no NaN from inf * 0)', async () => {
    const k = await kernels();
    const x = Float32Array.from([Infinity, -Infinity, 3e38, -3e38, NaN, 0, -0, 1]);
    const at = (act: Act) => runActivate(k, x, act, alphaOf(act), betaOf(act));
    for (const act of ALL_ACTS) assert.ok(Number.isNaN(at(act)[4]), `${Act[act]}(NaN)`);
    const tiny = (v: number) => Math.abs(v) < 1e-30;
    const silu = at(Act.Silu), geluErf = at(Act.GeluErf), geluTanh = at(Act.GeluTanh), elu = at(Act.Elu), softplus = at(Act.Softplus), clip = at(Act.Clip);
    for (const [name, y] of [['silu', silu], ['geluErf', geluErf], ['geluTanh', geluTanh]] as const) {
      assert.equal(y[0], Infinity, `${name}(inf)`);
      assert.ok(tiny(y[1]) && tiny(y[3]), `${name}(-inf), ${name}(-3e38): ${y[1]}, ${y[3]}`);
      assert.equal(y[2], Math.fround(3e38), `${name}(3e38)`);
      assert.ok(Object.is(y[6], -0) || y[6] === 0, `${name}(-0)`);
    }
    assert.deepEqual([elu[0], elu[1], elu[2], elu[3]], [Infinity, Math.fround(-1.1), Math.fround(3e38), Math.fround(-1.1)]);
    assert.ok(Object.is(elu[6], -0), 'elu(-0) is -0 (ONNX: x for x >= 0)');
    assert.equal(softplus[0], Infinity);
    assert.ok(softplus[1] >= 0 && softplus[1] < 1e-37, `softplus(-inf) = ${softplus[1]}`);
    assert.equal(softplus[5], Math.fround(Math.LN2));
    assert.deepEqual(Array.from(clip.subarray(0, 4)), [BETA, CLIP_MIN, BETA, CLIP_MIN]);
    assert.ok(Object.is(clip[6], -0), 'clip(-0) is -0 inside the bounds');
  });

  it('Clip: bounds from alpha and beta, infinite bounds mean none, lo > hi gives hi (numpy order)', async () => {
    const k = await kernels();
    const x = Float32Array.from([-5, -1, 0, 1, 5, 7]);
    assert.deepEqual(Array.from(runActivate(k, x, Act.Clip, 0, 6)), [0, 0, 0, 1, 5, 6]);
    assert.deepEqual(Array.from(runActivate(k, x, Act.Clip, -Infinity, Infinity)), Array.from(x));
    assert.deepEqual(Array.from(runActivate(k, x, Act.Clip, 3, 2)), [2, 2, 2, 2, 2, 2]);
  });

  it('accuracy table: max abs and relative error of each transcendental activation on a dense sweep', async (t) => {
    const k = await kernels();
    const xs: number[] = [];
    for (let x = -100; x <= 100; x += 1 / 256) xs.push(x);
    for (let e = -40; e < 7; e += 0.01) xs.push(2 ** e, -(2 ** e));
    const x = Float32Array.from(xs);
    const bound: Partial<Record<Act, number>> = {
      [Act.Sigmoid]: 3e-7, [Act.Silu]: 3e-7, [Act.GeluErf]: 2.2e-6, [Act.GeluTanh]: 2e-6, [Act.Elu]: 1e-7, [Act.Softplus]: 4e-7,
    };
    for (const act of [Act.Sigmoid, Act.Tanh, Act.Silu, Act.GeluErf, Act.GeluTanh, Act.Elu, Act.Softplus]) {
      const y = runActivate(k, x, act, 1, 0);
      let maxAbs = 0, maxRel = 0;
      for (let i = 0; i < x.length; i++) {
        const want = activationReference(x[i], act, 1, 0);
        const err = Math.abs(y[i] - want);
        maxAbs = Math.max(maxAbs, err);
        if (Math.abs(want) >= 1e-6) maxRel = Math.max(maxRel, err / Math.abs(want));
      }
      t.diagnostic(`${Act[act]}: max abs ${maxAbs.toExponential(2)}, max relative (|y| >= 1e-6) ${maxRel.toExponential(2)}`);
      assert.ok(maxAbs < 1.5e-6, `${Act[act]}: max abs error ${maxAbs}`);
      if (bound[act] !== undefined) assert.ok(maxRel <= bound[act]!, `${Act[act]}: max relative error ${maxRel}`);
    }
  });

  it('GELU (erf): the erf inside is within 2e-7 of the f64 erf (read back as 2 y / x - 1 where that is exact enough)', async (t) => {
    const k = await kernels();
    // y = x Phi(x): for x a power of two, y / x is exact, and Phi's error is erf's error over 2.
    const xs: number[] = [];
    for (let e = -20; e <= 3; e++) for (const m of [1, -1]) xs.push(m * 2 ** e);
    for (let v = 0.001; v < 8; v *= 1.01) xs.push(v, -v);
    const x = Float32Array.from(xs);
    const y = runActivate(k, x, Act.GeluErf, 0, 0);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const phi = y[i] / x[i];
      worst = Math.max(worst, Math.abs(2 * phi - 1 - erf(x[i] / Math.SQRT2)));
    }
    t.diagnostic(`erf: max abs error ${worst.toExponential(2)} (read back through y)`);
    // Read-back through y adds y's own rounding (half an ulp of y, relative 6e-8) where x is not a power of two.
    assert.ok(worst <= 2e-7, `erf error ${worst}`);
  });
});

/** A broadcast mode: the kernel's shape for an inner size n, and the length of b it reads. */
interface Mode {
  name: string;
  shape(n: number): BinaryShape;
  bLength(n: number): number;
}
const MODES: Mode[] = [
  { name: 'same shape', shape: (n) => ({ outer: 1, mid: 1, inner: n, bOuterStride: 0, bInnerStride: 1 }), bLength: (n) => n },
  { name: 'per channel', shape: (n) => ({ outer: 1, mid: 5, inner: n, bOuterStride: 0, bInnerStride: 1 }), bLength: (n) => n },
  { name: 'scalar', shape: (n) => ({ outer: 1, mid: 3, inner: n, bOuterStride: 0, bInnerStride: 0 }), bLength: () => 1 },
  { name: 'per sample per channel', shape: (n) => ({ outer: 3, mid: 4, inner: n, bOuterStride: n, bInnerStride: 1 }), bLength: (n) => 3 * n },
  { name: 'per sample scalar', shape: (n) => ({ outer: 3, mid: 1, inner: n, bOuterStride: 1, bInnerStride: 0 }), bLength: () => 3 },
  { name: 'per channel, batch folded', shape: (n) => ({ outer: 2, mid: 3, inner: n, bOuterStride: 0, bInnerStride: 1 }), bLength: (n) => n },
  { name: 'scalar, batch folded', shape: (n) => ({ outer: 2, mid: 3, inner: n, bOuterStride: 0, bInnerStride: 0 }), bLength: () => 1 },
  { name: 'strided b', shape: (n) => ({ outer: 2, mid: 3, inner: n, bOuterStride: 1, bInnerStride: 2 }), bLength: (n) => 2 * n + 1 },
];
const OPS = [BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Div];

function runBinary(
  k: Kernels, op: BinaryOp, a: Float32Array, b: Float32Array, s: BinaryShape, reversed: boolean, inPlace: boolean,
  act: Act = Act.Linear, alpha = 0, beta = 0,
): Float32Array {
  const arena = new Arena(k.memory, k.heapBase());
  const ap = arena.put(a);
  const bp = arena.put(b);
  const yp = inPlace ? ap : arena.alloc(a.byteLength);
  k.binary(op, ap, bp, yp, s.outer, s.mid, s.inner, s.bOuterStride, s.bInnerStride, reversed ? 1 : 0, act, alpha, beta);
  return arena.f32(yp, a.length);
}

/** Operands with zeros, negative zeros and near-zero divisors among them. */
function operands(n: number, random: () => number): Float32Array {
  const x = randomValues(n, random, 4);
  for (let i = 0; i < n; i++) {
    const u = random();
    if (u < 0.05) x[i] = 0;
    else if (u < 0.1) x[i] = -0;
    else if (u < 0.12) x[i] = 1e-40;
  }
  return x;
}

describe('binary: y = act(a op b) with b broadcast', () => {
  for (const mode of MODES) {
    it(`${mode.name}: every op, reversed or not, in place or not, inner ${SIZES.join(', ')}: the f32 reference's bits`, async () => {
      const k = await kernels();
      const random = seededRandom(mode.name.length);
      for (const n of SIZES) {
        const s = mode.shape(n);
        const a = operands(s.outer * s.mid * n, random);
        const b = operands(mode.bLength(n), random);
        for (const op of OPS) {
          for (const reversed of [false, true]) {
            const want = binaryReference(op, a, b, s, reversed);
            for (const inPlace of [false, true]) {
              const got = runBinary(k, op, a, b, s, reversed, inPlace);
              assert.ok(sameBits(got, Float32Array.from(want)), `${BinaryOp[op]}${reversed ? ' reversed' : ''}${inPlace ? ' in place' : ''}, inner ${n}`);
            }
          }
        }
      }
    });
  }

  it('b may be y when b has y\'s shape', async () => {
    const k = await kernels();
    const random = seededRandom(3);
    for (const n of SIZES) {
      const a = operands(n, random), b = operands(n, random);
      const arena = new Arena(k.memory, k.heapBase());
      const ap = arena.put(a), bp = arena.put(b);
      k.binary(BinaryOp.Sub, ap, bp, bp, 1, 1, n, 0, 1, 0, Act.Linear, 0, 0);
      assert.ok(sameBits(arena.f32(bp, n), Float32Array.from(binaryReference(BinaryOp.Sub, a, b, MODES[0].shape(n), false))), `inner ${n}`);
    }
  });

  it('a fused activation, every code: the reference (exact codes bit for bit) and the bits of op then activate', async () => {
    const k = await kernels();
    const random = seededRandom(21);
    for (const mode of [MODES[1], MODES[2], MODES[3], MODES[7]]) {
      for (const n of [3, 8, 17, 67]) {
        const s = mode.shape(n);
        // Spread wide enough that every activation sees both sides of zero and its saturated ranges.
        const a = randomValues(s.outer * s.mid * n, random, 12);
        const b = randomValues(mode.bLength(n), random, 6);
        for (const act of ALL_ACTS) {
          const [alpha, beta] = [alphaOf(act), betaOf(act)];
          const want = binaryReference(BinaryOp.Add, a, b, s, false, act, alpha, beta);
          const got = runBinary(k, BinaryOp.Add, a, b, s, false, true, act, alpha, beta);
          assertMatches(act, got, want, a, `${mode.name}, inner ${n}`);
          const linear = runBinary(k, BinaryOp.Add, a, b, s, false, false);
          assert.ok(sameBits(got, runActivate(k, linear, act, alpha, beta)), `${mode.name}, inner ${n}, ${Act[act]}: fused vs two passes`);
        }
      }
    }
  });

  it('large tensors cross the 1024-value activation pieces without a seam', async () => {
    const k = await kernels();
    const random = seededRandom(4);
    for (const [mode, n] of [[MODES[1], 3], [MODES[1], 24], [MODES[1], 1500], [MODES[2], 700], [MODES[3], 5], [MODES[7], 6]] as const) {
      const s = { ...mode.shape(n), mid: 401 };
      const a = randomValues(s.outer * s.mid * n, random, 3);
      const b = randomValues(mode.bLength(n), random, 3);
      const got = runBinary(k, BinaryOp.Mul, a, b, s, true, false, Act.Relu);
      assert.ok(sameBits(got, Float32Array.from(binaryReference(BinaryOp.Mul, a, b, s, true, Act.Relu))), `${mode.name}, inner ${n}`);
    }
  });

  it('empty shapes write nothing', async () => {
    const k = await kernels();
    const arena = new Arena(k.memory, k.heapBase());
    const y = arena.put(Float32Array.from([7, 7, 7, 7]));
    for (const [outer, mid, inner] of [[0, 1, 4], [1, 0, 4], [1, 1, 0]]) {
      k.binary(BinaryOp.Add, y, y, y, outer, mid, inner, 0, 1, 0, Act.Relu, 0, 0);
    }
    assert.deepEqual(Array.from(arena.f32(y, 4)), [7, 7, 7, 7]);
  });
});

function runAffine(k: Kernels, x: Float32Array, rows: number, C: number, scale: Float32Array, shift: Float32Array, act: Act, inPlace: boolean): Float32Array {
  const arena = new Arena(k.memory, k.heapBase());
  const xp = arena.put(x);
  const yp = inPlace ? xp : arena.alloc(x.byteLength);
  k.channelAffine(xp, yp, rows, C, arena.put(scale), arena.put(shift), act, alphaOf(act), betaOf(act));
  return arena.f32(yp, x.length);
}

describe('channelAffine: y = act(x * scale[c] + shift[c])', () => {
  it(`C ${SIZES.join(', ')}, rows 1, 3, 7, in place or not: multiply then add, the f32 reference's bits`, async () => {
    const k = await kernels();
    const random = seededRandom(31);
    for (const C of SIZES) {
      for (const rows of [1, 3, 7]) {
        const x = operands(rows * C, random);
        const scale = randomValues(C, random, 2), shift = randomValues(C, random, 2);
        const want = Float32Array.from(channelAffineReference(x, rows, C, scale, shift));
        for (const inPlace of [false, true]) {
          assert.ok(sameBits(runAffine(k, x, rows, C, scale, shift, Act.Linear, inPlace), want), `C ${C}, rows ${rows}${inPlace ? ', in place' : ''}`);
        }
      }
    }
  });

  it('every activation code, and across the 1024-value pieces', async () => {
    const k = await kernels();
    const random = seededRandom(32);
    for (const [C, rows] of [[1, 5], [3, 700], [8, 3], [13, 200], [64, 40]]) {
      const x = randomValues(rows * C, random, 10);
      const scale = randomValues(C, random, 2), shift = randomValues(C, random, 2);
      for (const act of ALL_ACTS) {
        const want = channelAffineReference(x, rows, C, scale, shift, act, alphaOf(act), betaOf(act));
        const got = runAffine(k, x, rows, C, scale, shift, act, act % 2 === 0);
        assertMatches(act, got, want, x, `C ${C}, rows ${rows}`);
        const linear = runAffine(k, x, rows, C, scale, shift, Act.Linear, false);
        assert.ok(sameBits(got, runActivate(k, linear, act, alphaOf(act), betaOf(act))), `C ${C}, rows ${rows}, ${Act[act]}: fused vs two passes`);
      }
    }
  });
});

describe('concatChannels and gatherSamples: bits moved unchanged', () => {
  it('concatChannels: CA and CB around 4 and 8 (and 0), rows 1, 3, 5', async () => {
    const k = await kernels();
    const random = seededRandom(41);
    const widths = [0, 1, 3, 4, 5, 8, 9, 16, 17, 33, 67];
    for (const CA of widths) {
      for (const CB of widths) {
        for (const rows of [1, 3, 5]) {
          const a = randomValues(rows * CA, random, 5), b = randomValues(rows * CB, random, 5);
          const arena = new Arena(k.memory, k.heapBase());
          const y = arena.alloc(rows * (CA + CB) * 4 + 16);
          new Float32Array(k.memory.buffer, y, rows * (CA + CB) + 4).fill(-7);
          k.concatChannels(arena.put(a), arena.put(b), y, rows, CA, CB);
          assert.ok(sameBits(arena.f32(y, rows * (CA + CB)), concatChannelsReference(a, b, rows, CA, CB)), `CA ${CA}, CB ${CB}, rows ${rows}`);
          assert.deepEqual(Array.from(arena.f32(y + rows * (CA + CB) * 4, 4)), [-7, -7, -7, -7], 'nothing written past y');
        }
      }
    }
  });

  /** The table of an NCHW -> NHWC transpose: y[(h W + w) C + c] = x[(c H + h) W + w]. */
  function nchwToNhwc(C: number, H: number, W: number): Int32Array {
    const table = new Int32Array(C * H * W);
    for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) table[(h * W + w) * C + c] = (c * H + h) * W + w;
    return table;
  }

  function runGather(k: Kernels, x: Float32Array | Uint32Array, batch: number, inSize: number, table: Int32Array): Uint32Array {
    const arena = new Arena(k.memory, k.heapBase());
    const xp = arena.alloc(x.byteLength);
    new Uint32Array(k.memory.buffer, xp, x.length).set(new Uint32Array(x.buffer, x.byteOffset, x.length));
    const tp = arena.alloc(table.byteLength);
    new Int32Array(k.memory.buffer, tp, table.length).set(table);
    const yp = arena.alloc(batch * table.length * 4);
    k.gatherSamples(xp, yp, batch, inSize, table.length, tp);
    return new Uint32Array(k.memory.buffer, yp, batch * table.length).slice();
  }

  it('gatherSamples: NCHW <-> NHWC transposes, permutations, subsets and repeats at every size, batch 1 to 3', async () => {
    const k = await kernels();
    const random = seededRandom(51);
    for (const size of SIZES) {
      for (const batch of [1, 2, 3]) {
        const inSize = size + 2;
        const x = randomValues(batch * inSize, random, 9);
        const permutation = Int32Array.from({ length: size }, (_, i) => i);
        for (let i = size - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [permutation[i], permutation[j]] = [permutation[j], permutation[i]];
        }
        const repeats = Int32Array.from({ length: size }, () => Math.floor(random() * inSize));
        for (const table of [permutation, repeats]) {
          const want = gatherReference(x, batch, inSize, table);
          assert.deepEqual(runGather(k, x, batch, inSize, table), new Uint32Array(want.buffer), `size ${size}, batch ${batch}`);
        }
      }
    }
    for (const [C, H, W] of [[3, 4, 5], [1, 7, 9], [16, 2, 3], [5, 1, 1]]) {
      const x = randomValues(2 * C * H * W, random, 9);
      const there = nchwToNhwc(C, H, W);
      const nhwc = runGather(k, x, 2, C * H * W, there);
      const back = new Int32Array(there.length);
      there.forEach((src, dst) => (back[src] = dst));
      assert.deepEqual(runGather(k, new Float32Array(nhwc.buffer), 2, C * H * W, back), new Uint32Array(x.buffer), `C ${C}, H ${H}, W ${W}: there and back`);
      assert.deepEqual(nhwc, new Uint32Array(gatherReference(x, 2, C * H * W, there).buffer));
    }
  });

  it('gatherSamples moves NaN payloads and -0 as they are', async () => {
    const k = await kernels();
    const words = Uint32Array.from([0x7fc00001, 0xffa00002, 0x80000000, 0x3f800000, 0x7f800000]);
    const table = Int32Array.from([4, 3, 2, 1, 0, 0]);
    assert.deepEqual(Array.from(runGather(k, words, 1, 5, table)), [0x7f800000, 0x3f800000, 0x80000000, 0xffa00002, 0x7fc00001, 0x7fc00001]);
  });
});

describe('strict and relaxed builds agree bit for bit (no fused multiply-add in these kernels)', () => {
  it('activate, binary and channelAffine', { skip: !relaxedSimdSupported() && 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' }, async () => {
    const s = await kernels();
    const r = await instantiate(undefined, 'relaxed');
    const inputs = activationInputs();
    for (const act of ALL_ACTS) {
      assert.ok(sameBits(runActivate(s, inputs, act, alphaOf(act), betaOf(act)), runActivate(r, inputs, act, alphaOf(act), betaOf(act))), Act[act]);
    }
    const random = seededRandom(61);
    const a = randomValues(4 * 5 * 17, random, 6), b = randomValues(4 * 17, random, 3);
    const shape = { outer: 4, mid: 5, inner: 17, bOuterStride: 17, bInnerStride: 1 };
    for (const act of ALL_ACTS) {
      for (const op of OPS) {
        const [alpha, beta] = [alphaOf(act), betaOf(act)];
        assert.ok(sameBits(runBinary(s, op, a, b, shape, true, false, act, alpha, beta), runBinary(r, op, a, b, shape, true, false, act, alpha, beta)), `${BinaryOp[op]}, ${Act[act]}`);
      }
      const scale = randomValues(17, random, 2), shift = randomValues(17, random, 2);
      assert.ok(sameBits(runAffine(s, a, 20, 17, scale, shift, act, false), runAffine(r, a, 20, 17, scale, shift, act, false)), `affine, ${Act[act]}`);
    }
  });
});
