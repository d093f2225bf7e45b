// The two vector idioms every compute kernel uses, in one place so the strict and relaxed builds
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
