/**
 * Constant tensors of an ONNX graph (initializers, Constant nodes) and the folding of the operators that
 * compute on constants only: what PyTorch emits around a reshape (Shape -> Gather -> Unsqueeze -> Concat)
 * and around weights (Transpose, Cast, DequantizeLinear, ...). Integer constants are kept as f64 values,
 * with NaN standing for the batch size, which is unknown until run time: Shape writes it and the shape
 * operators carry it along, so a Reshape can tell its batch axis.
 */
import onnxProto from 'onnx-proto';
import { FormatError, UnsupportedError } from '../errors.ts';
import { decodeF16 } from '../format/f16.ts';
import { product } from '../format/spec.ts';
import { permute } from '../convert/permute.ts';
import { floatAttribute, floatsAttribute, intAttribute, intsAttribute, tensorAttribute } from './onnx-attributes.ts';
import { int64, type Long, type OnnxNode, type TensorProto } from './onnx-graph.ts';

const DataType = onnxProto.onnx.TensorProto.DataType;

export type Constant = { type: 'float'; dims: number[]; data: Float32Array } | { type: 'int'; dims: number[]; data: Float64Array };

/** Largest constant the importer holds, in elements (a 256 MiB f32 tensor). */
export const MAX_CONSTANT_ELEMENTS = 1 << 26;

/** The batch size inside integer constants. */
export const BATCH = NaN;
export const isBatch = (v: number) => Number.isNaN(v);

/** Bytes per element of the integer types a constant may hold, as raw_data stores them. */
const INT_BYTES: Partial<Record<number, number>> = {
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.INT16]: 2,
  [DataType.UINT16]: 2,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.BOOL]: 1,
};
const FLOAT_BYTES: Partial<Record<number, number>> = { [DataType.FLOAT]: 4, [DataType.FLOAT16]: 2, [DataType.DOUBLE]: 8 };

/** Decodes a TensorProto, checking that its data fills its dims. `what` names it in messages. */
export function constantFromProto(tensor: TensorProto, what: string): Constant {
  if (tensor.dataLocation === onnxProto.onnx.TensorProto.DataLocation.EXTERNAL || (tensor.externalData ?? []).length > 0) {
    throw new UnsupportedError(`${what} keeps its data in an external file; save the model with its weights inside (onnx.save(..., save_as_external_data=False))`);
  }
  if (tensor.segment) throw new UnsupportedError(`${what} is a segment of a larger tensor; edgevae reads whole tensors`);
  const dims = (tensor.dims ?? []).map(int64);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new FormatError(`${what} has dims [${dims.join(', ')}]`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > MAX_CONSTANT_ELEMENTS) throw new FormatError(`${what} has ${count} elements, over the limit of ${MAX_CONSTANT_ELEMENTS}`);
  const type = tensor.dataType ?? 0;
  if (FLOAT_BYTES[type] !== undefined) return { type: 'float', dims, data: floatData(tensor, type, count, what) };
  if (INT_BYTES[type] !== undefined) return { type: 'int', dims, data: intData(tensor, type, count, what) };
  throw new UnsupportedError(`${what} is of type ${DataType[type] ?? type}; edgevae reads float, float16, double and integer tensors`);
}

/** The raw_data bytes when present, checked to hold exactly `count` elements; null when the typed field is used. */
function rawBytes(tensor: TensorProto, count: number, bytesPer: number, what: string): DataView | null {
  const raw = tensor.rawData;
  if (!raw || raw.length === 0) return null;
  if (raw.length !== count * bytesPer) throw new FormatError(`${what} holds ${raw.length} bytes of data, but its dims [${(tensor.dims ?? []).map(int64).join(', ')}] need ${count * bytesPer}`);
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

function typedField<T>(values: T[] | null | undefined, count: number, field: string, what: string): T[] {
  const list = values ?? [];
  if (list.length !== count) {
    throw new FormatError(list.length === 0 ? `${what} declares ${count} values but holds none` : `${what} has ${list.length} values in ${field}, but its dims hold ${count}`);
  }
  return list;
}

// Both readers check that the data is there before allocating for it: dims alone may claim 2^26 elements.

function floatData(tensor: TensorProto, type: number, count: number, what: string): Float32Array {
  const view = rawBytes(tensor, count, FLOAT_BYTES[type]!, what);
  if (type === DataType.FLOAT16) {
    const bits = view ? Uint16Array.from({ length: count }, (_, i) => view.getUint16(2 * i, true)) : Uint16Array.from(typedField(tensor.int32Data, count, 'int32_data', what));
    return decodeF16(bits);
  }
  if (view) return Float32Array.from({ length: count }, (_, i) => (type === DataType.FLOAT ? view.getFloat32(4 * i, true) : view.getFloat64(8 * i, true)));
  return Float32Array.from(type === DataType.FLOAT ? typedField(tensor.floatData, count, 'float_data', what) : typedField(tensor.doubleData, count, 'double_data', what));
}

function intData(tensor: TensorProto, type: number, count: number, what: string): Float64Array {
  const bytesPer = INT_BYTES[type]!;
  const view = rawBytes(tensor, count, bytesPer, what);
  if (view) {
    const read = rawIntReader(view, type);
    return Float64Array.from({ length: count }, (_, i) => read(i * bytesPer));
  }
  const list: (number | Long)[] = type === DataType.INT64 ? typedField(tensor.int64Data, count, 'int64_data', what) : typedField(tensor.int32Data, count, 'int32_data', what);
  return Float64Array.from(list, int64);
}

function rawIntReader(view: DataView, type: number): (offset: number) => number {
  switch (type) {
    case DataType.INT64: return (o) => Number(view.getBigInt64(o, true));
    case DataType.INT32: return (o) => view.getInt32(o, true);
    case DataType.INT16: return (o) => view.getInt16(o, true);
    case DataType.UINT16: return (o) => view.getUint16(o, true);
    case DataType.INT8: return (o) => view.getInt8(o);
    default: return (o) => view.getUint8(o); // UINT8, BOOL
  }
}

// ---- folding ----

type Fold = (node: OnnxNode, inputs: (Constant | undefined)[], opset: number) => Constant;

const need = (node: OnnxNode, inputs: (Constant | undefined)[], index: number, what: string): Constant => {
  const input = inputs[index];
  if (!input) throw new FormatError(`${node.label} lacks its ${what} input`);
  return input;
};

function ints(node: OnnxNode, constant: Constant, what: string): number[] {
  if (constant.type !== 'int') throw new FormatError(`${node.label}: ${what} must be integers`);
  return Array.from(constant.data);
}

/** An axis in -rank..rank-1 as 0..rank-1. */
export function normalizeAxis(node: OnnxNode, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new FormatError(`${node.label}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

const withData = (like: Constant, dims: number[], data: Float32Array | Float64Array): Constant =>
  (like.type === 'float' ? { type: 'float', dims, data: data as Float32Array } : { type: 'int', dims, data: data as Float64Array });

const emptyLike = (like: Constant, n: number) => (like.type === 'float' ? new Float32Array(n) : new Float64Array(n));

function constantNode(node: OnnxNode): Constant {
  const tensor = tensorAttribute(node, 'value');
  if (tensor) return constantFromProto(tensor, `${node.label}'s value`);
  if (node.attributes.has('value_float')) return { type: 'float', dims: [], data: Float32Array.of(floatAttribute(node, 'value_float', 0)) };
  if (node.attributes.has('value_floats')) return { type: 'float', dims: [floatsAttribute(node, 'value_floats')!.length], data: Float32Array.from(floatsAttribute(node, 'value_floats')!) };
  if (node.attributes.has('value_int')) return { type: 'int', dims: [], data: Float64Array.of(intAttribute(node, 'value_int', 0)) };
  if (node.attributes.has('value_ints')) return { type: 'int', dims: [intsAttribute(node, 'value_ints')!.length], data: Float64Array.from(intsAttribute(node, 'value_ints')!) };
  throw new UnsupportedError(`${node.label} holds a value of a kind edgevae does not read (it reads value, value_float(s), value_int(s))`);
}

/** ConstantOfShape: a tensor of the given (constant) shape filled with its value (0.0 by default). */
function constantOfShape(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const dims = ints(node, need(node, inputs, 0, 'input'), 'input');
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new UnsupportedError(`${node.label} makes a tensor of shape [${dims.join(', ')}], which depends on the batch size`);
  const size = product(dims);
  if (size > MAX_CONSTANT_ELEMENTS) throw new UnsupportedError(`${node.label} makes a tensor of ${size} values, over the limit of ${MAX_CONSTANT_ELEMENTS}`);
  const tensor = tensorAttribute(node, 'value');
  const value = tensor ? constantFromProto(tensor, `${node.label}'s value`) : ({ type: 'float', dims: [1], data: Float32Array.of(0) } as Constant);
  if (value.type === 'float') return { type: 'float', dims, data: new Float32Array(size).fill(value.data[0]) };
  return { type: 'int', dims, data: new Float64Array(size).fill(value.data[0]) };
}

/** Shape of a tensor given its full dims (batch included): opset 15 may keep only axes start..end. */
export function shapeOf(node: OnnxNode, dims: number[]): Constant {
  const rank = dims.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(intAttribute(node, 'start', 0));
  const end = clamp(intAttribute(node, 'end', rank));
  const kept = dims.slice(start, Math.max(start, end));
  return { type: 'int', dims: [kept.length], data: Float64Array.from(kept) };
}

function gather(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const data = need(node, inputs, 0, 'data');
  const indices = ints(node, need(node, inputs, 1, 'indices'), 'indices');
  if (data.dims.length === 0) throw new FormatError(`${node.label} gathers from a scalar`);
  const axis = normalizeAxis(node, intAttribute(node, 'axis', 0), data.dims.length);
  const size = data.dims[axis];
  const outer = product(data.dims.slice(0, axis));
  const inner = product(data.dims.slice(axis + 1));
  const picks = indices.map((i) => {
    if (!Number.isInteger(i) || i < -size || i >= size) throw new FormatError(`${node.label}: index ${i} is out of range for axis ${axis} of size ${size}`);
    return i < 0 ? i + size : i;
  });
  const dims = [...data.dims.slice(0, axis), ...need(node, inputs, 1, 'indices').dims, ...data.dims.slice(axis + 1)];
  if (product(dims) > MAX_CONSTANT_ELEMENTS) throw new UnsupportedError(`${node.label} gathers ${product(dims)} values, over the limit of ${MAX_CONSTANT_ELEMENTS}`);
  const out = emptyLike(data, outer * picks.length * inner);
  for (let o = 0, k = 0; o < outer; o++) {
    for (const pick of picks) for (let i = 0; i < inner; i++) out[k++] = data.data[(o * size + pick) * inner + i];
  }
  return withData(data, dims, out);
}

/** Unsqueeze and Squeeze name their axes by an attribute before opset 13 and by a second input from 13. */
export function axesOf(node: OnnxNode, inputs: (Constant | undefined)[], opset: number): number[] | undefined {
  if (opset < 13) return intsAttribute(node, 'axes');
  return inputs[1] ? ints(node, inputs[1], 'axes') : undefined;
}

/** The dims after inserting 1s at `axes` (of the output's rank). */
export function unsqueezedDims(node: OnnxNode, dims: number[], axes: number[] | undefined): number[] {
  if (!axes || axes.length === 0) throw new FormatError(`${node.label} names no axes`);
  const rank = dims.length + axes.length;
  const inserted = new Set(axes.map((a) => normalizeAxis(node, a, rank)));
  if (inserted.size !== axes.length) throw new FormatError(`${node.label} names an axis twice: [${axes.join(', ')}]`);
  const rest = [...dims];
  return Array.from({ length: rank }, (_, i) => (inserted.has(i) ? 1 : rest.shift()!));
}

/** The dims without the size-1 axes named (all of them when none is). */
export function squeezedDims(node: OnnxNode, dims: number[], axes: number[] | undefined): number[] {
  const removed = new Set((axes ?? dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normalizeAxis(node, a, dims.length)));
  for (const axis of removed) if (dims[axis] !== 1) throw new FormatError(`${node.label} squeezes axis ${axis} of size ${dims[axis]}`);
  return dims.filter((_, i) => !removed.has(i));
}

function concat(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const parts = inputs.filter((c): c is Constant => c !== undefined);
  if (parts.length === 0) throw new FormatError(`${node.label} has no inputs`);
  const rank = parts[0].dims.length;
  if (rank === 0) throw new FormatError(`${node.label} concatenates scalars`);
  if (!node.attributes.has('axis')) throw new FormatError(`${node.label} has no axis attribute`);
  const axis = normalizeAxis(node, intAttribute(node, 'axis', 0), rank);
  for (const part of parts) {
    if (part.type !== parts[0].type) throw new FormatError(`${node.label} concatenates tensors of different types`);
    if (part.dims.length !== rank || part.dims.some((d, i) => i !== axis && d !== parts[0].dims[i])) {
      throw new FormatError(`${node.label} concatenates [${parts[0].dims.join(', ')}] and [${part.dims.join(', ')}] along axis ${axis}`);
    }
  }
  const outer = product(parts[0].dims.slice(0, axis));
  const chunk = (c: Constant) => product(c.dims.slice(axis));
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((sum, p) => sum + p.dims[axis], 0);
  const out = emptyLike(parts[0], product(dims));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const part of parts) {
      const n = chunk(part);
      out.set(part.data.subarray(o * n, (o + 1) * n), k);
      k += n;
    }
  }
  return withData(parts[0], dims, out);
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE]);

function cast(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const input = need(node, inputs, 0, 'data');
  const to = intAttribute(node, 'to', 0);
  if (FLOAT_TYPES.has(to)) {
    if (input.data.some(isBatch)) throw new UnsupportedError(`${node.label} casts the batch size to a float; edgevae folds only shape arithmetic that keeps it an integer`);
    return { type: 'float', dims: input.dims, data: Float32Array.from(input.data) };
  }
  if (INT_BYTES[to] === undefined) throw new UnsupportedError(`${node.label} casts to ${DataType[to] ?? to}; edgevae folds casts to float and integer types`);
  const convert = to === DataType.BOOL ? (v: number) => (v !== 0 ? 1 : 0) : Math.trunc;
  return { type: 'int', dims: input.dims, data: Float64Array.from(input.data, (v) => (isBatch(v) ? v : convert(v))) };
}

/** Slice of a constant: starts/ends/axes/steps as attributes before opset 10, as inputs from 10. */
function slice(node: OnnxNode, inputs: (Constant | undefined)[], opset: number): Constant {
  const data = need(node, inputs, 0, 'data');
  const rank = data.dims.length;
  const param = (index: number, attribute: string) => (opset < 10 ? intsAttribute(node, attribute) : inputs[index] ? ints(node, inputs[index]!, attribute) : undefined);
  const starts = param(1, 'starts');
  const ends = param(2, 'ends');
  if (!starts || !ends || starts.length !== ends.length) throw new FormatError(`${node.label} needs starts and ends of the same length`);
  const axes = (param(3, 'axes') ?? starts.map((_, i) => i)).map((a) => normalizeAxis(node, a, rank));
  const steps = param(4, 'steps') ?? starts.map(() => 1);
  if (axes.length !== starts.length || steps.length !== starts.length) throw new FormatError(`${node.label}: starts, ends, axes and steps differ in length`);
  // The indices kept along each axis; PyTorch writes "to the end" as INT64_MAX, hence the clamping.
  const kept = data.dims.map((d) => Array.from({ length: d }, (_, i) => i));
  axes.forEach((axis, i) => (kept[axis] = sliceIndices(node, data.dims[axis], starts[i], ends[i], steps[i])));
  const dims = kept.map((k) => k.length);
  const strides = data.dims.map((_, axis) => product(data.dims.slice(axis + 1)));
  const out = emptyLike(data, product(dims));
  const index = new Array<number>(rank).fill(0);
  for (let k = 0; k < out.length; k++) {
    out[k] = data.data[index.reduce((offset, at, axis) => offset + kept[axis][at] * strides[axis], 0)];
    for (let axis = rank - 1; axis >= 0 && ++index[axis] === dims[axis]; axis--) index[axis] = 0;
  }
  return withData(data, dims, out);
}

function sliceIndices(node: OnnxNode, size: number, start: number, end: number, step: number): number[] {
  if (!Number.isFinite(step) || step === 0 || !Number.isInteger(step)) throw new FormatError(`${node.label} has step ${step}`);
  const resolve = (v: number, low: number, high: number) => Math.min(Math.max(v < 0 ? v + size : v, low), high);
  const first = step > 0 ? resolve(start, 0, size) : resolve(start, -1, size - 1);
  const last = step > 0 ? resolve(end, 0, size) : resolve(end, -1, size - 1);
  const out: number[] = [];
  for (let i = first; step > 0 ? i < last : i > last; i += step) out.push(i);
  return out;
}

/**
 * The dims a Reshape asks for: 0 copies the input's dim at that place (unless allowzero), one -1 takes
 * what is left. `dims` and `target` are aligned; the result must hold `dims`' elements.
 */
export function reshapedDims(node: OnnxNode, dims: number[], target: number[], allowZero: boolean): number[] {
  const out = target.map((t, i) => {
    if (t === 0 && !allowZero) {
      if (i >= dims.length) throw new FormatError(`${node.label}: a 0 at axis ${i} copies no input axis`);
      return dims[i];
    }
    if (!Number.isSafeInteger(t) || t < -1) throw new FormatError(`${node.label} reshapes to [${target.join(', ')}]`);
    return t;
  });
  const size = product(dims);
  const unknown = out.filter((d) => d === -1).length;
  if (unknown > 1) throw new FormatError(`${node.label} reshapes to [${target.join(', ')}], with more than one -1`);
  const known = product(out.filter((d) => d !== -1));
  if (unknown === 1) {
    if (known === 0 || size % known !== 0) throw new FormatError(`${node.label} cannot reshape [${dims.join(', ')}] to [${target.join(', ')}]`);
    out[out.indexOf(-1)] = size / known;
  } else if (known !== size) {
    throw new FormatError(`${node.label} cannot reshape [${dims.join(', ')}] (${size} values) to [${target.join(', ')}] (${known})`);
  }
  return out;
}

function reshape(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const data = need(node, inputs, 0, 'data');
  const target = ints(node, need(node, inputs, 1, 'shape'), 'shape');
  if (target.some(isBatch)) throw new UnsupportedError(`${node.label} reshapes a constant by the batch size`);
  return withData(data, reshapedDims(node, data.dims, target, intAttribute(node, 'allowzero', 0) === 1), data.data);
}

function flatten(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const data = need(node, inputs, 0, 'data');
  // Flatten's axis runs over -rank..rank: the split may fall after the last axis.
  const rank = data.dims.length;
  const given = intAttribute(node, 'axis', 1);
  const axis = given < 0 ? given + rank : given;
  if (!Number.isInteger(axis) || axis < 0 || axis > rank) throw new FormatError(`${node.label}: axis ${given} is out of range for rank ${rank}`);
  return withData(data, [product(data.dims.slice(0, axis)), product(data.dims.slice(axis))], data.data);
}

/** Transpose's perm attribute (default: the axes reversed), checked to be a permutation of `rank` axes. */
export function transposePerm(node: OnnxNode, rank: number): number[] {
  const perm = intsAttribute(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== rank || sorted.some((a, i) => a !== i)) throw new FormatError(`${node.label}: perm [${perm.join(', ')}] is not a permutation of ${rank} axes`);
  return perm;
}

function transpose(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const data = need(node, inputs, 0, 'data');
  const perm = transposePerm(node, data.dims.length);
  return withData(data, perm.map((p) => data.dims[p]), permute(data.data, data.dims, perm));
}

/** y = (x - zero_point) * scale, per tensor or per slice along `axis` (opset 13). */
function dequantizeLinear(node: OnnxNode, inputs: (Constant | undefined)[]): Constant {
  const x = need(node, inputs, 0, 'x');
  const scale = need(node, inputs, 1, 'x_scale');
  const zero = inputs[2];
  if (x.type !== 'int' || scale.type !== 'float' || (zero && zero.type !== 'int')) throw new FormatError(`${node.label} needs integer x and zero point and a float scale`);
  if (intAttribute(node, 'block_size', 0) !== 0) throw new UnsupportedError(`${node.label} dequantizes by blocks; edgevae folds per-tensor and per-axis DequantizeLinear`);
  const perTensor = scale.data.length === 1;
  const axis = perTensor ? 0 : normalizeAxis(node, intAttribute(node, 'axis', 1), x.dims.length);
  const channels = perTensor ? 1 : x.dims[axis];
  if (scale.data.length !== channels || (zero && zero.data.length !== channels)) {
    throw new FormatError(`${node.label}: ${scale.data.length} scales for axis ${axis} of [${x.dims.join(', ')}]`);
  }
  const inner = perTensor ? x.data.length : product(x.dims.slice(axis + 1));
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const c = Math.floor(i / inner) % channels;
    out[i] = (x.data[i] - (zero ? zero.data[c] : 0)) * scale.data[c];
  }
  return { type: 'float', dims: x.dims, data: out };
}

/** The operators folded when all their inputs are constants. */
export const CONSTANT_FOLDS: Record<string, Fold> = {
  Constant: (node) => constantNode(node),
  Identity: (node, inputs) => need(node, inputs, 0, 'input'),
  Shape: (node, inputs) => shapeOf(node, need(node, inputs, 0, 'data').dims),
  Gather: gather,
  Unsqueeze: (node, inputs, opset) => {
    const data = need(node, inputs, 0, 'data');
    return withData(data, unsqueezedDims(node, data.dims, axesOf(node, inputs, opset)), data.data);
  },
  Squeeze: (node, inputs, opset) => {
    const data = need(node, inputs, 0, 'data');
    return withData(data, squeezedDims(node, data.dims, axesOf(node, inputs, opset)), data.data);
  },
  Concat: concat,
  ConstantOfShape: constantOfShape,
  Cast: cast,
  Slice: slice,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  DequantizeLinear: dequantizeLinear,
};
