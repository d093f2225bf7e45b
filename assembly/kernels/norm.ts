// Normalizations on NHWC values, each followed by a per-channel affine and an activation (Act codes
// 0..4, a value's activation being the activation op's: ReLU and leaky ReLU inline, sigmoid and tanh
// in a second pass over each piece just written, as the GEMM's epilogue does (activation.ts,
// activateWithoutCall: with the call to exp in the loop, GroupNorm's normalizing pass ran 5-7 times
// slower whatever the activation):
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
import { activateInPlace, activatesByCall, activateWithoutCall } from './activation';

/** Values normalized before the piece's sigmoid or tanh pass: 4 KB of f32, still in L1. */
const PIECE: i32 = 1024;

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
    // Pass 3: normalize, per-channel coefficients read as vectors beside the values, a piece of
    // pixels at a time.
    const ys = y + <usize>s * sampleBytes;
    const rowBytes = <usize>C << 2;
    const piecePixels = max(1, PIECE / C);
    for (let first = 0; first < pixels; first += piecePixels) {
      const end = min(pixels, first + piecePixels);
      for (let p = first; p < end; p++) {
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
      if (activatesByCall(act)) activateInPlace(ys + <usize>first * rowBytes, (end - first) * C, act, alpha);
    }
  }
}

/** act(((x - hi) - lo) * a + b) for ReLU and leaky ReLU (the rest after), lane by lane in f32; the tails pass splats, so they round as a lane does. */
// @ts-ignore: decorator
@inline
function normalized(x: v128, hi: v128, lo: v128, a: v128, b: v128, act: i32, alpha: f32): v128 {
  const d = f32x4.sub(f32x4.sub(x, hi), lo);
  return activateWithoutCall(f32x4.add(f32x4.mul(d, a), b), act, alpha);
}

/**
 * acc[c] = sum over p in order of x[p, c] (squares false) or of (x[p, c] - means[c])^2 (squares true),
 * in f64 from zero, for c < C; two channels per f64x2 lane pair, the last C % 4 alone (the same
 * adds, so a channel's sum does not depend on its position). Sixteen channels at a time run down all
 * the pixels with their sums in locals: summed in memory, each pixel's add waited on the last one's
 * store (GroupNorm over 256x256x16 took 4.6 times a residual add of the same size; 16 channels are
 * 64 bytes, a cache line, so each line is still read once a pass).
 */
function channelSums(x: usize, pixels: i32, C: i32, acc: usize, means: usize, squares: bool): void {
  const rowBytes = <usize>C << 2;
  let c: usize = 0;
  for (; c + 16 <= <usize>C; c += 16) {
    const m = means + (c << 3);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
    let s4 = f64x2.splat(0), s5 = f64x2.splat(0), s6 = f64x2.splat(0), s7 = f64x2.splat(0);
    for (let p = 0; p < pixels; p++) {
      const at = x + <usize>p * rowBytes + (c << 2);
      const v0 = v128.load(at), v1 = v128.load(at, 16), v2 = v128.load(at, 32), v3 = v128.load(at, 48);
      s0 = f64x2.add(s0, term(f64x2.promote_low_f32x4(v0), m, 0, squares));
      s1 = f64x2.add(s1, term(f64x2.promote_low_f32x4(v128.shuffle<f32>(v0, v0, 2, 3, 2, 3)), m, 16, squares));
      s2 = f64x2.add(s2, term(f64x2.promote_low_f32x4(v1), m, 32, squares));
      s3 = f64x2.add(s3, term(f64x2.promote_low_f32x4(v128.shuffle<f32>(v1, v1, 2, 3, 2, 3)), m, 48, squares));
      s4 = f64x2.add(s4, term(f64x2.promote_low_f32x4(v2), m, 64, squares));
      s5 = f64x2.add(s5, term(f64x2.promote_low_f32x4(v128.shuffle<f32>(v2, v2, 2, 3, 2, 3)), m, 80, squares));
      s6 = f64x2.add(s6, term(f64x2.promote_low_f32x4(v3), m, 96, squares));
      s7 = f64x2.add(s7, term(f64x2.promote_low_f32x4(v128.shuffle<f32>(v3, v3, 2, 3, 2, 3)), m, 112, squares));
    }
    const a = acc + (c << 3);
    v128.store(a, s0); v128.store(a, s1, 16); v128.store(a, s2, 32); v128.store(a, s3, 48);
    v128.store(a, s4, 64); v128.store(a, s5, 80); v128.store(a, s6, 96); v128.store(a, s7, 112);
  }
  for (; c + 4 <= <usize>C; c += 4) {
    const m = means + (c << 3);
    let lo = f64x2.splat(0), hi = f64x2.splat(0);
    for (let p = 0; p < pixels; p++) {
      const v = v128.load(x + <usize>p * rowBytes + (c << 2));
      lo = f64x2.add(lo, term(f64x2.promote_low_f32x4(v), m, 0, squares));
      hi = f64x2.add(hi, term(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), m, 16, squares));
    }
    v128.store(acc + (c << 3), lo);
    v128.store(acc + (c << 3), hi, 16);
  }
  for (; c < <usize>C; c++) {
    let sum: f64 = 0;
    const mean = squares ? load<f64>(means + (c << 3)) : 0;
    for (let p = 0; p < pixels; p++) {
      let v = <f64>load<f32>(x + <usize>p * rowBytes + (c << 2));
      if (squares) {
        v -= mean;
        v *= v;
      }
      sum += v;
    }
    store<f64>(acc + (c << 3), sum);
  }
}

/** A pair of channels' term of the sum: the values, or their squared deviations from the means at m + offset. */
// @ts-ignore: decorator
@inline
function term(v: v128, m: usize, offset: usize, squares: bool): v128 {
  if (!squares) return v;
  const d = f64x2.sub(v, v128.load(m + offset));
  return f64x2.mul(d, d);
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
  const pieceRows = max(1, PIECE / C);
  for (let first = 0; first < rows; first += pieceRows) {
    const end = min(rows, first + pieceRows);
    for (let r = first; r < end; r++) layerNormRow(x + <usize>r * rowBytes, y + <usize>r * rowBytes, C, epsilon, gamma, beta, act, alpha);
    // Sigmoid and tanh a piece of rows at a time, as groupNorm does.
    if (activatesByCall(act)) activateInPlace(y + <usize>first * rowBytes, (end - first) * C, act, alpha);
  }
}

/** One row of layerNormChannels, with ReLU or leaky ReLU (sigmoid and tanh come after). */
function layerNormRow(xr: usize, yr: usize, C: i32, epsilon: f32, gamma: usize, beta: usize, act: i32, alpha: f32): void {
  const rowBytes = <usize>C << 2;
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

// @ts-ignore: decorator
@inline
function layerNormalized(x: v128, hi: v128, lo: v128, s: v128, g: v128, b: v128, act: i32, alpha: f32): v128 {
  const d = f32x4.sub(f32x4.sub(x, hi), lo);
  return activateWithoutCall(f32x4.add(f32x4.mul(f32x4.mul(d, s), g), b), act, alpha);
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
