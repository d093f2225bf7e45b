/**
 * An ONNX Conv / ConvTranspose in the format's terms: explicit pads (from pads or auto_pad), output
 * padding, dilations and groups, and the output size they give.
 */
import { FormatError, UnsupportedError } from '../errors.ts';
import { LIMITS } from '../format/spec.ts';
import { intAttribute, intsAttribute, stringAttribute } from './onnx-attributes.ts';
import type { OnnxNode } from './onnx-graph.ts';
import { sameDims } from './onnx-layout.ts';

function pairAttribute(node: OnnxNode, name: string, fallback: number[], length = 2): number[] {
  const value = intsAttribute(node, name) ?? fallback;
  if (value.length !== length) throw new FormatError(`${node.label}: ${name} [${value.join(', ')}] must have ${length} values for a 2-D convolution`);
  return value;
}

/** An ONNX Conv or ConvTranspose as a format-2 conv node's fields, with its output size. */
export interface OnnxConv {
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
  outputPadding?: [number, number];
  dilations?: [number, number];
  groups?: number;
  OH: number;
  OW: number;
}

/**
 * The conv's fields in the format's terms: explicit pads (from pads or auto_pad), output_padding,
 * dilations and groups as the node has them. `dims`: the ONNX weights' shape, Conv [OC, C/G, kh, kw]
 * and ConvTranspose [C, OC/G, kh, kw]. `extraPads`: a Pad before the conv, folded into its pads.
 */
export function convOf(node: OnnxNode, [C, H, W]: number[], dims: number[], transposed: boolean, extraPads = [0, 0, 0, 0]): OnnxConv {
  const groups = intAttribute(node, 'group', 1);
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) throw new FormatError(`${node.label}: group ${groups} does not divide its ${C} input channels`);
  const [inChannels, OC] = transposed ? [dims[0], dims[1] * groups] : [dims[1] * groups, dims[0]];
  const [kh, kw] = [dims[2], dims[3]];
  const [dh, dw] = pairAttribute(node, 'dilations', [1, 1]);
  const kernelShape = intsAttribute(node, 'kernel_shape');
  if (kernelShape && !sameDims(kernelShape, [kh, kw])) throw new FormatError(`${node.label}: kernel_shape [${kernelShape.join(', ')}] disagrees with its weights [${dims.join(', ')}]`);
  if (inChannels !== C) throw new FormatError(`${node.label}: weights [${dims.join(', ')}] take ${inChannels} input channels, but the input [N, ${C}, ${H}, ${W}] has ${C}`);
  const [sh, sw] = pairAttribute(node, 'strides', [1, 1]);
  for (const [what, value, max] of [['kernel size', kh, LIMITS.kernelSize], ['kernel size', kw, LIMITS.kernelSize], ['stride', sh, LIMITS.stride], ['stride', sw, LIMITS.stride], ['dilation', dh, LIMITS.kernelSize], ['dilation', dw, LIMITS.kernelSize]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max) throw new UnsupportedError(`${node.label} has ${what} ${value}; edgevae runs 1..${max}`);
  }
  const [top, left, bottom, right] = pads(node, transposed, [H, W], [(kh - 1) * dh + 1, (kw - 1) * dw + 1], [sh, sw]).map((p, i) => p + extraPads[i]);
  const [oph, opw] = transposed ? outputPadding(node, [sh, sw]) : [0, 0];
  const [spanH, spanW] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const OH = transposed ? sh * (H - 1) + oph + spanH - top - bottom : Math.floor((H + top + bottom - spanH) / sh) + 1;
  const OW = transposed ? sw * (W - 1) + opw + spanW - left - right : Math.floor((W + left + right - spanW) / sw) + 1;
  if (OH < 1 || OW < 1) throw new FormatError(`${node.label}: a ${kh}x${kw} kernel with pads [${[top, left, bottom, right].join(', ')}] leaves no output of the ${H}x${W} input`);
  return {
    filters: OC,
    kernelSize: [kh, kw],
    strides: [sh, sw],
    pads: [top, left, bottom, right],
    ...(oph || opw ? { outputPadding: [oph, opw] as [number, number] } : {}),
    ...(dh > 1 || dw > 1 ? { dilations: [dh, dw] as [number, number] } : {}),
    ...(groups > 1 ? { groups } : {}),
    OH,
    OW,
  };
}

/** The explicit pads [top, left, bottom, right], from the pads attribute or auto_pad. */
function pads(node: OnnxNode, transposed: boolean, [H, W]: number[], [kh, kw]: number[], [sh, sw]: number[]): number[] {
  const autoPad = stringAttribute(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    if (transposed) throw new UnsupportedError(`${node.label} uses auto_pad ${autoPad}; give a ConvTranspose explicit pads`);
    // out = ceil(in / s); the odd padding pixel goes after (UPPER) or before (LOWER).
    const split = (inLen: number, k: number, s: number) => {
      const total = Math.max((Math.ceil(inLen / s) - 1) * s + k - inLen, 0);
      const before = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      return [before, total - before];
    };
    const [[top, bottom], [left, right]] = [split(H, kh, sh), split(W, kw, sw)];
    return [top, left, bottom, right];
  }
  if (autoPad !== 'NOTSET') throw new FormatError(`${node.label} has auto_pad "${autoPad}"`);
  if (transposed && node.attributes.has('output_shape')) throw new UnsupportedError(`${node.label} gives output_shape; edgevae reads a ConvTranspose's explicit pads and output_padding`);
  const explicit = pairAttribute(node, 'pads', [0, 0, 0, 0], 4);
  if (explicit.some((p) => !Number.isInteger(p) || p < 0 || p > LIMITS.kernelSize)) throw new UnsupportedError(`${node.label} has pads [${explicit.join(', ')}]; edgevae runs pads of 0..${LIMITS.kernelSize}`);
  return explicit;
}

function outputPadding(node: OnnxNode, strides: number[]): number[] {
  const padding = pairAttribute(node, 'output_padding', [0, 0]);
  if (padding.some((p, i) => !Number.isInteger(p) || p < 0 || p >= strides[i])) throw new FormatError(`${node.label}: output_padding [${padding.join(', ')}] must be below the strides [${strides.join(', ')}]`);
  return padding;
}
