// Normalizations on NHWC values, each followed by a per-channel affine and an activation (Act codes
// 0..4, through activateF32x4: a value's activation is the activation op's):
// - groupNorm: per sample and group of C / groups channels, statistics over pixels x those channels
//   (InstanceNorm is groups = C, GroupNorm(1) normalizes the whole sample);
// - layerNormChannels: per pixel over its C channels (PyTorch's nn.LayerNorm(C) channels-last).
//
// Statistics are f64, in two passes: the mean, then the sum of squared deviations from it. The one-pass
// E[x^2] - E[x]^2 cancels catastrophically where |mean| >> std (activations offset by a bias): its
// error is about eps * (mean / std)^2 relative to the variance, 1e-8 in f64 at mean / std = 1e4 and
// all of it in f32. Two passes cost one more read of the input and leave only rounding of the
// deviations. Sums run in a fixed order, documented at each, with plain adds (no fused
// multiply-add, also in the relaxed build): the same bits on every engine.
//
// The normalization itself is f32: y = ((x - mean_hi) - mean_lo) * a + beta, where mean_hi is the
// f64 mean rounded to f32 and mean_lo the rest. Where |mean| >> std, x - mean_hi is exact (x and
// mean_hi within a factor of two), so the deviation keeps its accuracy; x * a + (beta - mean * a)
// would lose eps * |mean| / std of the output's scale, 1e-3 at mean / std = 1e4.
import { activateF32x4 } from './activation';

/** The scratch groupNorm needs for C channels: f64 sums[C], f64 squares[C], f32 meanHi[C], meanLo[C], a[C]. */
export function groupNormScratchBytes(C: i32): usize {
  return (<usize>C * 28 + 15) & ~(<usize>15);
}

/**
 * Group normalization of x [batch, pixels, C] into y (y = x allowed), groups dividing C (the host
 * checks). Per (sample, group): mean and biased variance over pixels x C / groups values, then
 * y = act(((x - mean) / sqrt(var + epsilon)) * gamma[c] + beta[c]). gamma and beta hold C f32 each;
 * scratch holds groupNormScratchBytes(C) bytes.
 *
 * Order of the sums: each channel's values are added over the pixels in order, from zero, in f64;
 * a group's sum is then its channels' sums in channel order. The same for the squared deviations.
 */
export function groupNorm(
  x: usize, y: usize, batch: i32, pixels: i32, C: i32, groups: i32, epsilon: f32,
  gamma: usize, beta: usize, act: i32, alpha: f32, scratch: usize,
): void {
  const sums = scratch;
  const squares = scratch + (<usize>C << 3);
  const meanHi = scratch + (<usize>C << 4);
  const meanLo = meanHi + (<usize>C << 2);
  const scale = meanLo + (<usize>C << 2);
  const perGroup = C / groups;
  const count = <f64>pixels * <f64>perGroup;
  const sampleBytes = <usize>pixels * <usize>C << 2;
  for (let s = 0; s < batch; s++) {
    const xs = x + <usize>s * sampleBytes;
    // Pass 1: each channel's sum; sums[c] becomes its group's mean.
    channelSums(xs, pixels, C, sums, 0, false);
    for (let g = 0; g < groups; g++) {
      const first = g * perGroup;
      let total: f64 = 0;
      for (let c = first; c < first + perGroup; c++) total += load<f64>(sums + (<usize>c << 3));
      const mean = total / count;
      for (let c = first; c < first + perGroup; c++) store<f64>(sums + (<usize>c << 3), mean);
    }
    // Pass 2: each channel's squared deviations from its group's mean.
    channelSums(xs, pixels, C, squares, sums, true);
    for (let g = 0; g < groups; g++) {
      const first = g * perGroup;
      let total: f64 = 0;
      for (let c = first; c < first + perGroup; c++) total += load<f64>(squares + (<usize>c << 3));
      const invStd = 1.0 / sqrt<f64>(total / count + <f64>epsilon);
      const mean = load<f64>(sums + (<usize>first << 3));
      const hi = <f32>mean;
      const lo = <f32>(mean - <f64>hi);
      for (let c = first; c < first + perGroup; c++) {
        store<f32>(meanHi + (<usize>c << 2), hi);
        store<f32>(meanLo + (<usize>c << 2), lo);
        store<f32>(scale + (<usize>c << 2), <f32>(<f64>load<f32>(gamma + (<usize>c << 2)) * invStd));
      }
    }
    // Pass 3: normalize, per-channel coefficients read as vectors beside the values.
    const ys = y + <usize>s * sampleBytes;
    const rowBytes = <usize>C << 2;
    for (let p = 0; p < pixels; p++) {
      const at = <usize>p * rowBytes;
      let i: usize = 0;
      for (; i + 16 <= rowBytes; i += 16) {
        v128.store(ys + at + i, normalized(v128.load(xs + at + i), v128.load(meanHi + i), v128.load(meanLo + i), v128.load(scale + i), v128.load(beta + i), act, alpha));
      }
      for (; i < rowBytes; i += 4) {
        const v = normalized(v128.load32_splat(xs + at + i), v128.load32_splat(meanHi + i), v128.load32_splat(meanLo + i), v128.load32_splat(scale + i), v128.load32_splat(beta + i), act, alpha);
        store<f32>(ys + at + i, f32x4.extract_lane(v, 0));
      }
    }
  }
}

/** act(((x - hi) - lo) * a + b), lane by lane in f32; the tails pass splats, so they round as a lane does. */
// @ts-ignore: decorator
@inline
function normalized(x: v128, hi: v128, lo: v128, a: v128, b: v128, act: i32, alpha: f32): v128 {
  const d = f32x4.sub(f32x4.sub(x, hi), lo);
  return activateF32x4(f32x4.add(f32x4.mul(d, a), b), act, alpha);
}

/**
 * acc[c] = sum over p in order of x[p, c] (squares false) or of (x[p, c] - means[c])^2 (squares true),
 * in f64 from zero, for c < C; two channels per f64x2 lane pair, the last C % 2 alone (the same
 * adds, so a channel's sum does not depend on its position).
 */
function channelSums(x: usize, pixels: i32, C: i32, acc: usize, means: usize, squares: bool): void {
  memory.fill(acc, 0, <usize>C << 3);
  const rowBytes = <usize>C << 2;
  for (let p = 0; p < pixels; p++) {
    const row = x + <usize>p * rowBytes;
    let c: usize = 0;
    for (; c + 4 <= <usize>C; c += 4) {
      const v = v128.load(row + (c << 2));
      let lo = f64x2.promote_low_f32x4(v);
      let hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
      const a = acc + (c << 3);
      if (squares) {
        lo = f64x2.sub(lo, v128.load(means + (c << 3)));
        hi = f64x2.sub(hi, v128.load(means + (c << 3), 16));
        lo = f64x2.mul(lo, lo);
        hi = f64x2.mul(hi, hi);
      }
      v128.store(a, f64x2.add(v128.load(a), lo));
      v128.store(a, f64x2.add(v128.load(a, 16), hi), 16);
    }
    for (; c < <usize>C; c++) {
      let v = <f64>load<f32>(row + (c << 2));
      if (squares) {
        v -= load<f64>(means + (c << 3));
        v *= v;
      }
      const a = acc + (c << 3);
      store<f64>(a, load<f64>(a) + v);
    }
  }
}

/**
 * Layer normalization over the channels of each of `rows` pixels of x [rows, C] into y (y = x
 * allowed): y = act(((x - mean) / sqrt(var + epsilon)) * gamma[c] + beta[c]), biased variance over the
 * pixel's C values. In f32, y = ((((x - mean_hi) - mean_lo) * s) * gamma[c]) + beta[c] with
 * s = f32(1 / sqrt(var + epsilon)).
 *
 * Order of the sums (f64, from zero): channels 4k, 4k+1, 4k+2, 4k+3 go to four running sums over k
 * (two f64x2 accumulators), combined as (s0 + s1) + (s2 + s3); the channels past the last multiple
 * of four are then added one by one in order.
 */
export function layerNormChannels(x: usize, y: usize, rows: i32, C: i32, epsilon: f32, gamma: usize, beta: usize, act: i32, alpha: f32): void {
  const rowBytes = <usize>C << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    const yr = y + <usize>r * rowBytes;
    const mean = rowSum(xr, C, 0, false) / <f64>C;
    const invStd = 1.0 / sqrt<f64>(rowSum(xr, C, mean, true) / <f64>C + <f64>epsilon);
    const hiF = <f32>mean;
    const hi = f32x4.splat(hiF);
    const lo = f32x4.splat(<f32>(mean - <f64>hiF));
    const s = f32x4.splat(<f32>invStd);
    let i: usize = 0;
    for (; i + 16 <= rowBytes; i += 16) {
      v128.store(yr + i, layerNormalized(v128.load(xr + i), hi, lo, s, v128.load(gamma + i), v128.load(beta + i), act, alpha));
    }
    for (; i < rowBytes; i += 4) {
      const v = layerNormalized(v128.load32_splat(xr + i), hi, lo, s, v128.load32_splat(gamma + i), v128.load32_splat(beta + i), act, alpha);
      store<f32>(yr + i, f32x4.extract_lane(v, 0));
    }
  }
}

// @ts-ignore: decorator
@inline
function layerNormalized(x: v128, hi: v128, lo: v128, s: v128, g: v128, b: v128, act: i32, alpha: f32): v128 {
  const d = f32x4.sub(f32x4.sub(x, hi), lo);
  return activateF32x4(f32x4.add(f32x4.mul(f32x4.mul(d, s), g), b), act, alpha);
}

/** Sum of a row's C values (or of their squared deviations from mean), in the order layerNormChannels documents. */
function rowSum(row: usize, C: i32, mean: f64, squares: bool): f64 {
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
  const m = f64x2.splat(mean);
  let c: usize = 0;
  for (; c + 4 <= <usize>C; c += 4) {
    const v = v128.load(row + (c << 2));
    let lo = f64x2.promote_low_f32x4(v);
    let hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
    if (squares) {
      lo = f64x2.sub(lo, m);
      hi = f64x2.sub(hi, m);
      lo = f64x2.mul(lo, lo);
      hi = f64x2.mul(hi, hi);
    }
    acc0 = f64x2.add(acc0, lo);
    acc1 = f64x2.add(acc1, hi);
  }
  let total = (f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1)) + (f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1));
  for (; c < <usize>C; c++) {
    let v = <f64>load<f32>(row + (c << 2));
    if (squares) {
      v -= mean;
      v *= v;
    }
    total += v;
  }
  return total;
}
