// One Adam update of a weight tensor in a single pass (src/train/adam.ts's step, fused): what the
// optimizer otherwise spends about twelve full passes of elementwise kernels on. The arithmetic is
// the same f32 operations in the same order as that op-by-op path (separate multiplies and adds, a
// correctly rounded square root), so both give the same bits:
//   m' = m * beta1 + g * (1 - beta1)
//   v' = v * beta2 + (g * g) * (1 - beta2)
//   w' = w - (m' * stepSize) / (sqrt(v') + epsilon)
// adamStep4 and adamStep1 are that arithmetic for one vector and one value; the data-parallel
// update (kernels/replica-update.ts) runs them too, so it gives the same bits as this kernel.

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
    adamStep4(w + at, v128.load(g + at), m + at, v + at, wOut + at, mOut + at, vOut + at, b1, c1, b2, c2, step, eps);
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    adamStep1(w + at, load<f32>(g + at), m + at, v + at, wOut + at, mOut + at, vOut + at, beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, epsilon);
  }
}

/** Four values at w, m, v with gradients g; the constants splatted. */
// @ts-ignore: decorator
@inline export function adamStep4(
  w: usize, g: v128, m: usize, v: usize, wOut: usize, mOut: usize, vOut: usize,
  b1: v128, c1: v128, b2: v128, c2: v128, step: v128, eps: v128,
): void {
  const mi = f32x4.add(f32x4.mul(v128.load(m), b1), f32x4.mul(g, c1));
  const vi = f32x4.add(f32x4.mul(v128.load(v), b2), f32x4.mul(f32x4.mul(g, g), c2));
  const update = f32x4.div(f32x4.mul(mi, step), f32x4.add(f32x4.sqrt(vi), eps));
  v128.store(wOut, f32x4.sub(v128.load(w), update));
  v128.store(mOut, mi);
  v128.store(vOut, vi);
}

/** One value at w, m, v with gradient g. */
// @ts-ignore: decorator
@inline export function adamStep1(
  w: usize, g: f32, m: usize, v: usize, wOut: usize, mOut: usize, vOut: usize,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, stepSize: f32, epsilon: f32,
): void {
  const mi = load<f32>(m) * beta1 + g * oneMinusBeta1;
  const vi = load<f32>(v) * beta2 + g * g * oneMinusBeta2;
  store<f32>(wOut, load<f32>(w) - (mi * stepSize) / (sqrt<f32>(vi) + epsilon));
  store<f32>(mOut, mi);
  store<f32>(vOut, vi);
}
