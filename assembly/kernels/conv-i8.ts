// The int8 convolution: each sample's input is quantized once, with one scale for the sample, and
// im2col gathers the i16 values into rows for the integer GEMM. Quantizing im2col rows instead would
// quantize every input value once per tap that reads it (16 times for a 4x4 kernel at stride 1),
// which cost a fifth of the int8 conv decoder's time. A tile of output pixels can span samples, so
// the quantized samples live in a few slots (sample b in slot b % slots), each quantized once.
//
// A grouped conv quantizes the same way (the whole sample, one scale) and runs each tile once per
// group: that group's channels gathered, its panels multiplied, its columns of the output written.
import { gemmI8, packedQuantizedRowsBytes, quantizedRowLength, quantizeRows } from './gemm-i8';
import { im2colI16General } from './im2col';
import { TILE_ROWS } from './dense';
import { aligned16 } from './pack-f32';
import { i8PanelPairs, I8_PANEL_PAIR } from './pack';

/**
 * y = act(conv(x, w) * scales + bias) for int8 weights; arguments as `convGeneral` (conv.ts): groups
 * divides C and OC, w holds one group's panels after another (packConvKernelGroups), bias and scale
 * OC floats with packConvVector's padding.
 */
export function convI8(
  x: usize, y: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, transposed: bool,
  dh: i32, dw: i32, groups: i32,
  w: usize, bias: usize, scale: usize, scratch: usize, act: i32, alpha: f32,
): void {
  // Scratch: [slots quantized samples][slot scales][a tile of i16 rows][row scales][the tile packed for gemmI8].
  const Cg = C / groups, OCg = OC / groups;
  const K = kh * kw * Cg;
  const groupPanels = <usize>((OCg + 7) >> 3) * <usize>i8PanelPairs(K) * I8_PANEL_PAIR;
  const sampleValues = H * W * C;
  const imagePixels = OH * OW;
  const slots = sampleSlots(imagePixels);
  const slotBytes = quantizedSampleBytes(sampleValues);
  const slotScales = scratch + <usize>slots * slotBytes;
  const rows = scratch + slotsBytes(slots, sampleValues);
  const rowBytes = <usize>quantizedRowLength(K) << 1;
  const rowScales = rows + tileRowsBytes(K);
  const pixels = batch * imagePixels;
  let quantizedUpTo = 0;
  for (let first = 0; first < pixels; first += TILE_ROWS) {
    const count = min(TILE_ROWS, pixels - first);
    const last = (first + count - 1) / imagePixels;
    for (let b = max(first / imagePixels, quantizedUpTo); b <= last; b++) {
      const slot = b % slots;
      quantizeRows(x + (<usize>b * <usize>sampleValues << 2), 0, 1, sampleValues, scratch + <usize>slot * slotBytes, slotScales + (<usize>slot << 2));
    }
    quantizedUpTo = last + 1;
    for (let r = 0; r < count; r++) {
      const slot = ((first + r) / imagePixels) % slots;
      store<f32>(rowScales + (<usize>r << 2), load<f32>(slotScales + (<usize>slot << 2)));
    }
    const yt = y + (<usize>first * <usize>OC << 2);
    for (let g = 0; g < groups; g++) {
      const column = <usize>(g * OCg) << 2;
      im2colI16General(scratch, slotBytes, slots, rows, rowBytes, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, g * Cg, Cg);
      gemmI8(
        rows, rowBytes, rowScales, count, K, OCg, w + <usize>g * groupPanels, scale + column, bias + column,
        yt + column, <usize>OC << 2, act, alpha, rowScales + (<usize>TILE_ROWS << 2),
      );
    }
  }
}

/** Scratch bytes `convI8` needs, K = kh*kw*C/groups (its layout, from the same helpers). */
export function convI8ScratchBytes(K: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): usize {
  return slotsBytes(sampleSlots(OH * OW), H * W * C) + tileRowsBytes(K) + (<usize>TILE_ROWS << 2) + packedQuantizedRowsBytes(TILE_ROWS, K);
}

/** One quantized sample's slot: its i16 values, padded as quantizeRows writes them, 16-aligned. */
// @ts-ignore: decorator
@inline
export function quantizedSampleBytes(sampleValues: i32): usize {
  return aligned16(<usize>quantizedRowLength(sampleValues) << 1);
}

/** The slots and their scales. */
// @ts-ignore: decorator
@inline
export function slotsBytes(slots: i32, sampleValues: i32): usize {
  return <usize>slots * quantizedSampleBytes(sampleValues) + aligned16(<usize>slots << 2);
}

/** A tile of i16 im2col rows. */
// @ts-ignore: decorator
@inline
function tileRowsBytes(K: i32): usize {
  return aligned16((<usize>quantizedRowLength(K) << 1) * TILE_ROWS);
}

/** How many samples one tile of TILE_ROWS consecutive output pixels can touch. */
// @ts-ignore: decorator
@inline
export function sampleSlots(imagePixels: i32): i32 {
  return (TILE_ROWS - 1 + imagePixels - 1) / imagePixels + 1;
}

