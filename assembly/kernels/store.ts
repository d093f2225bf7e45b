// The store epilogue shared by the compute kernels: bias, activation, then a full or partial store of
// one 8-wide output panel.
import { activateF32x4, activateWithoutCall } from './activation';

// @ts-ignore: decorator
@inline
export function finishLanes(acc: v128, bias: v128, act: i32, alpha: f32): v128 {
  return activateF32x4(f32x4.add(acc, bias), act, alpha);
}

/** finishLanes for an epilogue that must not call: sigmoid and tanh are left for a later pass. */
// @ts-ignore: decorator
@inline
export function finishLanesWithoutCall(acc: v128, bias: v128, act: i32, alpha: f32): v128 {
  return activateWithoutCall(f32x4.add(acc, bias), act, alpha);
}

/** Stores lanes [0, count) of two vectors (8 floats) at `dst`; count in 1..8. */
// @ts-ignore: decorator
@inline
export function storePanel(dst: usize, lo: v128, hi: v128, count: i32): void {
  if (count == 8) {
    v128.store(dst, lo);
    v128.store(dst, hi, 16);
    return;
  }
  storePartial(dst, lo, min(count, 4));
  if (count > 4) storePartial(dst + 16, hi, count - 4);
}

// @ts-ignore: decorator
@inline
function storePartial(dst: usize, v: v128, count: i32): void {
  if (count == 4) {
    v128.store(dst, v);
    return;
  }
  store<f32>(dst, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(dst, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(dst, f32x4.extract_lane(v, 2), 8);
}

/**
 * Bias, activation and store of one panel, as a call: for kernels that finish several panels at once
 * outside their hot loop, where inlining the activation code each time would grow the module by KBs.
 */
// Declared without `export` and exported by the list below: see expF32x4 in activation.ts (AS112).
function finishPanel(y: usize, lo: v128, hi: v128, bias: usize, count: i32, act: i32, alpha: f32): void {
  storePanel(y, finishLanes(lo, v128.load(bias), act, alpha), finishLanes(hi, v128.load(bias, 16), act, alpha), count);
}
export { finishPanel };
