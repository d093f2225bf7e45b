// A direct convolution kernel for layers with few channels: at most 4 output channels (an RGB or
// grayscale image layer) or at most 4 input channels. It runs the phases of a transposed conv with a
// stride above 1 (conv-phases.ts) and conv2d layers at stride 1 (conv.ts), without im2col. The GEMM
// path fills 8-column panels, so one output channel left 7/8 of every multiply-add unused and three
// channels 5/8; and with so few columns, or so few k (4 for the README decoder's 1 -> 16 transposed
// conv), gathering, packing and scattering rows cost as much as the arithmetic. DCGAN's 64 -> 3 layer
// ran at 2.9 GFLOP/s there against 27-30 for its wide layers, PyTorch-VAE's final 16 -> 3 conv2d at
// 4.6 (bench/real-conv.ts --layers).
//
// Here the vector lanes are four neighbouring output pixels of a row instead of four columns. Each
// sample is first copied channel-major ([C][row][column], zero borders around it), so the four input
// values one tap reads for four neighbouring pixels are four neighbouring floats: one load, no gather.
// Per k, two such blocks of four pixels are multiplied by the weights of four output channels (splat
// loads): eight accumulators, 32 multiply-adds; one output channel runs 16 pixels of two rows instead.
// A transposed conv's phase reads taps backwards (input row q - t for output row q of the phase), a
// conv2d forwards (oy + ky*dh): the kernels take a row step and a column step per tap.
//
// Same bits as the GEMM path: each output value still sums its k = (ky, kx, c) in order from +0 by the
// same madd, a tap outside the input adding 0 * w (a zero from the border), which changes no sum that
// starts from +0; then bias and activation, sigmoid and tanh afterwards by activateInPlace, as the
// GEMM does. f16 weights are widened to f32 at pack time (these kernels hold few weights).
//
// int8 weights keep the int8 conv's arithmetic (conv-i8.ts): the sample quantized to i16 with one
// scale, exact i32 sums of q * w over each block of k (2048, or a phase's own length, phaseBlockK in
// conv-phases.ts), the blocks added in f32, then sum * (sample scale * channel scale) + bias, as
// i8-partials.ts's finishRow does. Here a plane holds a pair of channels (c, c+1) per pixel, so one
// i32x4.dot_i16x8_s multiplies four pixels' pairs by a pair of weights (c, c+1) of one output channel.
// Pairs must not straddle a block's end: every block length is a multiple of 4 k, so with an even C
// they cannot; an odd C (its last pair padded with a zero channel) takes this path only where the
// whole kernel is one block.
import { madd } from './simd';
import { activateInPlace, activatesByCall, activateWithoutCall } from './activation';
import { WEIGHTS_F16, WEIGHTS_I8 } from './dense';
import { widenHalf } from './f16';
import { aligned16 } from './pack-f32';
import { phaseCount, phaseFirst, phaseTaps } from './phase-geometry';
import { quantizedRowLength, quantizeRows } from './gemm-i8';
import { addPartial, K_BLOCK, PARTIALS } from './i8-partials';
import { phaseBlockK } from './conv-phases';

/** Output channels the accumulators of a block cover; wider layers run one group of 4 after another. */
const GROUP: i32 = 4;
/** Input channels up to which a layer runs this kernel whatever its output channels. */
const FEW_CHANNELS: i32 = 4;
/**
 * Up to this many input times output channels a layer runs this kernel too. f32: for 16 -> 16 it ran
 * 1.4-1.9x the GEMM path's speed, 8 -> 32 1.1-1.2x, while 16 -> 32 ran 0.93-0.97x and 16 -> 64 0.84x
 * (transposed 3x3 and 4x4 at stride 2, conv2d 3x3, batch 16; a scratch harness timing both builds in
 * turns). int8, whose GEMM path spends more per row (quantized rows packed in pairs, lists, sums): 128
 * -> 64 ran 1.3x, 64 -> 64 conv2d 1.2x, 256 -> 128 1.07x, 512 -> 256 0.81x (batch 4).
 */
const FEW_PRODUCT: i32 = 256;
const FEW_PRODUCT_I8: i32 = 8192;
/** Pixels of a row a step of the one-channel kernel covers: planes are padded to whole steps. */
const ROW_STEP: i32 = 16;

/**
 * Whether a layer's channels suit this kernel: at most 4 output or at most FEW_CHANNELS input channels,
 * or few of both (FEW_PRODUCT); for int8, channel pairs that cannot straddle a block's end (above).
 */
// @ts-ignore: decorator
@inline
export function directChannels(weights: i32, kh: i32, kw: i32, C: i32, OC: i32): bool {
  const few = OC <= GROUP || C <= FEW_CHANNELS || C * OC <= (weights == WEIGHTS_I8 ? FEW_PRODUCT_I8 : FEW_PRODUCT);
  return few && (weights != WEIGHTS_I8 || (C & 1) == 0 || kh * kw * C <= K_BLOCK);
}

/** Whether conv.ts runs a conv2d through this kernel: stride 1, one group, any dilation, few channels. */
export function usesDirectConv(weights: i32, C: i32, OC: i32, kh: i32, kw: i32, sh: i32, sw: i32, groups: i32, transposed: bool): bool {
  return !transposed && groups == 1 && sh == 1 && sw == 1 && directChannels(weights, kh, kw, C, OC);
}

/** Channel pairs of an int8 layer: C rounded up to even, halved. */
// @ts-ignore: decorator
@inline
function channelPairs(C: i32): i32 {
  return (C + 1) >> 1;
}

/** Output channels rounded up to whole groups: a k's row of packed weights. */
// @ts-ignore: decorator
@inline
function groupedColumns(OC: i32): i32 {
  return (OC + GROUP - 1) & ~(GROUP - 1);
}

/** Taps the packed weights hold: every phase's of a transposed conv (each tap once), a conv2d's kh x kw. */
function packedTaps(kh: i32, kw: i32, sh: i32, sw: i32, transposed: bool): i32 {
  if (!transposed) return kh * kw;
  let taps = 0;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) taps += phaseTaps(kh, sh, ry) * phaseTaps(kw, sw, rx);
  }
  return taps;
}

/**
 * Bytes packDirect writes: per tap (a transposed conv's grouped by phase), its C x OC weights as f32
 * [c][OC rounded up to 4], or for int8 as i16 pairs [channel pair][OC rounded up to 4][2].
 */
export function directKernelBytes(weights: i32, kh: i32, kw: i32, C: i32, OC: i32, sh: i32, sw: i32, transposed: bool): usize {
  const perTap = weights == WEIGHTS_I8 ? channelPairs(C) : C;
  return <usize>packedTaps(kh, kw, sh, sw, transposed) * <usize>perTap * <usize>groupedColumns(OC) << 2;
}

/**
 * Packs a conv2d kernel [kh, kw, C, OC] in tap order, or a conv2dTranspose kernel [kh, kw, OC, C] by
 * phase (ry, rx), each phase's taps (ry + sh*t, rx + sw*u) in (t, u) order: per tap, per input
 * channel, the OC weights (f32, f16 widened, zeros to a whole 4); int8 per channel pair, per column,
 * the pair (w[c], w[c+1]) as i16.
 */
export function packDirect(weights: i32, src: usize, dst: usize, kh: i32, kw: i32, C: i32, OC: i32, sh: i32, sw: i32, transposed: bool): void {
  let out = dst;
  if (!transposed) {
    for (let tap = 0; tap < kh * kw; tap++) out = packTap(weights, src, out, tap, C, OC, false);
    return;
  }
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) {
      const Ty = phaseTaps(kh, sh, ry), Tx = phaseTaps(kw, sw, rx);
      for (let t = 0; t < Ty; t++) {
        for (let u = 0; u < Tx; u++) out = packTap(weights, src, out, (ry + sh * t) * kw + rx + sw * u, C, OC, true);
      }
    }
  }
}

/** One tap's weights (packDirect); returns where the next tap's go. */
function packTap(weights: i32, src: usize, out: usize, tap: i32, C: i32, OC: i32, transposed: bool): usize {
  const OCp = groupedColumns(OC);
  for (let c = 0; c < C; c += weights == WEIGHTS_I8 ? 2 : 1) {
    for (let o = 0; o < OCp; o++) {
      // conv2dTranspose [kh, kw, OC, C]; conv2d [kh, kw, C, OC].
      const at = <usize>(transposed ? (tap * OC + o) * C + c : (tap * C + c) * OC + o);
      const next = <usize>(transposed ? 1 : OC);
      if (weights == WEIGHTS_I8) {
        store<i16>(out, o < OC ? <i16>load<i8>(src + at) : 0);
        store<i16>(out, o < OC && c + 1 < C ? <i16>load<i8>(src + at + next) : 0, 2);
      } else {
        let v: f32 = 0;
        if (o < OC) v = weights == WEIGHTS_F16 ? widenHalf(load<u16>(src + (at << 1))) : load<f32>(src + (at << 2));
        store<f32>(out, v);
      }
      out += 4;
    }
  }
  return out;
}

// The channel-major copy of a band of a sample's rows, with zeros around it: as many columns before and
// after it as the taps reach (a phase's taps reach back Tx - 1 columns, a conv2d's (kw - 1)*dw
// forwards), ROW_STEP more after it for the lanes a row's last step computes past its end, and the rows
// a band of BAND_ROWS output rows reads (its own and as many more as the taps reach, zeros outside the
// sample). Bands keep the planes' size to the input's width, whatever its height (a whole 512x512x64
// sample would have taken 67 MB more), and in cache while their rows are computed. Output pixels
// whose taps all fall outside the input (far padding, a transposed conv's output padding) are not
// computed from the planes but written as the GEMM computes them from a row of zeros (biasOnly), so
// the planes do not grow with the padding either.

/** Output rows a band of planes serves. */
const BAND_ROWS: i32 = 16;

/** Rows (or columns) of zeros on each side of the sample along an axis: how far the taps reach. */
// @ts-ignore: decorator
@inline
function planeBorder(k: i32, s: i32, d: i32, transposed: bool): i32 {
  return transposed ? phaseTaps(k, s, 0) - 1 : (k - 1) * d;
}

/** Scratch bytes convDirect needs: one band's planes (int8: the quantized sample first, then its band of planes of channel pairs). */
export function directScratchBytes(weights: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, transposed: bool): usize {
  const span = planeBorder(kh, sh, dh, transposed);
  const rows = bandRows(H, span) + span, columns = W + 2 * planeBorder(kw, sw, dw, transposed) + ROW_STEP;
  const plane = <usize>rows * <usize>columns << 2;
  if (weights != WEIGHTS_I8) return aligned16(<usize>C * plane);
  return quantizedBytes(H * W * C) + aligned16(<usize>channelPairs(C) * plane);
}

/** Rows q in a band: BAND_ROWS, or all H + span rows any output reads from where they are fewer. */
// @ts-ignore: decorator
@inline
function bandRows(H: i32, span: i32): i32 {
  return min(BAND_ROWS, H + span);
}

/** A quantized sample (i16, quantizeRows's padding) and its scale, 16-aligned. */
// @ts-ignore: decorator
@inline
function quantizedBytes(values: i32): usize {
  return aligned16(<usize>quantizedRowLength(values) << 1) + 16;
}

/** v clamped to [lo, hi]. */
// @ts-ignore: decorator
@inline
function clampTo(v: i32, lo: i32, hi: i32): i32 {
  return min(max(v, lo), hi);
}

/**
 * y = act(conv(x, w) + bias) through this kernel: a transposed conv phase by phase (arguments as
 * conv-phases.ts's convPhases), or a conv2d at stride 1 with dilation dh, dw; w packed by packDirect,
 * scratch of directScratchBytes.
 *
 * Rows are counted in q, the input row a pixel's first tap reads: a conv2d's output row oy is q = oy -
 * padTop, its taps read q + ky*dh; phase ry's pixel row qi is q = q0 + qi, its taps read q - t. A band
 * computes the rows q in [i0, i1) of every phase from the planes of input rows [i0, i1 + span) (conv2d)
 * or [i0 - span, i1) (phases).
 */
export function convDirect(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, dh: i32, dw: i32, transposed: bool,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): void {
  const span = planeBorder(kh, sh, dh, transposed), left = planeBorder(kw, sw, dw, transposed);
  const Wp = W + 2 * left + ROW_STEP;
  const planeBytes = <usize>((bandRows(H, span) + span) * Wp) << 2;
  const i8 = weights == WEIGHTS_I8;
  const values = H * W * C;
  // int8: [the quantized sample][its scale, last 4 of 16 bytes][planes of channel pairs].
  const sampleScale = scratch + quantizedBytes(values) - 16;
  const planes = i8 ? scratch + quantizedBytes(values) : scratch;
  const depth = i8 ? channelPairs(C) : C;
  const kBytes = <usize>groupedColumns(OC) << 2;
  // The rows q any output row reads from: a conv2d's from -span, a phase's up to H + span.
  const first = transposed ? 0 : -span, end = transposed ? H + span : H;
  for (let b = 0; b < batch; b++) {
    const xb = x + (<usize>(b * values) << 2);
    if (i8) quantizeRows(xb, 0, 1, values, scratch, sampleScale);
    const yb = y + (<usize>(b * OH * OW * OC) << 2);
    biasBorders(weights, transposed, H, W, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, span, left, yb, bias, scale, sampleScale, act, alpha);
    for (let i0 = first; i0 < end; i0 += BAND_ROWS) {
      const i1 = min(i0 + BAND_ROWS, end);
      const rowFirst = transposed ? i0 - span : i0;
      if (i8) toPairPlanes(scratch, planes, H, W, C, rowFirst, i1 - i0 + span, left, Wp, planeBytes);
      else toPlanes(xb, planes, H, W, C, rowFirst, i1 - i0 + span, left, Wp, planeBytes);
      if (!transposed) {
        // Output rows oy = q + padTop that reach the input, columns likewise (biasBorders did the rest).
        const qlo = max(i0, -padTop), qhi = min(i1, OH - padTop);
        const pa = clampTo(padLeft - left, 0, OW), pb = clampTo(padLeft + W, pa, OW);
        if (qlo >= qhi || pa >= pb) continue;
        const base = planes + (<usize>((qlo - rowFirst) * Wp + pa - padLeft + left) << 2);
        const out = yb + (<usize>(((qlo + padTop) * OW + pa) * OC) << 2);
        runTaps(
          weights, base, Wp, planeBytes, depth, kh, kw, <isize>(dh * Wp) << 2, <isize>dw << 2, qhi - qlo, pb - pa, C & 1 ? i32.MAX_VALUE : K_BLOCK,
          w, kBytes, bias, scale, sampleScale, OC, out, <usize>(OW * OC) << 2, <usize>OC << 2, act, alpha,
        );
        continue;
      }
      let wp = w;
      for (let ry = 0; ry < sh; ry++) {
        const Ty = phaseTaps(kh, sh, ry), PH = phaseCount(OH, padTop, sh, ry), q0 = phaseFirst(padTop, sh, ry);
        for (let rx = 0; rx < sw; rx++) {
          const Tx = phaseTaps(kw, sw, rx), PW = phaseCount(OW, padLeft, sw, rx), p0 = phaseFirst(padLeft, sw, rx);
          // Phase rows q in [q0, q0 + PH) that reach the input (q < H + Ty - 1), in this band; columns likewise.
          const qlo = max(i0, q0), qhi = min(i1, min(q0 + PH, H + Ty - 1));
          const pb = clampTo(W + Tx - 1 - p0, 0, PW);
          if (qlo < qhi && pb > 0) {
            // Tap (t, u) of phase pixel (q, p0 + pi) reads plane row q - t - rowFirst, column p0 + pi - u + left.
            const base = planes + (<usize>((qlo - rowFirst) * Wp + left + p0) << 2);
            const out = yb + (<usize>(((ry - padTop + sh * qlo) * OW + rx - padLeft + sw * p0) * OC) << 2);
            // With an odd C the whole kernel is one block (directChannels), and its padding pairs must not split it.
            const blockK = C & 1 ? i32.MAX_VALUE : phaseBlockK(kh, kw, C, sh, sw, ry, rx);
            runTaps(
              weights, base, Wp, planeBytes, depth, Ty, Tx, -(<isize>Wp << 2), -4, qhi - qlo, pb, blockK,
              wp, kBytes, bias, scale, sampleScale, OC, out, <usize>(sh * OW * OC) << 2, <usize>(sw * OC) << 2, act, alpha,
            );
          }
          wp += <usize>(Ty * Tx * depth) * kBytes;
        }
      }
    }
  }
  // What the blocks' epilogue left undone (activateWithoutCall), as gemm.ts does after its blocks.
  if (activatesByCall(act)) activateInPlace(y, batch * OH * OW * OC, act, alpha);
}

/**
 * The output pixels of one sample whose taps all fall outside the input, each phase's (or the
 * conv2d's) rows and columns past the reach the bands compute: biasOnly.
 */
function biasBorders(
  weights: i32, transposed: bool, H: i32, W: i32, OH: i32, OW: i32, OC: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  padTop: i32, padLeft: i32, span: i32, left: i32, yb: usize, bias: usize, scale: usize, sampleScale: usize, act: i32, alpha: f32,
): void {
  if (!transposed) {
    const qa = clampTo(padTop - span, 0, OH), qb = clampTo(padTop + H, qa, OH);
    const pa = clampTo(padLeft - left, 0, OW), pb = clampTo(padLeft + W, pa, OW);
    borders(weights, yb, <usize>(OW * OC) << 2, <usize>OC << 2, OH, OW, qa, qb, pa, pb, bias, scale, sampleScale, OC, act, alpha);
    return;
  }
  for (let ry = 0; ry < sh; ry++) {
    const Ty = phaseTaps(kh, sh, ry), PH = phaseCount(OH, padTop, sh, ry), q0 = phaseFirst(padTop, sh, ry);
    for (let rx = 0; rx < sw; rx++) {
      const Tx = phaseTaps(kw, sw, rx), PW = phaseCount(OW, padLeft, sw, rx), p0 = phaseFirst(padLeft, sw, rx);
      if (PH == 0 || PW == 0) continue;
      const qb = clampTo(H + Ty - 1 - q0, 0, PH), pb = clampTo(W + Tx - 1 - p0, 0, PW);
      const out = yb + (<usize>(((ry - padTop + sh * q0) * OW + rx - padLeft + sw * p0) * OC) << 2);
      borders(weights, out, <usize>(sh * OW * OC) << 2, <usize>(sw * OC) << 2, PH, PW, 0, qb, 0, pb, bias, scale, sampleScale, OC, act, alpha);
    }
  }
}

/** The pixels of a PH x PW grid (out: pixel (0, 0)) outside rows [qa, qb) by columns [pa, pb): biasOnly. */
function borders(
  weights: i32, out: usize, rowStride: usize, pixelStride: usize, PH: i32, PW: i32, qa: i32, qb: i32, pa: i32, pb: i32,
  bias: usize, scale: usize, sampleScale: usize, OC: i32, act: i32, alpha: f32,
): void {
  if (qa > 0) biasOnly(weights, out, rowStride, pixelStride, 0, qa, 0, PW, bias, scale, sampleScale, OC, act, alpha);
  if (qb < PH) biasOnly(weights, out, rowStride, pixelStride, qb, PH, 0, PW, bias, scale, sampleScale, OC, act, alpha);
  if (qa == qb) return;
  if (pa > 0) biasOnly(weights, out, rowStride, pixelStride, qa, qb, 0, pa, bias, scale, sampleScale, OC, act, alpha);
  if (pb < PW) biasOnly(weights, out, rowStride, pixelStride, qa, qb, pb, PW, bias, scale, sampleScale, OC, act, alpha);
}

/**
 * Output pixels [q0, q1) x [p0, p1) whose taps all read padding: what the GEMM computes from a row of
 * zeros, act(+0 + bias), or for int8 act(+0 * (sample scale * channel scale) + bias) (NaN where the
 * sample's scale is, as there).
 */
function biasOnly(
  weights: i32, out: usize, rowStride: usize, pixelStride: usize, q0: i32, q1: i32, p0: i32, p1: i32,
  bias: usize, scale: usize, sampleScale: usize, OC: i32, act: i32, alpha: f32,
): void {
  const zero = f32x4.splat(0);
  for (let g = 0; g < OC; g += GROUP) {
    const at = <usize>g << 2, columns = min(GROUP, OC - g);
    const sum = weights == WEIGHTS_I8 ? f32x4.mul(zero, f32x4.mul(v128.load32_splat(sampleScale), v128.load(scale + at))) : zero;
    const v = activateWithoutCall(f32x4.add(sum, v128.load(bias + at)), act, alpha);
    for (let q = q0; q < q1; q++) {
      for (let p = p0; p < p1; p++) storePixel(out + <usize>q * rowStride + <usize>p * pixelStride + at, v, columns);
    }
  }
}

/**
 * PH rows of PW output pixels of one sample (a phase, or a whole conv2d output), each summing Ty x Tx
 * taps of `depth` planes (channels, or int8 channel pairs): tap (t, u) of pixel (qi, pi) reads base
 * + (qi * Wp + pi) * 4 + t * rowStep + u * colStep. Its output is at out + qi * rowStride + pi *
 * pixelStride. Four output channels at a time; one channel alone in its own kernel.
 */
function runTaps(
  weights: i32, base: usize, Wp: i32, planeBytes: usize, depth: i32, Ty: i32, Tx: i32, rowStep: isize, colStep: isize,
  PH: i32, PW: i32, blockK: i32, w: usize, kBytes: usize, bias: usize, scale: usize, sampleScale: usize, OC: i32,
  out: usize, rowStride: usize, pixelStride: usize, act: i32, alpha: f32,
): void {
  if (weights != WEIGHTS_I8 && OC == 1) {
    rows1(base, Wp, planeBytes, depth, Ty, Tx, rowStep, colStep, PH, PW, w, kBytes, bias, out, rowStride, pixelStride, act, alpha);
    return;
  }
  // Group g's weights are columns 4g.. of each k's row, its bias, scales and outputs from channel 4g.
  for (let g = 0; g < OC; g += GROUP) {
    const at = <usize>g << 2, columns = min(GROUP, OC - g);
    if (weights == WEIGHTS_I8) {
      // Per column: f32(sample scale * channel scale), as finishRow multiplies them.
      const scales = f32x4.mul(v128.load32_splat(sampleScale), v128.load(scale + at));
      blocksI8(base, Wp, planeBytes, depth, Ty, Tx, rowStep, colStep, PH, PW, blockK >> 1, w + at, kBytes, scales, bias + at, columns, out + at, rowStride, pixelStride, act, alpha);
    } else {
      blocks4(base, Wp, planeBytes, depth, Ty, Tx, rowStep, colStep, PH, PW, w + at, kBytes, bias + at, columns, out + at, rowStride, pixelStride, act, alpha);
    }
  }
}

/** The byte offset of tap (t, u) from a pixel's plane address. */
// @ts-ignore: decorator
@inline
function tapOffset(t: i32, u: i32, rowStep: isize, colStep: isize): usize {
  return <usize>(<isize>t * rowStep + <isize>u * colStep);
}

/**
 * Four output channels (the first OC stored) of PH x PW pixels in blocks of four along a row (a row's
 * last block computes lanes past PW on the border's zeros and stores only its pixels), two blocks at a
 * time.
 */
function blocks4(
  base: usize, Wp: i32, planeBytes: usize, C: i32, Ty: i32, Tx: i32, rowStep: isize, colStep: isize, PH: i32, PW: i32,
  w: usize, kBytes: usize, bias: usize, OC: i32, out: usize, rowStride: usize, pixelStride: usize, act: i32, alpha: f32,
): void {
  const rowBlocks = (PW + 3) >> 2;
  const blocks = PH * rowBlocks;
  const bl = v128.load(bias);
  for (let s = 0; s < blocks; s += 2) {
    // Block s, and s + 1 when there is one (else s again, computed twice and stored once).
    const s1 = s + 1 < blocks ? s + 1 : s;
    const q0 = s / rowBlocks, p0 = (s % rowBlocks) << 2;
    const q1 = s1 / rowBlocks, p1 = (s1 % rowBlocks) << 2;
    const a0 = base + (<usize>(q0 * Wp + p0) << 2), a1 = base + (<usize>(q1 * Wp + p1) << 2);
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
    let wk = w;
    for (let t = 0; t < Ty; t++) {
      for (let u = 0; u < Tx; u++) {
        const off = tapOffset(t, u, rowStep, colStep);
        let x0 = a0 + off, x1 = a1 + off;
        const end = x0 + <usize>C * planeBytes;
        for (; x0 < end; x0 += planeBytes, x1 += planeBytes) {
          const v0 = v128.load(x0), v1 = v128.load(x1);
          const w0 = v128.load32_splat(wk), w1 = v128.load32_splat(wk, 4), w2 = v128.load32_splat(wk, 8), w3 = v128.load32_splat(wk, 12);
          c00 = madd(v0, w0, c00); c01 = madd(v0, w1, c01); c02 = madd(v0, w2, c02); c03 = madd(v0, w3, c03);
          c10 = madd(v1, w0, c10); c11 = madd(v1, w1, c11); c12 = madd(v1, w2, c12); c13 = madd(v1, w3, c13);
          wk += kBytes;
        }
      }
    }
    storeBlock(c00, c01, c02, c03, bl, out + <usize>q0 * rowStride + <usize>p0 * pixelStride, pixelStride, min(4, PW - p0), OC, act, alpha);
    if (s1 != s) storeBlock(c10, c11, c12, c13, bl, out + <usize>q1 * rowStride + <usize>p1 * pixelStride, pixelStride, min(4, PW - p1), OC, act, alpha);
  }
}

/**
 * One output channel (a grayscale image), where four channels' accumulators would be three quarters
 * waste: steps of two rows by 16 pixels (four blocks each, at constant offsets from one pointer per
 * row), eight accumulators of the one channel. A row's last step computes lanes past PW on the
 * border's zeros (planes are padded to whole steps, planeLength); an odd last row is computed twice and
 * stored once.
 */
function rows1(
  base: usize, Wp: i32, planeBytes: usize, C: i32, Ty: i32, Tx: i32, rowStep: isize, colStep: isize, PH: i32, PW: i32,
  w: usize, kBytes: usize, bias: usize, out: usize, rowStride: usize, pixelStride: usize, act: i32, alpha: f32,
): void {
  const bl = v128.load32_splat(bias);
  for (let q0 = 0; q0 < PH; q0 += 2) {
    const q1 = q0 + 1 < PH ? q0 + 1 : q0;
    for (let p = 0; p < PW; p += ROW_STEP) {
      const a0 = base + (<usize>(q0 * Wp + p) << 2), a1 = base + (<usize>(q1 * Wp + p) << 2);
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
      let wk = w;
      for (let t = 0; t < Ty; t++) {
        for (let u = 0; u < Tx; u++) {
          const off = tapOffset(t, u, rowStep, colStep);
          let x0 = a0 + off, x1 = a1 + off;
          const end = x0 + <usize>C * planeBytes;
          for (; x0 < end; x0 += planeBytes, x1 += planeBytes) {
            const wv = v128.load32_splat(wk);
            c0 = madd(v128.load(x0), wv, c0); c1 = madd(v128.load(x0, 16), wv, c1);
            c2 = madd(v128.load(x0, 32), wv, c2); c3 = madd(v128.load(x0, 48), wv, c3);
            c4 = madd(v128.load(x1), wv, c4); c5 = madd(v128.load(x1, 16), wv, c5);
            c6 = madd(v128.load(x1, 32), wv, c6); c7 = madd(v128.load(x1, 48), wv, c7);
            wk += kBytes;
          }
        }
      }
      const o0 = out + <usize>q0 * rowStride + <usize>p * pixelStride, o1 = out + <usize>q1 * rowStride + <usize>p * pixelStride;
      const n = PW - p;
      storeLanes1(c0, bl, o0, pixelStride, n, act, alpha); storeLanes1(c1, bl, o0 + 4 * pixelStride, pixelStride, n - 4, act, alpha);
      storeLanes1(c2, bl, o0 + 8 * pixelStride, pixelStride, n - 8, act, alpha); storeLanes1(c3, bl, o0 + 12 * pixelStride, pixelStride, n - 12, act, alpha);
      if (q1 != q0) {
        storeLanes1(c4, bl, o1, pixelStride, n, act, alpha); storeLanes1(c5, bl, o1 + 4 * pixelStride, pixelStride, n - 4, act, alpha);
        storeLanes1(c6, bl, o1 + 8 * pixelStride, pixelStride, n - 8, act, alpha); storeLanes1(c7, bl, o1 + 12 * pixelStride, pixelStride, n - 12, act, alpha);
      }
    }
  }
}

/**
 * blocks4 for int8: i32 sums of two blocks of four pixels by four columns over each block of
 * blockPairs channel pairs (a tap's pairs may be split between two blocks), added up in f32 in
 * PARTIALS, then scaled, biased and stored.
 */
function blocksI8(
  base: usize, Wp: i32, planeBytes: usize, pairs: i32, Ty: i32, Tx: i32, rowStep: isize, colStep: isize, PH: i32, PW: i32, blockPairs: i32,
  w: usize, kBytes: usize, scales: v128, bias: usize, OC: i32, out: usize, rowStride: usize, pixelStride: usize, act: i32, alpha: f32,
): void {
  const rowBlocks = (PW + 3) >> 2;
  const blocks = PH * rowBlocks;
  const bl = v128.load(bias);
  for (let s = 0; s < blocks; s += 2) {
    const s1 = s + 1 < blocks ? s + 1 : s;
    const q0 = s / rowBlocks, p0 = (s % rowBlocks) << 2;
    const q1 = s1 / rowBlocks, p1 = (s1 % rowBlocks) << 2;
    const a0 = base + (<usize>(q0 * Wp + p0) << 2), a1 = base + (<usize>(q1 * Wp + p1) << 2);
    let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c02 = i32x4.splat(0), c03 = i32x4.splat(0);
    let c10 = i32x4.splat(0), c11 = i32x4.splat(0), c12 = i32x4.splat(0), c13 = i32x4.splat(0);
    let wk = w;
    let left = blockPairs, first = true;
    for (let t = 0; t < Ty; t++) {
      for (let u = 0; u < Tx; u++) {
        const off = tapOffset(t, u, rowStep, colStep);
        let x0 = a0 + off, x1 = a1 + off;
        let done = 0;
        while (done < pairs) {
          const n = min(pairs - done, left);
          const end = x0 + <usize>n * planeBytes;
          for (; x0 < end; x0 += planeBytes, x1 += planeBytes) {
            const v0 = v128.load(x0), v1 = v128.load(x1);
            const w0 = v128.load32_splat(wk), w1 = v128.load32_splat(wk, 4), w2 = v128.load32_splat(wk, 8), w3 = v128.load32_splat(wk, 12);
            c00 = i32x4.add(c00, i32x4.dot_i16x8_s(v0, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(v0, w1));
            c02 = i32x4.add(c02, i32x4.dot_i16x8_s(v0, w2)); c03 = i32x4.add(c03, i32x4.dot_i16x8_s(v0, w3));
            c10 = i32x4.add(c10, i32x4.dot_i16x8_s(v1, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(v1, w1));
            c12 = i32x4.add(c12, i32x4.dot_i16x8_s(v1, w2)); c13 = i32x4.add(c13, i32x4.dot_i16x8_s(v1, w3));
            wk += kBytes;
          }
          done += n;
          left -= n;
          if (left == 0) {
            flushBlocks(c00, c01, c02, c03, c10, c11, c12, c13, first);
            c00 = i32x4.splat(0); c01 = i32x4.splat(0); c02 = i32x4.splat(0); c03 = i32x4.splat(0);
            c10 = i32x4.splat(0); c11 = i32x4.splat(0); c12 = i32x4.splat(0); c13 = i32x4.splat(0);
            left = blockPairs;
            first = false;
          }
        }
      }
    }
    if (left < blockPairs) flushBlocks(c00, c01, c02, c03, c10, c11, c12, c13, first);
    storeScaled(0, scales, bl, out + <usize>q0 * rowStride + <usize>p0 * pixelStride, pixelStride, min(4, PW - p0), OC, act, alpha);
    if (s1 != s) storeScaled(64, scales, bl, out + <usize>q1 * rowStride + <usize>p1 * pixelStride, pixelStride, min(4, PW - p1), OC, act, alpha);
  }
}

/** An int8 block's sums from PARTIALS (at byte `at`: four columns of four pixels) times their scales, then storeBlock. */
function storeScaled(at: usize, scales: v128, bias: v128, out: usize, pixelStride: usize, pixels: i32, OC: i32, act: i32, alpha: f32): void {
  const p = PARTIALS + at;
  storeBlock(
    f32x4.mul(v128.load(p), f32x4.splat(f32x4.extract_lane(scales, 0))), f32x4.mul(v128.load(p, 16), f32x4.splat(f32x4.extract_lane(scales, 1))),
    f32x4.mul(v128.load(p, 32), f32x4.splat(f32x4.extract_lane(scales, 2))), f32x4.mul(v128.load(p, 48), f32x4.splat(f32x4.extract_lane(scales, 3))),
    bias, out, pixelStride, pixels, OC, act, alpha,
  );
}

/**
 * Four pixels of one channel: bias, activation, then the first `pixels` lanes (none when <= 0), one
 * pixel each. A call, as storeBlock is: inlined eight times over it made the module 2 KB larger, and
 * it runs once per step, after the products.
 */
function storeLanes1(c: v128, bias: v128, out: usize, pixelStride: usize, pixels: i32, act: i32, alpha: f32): void {
  if (pixels <= 0) return;
  const v = activateWithoutCall(f32x4.add(c, bias), act, alpha);
  store<f32>(out, f32x4.extract_lane(v, 0));
  if (pixels > 1) store<f32>(out + pixelStride, f32x4.extract_lane(v, 1));
  if (pixels > 2) store<f32>(out + 2 * pixelStride, f32x4.extract_lane(v, 2));
  if (pixels > 3) store<f32>(out + 3 * pixelStride, f32x4.extract_lane(v, 3));
}

/**
 * A block's four pixels (lanes) of four channels (accumulators): bias and activation per channel,
 * then transposed so each pixel's channels are one vector, of which OC lanes are stored. A call, not
 * inlined: it runs once per block after its products, and inlined in each kernel it took kilobytes.
 */
function storeBlock(c0: v128, c1: v128, c2: v128, c3: v128, bias: v128, out: usize, pixelStride: usize, pixels: i32, OC: i32, act: i32, alpha: f32): void {
  const r0 = activateWithoutCall(f32x4.add(c0, f32x4.splat(f32x4.extract_lane(bias, 0))), act, alpha);
  const r1 = activateWithoutCall(f32x4.add(c1, f32x4.splat(f32x4.extract_lane(bias, 1))), act, alpha);
  const r2 = activateWithoutCall(f32x4.add(c2, f32x4.splat(f32x4.extract_lane(bias, 2))), act, alpha);
  const r3 = activateWithoutCall(f32x4.add(c3, f32x4.splat(f32x4.extract_lane(bias, 3))), act, alpha);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  storePixel(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), OC);
  if (pixels > 1) storePixel(out + pixelStride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), OC);
  if (pixels > 2) storePixel(out + 2 * pixelStride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), OC);
  if (pixels > 3) storePixel(out + 3 * pixelStride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), OC);
}

/** Lanes [0, OC) of v at `at` (OC <= 4). */
// @ts-ignore: decorator
@inline
function storePixel(at: usize, v: v128, OC: i32): void {
  if (OC == 4) {
    v128.store(at, v);
    return;
  }
  store<f32>(at, f32x4.extract_lane(v, 0));
  if (OC > 1) store<f32>(at, f32x4.extract_lane(v, 1), 4);
  if (OC > 2) store<f32>(at, f32x4.extract_lane(v, 2), 8);
}

/**
 * Rows [rowFirst, rowFirst + rows) of x's sample [H, W, C] as C planes planeBytes apart, `rows` rows of
 * Wp floats each, a row's values from column `left` on; zeros around them and in rows outside the sample.
 */
function toPlanes(x: usize, planes: usize, H: i32, W: i32, C: i32, rowFirst: i32, rows: i32, left: i32, Wp: i32, planeBytes: usize): void {
  for (let c = 0; c < C; c++) memory.fill(planes + <usize>c * planeBytes, 0, <usize>(rows * Wp) << 2);
  const from = max(rowFirst, 0), to = min(rowFirst + rows, H);
  for (let iy = from; iy < to; iy++) {
    let src = x + (<usize>(iy * W * C) << 2);
    let dst = planes + (<usize>((iy - rowFirst) * Wp + left) << 2);
    for (let ix = 0; ix < W; ix++) {
      let d = dst;
      for (let c = 0; c < C; c++) {
        store<f32>(d, load<f32>(src + (<usize>c << 2)));
        d += planeBytes;
      }
      src += <usize>C << 2;
      dst += 4;
    }
  }
}

/**
 * toPlanes for a quantized sample (i16): plane cp holds (q[2cp], q[2cp + 1]) per pixel as one 4-byte
 * element, zeros past C.
 */
function toPairPlanes(q: usize, planes: usize, H: i32, W: i32, C: i32, rowFirst: i32, rows: i32, left: i32, Wp: i32, planeBytes: usize): void {
  const pairs = channelPairs(C);
  for (let p = 0; p < pairs; p++) memory.fill(planes + <usize>p * planeBytes, 0, <usize>(rows * Wp) << 2);
  const from = max(rowFirst, 0), to = min(rowFirst + rows, H);
  for (let iy = from; iy < to; iy++) {
    let src = q + (<usize>(iy * W * C) << 1);
    let dst = planes + (<usize>((iy - rowFirst) * Wp + left) << 2);
    for (let ix = 0; ix < W; ix++) {
      let d = dst;
      for (let c = 0; c < C; c += 2) {
        const lo = <u32>load<u16>(src + (<usize>c << 1));
        const hi = c + 1 < C ? <u32>load<u16>(src + (<usize>c << 1), 2) : 0;
        store<u32>(d, lo | (hi << 16));
        d += planeBytes;
      }
      src += <usize>C << 1;
      dst += 4;
    }
  }
}

/** One block's i32 sums of both pixel blocks into PARTIALS (i8-partials.ts: stored for the first block, added in f32 after). */
function flushBlocks(c00: v128, c01: v128, c02: v128, c03: v128, c10: v128, c11: v128, c12: v128, c13: v128, first: bool): void {
  addPartial(PARTIALS, c00, first); addPartial(PARTIALS + 16, c01, first); addPartial(PARTIALS + 32, c02, first); addPartial(PARTIALS + 48, c03, first);
  addPartial(PARTIALS + 64, c10, first); addPartial(PARTIALS + 80, c11, first); addPartial(PARTIALS + 96, c12, first); addPartial(PARTIALS + 112, c13, first);
}
