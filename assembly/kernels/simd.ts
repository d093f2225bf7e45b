// The vector idioms the compute kernels share, in one place so the strict and relaxed builds
// differ only here. asc's ASC_FEATURE_RELAXED_SIMD is a compile-time constant: each build contains
// exactly one branch.

/** acc + a * b: two roundings in the strict build (bit-identical everywhere), one fused multiply-add
 * in the relaxed build (faster where the CPU has FMA; results may differ in the last bit). */
// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Four copies of the f32 at `ptr`, loaded straight into a vector (a broadcast load, no shuffle). */
// @ts-ignore: decorator
@inline
export function splatF32(ptr: usize): v128 {
  return v128.load32_splat(ptr);
}

/** 1.5 * 2^23: adding it leaves a float's value rounded to an integer in the low mantissa bits. */
const ROUNDING_MAGIC: f32 = 12582912.0;

/**
 * Each lane rounded to the nearest integer, ties to even, as f32x4.nearest then a conversion to i32
 * would give, for |v| < 2^22: adding 1.5 * 2^23 makes the FPU round (in its default mode, the same
 * on every engine), and the integer then sits in the sum's low bits. Two instructions where V8 spends
 * about ten on x64 for i32x4.trunc_sat_f32x4_s's saturation and NaN rules.
 */
// @ts-ignore: decorator
@inline
export function roundToI32(v: v128): v128 {
  return i32x4.sub(f32x4.add(v, f32x4.splat(ROUNDING_MAGIC)), f32x4.splat(ROUNDING_MAGIC));
}
