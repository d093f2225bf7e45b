// Transposed convolution by phases (sub-pixel decomposition). conv.ts computes a transposed conv over
// the zero-dilated input: im2col writes every tap of every output pixel, and at stride s only the
// taps with ky = (oy + padTop) mod s (and likewise kx) ever land on an input pixel. A 4x4 stride-2
// kernel reads 4 of its 16 taps; the GEMM multiplied the 12 zeros too, except where all four rows of
// a block shared them (half of them, since neighbouring pixels along a row alternate between phases).
// On the DCGAN generator that made the f32 decode 0.74x onnxruntime-web's (bench/real-conv.ts).
//
// Here the output pixels are split by phase (ry, rx) = ((oy + padTop) mod sh, (ox + padLeft) mod sw).
// Output row oy = ry - padTop + sh*q of phase ry reads input rows iy = q - t through the taps
// ky = ry + sh*t, t < Ty = ceil((kh - ry) / sh): each phase is a stride-1 convolution of the
// undilated input with its own sub-kernel (packed for it at load time), run as im2col tiles of the
// phase's pixels through the same GEMMs, then scattered to their places in the output.
//
// Same bits as conv.ts. A phase's im2col row holds the taps conv.ts's row holds, in the same (ky, kx,
// c) order, less the ones that fall between input pixels: those add 0 * w, and adding a zero changes
// no sum that starts from +0 (finite weights, which the loader checks). Taps that read padding stay
// in as zeros, as in conv.ts. f16 weights are widened exactly, as there. int8 sums are exact integers
// within a 2048-k block and the blocks are added in f32, so a phase's k must split into blocks where
// the whole kernel's k do: phaseBlockK finds the block length that does (1024 for a 4x4 kernel over
// 512 channels: each of the whole kernel's blocks is one ky row, two of whose taps are the phase's);
// an int8 layer whose phases have none stays on conv.ts's path (usesPhases).
//
// Not covered, left to conv.ts: dilation (the phases would interleave differently), groups, and
// kernels smaller than the stride (phases with no taps, whose outputs are the bias alone).
import { denseScratchBytes, denseTile, TILE_ROWS, WEIGHTS_F32, WEIGHTS_I8 } from './dense';
import { gemmI8, packedQuantizedRowsBytes, quantizedRowLength, quantizeRows } from './gemm-i8';
import { K_BLOCK, setKBlock } from './i8-partials';
import { i8PanelPairs, I8_PANEL_PAIR } from './pack';
import { aligned16 } from './pack-f32';
import { copyBytes, zeroBytes } from './copy';
import { quantizedSampleBytes, sampleSlots, slotsBytes } from './conv-i8';
import { phaseCount, phaseFirst, phaseTaps } from './phase-geometry';
import { convDirect, directChannels, directKernelBytes, directScratchBytes, packDirect } from './conv-direct';

/**
 * Whether convGeneral computes this layer by phases, and packConvKernel packs for it: a transposed
 * conv with a stride above 1, no dilation, one group, a kernel at least as large as the stride, and
 * for int8 weights a block length every phase can keep (phaseBlockK).
 */
export function usesPhases(weights: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, groups: i32, transposed: bool): bool {
  if (!transposed || groups != 1 || dh != 1 || dw != 1 || sh < 1 || sw < 1 || (sh == 1 && sw == 1) || kh < sh || kw < sw) return false;
  if (weights != WEIGHTS_I8) return true;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) if (phaseBlockK(kh, kw, C, sh, sw, ry, rx) == 0) return false;
  }
  return true;
}

/**
 * The int8 block length (in the phase's k) that splits phase (ry, rx)'s k where the whole kernel's
 * 2048-k blocks split them: every whole-kernel block the phase reads holds the same number B of its
 * k, in one run (the last may hold fewer), with B a multiple of 4 (pairs and the relaxed path's
 * quads). K_BLOCK when the whole kernel has one block, or the phase's k all fall in one; 0 when no
 * length does.
 */
export function phaseBlockK(kh: i32, kw: i32, C: i32, sh: i32, sw: i32, ry: i32, rx: i32): i32 {
  if (kh * kw * C <= K_BLOCK) return K_BLOCK;
  const Ty = phaseTaps(kh, sh, ry), Tx = phaseTaps(kw, sw, rx);
  let B = 0, run = 0, block = -1;
  for (let t = 0; t < Ty; t++) {
    for (let u = 0; u < Tx; u++) {
      const k0 = ((ry + sh * t) * kw + rx + sw * u) * C;
      for (let c = 0; c < C; c++) {
        const b = (k0 + c) / K_BLOCK;
        if (b != block) {
          if (block >= 0) {
            if (B == 0) B = run;
            else if (run != B) return 0;
          }
          block = b;
          run = 0;
        }
        run++;
      }
    }
  }
  if (B == 0) return K_BLOCK;
  return run <= B && (B & 3) == 0 ? B : 0;
}

/** Bytes of one phase's panels: a K x OC matrix as conv.ts packs one group (f32/f16 [panel][k][8], int8 pairs). */
// @ts-ignore: decorator
@inline
function phasePanelBytes(weights: i32, K: i32, OC: i32): usize {
  const columns = <usize>((OC + 7) & ~7);
  if (weights == WEIGHTS_I8) return columns * <usize>(i8PanelPairs(K) << 1);
  return columns * <usize>K << (weights == WEIGHTS_F32 ? 2 : 1);
}

/** Bytes packPhases writes: every phase's panels, one after another, ry-major (or the narrow kernel's layout). */
export function phasesKernelBytes(weights: i32, kh: i32, kw: i32, C: i32, OC: i32, sh: i32, sw: i32): usize {
  if (directChannels(weights, kh, kw, C, OC)) return directKernelBytes(weights, kh, kw, C, OC, sh, sw, true);
  let bytes: usize = 0;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) bytes += phasePanelBytes(weights, phaseTaps(kh, sh, ry) * phaseTaps(kw, sw, rx) * C, OC);
  }
  return bytes;
}

/**
 * Index in a conv2dTranspose kernel [kh, kw, OC, C] of element (k, n) of phase (ry, rx)'s K x OC
 * matrix, k = (t * Tx + u) * C + c for the tap (ry + sh*t, rx + sw*u).
 */
// @ts-ignore: decorator
@inline
function phaseSource(k: i32, n: i32, OC: i32, C: i32, kw: i32, sh: i32, sw: i32, ry: i32, rx: i32, Tx: i32): i32 {
  const j = k / C, c = k % C;
  const tap = (ry + sh * (j / Tx)) * kw + rx + sw * (j % Tx);
  return (tap * OC + n) * C + c;
}

/**
 * Packs a conv2dTranspose kernel [kh, kw, OC, C] (f32, f16 as u16 bits, int8) as one sub-kernel per
 * phase, in the layouts pack.ts gives a whole kernel (packPanelsStrided, packPairsI8Strided), so the
 * same GEMMs run them: phasesKernelBytes bytes at dst. A layer of few channels in conv-direct.ts's
 * layout instead.
 */
export function packPhases(weights: i32, src: usize, dst: usize, kh: i32, kw: i32, C: i32, OC: i32, sh: i32, sw: i32): void {
  if (directChannels(weights, kh, kw, C, OC)) {
    packDirect(weights, src, dst, kh, kw, C, OC, sh, sw, true);
    return;
  }
  let out = dst;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) {
      const Tx = phaseTaps(kw, sw, rx);
      const K = phaseTaps(kh, sh, ry) * Tx * C;
      if (weights == WEIGHTS_F32) packPhasePanels<f32>(src, out, K, OC, C, kw, sh, sw, ry, rx, Tx);
      else if (weights == WEIGHTS_I8) packPhasePairsI8(src, out, K, OC, C, kw, sh, sw, ry, rx, Tx);
      else packPhasePanels<u16>(src, out, K, OC, C, kw, sh, sw, ry, rx, Tx);
      out += phasePanelBytes(weights, K, OC);
    }
  }
}

/** One phase as pack.ts's packPanelsStrided lays out a matrix: [panel][k][8], zeros past OC. */
function packPhasePanels<T>(src: usize, dst: usize, K: i32, OC: i32, C: i32, kw: i32, sh: i32, sw: i32, ry: i32, rx: i32, Tx: i32): void {
  let out = dst;
  for (let col = 0; col < OC; col += 8) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8; j++) {
        const n = col + j;
        store<T>(out, n < OC ? load<T>(src + (<usize>phaseSource(k, n, OC, C, kw, sh, sw, ry, rx, Tx) << alignof<T>())) : <T>0);
        out += sizeof<T>();
      }
    }
  }
}

/**
 * One phase as pack.ts's packPairsI8Strided lays out a matrix: [panel][k pair][8 i16 lanes], lane
 * 2c + j holding column c's weight of k + j as its high byte and column 4 + c's, plus 128, as its low.
 */
function packPhasePairsI8(src: usize, dst: usize, K: i32, OC: i32, C: i32, kw: i32, sh: i32, sw: i32, ry: i32, rx: i32, Tx: i32): void {
  let out = dst;
  const paddedK = i8PanelPairs(K) << 1;
  for (let col = 0; col < OC; col += 8) {
    for (let k = 0; k < paddedK; k += 2) {
      for (let lane = 0; lane < 8; lane++) {
        const kj = k + (lane & 1), c = col + (lane >> 1);
        const hi: i8 = c < OC && kj < K ? load<i8>(src + <usize>phaseSource(kj, c, OC, C, kw, sh, sw, ry, rx, Tx)) : 0;
        const lo: i8 = c + 4 < OC && kj < K ? load<i8>(src + <usize>phaseSource(kj, c + 4, OC, C, kw, sh, sw, ry, rx, Tx)) : 0;
        store<u8>(out, <u8>(lo + 128));
        store<i8>(out + 1, hi);
        out += 2;
      }
    }
  }
}

/** The largest phase's K = Ty * Tx * C. */
// @ts-ignore: decorator
@inline
function largestPhaseK(kh: i32, kw: i32, C: i32, sh: i32, sw: i32): i32 {
  // Phase 0 has the most taps along each axis.
  return phaseTaps(kh, sh, 0) * phaseTaps(kw, sw, 0) * C;
}

/** A tile's GEMM output before it is scattered: TILE_ROWS rows of OC floats. */
// @ts-ignore: decorator
@inline
function tileOutBytes(OC: i32): usize {
  return aligned16(<usize>TILE_ROWS * <usize>OC << 2);
}

/** Scratch bytes convPhases needs. */
export function phasesScratchBytes(weights: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32): usize {
  if (directChannels(weights, kh, kw, C, OC)) return directScratchBytes(weights, H, W, C, kh, kw, sh, sw, 1, 1, true);
  const K = largestPhaseK(kh, kw, C, sh, sw);
  if (weights != WEIGHTS_I8) return aligned16(<usize>TILE_ROWS * <usize>K << 2) + tileOutBytes(OC) + denseScratchBytes(weights, K);
  // The quantized samples, then per tile: i16 rows, row scales, the output, the GEMM's packed rows
  // (sized with each phase's block length, which sets how many block sums it keeps).
  let gemm: usize = 0;
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) {
      setKBlock(phaseBlockK(kh, kw, C, sh, sw, ry, rx));
      gemm = max(gemm, packedQuantizedRowsBytes(TILE_ROWS, phaseTaps(kh, sh, ry) * phaseTaps(kw, sw, rx) * C));
    }
  }
  setKBlock(K_BLOCK);
  const slots = sampleSlots(phasePixelsLeast(OH, OW, sh, sw));
  return slotsBytes(slots, H * W * C) + i16RowsBytes(K) + (<usize>TILE_ROWS << 2) + tileOutBytes(OC) + gemm;
}

/** A tile of i16 rows of K values. */
// @ts-ignore: decorator
@inline
function i16RowsBytes(K: i32): usize {
  return aligned16((<usize>quantizedRowLength(K) << 1) * TILE_ROWS);
}

/**
 * Fewest output pixels any phase of a sample can have, bounded below by 1: how many samples a tile of
 * one phase can span (the int8 path's quantized sample slots) depends on it. floor(O / s) per axis
 * is at most one short of any phase's count, so this is a lower bound whatever the padding.
 */
// @ts-ignore: decorator
@inline
function phasePixelsLeast(OH: i32, OW: i32, sh: i32, sw: i32): i32 {
  return max(1, (OH / sh) * (OW / sw));
}

/**
 * im2col rows of one phase: for its output pixels [first, first + count) of the flattened [batch,
 * PH, PW] index space, each row the Ty x Tx taps' C values (tap (t, u) reads input (q - t, p - u),
 * zeros outside the input), rowBytes apart. Samples sit in slots of sampleBytes (sample b in slot
 * b % slots; f32 inputs: every sample its own slot).
 */
// @ts-ignore: decorator
@inline
function gatherPhaseRows<T>(
  x: usize, sampleBytes: usize, slots: i32, dst: usize, rowBytes: usize, first: i32, count: i32,
  H: i32, W: i32, C: i32, PH: i32, PW: i32, q0: i32, p0: i32, Ty: i32, Tx: i32,
): void {
  const pixelBytes = <usize>C * sizeof<T>();
  const padding = rowBytes - <usize>(Ty * Tx) * pixelBytes;
  const phasePixels = PH * PW;
  const rem = first % phasePixels;
  let slot = (first / phasePixels) % slots, qi = rem / PW, pi = rem % PW;
  let out = dst;
  for (let m = 0; m < count; m++) {
    const xb = x + <usize>slot * sampleBytes;
    const q = q0 + qi, p = p0 + pi;
    for (let t = 0; t < Ty; t++) {
      const iy = q - t;
      const inside = iy >= 0 && iy < H;
      for (let u = 0; u < Tx; u++) {
        const ix = p - u;
        if (inside && ix >= 0 && ix < W) copyBytes(out, xb + <usize>(iy * W + ix) * pixelBytes, pixelBytes);
        else zeroBytes(out, pixelBytes);
        out += pixelBytes;
      }
    }
    zeroBytes(out, padding);
    out += padding;
    if (++pi == PW) {
      pi = 0;
      if (++qi == PH) {
        qi = 0;
        if (++slot == slots) slot = 0;
      }
    }
  }
}

/** Moves a tile's rows (OC floats each, contiguous at src) to their output pixels: phase pixel (b, qi, pi) is (ry - padTop + sh*(q0 + qi), ...). */
function scatterPhaseRows(
  src: usize, y: usize, first: i32, count: i32, OH: i32, OW: i32, OC: i32,
  PH: i32, PW: i32, oy0: i32, ox0: i32, sh: i32, sw: i32,
): void {
  const rowBytes = <usize>OC << 2;
  const phasePixels = PH * PW;
  const rem = first % phasePixels;
  let b = first / phasePixels, qi = rem / PW, pi = rem % PW;
  // The output pixel of the current row, stepped along: sw pixels right per phase pixel.
  let at = y + <usize>((b * OH + oy0 + sh * qi) * OW + ox0 + sw * pi) * rowBytes;
  let from = src;
  for (let m = 0; m < count; m++) {
    copyBytes(at, from, rowBytes);
    from += rowBytes;
    at += <usize>sw * rowBytes;
    if (++pi == PW) {
      pi = 0;
      if (++qi == PH) {
        qi = 0;
        b++;
      }
      at = y + <usize>((b * OH + oy0 + sh * qi) * OW + ox0) * rowBytes;
    }
  }
}

/**
 * y = act(convTranspose(x, w) + bias) by phases: arguments as conv.ts's convGeneral for a layer
 * usesPhases accepts, w packed by packPhases, scratch of phasesScratchBytes.
 */
export function convPhases(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): void {
  if (directChannels(weights, kh, kw, C, OC)) {
    convDirect(weights, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, 1, 1, true, w, bias, scale, scratch, act, alpha);
    return;
  }
  if (weights == WEIGHTS_I8) {
    convPhasesI8(x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, w, bias, scale, scratch, act, alpha);
    return;
  }
  // Scratch: [a tile of im2col rows][the tile's output][the GEMM's].
  const Kmax = largestPhaseK(kh, kw, C, sh, sw);
  const rows = scratch;
  const tileOut = rows + aligned16(<usize>TILE_ROWS * <usize>Kmax << 2);
  const gemmScratch = tileOut + tileOutBytes(OC);
  const sampleBytes = <usize>(H * W * C) << 2;
  const outStride = <usize>OC << 2;
  let wp = w;
  for (let ry = 0; ry < sh; ry++) {
    const Ty = phaseTaps(kh, sh, ry), PH = phaseCount(OH, padTop, sh, ry), q0 = phaseFirst(padTop, sh, ry);
    for (let rx = 0; rx < sw; rx++) {
      const Tx = phaseTaps(kw, sw, rx), PW = phaseCount(OW, padLeft, sw, rx), p0 = phaseFirst(padLeft, sw, rx);
      const K = Ty * Tx * C;
      const pixels = batch * PH * PW;
      for (let first = 0; first < pixels; first += TILE_ROWS) {
        const count = min(TILE_ROWS, pixels - first);
        gatherPhaseRows<f32>(x, sampleBytes, i32.MAX_VALUE, rows, <usize>K << 2, first, count, H, W, C, PH, PW, q0, p0, Ty, Tx);
        denseTile(weights, rows, <usize>K << 2, count, K, OC, wp, bias, 0, tileOut, outStride, gemmScratch, act, alpha);
        scatterPhaseRows(tileOut, y, first, count, OH, OW, OC, PH, PW, ry - padTop + sh * q0, rx - padLeft + sw * p0, sh, sw);
      }
      wp += phasePanelBytes(weights, K, OC);
    }
  }
}

/**
 * The int8 phases: each sample quantized once per phase, with one scale for the sample (as conv-i8.ts
 * does: the same values and scale whichever phase reads them), i16 rows gathered, the integer GEMM
 * run with the phase's block length (phaseBlockK).
 */
function convPhasesI8(
  x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): void {
  // Scratch: [slots quantized samples][slot scales][a tile of i16 rows][row scales][the tile's output][gemmI8's].
  const Kmax = largestPhaseK(kh, kw, C, sh, sw);
  const sampleValues = H * W * C;
  const slots = sampleSlots(phasePixelsLeast(OH, OW, sh, sw));
  const slotBytes = quantizedSampleBytes(sampleValues);
  const slotScales = scratch + <usize>slots * slotBytes;
  const rows = scratch + slotsBytes(slots, sampleValues);
  const rowScales = rows + i16RowsBytes(Kmax);
  const tileOut = rowScales + (<usize>TILE_ROWS << 2);
  const gemmScratch = tileOut + tileOutBytes(OC);
  const outStride = <usize>OC << 2;
  let wp = w;
  for (let ry = 0; ry < sh; ry++) {
    const Ty = phaseTaps(kh, sh, ry), PH = phaseCount(OH, padTop, sh, ry), q0 = phaseFirst(padTop, sh, ry);
    for (let rx = 0; rx < sw; rx++) {
      const Tx = phaseTaps(kw, sw, rx), PW = phaseCount(OW, padLeft, sw, rx), p0 = phaseFirst(padLeft, sw, rx);
      const K = Ty * Tx * C;
      const rowBytes = <usize>quantizedRowLength(K) << 1;
      const phasePixels = PH * PW;
      const pixels = batch * phasePixels;
      setKBlock(phaseBlockK(kh, kw, C, sh, sw, ry, rx));
      let quantizedUpTo = 0;
      for (let first = 0; first < pixels; first += TILE_ROWS) {
        const count = min(TILE_ROWS, pixels - first);
        const last = (first + count - 1) / phasePixels;
        for (let b = max(first / phasePixels, quantizedUpTo); b <= last; b++) {
          const slot = b % slots;
          quantizeRows(x + (<usize>b * <usize>sampleValues << 2), 0, 1, sampleValues, scratch + <usize>slot * slotBytes, slotScales + (<usize>slot << 2));
        }
        quantizedUpTo = last + 1;
        for (let r = 0; r < count; r++) {
          const slot = ((first + r) / phasePixels) % slots;
          store<f32>(rowScales + (<usize>r << 2), load<f32>(slotScales + (<usize>slot << 2)));
        }
        gatherPhaseRows<i16>(scratch, slotBytes, slots, rows, rowBytes, first, count, H, W, C, PH, PW, q0, p0, Ty, Tx);
        gemmI8(rows, rowBytes, rowScales, count, K, OC, wp, scale, bias, tileOut, outStride, act, alpha, gemmScratch);
        scatterPhaseRows(tileOut, y, first, count, OH, OW, OC, PH, PW, ry - padTop + sh * q0, rx - padLeft + sw * p0, sh, sw);
      }
      setKBlock(K_BLOCK);
      wp += phasePanelBytes(WEIGHTS_I8, K, OC);
    }
  }
}
