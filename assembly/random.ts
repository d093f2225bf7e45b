// Latent vectors drawn inside wasm, so the same seed gives the same bits on every platform.
// Sample i of a seed has its own generator, keyed by (seed, i): sample(64) equals sample(32) followed
// by sample(32) starting at index 32. Integer hashing (SplitMix64) feeds Box-Muller in f64, whose
// log/sin/cos are AssemblyScript's own wasm code, not the host's Math.

// @ts-ignore: decorator
@inline
function mix64(z: u64): u64 {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

const GOLDEN: u64 = 0x9e3779b97f4a7c15;
/** Keeps fillUniform's stream apart from fillNormal's for the same (seed, sample). */
const UNIFORM_KEY: u64 = 0xd1b54a32d192ed03;

/**
 * Fills rows x dim floats at `dst` with N(0, stddev^2) draws; row r is sample `first + r` of `seed`.
 */
export function fillNormal(dst: usize, rows: i32, dim: i32, seedLo: u32, seedHi: u32, first: u32, stddev: f64): void {
  const seed = (<u64>seedHi << 32) | <u64>seedLo;
  for (let r = 0; r < rows; r++) {
    let state = mix64(seed ^ mix64(<u64>(first + <u32>r) + GOLDEN));
    const row = dst + (<usize>(r * dim) << 2);
    for (let j = 0; j < dim; j += 2) {
      state += GOLDEN;
      const u1 = <f64>((mix64(state) >> 11) + 1) * 1.1102230246251565e-16; // (0, 1]
      state += GOLDEN;
      const u2 = <f64>(mix64(state) >> 11) * 1.1102230246251565e-16; // [0, 1)
      const radius = Math.sqrt(-2.0 * Math.log(u1)) * stddev;
      const angle = 6.283185307179586 * u2;
      store<f32>(row + (<usize>j << 2), <f32>(radius * Math.cos(angle)));
      if (j + 1 < dim) store<f32>(row + (<usize>(j + 1) << 2), <f32>(radius * Math.sin(angle)));
    }
  }
}

/**
 * Fills `rows` floats at `dst` with uniform draws in [0, 1), as f64; value r belongs to sample
 * `first + r` of `seed`. A stream of its own (keyed apart from fillNormal's), so a model with a
 * mixture prior picks sample r's component independently of that sample's normal draws.
 */
export function fillUniform(dst: usize, rows: i32, seedLo: u32, seedHi: u32, first: u32): void {
  const seed = (<u64>seedHi << 32) | <u64>seedLo;
  for (let r = 0; r < rows; r++) {
    const state = mix64(seed ^ mix64(<u64>(first + <u32>r) + GOLDEN) ^ UNIFORM_KEY);
    store<f64>(dst + (<usize>r << 3), <f64>(mix64(state + GOLDEN) >> 11) * 1.1102230246251565e-16);
  }
}
