// One Adam update of a weight tensor in a single pass (src/train/adam.ts's step, fused): what the
// optimizer otherwise spends about twelve full passes of elementwise kernels on. The arithmetic is
// the same f32 operations in the same order as that op-by-op path (separate multiplies and adds, a
// correctly rounded square root), so both give the same bits:
//   m' = m * beta1 + g * (1 - beta1)
//   v' = v * beta2 + (g * g) * (1 - beta2)
//   w' = w - (m' * stepSize) / (sqrt(v') + epsilon)

/** n values of w, g, m, v in; w', m', v' out (which may be the inputs' own buffers). */
export function adamUpdate(
  w: usize, g: usize, m: usize, v: usize, wOut: usize, mOut: usize, vOut: usize, n: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, stepSize: f32, epsilon: f32,
): void {
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(oneMinusBeta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(oneMinusBeta2);
  const step = f32x4.splat(stepSize), eps = f32x4.splat(epsilon);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const gi = v128.load(g + at);
    const mi = f32x4.add(f32x4.mul(v128.load(m + at), b1), f32x4.mul(gi, c1));
    const vi = f32x4.add(f32x4.mul(v128.load(v + at), b2), f32x4.mul(f32x4.mul(gi, gi), c2));
    const update = f32x4.div(f32x4.mul(mi, step), f32x4.add(f32x4.sqrt(vi), eps));
    v128.store(wOut + at, f32x4.sub(v128.load(w + at), update));
    v128.store(mOut + at, mi);
    v128.store(vOut + at, vi);
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const gi = load<f32>(g + at);
    const mi = load<f32>(m + at) * beta1 + gi * oneMinusBeta1;
    const vi = load<f32>(v + at) * beta2 + gi * gi * oneMinusBeta2;
    store<f32>(wOut + at, load<f32>(w + at) - (mi * stepSize) / (sqrt<f32>(vi) + epsilon));
    store<f32>(mOut + at, mi);
    store<f32>(vOut + at, vi);
  }
}
