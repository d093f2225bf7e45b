/**
 * Turns a validated model into what the wasm executor runs: packed weights and one fixed-size record
 * per op, laid out once in wasm memory at load time.
 *
 * Memory, from the module's heap base up: [op records][packed weights, bias and scales per layer]
 * [scratch for the hungriest layer] then, sized per batch by the decoder: [labels][activation buffer
 * A][activation buffer B]. f32 and f16 kernels are packed as they are stored (f16 stays half-size and
 * is widened in the kernel); int8 kernels are packed in the pairs the integer dot product reads.
 */
import { DTYPE_BYTES, product, type ActivationName, type ConvLayer, type DenseLayer } from '../format/spec.ts';
import { convGeometry, tensorData, type ParsedModel } from '../format/read.ts';
import { FormatError } from '../errors.ts';
import { ensureMemory, type Kernels } from './wasm.ts';

// Keep in step with assembly/executor.ts.
export const RECORD_WORDS = 24;
const OP_DENSE = 1;
const OP_CONV = 2;
const OP_ACTIVATION = 3;
const OP_CONCAT_LABEL = 4;
const WEIGHT_CODES: Record<ParsedModel['header']['meta']['dtype'], number> = { f32: 0, f16: 1, i8: 2 };

export const ACTIVATION_CODES: Record<ActivationName, number> = { linear: 0, relu: 1, leakyRelu: 2, sigmoid: 3, tanh: 4 };

export interface Plan {
  /** Address of the first op record. */
  records: number;
  opCount: number;
  /** Scratch space the kernels share (im2col tiles, quantized rows, a widened f16 panel). */
  scratch: number;
  /** First free byte after the records, weights and scratch; batch buffers start here. */
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

  const dtype = model.header.meta.dtype;
  const weightCode = WEIGHT_CODES[dtype];
  let scratchBytes = 0;

  /** Copies a tensor's stored values to free space past `cursor` (the packers read them there). */
  const stage = (index: number, extra: number): number => {
    const data = tensorData(model, index);
    checkFinite(data, index);
    const ptr = align16(cursor + extra);
    ensureMemory(kernels, ptr + data.byteLength);
    new Uint8Array(kernels.memory.buffer, ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  };

  /** Places a vector (bias or scale) at the cursor, zero-padded to whole panels. */
  const placeVector = (index: number | undefined, n: number): number => {
    if (index === undefined) return 0;
    const padded = panelsOf(n) * 8 * 4;
    const src = stage(index, padded);
    const dst = cursor;
    kernels.padVector(src, dst, n);
    cursor = align16(cursor + padded);
    return dst;
  };

  /** Packs a kernel, seen as a K x N matrix, into panels at the cursor. `channels`: C of a conv2dTranspose. */
  const placeKernel = (layer: DenseLayer | ConvLayer, K: number, N: number, channels: number): number => {
    // int8 panels hold K rounded up to a multiple of 4 (assembly/kernels/pack.ts, i8PanelPairs).
    const panelElements = panelsOf(N) * 8 * (dtype === 'i8' ? Math.ceil(K / 4) * 4 : K);
    const bytes = align16(panelElements * (dtype === 'f32' ? 4 : dtype === 'f16' ? 2 : 1));
    const src = stage(layer.kernel, bytes);
    const dst = cursor;
    const pack = dtype === 'f32' ? kernels.packPanelsF32 : dtype === 'f16' ? kernels.packPanelsF16 : kernels.packPairsI8Panels;
    pack(src, dst, K, N, channels);
    cursor = align16(cursor + bytes);
    return dst;
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
        const w = placeKernel(layer, K, N, 0);
        scratchBytes = Math.max(scratchBytes, kernels.denseScratchBytes(weightCode, K));
        record.set([OP_DENSE], 0);
        record.set([weightCode, K, N, product(inShape) / K, w, placeVector(layer.bias, N), placeVector(layer.scale, N)], 3);
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        const { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed } = convGeometry(layer, inShape, outShape);
        const w = placeKernel(layer, kh * kw * C, OC, transposed ? C : 0);
        scratchBytes = Math.max(scratchBytes, kernels.convScratchBytes(weightCode, H, W, C, OH, OW, kh, kw));
        record.set([OP_CONV], 0);
        record.set([weightCode, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed ? 1 : 0], 3);
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
  const weightBytes = cursor - weightsStart;
  const scratch = cursor;
  const staticEnd = align16(scratch + scratchBytes);
  ensureMemory(kernels, staticEnd);
  return { records: recordsPtr, opCount: ops.length, scratch, staticEnd, weightBytes };
}

/**
 * Stored values must be finite: f16 weights are widened by bit arithmetic that assumes it, and the
 * GEMM kernels skip a zero activation's products, which is exact only for finite weights (0 * inf
 * would be NaN). A model holding inf or NaN is refused at load, naming where.
 */
function checkFinite(data: Float32Array | Uint16Array | Int8Array, tensor: number): void {
  if (data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) {
      if ((data[i] & 0x7c00) === 0x7c00) throw new FormatError(`tensor ${tensor} holds ${data[i] & 0x3ff ? 'NaN' : 'infinity'} at index ${i}; weights must be finite`);
    }
  } else if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new FormatError(`tensor ${tensor} holds ${data[i]} at index ${i}; weights must be finite`);
    }
  }
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
