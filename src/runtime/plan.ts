/**
 * Turns a validated model into what the wasm executor runs: packed weights and one fixed-size record
 * per op, laid out once in wasm memory at load time.
 *
 * Memory, from the module's heap base up: [op records][packed weights, bias and scales per layer]
 * then, sized per batch by the decoder: [labels][activation buffer A][activation buffer B].
 */
import { DTYPE_BYTES, product, type ActivationName, type ConvLayer, type DenseLayer } from '../format/spec.ts';
import { convGeometry, tensorData, type ParsedModel } from '../format/read.ts';
import { decodeF16 } from '../format/f16.ts';
import { ensureMemory, type Kernels } from './wasm.ts';

// Keep in step with assembly/executor.ts.
export const RECORD_WORDS = 24;
const OP_DENSE = 1;
const OP_CONV = 2;
const OP_ACTIVATION = 3;
const OP_CONCAT_LABEL = 4;
const WEIGHTS_F32 = 0;
const WEIGHTS_I8 = 2;

export const ACTIVATION_CODES: Record<ActivationName, number> = { linear: 0, relu: 1, leakyRelu: 2, sigmoid: 3, tanh: 4 };

export interface Plan {
  /** Address of the first op record. */
  records: number;
  opCount: number;
  /** First free byte after the records and weights; batch buffers start here. */
  staticEnd: number;
  /** Bytes of packed weights, biases and scales. */
  weightBytes: number;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;
const panelsOf = (n: number) => Math.ceil(n / 8);

/** Writes the model's weights and op records into the module's memory. */
export function buildPlan(kernels: Kernels, model: ParsedModel): Plan {
  const recordsPtr = align16(kernels.heapBase());
  const ops: Int32Array[] = [];
  let cursor = align16(recordsPtr + model.steps.length * RECORD_WORDS * 4);
  const weightsStart = cursor;

  /** Copies a tensor's values to scratch space past `cursor`, widening f16 to f32 on the way. */
  const stage = (index: number, extra: number): { ptr: number; i8: boolean } => {
    const data = tensorData(model, index);
    const values = data instanceof Uint16Array ? decodeF16(data) : data;
    const ptr = align16(cursor + extra);
    ensureMemory(kernels, ptr + values.byteLength);
    new Uint8Array(kernels.memory.buffer, ptr, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return { ptr, i8: values instanceof Int8Array };
  };

  /** Places a vector (bias or scale) at the cursor, zero-padded to whole panels. */
  const placeVector = (index: number | undefined, n: number): number => {
    if (index === undefined) return 0;
    const padded = panelsOf(n) * 8 * 4;
    const { ptr: src } = stage(index, padded);
    const dst = cursor;
    kernels.padVector(src, dst, n);
    cursor = align16(cursor + padded);
    return dst;
  };

  /** Packs a kernel into panels at the cursor with the given packer. */
  const placeKernel = (layer: DenseLayer | ConvLayer, packedElements: number, pack: (src: number, dst: number, i8: boolean) => void) => {
    const bytes = packedElements * (model.header.meta.dtype === 'i8' ? 1 : 4);
    const { ptr: src, i8 } = stage(layer.kernel, bytes);
    const dst = cursor;
    pack(src, dst, i8);
    cursor = align16(cursor + bytes);
    return { w: dst, i8 };
  };

  for (const { layer, inShape, outShape } of model.steps) {
    const record = new Int32Array(RECORD_WORDS);
    if ('activation' in layer) {
      record[1] = ACTIVATION_CODES[layer.activation];
      record[2] = floatBits(layer.alpha ?? 0);
    }
    switch (layer.type) {
      case 'dense': {
        const K = inShape[inShape.length - 1];
        const N = layer.units;
        const { w, i8 } = placeKernel(layer, panelsOf(N) * 8 * K, (src, dst, i8) => (i8 ? kernels.packDenseI8 : kernels.packDenseF32)(src, dst, K, N));
        record.set([OP_DENSE], 0);
        record.set([i8 ? WEIGHTS_I8 : WEIGHTS_F32, K, N, product(inShape) / K, w, placeVector(layer.bias, N), placeVector(layer.scale, N)], 3);
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        const { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed } = convGeometry(layer, inShape, outShape);
        const { w, i8 } = placeKernel(layer, panelsOf(OC) * 8 * kh * kw * C, (src, dst, i8) =>
          (i8 ? kernels.packConvI8 : kernels.packConvF32)(src, dst, kh * kw, C, OC, transposed ? 1 : 0),
        );
        record.set([OP_CONV], 0);
        record.set([i8 ? WEIGHTS_I8 : WEIGHTS_F32, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed ? 1 : 0], 3);
        record.set([w, placeVector(layer.bias, OC), placeVector(layer.scale, OC)], 17);
        break;
      }
      case 'activation':
        record[0] = OP_ACTIVATION;
        record[3] = product(inShape);
        break;
      case 'concatenate':
        record.set([OP_CONCAT_LABEL, 0, 0, inShape[0], model.header.meta.conditioning!.classes, layer.labelFirst ? 1 : 0]);
        break;
      case 'reshape':
      case 'flatten':
        continue; // NHWC is row-major per sample: a reshape moves no data
    }
    ops.push(record);
  }
  new Int32Array(kernels.memory.buffer, recordsPtr, ops.length * RECORD_WORDS).set(ops.flatMap((r) => [...r]));
  return { records: recordsPtr, opCount: ops.length, staticEnd: cursor, weightBytes: cursor - weightsStart };
}

const bitsView = new DataView(new ArrayBuffer(4));
function floatBits(value: number): number {
  bitsView.setFloat32(0, value, true);
  return bitsView.getInt32(0, true);
}

/** Bytes a model's file spends on weights, for info output. */
export function storedWeightBytes(model: ParsedModel): number {
  return model.header.tensors.reduce((sum, t) => sum + product(t.shape) * DTYPE_BYTES[t.dtype], 0);
}
