// 2-D convolution and transposed convolution on NHWC activations, lowered to the GEMM kernels: a tile
// of output pixels at a time is gathered into im2col rows (see im2col.ts) and multiplied by the packed
// kernel, whose k order is the rows' (tap, then input channel). Output pixels of a batch are one
// flattened index space, so tiles run across sample boundaries and small images fill whole tiles.
//
// Dilation d spaces the taps: tap k reads input i = o*s + k*d - pad (a transposed conv: its input i
// reaches o = i*s + k*d - pad). Padding after the last row/column is implied by OH/OW (taps past the
// input read zeros), so asymmetric padding and PyTorch's output_padding need nothing more.
//
// Groups G split the channels: group g reads input channels [g*C/G, (g+1)*C/G) and writes output
// channels [g*OC/G, (g+1)*OC/G). Each tile is gathered and multiplied once per group (rows of
// K = kh*kw*C/G; the product written at column g*OC/G of rows OC long), against the group's own
// panels: the kernel is packed as G panel sets, one after another (packConvKernelGroups). A
// depthwise layer (G = C = OC) runs a direct kernel instead (conv-depthwise.ts), with the same bits.
//
// A transposed conv with a stride above 1 (no dilation, one group) runs by phases instead
// (conv-phases.ts): one stride-1 convolution of the undilated input per output phase, with no taps
// that fall between input pixels, same bits. A conv2d at stride 1 (one group) with at most 4 input or
// output channels runs the direct kernel of conv-direct.ts, same bits. An f32 3x3 conv2d at stride 1
// (one group, no dilation, at least 16 channels each way in whole fours) runs by Winograd tiles
// (conv-winograd.ts): 2.25 times fewer multiply-adds, with rounding of the same order but not the
// same bits.
//
// Kernel layouts, as stored: conv2d [kh, kw, C/G, OC]; conv2dTranspose [kh, kw, OC/G, C] (ONNX
// ConvTranspose's [C, OC/G, kh, kw] in TensorFlow.js's axis order: weight (ky, kx, o, c) joins input
// channel c to output channel (c / (C/G)) * OC/G + o).
import { denseScratchBytes, denseTile, TILE_ROWS, WEIGHTS_F16, WEIGHTS_F32, WEIGHTS_I8 } from './dense';
import { convI8, convI8ScratchBytes } from './conv-i8';
import { im2colGeneral } from './im2col';
import { i8PanelPairs, packPairsI8Strided, packPanelsStrided, padVector } from './pack';
import { convDepthwise, depthwiseKernelBytes, depthwiseScratchBytes, isDepthwise, packDepthwise } from './conv-depthwise';
import { convPhases, packPhases, phasesKernelBytes, phasesScratchBytes, usesPhases } from './conv-phases';
import { convDirect, directKernelBytes, directScratchBytes, packDirect, usesDirectConv } from './conv-direct';
import { convWinograd, packWinograd, usesWinograd, winogradKernelBytes, winogradScratchBytes } from './conv-winograd';
import { ConvPacking } from '../../src/runtime/abi';

/**
 * x: [batch, H, W, C] -> y: [batch, OH, OW, OC]; kernel kh x kw, strides sh, sw; padTop/padLeft is
 * the padding before the first row/column (TensorFlow.js "same" puts any odd pixel after).
 * Returns false for an unknown weight type. `convGeneral` without dilation or groups.
 */
export function conv(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): bool {
  return convGroups(weights, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed, 1, 1, 1, w, bias, scale, scratch, act, alpha);
}

/**
 * `conv` with dilation dh, dw (>= 1) and `groups` dividing C and OC. w is packed by packConvKernel
 * with the same `packing` (abi.ts ConvPacking: Gemm, the depthwise kernel or the im2col GEMM; or
 * ByGeometry, which may run by phases or the direct kernel), bias (and an int8 kernel's scale) by
 * packConvVector; scratch holds convGeneralScratchBytes. Returns false for an unknown weight type or
 * groups that do not divide C and OC.
 */
export function convGeneral(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  dh: i32, dw: i32, groups: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32, packing: i32,
): bool {
  if (!knownWeights(weights) || !validGroups(C, OC, groups)) return false;
  if (isDepthwise(C, OC, groups, kh, kw)) {
    convDepthwise(weights, x, y, batch, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, w, bias, scale, scratch, act, alpha);
    return true;
  }
  if (packing != ConvPacking.ByGeometry) {
    return convGroups(weights, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, groups, w, bias, scale, scratch, act, alpha);
  }
  if (usesPhases(weights, C, kh, kw, sh, sw, dh, dw, groups, transposed)) {
    convPhases(weights, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, w, bias, scale, scratch, act, alpha);
    return true;
  }
  if (usesWinograd(weights, C, OC, kh, kw, sh, sw, dh, dw, groups, transposed)) {
    convWinograd(x, y, batch, H, W, C, OH, OW, OC, padTop, padLeft, w, bias, scratch, act, alpha);
    return true;
  }
  if (usesDirectConv(weights, C, OC, kh, kw, sh, sw, groups, transposed)) {
    convDirect(weights, x, y, batch, H, W, C, OH, OW, OC, kh, kw, 1, 1, padTop, padLeft, dh, dw, false, w, bias, scale, scratch, act, alpha);
    return true;
  }
  return convGroups(weights, x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, groups, w, bias, scale, scratch, act, alpha);
}

/**
 * `convGeneral` on the GEMM whatever the groups (a depthwise layer too), with w packed by
 * packConvKernelGroups and scratch of convGroupsScratchBytes: what convGeneral does for every layer
 * but a depthwise one, exported so tests and benchmarks can hold the two against each other.
 */
export function convGroups(
  weights: i32, x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  dh: i32, dw: i32, groups: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): bool {
  if (!knownWeights(weights) || !validGroups(C, OC, groups)) return false;
  if (weights == WEIGHTS_I8) {
    convI8(x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, groups, w, bias, scale, scratch, act, alpha);
    return true;
  }
  const Cg = C / groups, OCg = OC / groups;
  const K = kh * kw * Cg;
  const panels = groupPanelBytes(weights, K, OCg);
  const pixels = batch * OH * OW;
  const rowsScratch = scratch + columnBytes(K);
  const yStride = <usize>OC << 2;
  if (groups == 1 && kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 && OH == H && OW == W) {
    // A pointwise conv reads each output pixel's own input pixel: its im2col rows would be copies of
    // x's rows, so the GEMM reads x directly (same rows, same k order, same bits).
    const xStride = <usize>C << 2;
    for (let first = 0; first < pixels; first += TILE_ROWS) {
      denseTile(weights, x + <usize>first * xStride, xStride, min(TILE_ROWS, pixels - first), K, OC, w, bias, scale, y + <usize>first * yStride, yStride, rowsScratch, act, alpha);
    }
    return true;
  }
  for (let first = 0; first < pixels; first += TILE_ROWS) {
    const count = min(TILE_ROWS, pixels - first);
    const yt = y + <usize>first * yStride;
    for (let g = 0; g < groups; g++) {
      im2colGeneral(x, scratch, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, g * Cg, Cg);
      const column = <usize>(g * OCg) << 2;
      denseTile(weights, scratch, <usize>K << 2, count, K, OCg, w + <usize>g * panels, bias + column, scale, yt + column, yStride, rowsScratch, act, alpha);
    }
  }
  return true;
}

// @ts-ignore: decorator
@inline
function knownWeights(weights: i32): bool {
  return weights == WEIGHTS_F32 || weights == WEIGHTS_F16 || weights == WEIGHTS_I8;
}

// @ts-ignore: decorator
@inline
function validGroups(C: i32, OC: i32, groups: i32): bool {
  return groups >= 1 && C % groups == 0 && OC % groups == 0;
}

/** Bytes of one tile of im2col rows, 16-aligned. */
// @ts-ignore: decorator
@inline
function columnBytes(K: i32): usize {
  return ((<usize>TILE_ROWS * <usize>K << 2) + 15) & ~15;
}

/** Scratch bytes `conv` needs for a layer of this geometry. The host sizes scratch with it (src/runtime/plan.ts). */
export function convScratchBytes(weights: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, kh: i32, kw: i32): usize {
  return convGroupsScratchBytes(weights, H, W, C, OH, OW, kh, kw, 1);
}

/** Scratch bytes `convGeneral` needs with this packing (dilation needs none); 0 for groups that do not divide C and OC. */
export function convGeneralScratchBytes(
  weights: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, kh: i32, kw: i32, groups: i32,
  transposed: bool, sh: i32, sw: i32, dh: i32, dw: i32, padTop: i32, padLeft: i32, packing: i32,
): usize {
  if (!validGroups(C, OC, groups)) return 0;
  if (isDepthwise(C, OC, groups, kh, kw)) return depthwiseScratchBytes(weights, H, W, C, kh, kw);
  if (packing != ConvPacking.ByGeometry) return convGroupsScratchBytes(weights, H, W, C, OH, OW, kh, kw, groups);
  if (usesPhases(weights, C, kh, kw, sh, sw, dh, dw, groups, transposed)) return phasesScratchBytes(weights, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft);
  if (usesWinograd(weights, C, OC, kh, kw, sh, sw, dh, dw, groups, transposed)) return winogradScratchBytes(C, OC);
  if (usesDirectConv(weights, C, OC, kh, kw, sh, sw, groups, transposed)) return directScratchBytes(weights, H, W, C, kh, kw, 1, 1, dh, dw, false);
  return convGroupsScratchBytes(weights, H, W, C, OH, OW, kh, kw, groups);
}

/** Scratch bytes `convGroups` needs; groups must divide C. */
export function convGroupsScratchBytes(weights: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, kh: i32, kw: i32, groups: i32): usize {
  if (groups < 1 || C % groups != 0) return 0;
  const K = kh * kw * (C / groups);
  if (weights == WEIGHTS_I8) return convI8ScratchBytes(K, H, W, C, OH, OW);
  return floatConvScratchBytes(weights, K);
}

/** Scratch bytes of `conv` with f32 or f16 weights, for K = kh*kw*C (all the training kernels use). */
export function floatConvScratchBytes(weights: i32, K: i32): usize {
  return columnBytes(K) + denseScratchBytes(weights, K);
}

/**
 * Bytes of one group's panels, a K x N matrix: whole panels of 8 columns, K rounded up to 4 for int8
 * (pack.ts, i8PanelPairs). A multiple of 16, so every group's panels start aligned.
 */
// @ts-ignore: decorator
@inline
function groupPanelBytes(weights: i32, K: i32, N: i32): usize {
  const columns = <usize>((N + 7) & ~7);
  if (weights == WEIGHTS_I8) return columns * <usize>(i8PanelPairs(K) << 1);
  return columns * <usize>K << (weights == WEIGHTS_F32 ? 2 : 1);
}

/** Bytes packConvKernel writes: the depthwise kernel's layout, the phases' (conv-phases.ts), or packConvKernelGroups'. */
export function convKernelBytes(weights: i32, kh: i32, kw: i32, C: i32, OC: i32, groups: i32, transposed: bool, sh: i32, sw: i32, dh: i32, dw: i32, packing: i32): usize {
  if (isDepthwise(C, OC, groups, kh, kw)) return depthwiseKernelBytes(weights, kh * kw, C);
  if (packing != ConvPacking.ByGeometry) return convGroupsKernelBytes(weights, kh, kw, C, OC, groups);
  if (usesPhases(weights, C, kh, kw, sh, sw, dh, dw, groups, transposed)) return phasesKernelBytes(weights, kh, kw, C, OC, sh, sw);
  if (usesWinograd(weights, C, OC, kh, kw, sh, sw, dh, dw, groups, transposed)) return winogradKernelBytes(C, OC);
  if (usesDirectConv(weights, C, OC, kh, kw, sh, sw, groups, transposed)) return directKernelBytes(weights, kh, kw, C, OC, 1, 1, false);
  return convGroupsKernelBytes(weights, kh, kw, C, OC, groups);
}

/** Bytes packConvKernelGroups writes: groups x panels of (kh*kw*C/G) x OC/G. */
export function convGroupsKernelBytes(weights: i32, kh: i32, kw: i32, C: i32, OC: i32, groups: i32): usize {
  if (!validGroups(C, OC, groups)) return 0;
  return <usize>groups * groupPanelBytes(weights, kh * kw * (C / groups), OC / groups);
}

/**
 * Packs a conv2d kernel [kh, kw, C/G, OC] or conv2dTranspose kernel [kh, kw, OC/G, C] (f32, f16 as
 * u16 bits, int8) for convGeneral, convKernelBytes bytes at dst: for a depthwise layer as
 * packDepthwise lays it out; with ByGeometry packing, for a strided transposed one by phases as
 * packPhases does, for a conv2d of few channels as packDirect does; else as packConvKernelGroups. False for an unknown weight type or groups that do not divide C and OC.
 */
export function packConvKernel(
  weights: i32, src: usize, dst: usize, kh: i32, kw: i32, C: i32, OC: i32, groups: i32, transposed: bool,
  sh: i32, sw: i32, dh: i32, dw: i32, packing: i32,
): bool {
  if (!knownWeights(weights) || !validGroups(C, OC, groups)) return false;
  if (isDepthwise(C, OC, groups, kh, kw)) {
    packDepthwise(weights, src, dst, kh * kw, C);
    return true;
  }
  if (packing != ConvPacking.ByGeometry) return packConvKernelGroups(weights, src, dst, kh, kw, C, OC, groups, transposed);
  if (usesPhases(weights, C, kh, kw, sh, sw, dh, dw, groups, transposed)) {
    packPhases(weights, src, dst, kh, kw, C, OC, sh, sw);
    return true;
  }
  if (usesWinograd(weights, C, OC, kh, kw, sh, sw, dh, dw, groups, transposed)) {
    packWinograd(src, dst, C, OC);
    return true;
  }
  if (usesDirectConv(weights, C, OC, kh, kw, sh, sw, groups, transposed)) {
    packDirect(weights, src, dst, kh, kw, C, OC, 1, 1, false);
    return true;
  }
  return packConvKernelGroups(weights, src, dst, kh, kw, C, OC, groups, transposed);
}

/**
 * G panel sets, group g's at g * (convGroupsKernelBytes / G): each the K x N matrix (K = kh*kw*C/G,
 * N = OC/G) of the group's slice, packed as packPanels / packPairsI8 pack a whole kernel. With one
 * group, the bytes packPanelsF32/F16 or packPairsI8Panels write (channels = C for a transposed conv).
 */
export function packConvKernelGroups(weights: i32, src: usize, dst: usize, kh: i32, kw: i32, C: i32, OC: i32, groups: i32, transposed: bool): bool {
  if (!knownWeights(weights) || !validGroups(C, OC, groups)) return false;
  const Cg = C / groups, OCg = OC / groups;
  const K = kh * kw * Cg;
  const panels = groupPanelBytes(weights, K, OCg);
  // conv2d [kh, kw, Cg, OC]: group g is columns g*OCg.. of rows OC long. conv2dTranspose
  // [kh, kw, OCg, C]: channels g*Cg.. of rows C long (k = tap * Cg + c, as its im2col rows).
  const channels = transposed ? Cg : 0;
  const stride = transposed ? C : OC;
  for (let g = 0; g < groups; g++) {
    const first = <usize>(transposed ? g * Cg : g * OCg);
    const out = dst + <usize>g * panels;
    if (weights == WEIGHTS_F32) packPanelsStrided<f32>(src + (first << 2), out, K, OCg, channels, stride);
    else if (weights == WEIGHTS_F16) packPanelsStrided<u16>(src + (first << 1), out, K, OCg, channels, stride);
    else packPairsI8Strided(src + first, out, K, OCg, channels, stride);
  }
  return true;
}

/**
 * Bytes of a conv's bias or scale vector as packConvVector lays it out: OC floats, zeros to a whole
 * 8 and, with groups, 8 more (a group's last panel reads 8 floats from its first channel on).
 */
export function convVectorBytes(OC: i32, groups: i32): usize {
  return <usize>(((OC + 7) & ~7) + (groups > 1 ? 8 : 0)) << 2;
}

/** A bias or int8 scale vector of OC floats for convGeneral / convGroups: padVector plus the groups' slack. */
export function packConvVector(src: usize, dst: usize, OC: i32, groups: i32): void {
  const padded = <usize>((OC + 7) & ~7) << 2;
  padVector(src, dst, OC);
  memory.fill(dst + padded, 0, convVectorBytes(OC, groups) - padded);
}
