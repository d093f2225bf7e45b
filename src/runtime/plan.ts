/**
 * Turns a validated model into what the wasm executor runs: packed weights and one fixed-size record
 * per op (src/runtime/abi.ts), laid out once in wasm memory at load time. Each record names the slots
 * of its inputs and output (slots.ts); the decoder writes the slots' addresses for a batch into the
 * slot table `run` reads.
 *
 * Memory, from the module's heap base up: [op records][packed weights, bias, scales and tables per
 * node][scratch for the hungriest op, one per thread][the threads' sync block] then, sized per batch
 * by the decoder: [labels][slot table][the slots]. f32 kernels are packed as they are stored, f16
 * ones widened to f32 (with keepF16, kept half-size and widened panel by panel in the kernel); int8
 * kernels are packed in the pairs the integer dot product reads.
 */
import { DTYPE_BYTES, product, type DType } from '../format/spec.ts';
import { decodeF16 } from '../format/f16.ts';
import { tensorData, type GraphNode, type ParsedModel } from '../format/read.ts';
import { FormatError } from '../errors.ts';
import { kindOf } from '../layers/index.ts';
import type { PlanContext } from '../layers/types.ts';
import { Field, RECORD_WORDS, ThreadSync, Weights } from './abi.ts';
import { ensureMemory, type Kernels } from './wasm.ts';

const WEIGHT_CODES: Record<ParsedModel['header']['meta']['dtype'], number> = { f32: Weights.F32, f16: Weights.F16, i8: Weights.I8 };

export interface Plan {
  /** Address of the first op record. */
  records: number;
  opCount: number;
  /** The node each record runs, for messages. */
  recordNodes: GraphNode[];
  /** Scratch space the kernels share (im2col tiles, quantized rows, a widened f16 panel): one area per thread. */
  scratch: number;
  /** Bytes from one thread's scratch to the next's. */
  scratchStride: number;
  /** The block of ThreadSync words through which threads share a decode (abi.ts); 0 with one thread. */
  sync: number;
  /** First free byte after the records, weights and scratch; batch buffers start here. */
  staticEnd: number;
  /** Bytes of packed weights, biases, scales and tables. */
  weightBytes: number;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;
const panelsOf = (n: number) => Math.ceil(n / 8);

/**
 * The dtype a model's kernels are packed in: the stored one, except that f16 is widened to f32 once,
 * at load, unless `keepF16` (LoadOptions.keepF16). Widened, f16 layers run the f32 kernels on the
 * same values, so the bytes are those of widening panel by panel in the kernel, without paying the
 * widening at every call: at batch 1, where each weight is used once, that cost more than the product.
 */
export function packedDtype(model: ParsedModel, keepF16 = false): DType {
  const stored = model.header.meta.dtype;
  return stored === 'f16' && !keepF16 ? 'f32' : stored;
}

/** Writes the model's weights and op records into the module's memory, with scratch for `threads` threads. */
export function buildPlan(kernels: Kernels, model: ParsedModel, threads = 1, keepF16 = false): Plan {
  const { graph, slots } = model;
  const recordNodes = graph.nodes.filter((node) => kindOf(node.layer).storage !== 'alias');
  const recordsPtr = align16(kernels.heapBase());
  let cursor = align16(recordsPtr + recordNodes.length * RECORD_WORDS * 4);
  const weightsStart = cursor;
  const dtype = packedDtype(model, keepF16);
  let scratchBytes = 0;

  /** Copies a tensor's stored values to free space past `cursor` (the packers read them there), f16 widened when packing in f32. */
  const stage = (index: number, extra: number): number => {
    const stored = tensorData(model, index);
    checkFinite(stored, index);
    const data = stored instanceof Uint16Array && dtype === 'f32' ? decodeF16(stored) : stored;
    const ptr = align16(cursor + extra);
    ensureMemory(kernels, ptr + data.byteLength);
    new Uint8Array(kernels.memory.buffer, ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  };

  const context: PlanContext = {
    weightCode: WEIGHT_CODES[dtype],
    kernels,
    classes: graph.label?.classes ?? 0,
    isLabel: (value) => value === graph.label?.name,
    scratch: (bytes) => void (scratchBytes = Math.max(scratchBytes, bytes)),
    vector(index, n) {
      if (index === undefined) return 0;
      const padded = panelsOf(n) * 8 * 4;
      const src = stage(index, padded);
      const dst = cursor;
      kernels.padVector(src, dst, n);
      cursor = align16(cursor + padded);
      return dst;
    },
    kernel(index, K, N, channels) {
      // int8 panels hold K rounded up to a multiple of 4 (assembly/kernels/pack.ts, i8PanelPairs).
      const panelElements = panelsOf(N) * 8 * (dtype === 'i8' ? Math.ceil(K / 4) * 4 : K);
      const bytes = align16(panelElements * DTYPE_BYTES[dtype]);
      const src = stage(index, bytes);
      const dst = cursor;
      const pack = dtype === 'f32' ? kernels.packPanelsF32 : dtype === 'f16' ? kernels.packPanelsF16 : kernels.packPairsI8Panels;
      pack(src, dst, K, N, channels);
      cursor = align16(cursor + bytes);
      return dst;
    },
    convKernel(index, { kh, kw, C, OC, groups, transposed, sh, sw, dh, dw }, packing) {
      const T = transposed ? 1 : 0;
      const bytes = align16(kernels.convKernelBytes(WEIGHT_CODES[dtype], kh, kw, C, OC, groups, T, sh, sw, dh, dw, packing));
      const src = stage(index, bytes);
      const dst = cursor;
      if (!kernels.packConvKernel(WEIGHT_CODES[dtype], src, dst, kh, kw, C, OC, groups, T, sh, sw, dh, dw, packing)) {
        throw new FormatError(`tensor ${index}: a conv kernel the wasm module cannot pack (${groups} groups of ${C} -> ${OC} channels)`);
      }
      cursor = align16(cursor + bytes);
      return dst;
    },
    convVector(index, OC, groups) {
      if (index === undefined) return 0;
      const bytes = align16(kernels.convVectorBytes(OC, groups));
      const src = stage(index, bytes);
      const dst = cursor;
      kernels.packConvVector(src, dst, OC, groups);
      cursor = align16(cursor + bytes);
      return dst;
    },
    tensors: model.header.tensors,
    f32Tensor(index) {
      const data = tensorData(model, index);
      checkFinite(data, index);
      return context.table(data as Float32Array);
    },
    table(values) {
      const dst = cursor;
      ensureMemory(kernels, dst + values.byteLength);
      new Uint8Array(kernels.memory.buffer, dst, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      cursor = align16(cursor + values.byteLength);
      return dst;
    },
  };

  const records = new Int32Array(recordNodes.length * RECORD_WORDS);
  recordNodes.forEach((node, i) => {
    const record = records.subarray(i * RECORD_WORDS, (i + 1) * RECORD_WORDS);
    record[Field.In0] = slotOrNone(slots.slotOf, node.inputs[0]);
    record[Field.In1] = slotOrNone(slots.slotOf, node.inputs[1]);
    record[Field.Out] = slots.slotOf.get(node.name)!;
    kindOf(node.layer).record(node.layer, record, node, context);
  });
  new Int32Array(kernels.memory.buffer, recordsPtr, records.length).set(records);
  const weightBytes = cursor - weightsStart;
  const scratch = cursor;
  const scratchStride = align16(scratchBytes);
  const scratchEnd = scratch + threads * scratchStride;
  const sync = threads > 1 ? scratchEnd : 0;
  const staticEnd = sync ? sync + ThreadSync.Words * 4 : scratchEnd;
  ensureMemory(kernels, staticEnd);
  // Packing staged the stored tensors past the weights, where scratch and the sync block now lie: the
  // threads' barrier must start from zeros.
  if (sync) new Int32Array(kernels.memory.buffer, sync, ThreadSync.Words).fill(0);
  return { records: recordsPtr, opCount: recordNodes.length, recordNodes, scratch, scratchStride, sync, staticEnd, weightBytes };
}

const slotOrNone = (slotOf: Map<string, number>, value: string | undefined) => (value === undefined ? -1 : (slotOf.get(value) ?? -1));

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

/** Bytes a model's file spends on weights, for info output. */
export function storedWeightBytes(model: ParsedModel): number {
  return model.header.tensors.reduce((sum, t) => sum + product(t.shape) * DTYPE_BYTES[t.dtype], 0);
}
