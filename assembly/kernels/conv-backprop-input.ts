// The gradient of a 2-d convolution with respect to its input (TensorFlow's Conv2DBackpropInput),
// two ways, each the cheaper for some shapes:
// - as the transposed convolution of dy (conv.ts with im2col's transposed gather): one GEMM row per
//   dx pixel, K = kh*kw*OC. With strides above 1 most taps of a row fall between dy pixels and
//   multiply zeros (3/4 of them at stride 2), and with few input channels C most of each 8-column
//   panel is padding.
// - as a product then a scatter (col2im.ts): cols[dy pixels, kh*kw*C] = dy . filter^T, then each
//   row added back into the dx positions its taps read. No zeros are multiplied, and the panels run
//   along kh*kw*C; the scatter adds 1/OC of the arithmetic.
// convBackpropInput picks whichever multiplies less, counting panel padding.
import { ACT_LINEAR } from './activation';
import { col2im } from './col2im';
import { conv, floatConvScratchBytes } from './conv';
import { dense, denseScratchBytes, TILE_ROWS, WEIGHTS_F32 } from './dense';
import { packPanels } from './pack';
import { aligned16, packColumnsF32, panelBytes, panelColumns, panelVectorBytes } from './pack-f32';

/**
 * dx [batch, H, W, C] from dy [batch, OH, OW, OC] and the forward filter [kh, kw, C, OC] of a
 * convolution with strides sh, sw and padTop/padLeft before the first row/column. `scratch` holds
 * convBackpropInputScratchBytes(...) bytes for the same geometry.
 */
export function convBackpropInput(
  dy: usize, filter: usize, dx: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, scratch: usize,
): void {
  if (scatterIsCheaper(H, W, C, OH, OW, OC, kh, kw)) {
    byScatter(dy, filter, dx, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, scratch);
  } else {
    byTransposedConv(dy, filter, dx, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, scratch);
  }
}

export function convBackpropInputScratchBytes(H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, kh: i32, kw: i32): usize {
  if (scatterIsCheaper(H, W, C, OH, OW, OC, kh, kw)) {
    const Kf = kh * kw * C;
    return panelBytes(OC, Kf) + panelVectorBytes(Kf) + aligned16(<usize>TILE_ROWS * <usize>Kf << 2) + denseScratchBytes(WEIGHTS_F32, OC);
  }
  const K = kh * kw * OC;
  return panelBytes(K, C) + panelVectorBytes(C) + floatConvScratchBytes(WEIGHTS_F32, K);
}

/** Multiply-adds per image of each way, panel padding included: dx pixels x (kh*kw*OC) x C vs dy pixels x OC x (kh*kw*C). */
// @ts-ignore: decorator
@inline
function scatterIsCheaper(H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, kh: i32, kw: i32): bool {
  const transposedConv = <f64>(H * W) * <f64>(kh * kw * OC) * <f64>panelColumns(C);
  const scatter = <f64>(OH * OW) * <f64>OC * <f64>panelColumns(kh * kw * C);
  return scatter < transposedConv;
}

function byTransposedConv(
  dy: usize, filter: usize, dx: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, scratch: usize,
): void {
  // The forward filter [kh, kw, C, OC] is the transposed convolution's [kh, kw, out, in] kernel.
  const K = kh * kw * OC;
  const packed = scratch;
  packPanels<f32>(filter, packed, K, C, OC);
  const zeros = packed + panelBytes(K, C);
  memory.fill(zeros, 0, panelVectorBytes(C));
  conv(WEIGHTS_F32, dy, dx, batch, OH, OW, OC, H, W, C, kh, kw, sh, sw, padTop, padLeft, true, packed, zeros, 0, zeros + panelVectorBytes(C), ACT_LINEAR, 0);
}

function byScatter(
  dy: usize, filter: usize, dx: usize, batch: i32,
  H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, scratch: usize,
): void {
  // filter [kh*kw*C, OC] is filter^T [OC, kh*kw*C] stored transposed: packColumns lays it out.
  const Kf = kh * kw * C;
  const packed = scratch;
  packColumnsF32(filter, packed, OC, Kf);
  const zeros = packed + panelBytes(OC, Kf);
  memory.fill(zeros, 0, panelVectorBytes(Kf));
  const cols = zeros + panelVectorBytes(Kf);
  const denseScratch = cols + aligned16(<usize>TILE_ROWS * <usize>Kf << 2);
  memory.fill(dx, 0, <usize>batch * <usize>(H * W * C) << 2);
  const pixels = batch * OH * OW;
  for (let first = 0; first < pixels; first += TILE_ROWS) {
    const count = min(TILE_ROWS, pixels - first);
    dense(WEIGHTS_F32, dy + (<usize>first * <usize>OC << 2), cols, count, OC, Kf, packed, zeros, 0, denseScratch, ACT_LINEAR, 0);
    col2im(cols, dx, first, count, H, W, C, OH, OW, kh, kw, sh, sw, padTop, padLeft);
  }
}
