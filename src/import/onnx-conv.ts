/**
 * An ONNX Conv / ConvTranspose in the runtime's terms: its geometry (with the padding before each axis
 * the node uses, from pads or auto_pad) and the TensorFlow.js padding, 'same' or 'valid', that computes
 * the same thing. Anything else is refused with the pads each would have had.
 */
import { FormatError, UnsupportedError } from '../errors.ts';
import { onnxConvPadding } from '../export/onnx.ts';
import { convOutputLength, convPadBefore, type ConvGeometry } from '../format/read.ts';
import { LIMITS } from '../format/spec.ts';
import { intAttribute, intsAttribute, stringAttribute } from './onnx-attributes.ts';
import type { OnnxNode } from './onnx-graph.ts';
import { sameDims } from './onnx-layout.ts';

function pairAttribute(node: OnnxNode, name: string, fallback: number[], length = 2): number[] {
  const value = intsAttribute(node, name) ?? fallback;
  if (value.length !== length) throw new FormatError(`${node.label}: ${name} [${value.join(', ')}] must have ${length} values for a 2-D convolution`);
  return value;
}

/** The conv's sizes in the runtime's terms, with the padding before each axis that the ONNX node uses. */
export function convGeometryOf(node: OnnxNode, [C, H, W]: number[], dims: number[], transposed: boolean): ConvGeometry {
  const [inChannels, OC] = transposed ? [dims[0], dims[1]] : [dims[1], dims[0]];
  const [kh, kw] = [dims[2], dims[3]];
  if (intAttribute(node, 'group', 1) !== 1) throw new UnsupportedError(`${node.label} is a grouped convolution (group ${intAttribute(node, 'group', 1)}); edgevae runs group 1`);
  if (pairAttribute(node, 'dilations', [1, 1]).some((d) => d !== 1)) throw new UnsupportedError(`${node.label} is dilated; edgevae runs undilated convolutions`);
  const kernelShape = intsAttribute(node, 'kernel_shape');
  if (kernelShape && !sameDims(kernelShape, [kh, kw])) throw new FormatError(`${node.label}: kernel_shape [${kernelShape.join(', ')}] disagrees with its weights [${dims.join(', ')}]`);
  if (inChannels !== C) throw new FormatError(`${node.label}: weights [${dims.join(', ')}] take ${inChannels} input channels, but the input [N, ${C}, ${H}, ${W}] has ${C}`);
  const [sh, sw] = pairAttribute(node, 'strides', [1, 1]);
  for (const [what, value, max] of [['kernel size', kh, LIMITS.kernelSize], ['kernel size', kw, LIMITS.kernelSize], ['stride', sh, LIMITS.stride], ['stride', sw, LIMITS.stride]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max) throw new UnsupportedError(`${node.label} has ${what} ${value}; edgevae runs 1..${max}`);
  }
  const [top, left, bottom, right] = pads(node, transposed, [H, W], [kh, kw], [sh, sw]);
  const [oh, ow] = transposed ? outputPadding(node, [sh, sw]) : [0, 0];
  const OH = transposed ? sh * (H - 1) + oh + kh - top - bottom : Math.floor((H + top + bottom - kh) / sh) + 1;
  const OW = transposed ? sw * (W - 1) + ow + kw - left - right : Math.floor((W + left + right - kw) / sw) + 1;
  if (OH < 1 || OW < 1) throw new FormatError(`${node.label}: a ${kh}x${kw} kernel with pads [${[top, left, bottom, right].join(', ')}] leaves no output of the ${H}x${W} input`);
  return { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop: top, padLeft: left, transposed };
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

/**
 * The TensorFlow.js padding that computes what the ONNX node computes: the same output size and the
 * same padding before the data (padding after only adds zeros no output reads, or rows only the bias reaches).
 */
export function tfPadding(node: OnnxNode, g: ConvGeometry): 'same' | 'valid' {
  const tf = (padding: 'same' | 'valid'): ConvGeometry => {
    const OH = convOutputLength(g.H, g.kh, g.sh, padding, g.transposed);
    const OW = convOutputLength(g.W, g.kw, g.sw, padding, g.transposed);
    const padTop = convPadBefore(g.H, OH, g.kh, g.sh, padding, g.transposed);
    const padLeft = convPadBefore(g.W, OW, g.kw, g.sw, padding, g.transposed);
    return { ...g, OH, OW, padTop, padLeft };
  };
  for (const padding of ['same', 'valid'] as const) {
    const t = tf(padding);
    if (t.OH === g.OH && t.OW === g.OW && t.padTop === g.padTop && t.padLeft === g.padLeft) return padding;
  }
  const describe = (padding: 'same' | 'valid') => {
    const p = onnxConvPadding(tf(padding));
    return `'${padding}' has pads [${p?.pads.join(', ')}]${p && (p.outputPadding[0] || p.outputPadding[1]) ? ` and output_padding [${p.outputPadding.join(', ')}]` : ''}`;
  };
  throw new UnsupportedError(
    `${node.label} pads its ${g.H}x${g.W} input to a ${g.OH}x${g.OW} output starting at [${g.padTop}, ${g.padLeft}], which is neither TensorFlow.js padding edgevae runs: ` +
      `with this kernel (${g.kh}x${g.kw}) and strides [${g.sh}, ${g.sw}], ${describe('same')}, ${describe('valid')}`,
  );
}
