/**
 * 2-D convolution and transposed convolution on NHWC values. conv2d kernel [kh, kw, C/groups, filters];
 * conv2dTranspose [kh, kw, filters, C]. Padding is TensorFlow.js's 'same' / 'valid' (format 1 and
 * Keras), or explicit per side (PyTorch and ONNX, format 2): convGeometry is the one authority on it.
 */
import { UnsupportedError } from '../errors.ts';
import { LIMITS, type ConvLayer } from '../format/spec.ts';
import { fail, int, oneOf, optional, pair } from '../format/validate.ts';
import { ConvPacking, ConvRec, Field, Op } from '../runtime/abi.ts';
import { activate, parseFusedActivation, recordActivation } from './activation.ts';
import type { LayerKind } from './types.ts';
import { checkWeightShapes, parseWeightRefs, referenceWeights, rowOperands } from './weights.ts';

/** Output length of a convolution along one axis, as TensorFlow.js computes it. */
export function convOutputLength(inLen: number, k: number, s: number, padding: 'same' | 'valid', transposed: boolean): number {
  if (transposed) return padding === 'same' ? inLen * s : inLen * s + Math.max(k - s, 0);
  return padding === 'same' ? Math.ceil(inLen / s) : Math.floor((inLen - k) / s) + 1;
}

/** Padding before the first element along one axis (TensorFlow.js puts the odd pixel after). */
export function convPadBefore(inLen: number, outLen: number, k: number, s: number, padding: 'same' | 'valid', transposed: boolean): number {
  if (padding === 'valid') return 0;
  // A transposed conv is the gradient of the conv from its output back to its input.
  const [x, y] = transposed ? [outLen, inLen] : [inLen, outLen];
  const total = Math.max((y - 1) * s + k - x, 0);
  return Math.floor(total / 2);
}

/** Output length along one axis with explicit padding (PyTorch's and ONNX's formulas). */
function explicitOutputLength(inLen: number, k: number, s: number, d: number, before: number, after: number, outputPadding: number, transposed: boolean): number {
  const span = d * (k - 1) + 1;
  if (transposed) return (inLen - 1) * s - before - after + span + outputPadding;
  return Math.floor((inLen + before + after - span) / s) + 1;
}

/** A conv step's sizes, NHWC in and out, with its kernel, strides and the padding before each spatial axis. */
export interface ConvGeometry {
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  OC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
  transposed: boolean;
}

/** A conv node's geometry with the format-2 fields: dilation and groups. */
export interface ConvNodeGeometry extends ConvGeometry {
  dh: number;
  dw: number;
  groups: number;
}

/** The geometry of a validated conv node, from its layer and the per-sample shapes flowing in and out. */
export function convGeometry(layer: ConvLayer, inShape: readonly number[], outShape: readonly number[]): ConvNodeGeometry {
  const [H, W, C] = inShape;
  const [OH, OW, OC] = outShape;
  const [kh, kw] = layer.kernelSize;
  const [sh, sw] = layer.strides;
  const [dh, dw] = layer.dilations ?? [1, 1];
  const transposed = layer.type === 'conv2dTranspose';
  const explicit = layer.padding === 'explicit';
  const padTop = explicit ? layer.pads![0] : convPadBefore(H, OH, kh, sh, layer.padding as 'same' | 'valid', transposed);
  const padLeft = explicit ? layer.pads![1] : convPadBefore(W, OW, kw, sw, layer.padding as 'same' | 'valid', transposed);
  return { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed, dh, dw, groups: layer.groups ?? 1 };
}

function outputSize(layer: ConvLayer, [h, w]: number[]): [number, number] {
  const transposed = layer.type === 'conv2dTranspose';
  if (layer.padding !== 'explicit') {
    return [0, 1].map((a) => convOutputLength([h, w][a], layer.kernelSize[a], layer.strides[a], layer.padding as 'same' | 'valid', transposed)) as [number, number];
  }
  const [top, left, bottom, right] = layer.pads!;
  const [dh, dw] = layer.dilations ?? [1, 1];
  const [oph, opw] = layer.outputPadding ?? [0, 0];
  return [
    explicitOutputLength(h, layer.kernelSize[0], layer.strides[0], dh, top, bottom, oph, transposed),
    explicitOutputLength(w, layer.kernelSize[1], layer.strides[1], dw, left, right, opw, transposed),
  ];
}

/** Reads a conv node's own fields; explicit pads, output padding, dilation and groups are format 2's. */
function parseConv(raw: Record<string, unknown>, what: string): Omit<ConvLayer, 'type' | 'name' | 'activation' | 'alpha' | 'kernel' | 'bias' | 'scale'> {
  const kernelSize = pair(raw.kernelSize, `${what}.kernelSize`, LIMITS.kernelSize);
  const strides = pair(raw.strides, `${what}.strides`, LIMITS.stride);
  const padding = oneOf(raw.padding, `${what}.padding`, ['same', 'valid', 'explicit'] as const);
  const out: ReturnType<typeof parseConv> = { filters: int(raw.filters, `${what}.filters`, 1, LIMITS.dim), kernelSize, strides, padding };
  if (padding === 'explicit') {
    if (!Array.isArray(raw.pads) || raw.pads.length !== 4) fail(`${what}.pads must be [top, left, bottom, right]`);
    out.pads = (raw.pads as unknown[]).map((p, i) => int(p, `${what}.pads[${i}]`, 0, LIMITS.kernelSize * LIMITS.stride)) as [number, number, number, number];
    const outputPadding = optional(raw.outputPadding, undefined, (v) => pair(v, `${what}.outputPadding`, LIMITS.stride, 0));
    if (outputPadding) {
      if (raw.type !== 'conv2dTranspose') fail(`${what}.outputPadding is only for conv2dTranspose`);
      if (outputPadding.some((p, i) => p >= strides[i])) fail(`${what}.outputPadding [${outputPadding}] must be below the strides [${strides}]`);
      out.outputPadding = outputPadding;
    }
  } else if (raw.pads !== undefined || raw.outputPadding !== undefined) {
    fail(`${what}.pads and outputPadding go with padding "explicit", not "${padding}"`);
  }
  const dilations = optional(raw.dilations, undefined, (v) => pair(v, `${what}.dilations`, LIMITS.kernelSize));
  const groups = optional(raw.groups, undefined, (v) => int(v, `${what}.groups`, 1, LIMITS.dim));
  if (dilations) out.dilations = dilations;
  if (groups !== undefined) out.groups = groups;
  return out;
}

function convKind(transposed: boolean): LayerKind<ConvLayer> {
  return {
    arity: [1, 1],
    storage: 'fresh',
    parse(raw, what, context) {
      const conv = parseConv(raw, what);
      // An int8 scale belongs to an output channel, which a grouped transposed kernel [kh, kw, filters/groups, C] spreads over two axes.
      if (transposed && (conv.groups ?? 1) > 1 && context.dtype === 'i8') {
        throw new UnsupportedError(`${what}: a grouped conv2dTranspose cannot hold int8 weights (one scale per output channel); store the model as f16 or f32`);
      }
      return { ...conv, ...parseFusedActivation(raw, what), ...parseWeightRefs(raw, what, context) };
    },
    infer(layer, [inShape], what, { tensors }) {
      if (inShape.length !== 3) fail(`${what} needs an [h, w, c] input, got [${inShape.join(', ')}]`);
      const [h, w, c] = inShape;
      const [kh, kw] = layer.kernelSize;
      const groups = layer.groups ?? 1;
      if (c % groups !== 0 || layer.filters % groups !== 0) fail(`${what}: ${c} input and ${layer.filters} output channels do not split into ${groups} groups`);
      const kernelShape = transposed ? [kh, kw, layer.filters / groups, c] : [kh, kw, c / groups, layer.filters];
      checkWeightShapes(layer, what, tensors, kernelShape, layer.filters);
      const [oh, ow] = outputSize(layer, inShape);
      if (oh < 1 || ow < 1) fail(`${what}: a ${kh}x${kw} kernel does not fit the ${h}x${w} input with "${layer.padding}" padding`);
      const macs = (transposed ? h * w : oh * ow) * kh * kw * (c / groups) * layer.filters;
      return { shape: [oh, ow, layer.filters], macs };
    },
    record(layer, record, node, context) {
      const g = convGeometry(layer, node.inShapes[0], node.outShape);
      // The module picks the path from the geometry (phases, the direct kernel, im2col): the record says
      // the kernel was packed for that choice (ConvPacking).
      const packing = ConvPacking.ByGeometry;
      context.scratch(context.kernels.convGeneralScratchBytes(context.weightCode, g.H, g.W, g.C, g.OH, g.OW, g.OC, g.kh, g.kw, g.groups, g.transposed ? 1 : 0, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft, packing));
      record[Field.Op] = Op.Conv;
      recordActivation(record, layer);
      const words: [number, number][] = [
        [ConvRec.Weights, context.weightCode], [ConvRec.H, g.H], [ConvRec.W, g.W], [ConvRec.C, g.C], [ConvRec.OH, g.OH], [ConvRec.OW, g.OW],
        [ConvRec.OC, g.OC], [ConvRec.KH, g.kh], [ConvRec.KW, g.kw], [ConvRec.SH, g.sh], [ConvRec.SW, g.sw], [ConvRec.PadTop, g.padTop],
        [ConvRec.PadLeft, g.padLeft], [ConvRec.Transposed, g.transposed ? 1 : 0], [ConvRec.DilationH, g.dh], [ConvRec.DilationW, g.dw], [ConvRec.Groups, g.groups],
        [ConvRec.Packing, packing],
      ];
      for (const [field, value] of words) record[field] = value;
      record[ConvRec.Kernel] = context.convKernel(layer.kernel, g, packing);
      record[ConvRec.Bias] = context.convVector(layer.bias, g.OC, g.groups);
      record[ConvRec.Scale] = context.convVector(layer.scale, g.OC, g.groups);
    },
    reference(layer, [act], node, context) {
      const { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, dh, dw, groups } = convGeometry(layer, node.inShapes[0], node.outShape);
      const w = referenceWeights(layer, context); // conv2d [kh, kw, C/G, OC]; conv2dTranspose [kh, kw, OC/G, C]
      const [Cg, OCg] = [C / groups, OC / groups];
      const inSize = H * W * C;
      const n = act.length / inSize;
      const out = new Float64Array(n * OH * OW * OC);
      const weight = (ky: number, kx: number, ci: number, oc: number) => {
        const tap = ky * kw + kx;
        const g = Math.floor(oc / OCg);
        return w.values[transposed ? (tap * OCg + (oc % OCg)) * C + g * Cg + ci : (tap * Cg + ci) * OC + oc];
      };
      /** The input coordinate tap k of output coordinate o reads along one axis, or -1. */
      const source = (o: number, k: number, s: number, d: number, pad: number, size: number) => {
        const i = transposed ? (o + pad - k * d) / s : o * s + k * d - pad;
        return Number.isInteger(i) && i >= 0 && i < size ? i : -1;
      };
      for (let s = 0; s < n; s++) {
        // For int8 kernels, the sample's input quantized once, with one scale for the sample.
        const { x, rowScale } = rowOperands(act.subarray(s * inSize, (s + 1) * inSize), w.quantized);
        for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let oc = 0; oc < OC; oc++) {
          const c0 = Math.floor(oc / OCg) * Cg;
          let sum = 0;
          for (let ky = 0; ky < kh; ky++) {
            const iy = source(oy, ky, sh, dh, padTop, H);
            if (iy < 0) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = source(ox, kx, sw, dw, padLeft, W);
              if (ix < 0) continue;
              for (let ci = 0; ci < Cg; ci++) sum += x[(iy * W + ix) * C + c0 + ci] * weight(ky, kx, ci, oc);
            }
          }
          out[((s * OH + oy) * OW + ox) * OC + oc] = activate(sum * rowScale * w.scale(oc) + w.bias[oc], layer.activation, layer);
        }
      }
      return out;
    },
  };
}

export const conv2d = convKind(false);
export const conv2dTranspose = convKind(true);
