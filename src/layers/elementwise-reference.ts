/**
 * Scalar references for the element-wise wasm kernels (assembly/kernels/binary.ts, affine.ts,
 * concat.ts, gather.ts, activation-extra.ts): plain loops, the specification the kernels are tested
 * against (test/elementwise-kernels.test.ts).
 *
 * Where the kernel's result is exact f32 arithmetic (add, sub, mul, div, the affine's mul then add,
 * ReLU, leaky ReLU, Clip, copies), the reference rounds to f32 the same way (Math.fround after each
 * operation) and the kernel must match it bit for bit. The transcendental activations are the
 * mathematical functions (the ONNX operators' definitions) in f64, and the kernel is held to a stated
 * tolerance.
 */
import { Act, BinaryOp } from '../runtime/abi.ts';

const f32 = Math.fround;

/** a op b rounded to f32 (each operand already an f32). */
export function binaryOpF32(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case BinaryOp.Add: return f32(a + b);
    case BinaryOp.Sub: return f32(a - b);
    case BinaryOp.Mul: return f32(a * b);
    case BinaryOp.Div: return f32(a / b);
  }
  throw new Error(`unknown binary op ${op}`);
}

/** The shape arguments of binary(): i = (o mid + m) inner + n, b at o bOuterStride + n bInnerStride. */
export interface BinaryShape {
  outer: number;
  mid: number;
  inner: number;
  bOuterStride: number;
  bInnerStride: number;
}

/**
 * y[i] = act(reversed ? b op a[i] : a[i] op b) over [outer, mid, inner]. The op rounds to f32; the
 * activation is activationReference's (f64), so for Linear, Relu, LeakyRelu and Clip the result is the
 * kernel's exact bits, and for the others the exact function of the f32 sum.
 */
export function binaryReference(
  op: BinaryOp, a: Float32Array, b: Float32Array, shape: BinaryShape, reversed: boolean,
  act: Act = Act.Linear, alpha = 0, beta = 0,
): Float64Array {
  const { outer, mid, inner, bOuterStride, bInnerStride } = shape;
  const y = new Float64Array(outer * mid * inner);
  for (let o = 0; o < outer; o++) {
    for (let m = 0; m < mid; m++) {
      for (let n = 0; n < inner; n++) {
        const i = (o * mid + m) * inner + n;
        const bv = b[o * bOuterStride + n * bInnerStride];
        const v = reversed ? binaryOpF32(op, bv, a[i]) : binaryOpF32(op, a[i], bv);
        y[i] = activationReference(v, act, alpha, beta);
      }
    }
  }
  return y;
}

/** erf by its all-positive-term series (no cancellation): 2/sqrt(pi) e^(-x^2) sum x (2x^2)^n / (2n+1)!!. */
function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  const x2 = 2 * x * x;
  for (let n = 1; n < 1000 && term > 1e-17 * sum; n++) {
    term *= x2 / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/** erfc for x >= 3 by its continued fraction (modified Lentz), relative error near 1e-16. */
function erfcContinuedFraction(x: number): number {
  // erfc(x) = e^(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
  const tiny = 1e-300;
  let value = x, c = x, d = 0;
  for (let n = 1; n < 1000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    c = x + a / c;
    if (c === 0) c = tiny;
    d = 1 / d;
    const delta = c * d;
    value *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / value;
}

/** The error function in f64 (JavaScript's Math has none): relative error about 1e-15. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (!Number.isFinite(x)) return Math.sign(x);
  const ax = Math.abs(x);
  const r = ax < 3 ? erfSeries(ax) : 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}

/** 1 - erf(x) in f64, without cancellation for large x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x === Infinity) return 0;
  return x < 3 ? 1 - erfSeries(x) : erfcContinuedFraction(x);
}

/**
 * The activation of Act code `act` on one value, the ONNX operators' definitions: LeakyRelu and Elu
 * take their slope from alpha, Clip its bounds from alpha (min) and beta (max). Relu, LeakyRelu and
 * Clip round to f32 as the kernel does (their results are exact); the rest are f64, written in forms
 * that are exact in f64 where the textbook form cancels (GELU for negative x through erfc, the tanh
 * GELU as x / (1 + e^(-2u)), which equals 0.5 x (1 + tanh u)). At -inf, Silu and the GELUs give
 * their limit, -0, where the literal formula gives -inf * 0 = NaN.
 */
export function activationReference(x: number, act: Act, alpha = 0, beta = 0): number {
  if (x === -Infinity && (act === Act.Silu || act === Act.GeluErf || act === Act.GeluTanh)) return -0;
  switch (act) {
    case Act.Linear: return x;
    // wasm's f32x4.max: NaN propagates, max(-0, 0) = +0.
    case Act.Relu: return Number.isNaN(x) ? NaN : x > 0 ? x : 0;
    case Act.LeakyRelu: return x > 0 ? x : f32(x * f32(alpha));
    case Act.Sigmoid: return 1 / (1 + Math.exp(-x));
    case Act.Tanh: return Math.tanh(x);
    case Act.Silu: return x / (1 + Math.exp(-x));
    case Act.GeluErf: return x < 0 ? 0.5 * x * erfc(-x / Math.SQRT2) : 0.5 * x * (1 + erf(x / Math.SQRT2));
    case Act.GeluTanh: {
      if (x === Infinity) return x;
      const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
      return x / (1 + Math.exp(-2 * u));
    }
    // ONNX: x for x >= 0 (so -0 stays -0).
    case Act.Elu: return x >= 0 ? x : alpha * Math.expm1(x);
    case Act.Softplus: return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    case Act.Clip: {
      // numpy's clip (the ONNX reference): max then min; NaN passes, -0 stays unless a bound replaces it.
      const lo = f32(alpha), hi = f32(beta);
      const v = x < lo ? lo : x;
      return v > hi ? hi : v;
    }
  }
  throw new Error(`unknown activation code ${act}`);
}

/** y[r, c] = act(f32(f32(x[r, c] * scale[c]) + shift[c])). */
export function channelAffineReference(
  x: Float32Array, rows: number, C: number, scale: Float32Array, shift: Float32Array,
  act: Act = Act.Linear, alpha = 0, beta = 0,
): Float64Array {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) {
      y[r * C + c] = activationReference(f32(f32(x[r * C + c] * scale[c]) + shift[c]), act, alpha, beta);
    }
  }
  return y;
}

/** y[r] = [a[r, 0..CA), b[r, 0..CB)]. */
export function concatChannelsReference(a: Float32Array, b: Float32Array, rows: number, CA: number, CB: number): Float32Array {
  const y = new Float32Array(rows * (CA + CB));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < CA; c++) y[r * (CA + CB) + c] = a[r * CA + c];
    for (let c = 0; c < CB; c++) y[r * (CA + CB) + CA + c] = b[r * CB + c];
  }
  return y;
}

/** y[s * size + i] = x[s * inSize + table[i]]. */
export function gatherReference(x: Float32Array, batch: number, inSize: number, table: Int32Array): Float32Array {
  const size = table.length;
  const y = new Float32Array(batch * size);
  for (let s = 0; s < batch; s++) {
    for (let i = 0; i < size; i++) y[s * size + i] = x[s * inSize + table[i]];
  }
  return y;
}
