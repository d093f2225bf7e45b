// An inverted-dropout mask, drawn in wasm: value i is keepScale where Mulberry32's output for state
// seed + (i + 1) * MULBERRY_INCREMENT is at least dropBelow (unsigned), else 0. That is exactly
// src/train/seeded.ts's dropoutMask (Mulberry32's state after i + 1 steps), computed four values at
// a time: its per-value JavaScript loop took about 5% of a conv-vae training step.

const MULBERRY_INCREMENT: u32 = 0x6d2b79f5;

/** n f32 values at dst. dropBelow = ceil(rate * 2^32); keepScale = 1 / (1 - rate) as f32. */
export function dropoutMask(dst: usize, n: i32, seed: u32, dropBelow: u32, keepScale: f32): void {
  let state = i32x4(
    seed + MULBERRY_INCREMENT, seed + 2 * MULBERRY_INCREMENT, seed + 3 * MULBERRY_INCREMENT, seed + 4 * MULBERRY_INCREMENT,
  );
  const advance = i32x4.splat(4 * MULBERRY_INCREMENT);
  const threshold = i32x4.splat(dropBelow), keep = f32x4.splat(keepScale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    v128.store(dst + (<usize>i << 2), v128.and(i32x4.ge_u(mix4(state), threshold), keep));
    state = i32x4.add(state, advance);
  }
  for (let s = seed + <u32>(i + 1) * MULBERRY_INCREMENT; i < n; i++, s += MULBERRY_INCREMENT) {
    store<f32>(dst + (<usize>i << 2), mix(s) >= dropBelow ? keepScale : 0);
  }
}

/** Mulberry32's output for a state (seeded.ts's mulberryMix). */
// @ts-ignore: decorator
@inline
function mix(s: u32): u32 {
  let t = (s ^ (s >>> 15)) * (s | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

/** mix on four states at once. */
// @ts-ignore: decorator
@inline
function mix4(s: v128): v128 {
  let t = i32x4.mul(v128.xor(s, i32x4.shr_u(s, 15)), v128.or(s, i32x4.splat(1)));
  t = v128.xor(t, i32x4.add(t, i32x4.mul(v128.xor(t, i32x4.shr_u(t, 7)), v128.or(t, i32x4.splat(61)))));
  return v128.xor(t, i32x4.shr_u(t, 14));
}
