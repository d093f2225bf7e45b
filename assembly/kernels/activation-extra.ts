// The activations only the standalone kernels apply (codes Silu..Clip of Act): the activation op, and
// the epilogues of the element-wise kernels (binary.ts, affine.ts). The GEMM epilogues keep to codes
// Linear..Tanh (activation.ts), whose bits `activate` reproduces exactly through the same functions.
//
// Every function here is lane-wise and uses only IEEE-exact wasm operations (add, sub, mul, div,
// pmin/pmax, comparisons, bit operations) and polynomials built from them, never a fused multiply-add,
// so a value's result is the same bits on every engine, in the strict and the relaxed build, and in
// whichever lane it sits. Tails go through the same vector code by a splat.
//
// Accuracy against the f64 definitions (src/layers/elementwise-reference.ts) on a dense sweep of
// -100..100 and +-2^-40..2^7 (the "accuracy table" test of test/elementwise-kernels.test.ts prints it):
// relative error where |y| >= 1e-6: silu 2.6e-7, gelu (erf) 1.8e-6, gelu (tanh) 1.6e-6, elu 7.4e-8,
// softplus 2.8e-7; erf, as 2 Phi - 1 from the Phi gelu (erf) multiplies x by, within 1.6e-7 absolute
// (-12..12 in steps of 2^-11, an f32 emulation matching the kernel bit for bit). The GELUs' error grows in the far
// negative tail (|y| < 1e-6), where f32 rounding of exp's argument (about -x^2/2) dominates.
// Time per million values (`node --experimental-wasm-relaxed-simd --import tsx bench/elementwise.ts`,
// V8 on x64): relu, clip 0.3 ms; elu 1.6; sigmoid, tanh, silu 2.3; gelu (tanh) 2.7; softplus 4.3;
// gelu (erf) 8.6 (both branches, a division and an exp on every vector).
import { Act, FUSABLE_ACT_MAX } from '../../src/runtime/abi';
import { activateInPlace, expF32x4, leakyReluF32x4, reluF32x4, sigmoidF32x4, tanhF32x4 } from './activation';
import { roundToI32 } from './simd';

const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const LN2: f32 = 0.693147181;
const SIGN_MASK: i32 = 0x80000000;

/** x * sigmoid(x) as x / (1 + e^-x): one rounding fewer than the product. */
// @ts-ignore: decorator
@inline
function siluF32x4(x: v128): v128 {
  // Below -88, e^-x would clamp and x / (1 + e^88) grow with |x|; the clamped value is -5.3e-37.
  x = f32x4.pmax(x, f32x4.splat(-88));
  return f32x4.div(x, f32x4.add(f32x4.splat(1), expF32x4(f32x4.neg(x))));
}

// erf(z) for 0 <= z < 1: z P(z^2), P a least-squares fit on Chebyshev nodes (degree 5 in z^2; error
// 4.7e-8 with these f32 coefficients in exact arithmetic).
const ERF_P0: f32 = 1.1283791065216064;
const ERF_P1: f32 = -0.37612348794937134;
const ERF_P2: f32 = 0.11280364543199539;
const ERF_P3: f32 = -0.026716385036706924;
const ERF_P4: f32 = 0.004923277534544468;
const ERF_P5: f32 = -0.0005654105916619301;

// erfc(z) for z >= 0: t exp(-z^2 + R(t)), t = 1 / (1 + z/2), R of degree 9: the Chebyshev fit of
// Numerical Recipes (Press et al., 2nd ed., section 6.2, "erfcc"), fractional error below 1.2e-7.
const ERFC_R0: f32 = -1.26551223;
const ERFC_R1: f32 = 1.00002368;
const ERFC_R2: f32 = 0.37409196;
const ERFC_R3: f32 = 0.09678418;
const ERFC_R4: f32 = -0.18628806;
const ERFC_R5: f32 = 0.27886807;
const ERFC_R6: f32 = -1.13520398;
const ERFC_R7: f32 = 1.48851587;
const ERFC_R8: f32 = -0.82215223;
const ERFC_R9: f32 = 0.17087277;

/**
 * x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2. Where |x| < sqrt 2, Phi from erf's polynomial; beyond,
 * from erfc, so that Phi(x) = erfc(|x| / sqrt 2) / 2 for negative x keeps its relative accuracy (1 +
 * erf would cancel) and 1 - erfc / 2 for positive x rounds once. Both branches run; a select picks.
 */
// @ts-ignore: decorator
@inline
function geluErfF32x4(x: v128): v128 {
  const one = f32x4.splat(1);
  const half = f32x4.splat(0.5);
  // Below -20 the result is below 1e-37 (and -inf would give -inf * 0).
  x = f32x4.pmax(x, f32x4.splat(-20));
  const z = f32x4.mul(f32x4.abs(x), f32x4.splat(0.70710678118654752));
  const s = f32x4.mul(z, z);
  let p = f32x4.splat(ERF_P5);
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(ERF_P4));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(ERF_P3));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(ERF_P2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(ERF_P1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(ERF_P0));
  // erf(x / sqrt 2) with x's sign (z P(s) >= 0).
  const erf = v128.or(f32x4.mul(z, p), v128.and(x, i32x4.splat(SIGN_MASK)));
  const phiNear = f32x4.mul(half, f32x4.add(one, erf));
  const t = f32x4.div(one, f32x4.add(one, f32x4.mul(half, z)));
  let r = f32x4.splat(ERFC_R9);
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R8));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R7));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R6));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R5));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R4));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R3));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R2));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R1));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(ERFC_R0));
  const halfErfc = f32x4.mul(half, f32x4.mul(t, expF32x4(f32x4.sub(r, s))));
  const phiFar = v128.bitselect(halfErfc, f32x4.sub(one, halfErfc), f32x4.lt(x, f32x4.splat(0)));
  return f32x4.mul(x, v128.bitselect(phiNear, phiFar, f32x4.lt(z, one)));
}

/**
 * 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as x / (1 + e^(-2u)) (the same
 * function: 1 + tanh(u) = 2 / (1 + e^(-2u))), which has no cancellation for negative x.
 */
// @ts-ignore: decorator
@inline
function geluTanhF32x4(x: v128): v128 {
  // At -10, -2u = 87.3, still inside exp's range; below, the result (under 1.2e-37) stays there.
  x = f32x4.pmax(x, f32x4.splat(-10));
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const inner = f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), x3));
  const e = expF32x4(f32x4.mul(f32x4.splat(-1.5957691216057308), inner));
  return f32x4.div(x, f32x4.add(f32x4.splat(1), e));
}

/**
 * e^x - 1 for x <= 0, without the cancellation of exp(x) - 1 near zero: x = n ln2 + r, |r| <= ln2/2,
 * e^r - 1 = r + r^2 q(r) (Taylor to r^7, truncation below 2e-8 relative), then
 * 2^n (e^r - 1) + (2^n - 1); for n = 0 that is r + r^2 q(r) exactly as evaluated.
 */
// @ts-ignore: decorator
@inline
function expm1NegativeF32x4(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87)), f32x4.splat(0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.0 / 5040.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  const q = f32x4.add(r, f32x4.mul(f32x4.mul(r, r), p));
  // 2^n, n in [-126, 0] after the clamp; 2^n - 1 is exact for n >= -24 and rounds to -1 below.
  const scale = i32x4.shl(i32x4.add(roundToI32(n), i32x4.splat(127)), 23);
  return f32x4.add(f32x4.mul(scale, q), f32x4.sub(scale, f32x4.splat(1)));
}

/** ONNX Elu: x for x >= 0 (so -0 stays -0), alpha (e^x - 1) below. */
// @ts-ignore: decorator
@inline
function eluF32x4(x: v128, alpha: f32): v128 {
  const below = f32x4.mul(f32x4.splat(alpha), expm1NegativeF32x4(x));
  return v128.bitselect(x, below, f32x4.ge(x, f32x4.splat(0)));
}

/**
 * log(1 + e^x) = max(x, 0) + log1p(e^-|x|). log1p(t) for t in (0, 1]: log(1 + f) + k with f = t, k = 0
 * for t < 1/2, and f = (t - 1)/2 (exact), k = ln 2 above; log(1 + f) = 2 atanh(s), s = f / (2 + f),
 * |s| <= 0.2, by its series to s^9 (truncation below 1e-8 relative). For tiny t it returns t exactly,
 * so very negative x gives e^x (clamped at e^-87 = 1.6e-38); large x gives x.
 */
// @ts-ignore: decorator
@inline
function softplusF32x4(x: v128): v128 {
  const one = f32x4.splat(1);
  const t = expF32x4(f32x4.neg(f32x4.abs(x)));
  const lower = f32x4.lt(t, f32x4.splat(0.5));
  const f = v128.bitselect(t, f32x4.mul(f32x4.sub(t, one), f32x4.splat(0.5)), lower);
  const k = v128.andnot(f32x4.splat(LN2), lower);
  const s = f32x4.div(f, f32x4.add(f32x4.splat(2), f));
  const s2 = f32x4.mul(s, s);
  let p = f32x4.splat(1.0 / 9.0);
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 7.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 5.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 3.0));
  p = f32x4.add(f32x4.mul(p, s2), one);
  const log1p = f32x4.add(k, f32x4.mul(f32x4.add(s, s), p));
  return f32x4.add(f32x4.pmax(x, f32x4.splat(0)), log1p);
}

/**
 * min(max(x, lo), hi) as numpy's clip computes it: x < lo ? lo : x, then v > hi ? hi : v (pmax/pmin).
 * NaN passes through, -0 stays -0 unless a bound replaces it, and lo > hi gives hi.
 */
// @ts-ignore: decorator
@inline
function clipF32x4(x: v128, lo: f32, hi: f32): v128 {
  return f32x4.pmin(f32x4.pmax(x, f32x4.splat(lo)), f32x4.splat(hi));
}

/**
 * Any activation code of Act on four lanes, chosen at run time; codes Linear..Tanh give activateF32x4's
 * bits (the same functions). Unknown codes pass v through. For a caller that needs one value's
 * activation with a code it does not know at compile time; the loops below pick once per call.
 */
// @ts-ignore: decorator
@inline
export function activateAnyF32x4(v: v128, act: i32, alpha: f32, beta: f32): v128 {
  switch (act) {
    case Act.Relu: return reluF32x4(v);
    case Act.LeakyRelu: return leakyReluF32x4(v, alpha);
    case Act.Sigmoid: return sigmoidF32x4(v);
    case Act.Tanh: return tanhF32x4(v);
    case Act.Silu: return siluF32x4(v);
    case Act.GeluErf: return geluErfF32x4(v);
    case Act.GeluTanh: return geluTanhF32x4(v);
    case Act.Elu: return eluF32x4(v, alpha);
    case Act.Softplus: return softplusF32x4(v);
    case Act.Clip: return clipF32x4(v, alpha, beta);
    default: return v;
  }
}

/** One value through activateAnyF32x4's lane code: what a tail element gets, the same bits as a lane. */
// @ts-ignore: decorator
@inline
export function activateAnyF32(x: f32, act: i32, alpha: f32, beta: f32): f32 {
  return f32x4.extract_lane(activateAnyF32x4(f32x4.splat(x), act, alpha, beta), 0);
}

// One class per activation, so that activateSpan<F> is compiled once per activation with its function
// inlined: a loop that holds only its own code. (An inlined loop given the code as a constant is not
// enough: binaryen's code folding merged the ten copies back into one loop that tested the code on
// every vector, 5-10x slower.) The classes are never instantiated; `changetype<F>(0)` names the method.
@final class Relu { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return reluF32x4(v); } }
@final class LeakyRelu { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return leakyReluF32x4(v, alpha); } }
@final class Sigmoid { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return sigmoidF32x4(v); } }
@final class Tanh { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return tanhF32x4(v); } }
@final class Silu { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return siluF32x4(v); } }
@final class GeluErf { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return geluErfF32x4(v); } }
@final class GeluTanh { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return geluTanhF32x4(v); } }
@final class Elu { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return eluF32x4(v, alpha); } }
@final class Softplus { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return softplusF32x4(v); } }
@final class Clip { @inline apply(v: v128, alpha: f32, beta: f32): v128 { return clipF32x4(v, alpha, beta); } }

/** y = F(x) over count values: a SIMD body, and a tail of single values through the same lane code by a splat. */
function activateSpan<F>(x: usize, y: usize, count: i32, alpha: f32, beta: f32): void {
  const f = changetype<F>(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = <usize>i << 2;
    v128.store(y + at, f.apply(v128.load(x + at), alpha, beta));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    store<f32>(y + at, f32x4.extract_lane(f.apply(f32x4.splat(load<f32>(x + at)), alpha, beta), 0));
  }
}

/**
 * y = act(x) over `count` floats; x == y is fine (in place). alpha: LeakyRelu's and Elu's slope, Clip's
 * minimum; beta: Clip's maximum (pass -inf/+inf for a missing bound). Linear (and an unknown code)
 * copies. Codes Linear..Tanh give exactly activateInPlace's bits.
 */
export function activate(x: usize, y: usize, count: i32, act: i32, alpha: f32, beta: f32): void {
  if (count <= 0) return;
  switch (act) {
    case Act.Relu: activateSpan<Relu>(x, y, count, alpha, beta); return;
    case Act.LeakyRelu: activateSpan<LeakyRelu>(x, y, count, alpha, beta); return;
    case Act.Sigmoid: activateSpan<Sigmoid>(x, y, count, alpha, beta); return;
    case Act.Tanh: activateSpan<Tanh>(x, y, count, alpha, beta); return;
    case Act.Silu: activateSpan<Silu>(x, y, count, alpha, beta); return;
    case Act.GeluErf: activateSpan<GeluErf>(x, y, count, alpha, beta); return;
    case Act.GeluTanh: activateSpan<GeluTanh>(x, y, count, alpha, beta); return;
    case Act.Elu: activateSpan<Elu>(x, y, count, alpha, beta); return;
    case Act.Softplus: activateSpan<Softplus>(x, y, count, alpha, beta); return;
    case Act.Clip: activateSpan<Clip>(x, y, count, alpha, beta); return;
    default: if (x != y) memory.copy(y, x, <usize>count << 2);
  }
}

/**
 * The module's export `activateInPlace`: activation.ts's loop for codes Linear..Tanh (the one the GEMM
 * calls, bits unchanged), `activate` for the rest. Kept apart from activation.ts so the GEMM and the
 * training module do not pull these activations in. No maximum for Clip here (+inf): call `activate`.
 */
export function activateInPlaceAny(ptr: usize, count: i32, act: i32, alpha: f32): void {
  if (act > FUSABLE_ACT_MAX) activate(ptr, ptr, count, act, alpha, Infinity);
  else activateInPlace(ptr, count, act, alpha);
}
