// Activations, applied in the store epilogue of every compute kernel (fused bias + activation; the f32
// microkernel's blocks of four leave sigmoid and tanh to a pass after them) and by the standalone
// activation op. The vector forms are the hot path; the scalar forms serve the lanes
// of a partial tail so that a value's result never depends on where in a batch it sits.
import { roundToI32 } from './simd';

import { Act } from '../../src/runtime/abi';

export const ACT_LINEAR: i32 = Act.Linear;
export const ACT_RELU: i32 = Act.Relu;
export const ACT_LEAKY_RELU: i32 = Act.LeakyRelu;
export const ACT_SIGMOID: i32 = Act.Sigmoid;
export const ACT_TANH: i32 = Act.Tanh;

// exp(x) by Cody-Waite range reduction x = n*ln2 + r, |r| <= ln2/2, and a degree-6 Taylor
// polynomial for e^r (relative error about 1.2e-7). Plain mul/add only, so every engine rounds the
// same way and results are bit-identical across platforms.
const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_MAX: f32 = 88.0;
const EXP_MIN: f32 = -87.0;

// Exported through the list after it, not as `export function`: asc warns (AS112) of v128 crossing
// to JavaScript for every function declared `export`, though only assembly/index.ts's exports reach
// the host and these two modules' v128 helpers are plain calls inside the module.
function expF32x4(x: v128): v128 {
  // pmax/pmin are one x64 instruction each where max/min cost V8 about seven (NaN and signed-zero
  // rules); for these constant bounds they agree on every input, NaN included (it passes through).
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.0 / 720.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  // 2^n built directly in the exponent bits; n is within [-126, 127] after the clamp.
  const scale = i32x4.shl(i32x4.add(roundToI32(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}
export { expF32x4 };

// The four activations of codes Relu..Tanh one by one, for kernels that pick theirs once per call
// (activation-extra.ts); activateF32x4 and activateWithoutCall choose among the same functions.

// @ts-ignore: decorator
@inline
export function reluF32x4(v: v128): v128 {
  return f32x4.max(v, f32x4.splat(0));
}

// @ts-ignore: decorator
@inline
export function leakyReluF32x4(v: v128, alpha: f32): v128 {
  return v128.bitselect(v, f32x4.mul(v, f32x4.splat(alpha)), f32x4.gt(v, f32x4.splat(0)));
}

// @ts-ignore: decorator
@inline
export function sigmoidF32x4(v: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, expF32x4(f32x4.neg(v))));
}

/** tanh(x) = 1 - 2 / (e^(2x) + 1): saturates cleanly to ±1 at both ends. */
// @ts-ignore: decorator
@inline
export function tanhF32x4(v: v128): v128 {
  const one = f32x4.splat(1);
  const e2x = expF32x4(f32x4.add(v, v));
  return f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(e2x, one)));
}

// @ts-ignore: decorator
@inline
export function activateF32x4(v: v128, act: i32, alpha: f32): v128 {
  if (act == ACT_SIGMOID) return sigmoidF32x4(v);
  if (act == ACT_TANH) return tanhF32x4(v);
  return activateWithoutCall(v, act, alpha);
}

/**
 * The activations computed without a call (ReLU, leaky ReLU); every other one passes v through, to be
 * applied afterwards where activatesByCall(act). For the f32 microkernel's epilogue: with a call to
 * expF32x4 in it, even on a path never taken, each block of four rows cost about as much again as its
 * 64 k of multiply-adds, so training's weight gradients at batch 64 (K = 64) ran at about half speed
 * (`npm run bench:train-builds -- BASE.wasm --zeros 0`: 1.8x without the call).
 */
// @ts-ignore: decorator
@inline
export function activateWithoutCall(v: v128, act: i32, alpha: f32): v128 {
  if (act == ACT_RELU) return reluF32x4(v);
  if (act == ACT_LEAKY_RELU) return leakyReluF32x4(v, alpha);
  return v;
}

/** True for the activations activateWithoutCall leaves to a later pass (they go through expF32x4). */
// @ts-ignore: decorator
@inline
export function activatesByCall(act: i32): bool {
  return act == ACT_SIGMOID || act == ACT_TANH;
}

/** Applies an activation in place to `count` floats (the standalone activation op). */
export function activateInPlace(ptr: usize, count: i32, act: i32, alpha: f32): void {
  if (act == ACT_LINEAR) return;
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = ptr + (<usize>i << 2);
    v128.store(at, activateF32x4(v128.load(at), act, alpha));
  }
  // Tail lanes go through the same vector code via a splat, so they round identically.
  for (; i < count; i++) {
    const at = ptr + (<usize>i << 2);
    store<f32>(at, f32x4.extract_lane(activateF32x4(f32x4.splat(load<f32>(at)), act, alpha), 0));
  }
}
