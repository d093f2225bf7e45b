/**
 * What every weighted kind (dense, the convolutions) shares: its kernel, bias and int8 scale tensors,
 * checked at parse and infer time, and read back as the reference computes with them.
 *
 * int8 models are specified as the runtime computes them: a dense layer's input row, or a conv layer's
 * whole input for one sample, is quantized to integers in +-ACTIVATION_Q_MAX with its own scale
 * (quantizeActivations), multiplied exactly by the int8 weights, then scaled by that scale x the
 * output channel's scale.
 */
import { decodeF16 } from '../format/f16.ts';
import { dequantizeInt8PerChannel } from '../format/int8.ts';
import { outputChannelAxis, type ConvLayer, type DenseLayer, type TensorSpec } from '../format/spec.ts';
import { fail, int, sameShape } from '../format/validate.ts';
import type { ParseContext, ReferenceContext } from './types.ts';

function tensorRef(v: unknown, what: string, tensors: TensorSpec[]): number {
  return int(v, what, 0, tensors.length - 1);
}

/** A weighted layer's tensor indices: they must exist and have the file's dtypes; shapes are checked by checkWeightShapes. */
export function parseWeightRefs(l: Record<string, unknown>, what: string, { tensors, dtype }: ParseContext): { kernel: number; bias: number; scale?: number } {
  const kernel = tensorRef(l.kernel, `${what}.kernel`, tensors);
  const bias = tensorRef(l.bias, `${what}.bias`, tensors);
  if (tensors[kernel].dtype !== dtype) fail(`${what}.kernel is ${tensors[kernel].dtype}, but the file's weights are ${dtype}`);
  if (tensors[bias].dtype !== 'f32') fail(`${what}.bias must be f32, got ${tensors[bias].dtype}`);
  if (dtype !== 'i8') {
    if (l.scale !== undefined) fail(`${what}.scale is only allowed with i8 weights`);
    return { kernel, bias };
  }
  const scale = tensorRef(l.scale, `${what}.scale`, tensors);
  if (tensors[scale].dtype !== 'f32') fail(`${what}.scale must be f32, got ${tensors[scale].dtype}`);
  return { kernel, bias, scale };
}

/** An f32 vector tensor of a weightless kind (a norm's gamma, an affine's scale): index and dtype. */
export function parseVectorRef(v: unknown, what: string, { tensors }: ParseContext): number {
  const index = tensorRef(v, what, tensors);
  if (tensors[index].dtype !== 'f32') fail(`${what} must be f32, got ${tensors[index].dtype}`);
  return index;
}

export function expectShape(t: TensorSpec, shape: number[], what: string) {
  if (!sameShape(t.shape, shape)) fail(`${what} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
}

export function checkWeightShapes(layer: DenseLayer | ConvLayer, what: string, tensors: TensorSpec[], kernelShape: number[], outputs: number) {
  expectShape(tensors[layer.kernel], kernelShape, `${what}.kernel`);
  expectShape(tensors[layer.bias], [outputs], `${what}.bias`);
  if (layer.scale !== undefined) expectShape(tensors[layer.scale], [outputs], `${what}.scale`);
}

/**
 * A weighted layer's kernel as f32 values in the format's layout, whatever dtype the file stores it
 * in: f32 copied, f16 widened, i8 dequantized as q * scale of its output channel.
 */
export function kernelValues(model: { header: { tensors: TensorSpec[] } }, layer: DenseLayer | ConvLayer, tensor: (index: number) => Float32Array | Uint16Array | Int8Array): Float32Array {
  const data = tensor(layer.kernel);
  if (data instanceof Float32Array) return Float32Array.from(data);
  if (data instanceof Uint16Array) return decodeF16(data);
  const scales = tensor(layer.scale!) as Float32Array;
  return dequantizeInt8PerChannel(data, scales, model.header.tensors[layer.kernel].shape, outputChannelAxis(layer.type));
}

/** The int8 kernels' activation range: see assembly/kernels/gemm-i8.ts for why 8191. */
export const ACTIVATION_Q_MAX = 8191;

/**
 * A row of activations as the int8 kernels quantize it, in the kernels' f32 arithmetic:
 * q = roundHalfEven(x * (Q_MAX / max|x|)), scale = max|x| / Q_MAX (0 for an all-zero row).
 */
export function quantizeActivations(row: ArrayLike<number>): { q: Int32Array; scale: number } {
  let maxAbs = 0;
  for (let i = 0; i < row.length; i++) maxAbs = Math.max(maxAbs, Math.abs(Math.fround(row[i])));
  const inv = maxAbs > 0 ? Math.fround(ACTIVATION_Q_MAX / maxAbs) : 0;
  const q = new Int32Array(row.length);
  for (let i = 0; i < row.length; i++) q[i] = roundHalfEven(Math.fround(Math.fround(row[i]) * inv));
  return { q, scale: Math.fround(maxAbs / ACTIVATION_Q_MAX) };
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface LayerWeights {
  /** f32 values, or the raw integers of an int8 kernel. */
  values: Float64Array;
  quantized: boolean;
  /** Multiplier of output channel j: its int8 scale, 1 for float kernels. */
  scale(j: number): number;
  bias: Float32Array;
}

/** A weighted layer's operands as the reference multiplies them. */
export function referenceWeights(layer: DenseLayer | ConvLayer, context: ReferenceContext): LayerWeights {
  const data = context.tensor(layer.kernel);
  const bias = context.tensor(layer.bias) as Float32Array;
  if (!(data instanceof Int8Array)) {
    return { values: Float64Array.from(kernelValues({ header: { tensors: context.tensors } }, layer, context.tensor)), quantized: false, scale: () => 1, bias };
  }
  const scales = context.tensor(layer.scale!) as Float32Array;
  return { values: Float64Array.from(data), quantized: true, scale: (j) => scales[j], bias };
}

/** The row a weighted layer multiplies: as is for float kernels, quantized for int8 ones. */
export function rowOperands(row: Float64Array, quantized: boolean): { x: ArrayLike<number>; rowScale: number } {
  if (!quantized) return { x: row, rowScale: 1 };
  const { q, scale } = quantizeActivations(row);
  return { x: q, rowScale: scale };
}
