/**
 * Reads and validates a model file. Everything a decoder will trust later (tensor bounds, shapes that
 * chain, sizes within LIMITS) is checked here, once, so the executor never sees an inconsistent model.
 */
import { FormatError } from '../errors.ts';
import { crc32 } from './crc32.ts';
import {
  ACTIVATIONS,
  DTYPE_BYTES,
  DTYPES,
  FORMAT_MAJOR,
  FRAME_BYTES,
  LIMITS,
  MAGIC,
  TENSOR_ALIGN,
  product,
  triangleSize,
  type ActivationName,
  type ConvLayer,
  type DType,
  type DenseLayer,
  type LayerSpec,
  type MixturePrior,
  type ModelHeader,
  type ModelMeta,
  type TensorSpec,
} from './spec.ts';

/** One layer with the per-sample shapes flowing in and out of it. */
export interface Step {
  index: number;
  layer: LayerSpec;
  inShape: number[];
  outShape: number[];
  /** Multiply-adds per sample. */
  macs: number;
}

export interface ParsedModel {
  header: ModelHeader;
  steps: Step[];
  /** The whole file; tensors are views into it. */
  bytes: Uint8Array;
  /** Largest per-sample activation, in elements, over the input and every layer's output. */
  maxElements: number;
  macsPerSample: number;
}

const fail = (message: string): never => {
  throw new FormatError(message);
};

/** Parses a model file. Throws FormatError, naming what is wrong, for anything malformed. */
export function readModel(input: Uint8Array | ArrayBuffer): ParsedModel {
  if (!(input instanceof Uint8Array) && !(input instanceof ArrayBuffer)) fail('a model must be given as a Uint8Array or ArrayBuffer');
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const header = readHeader(bytes);
  const { steps, maxElements, macsPerSample } = inferSteps(header);
  return { header, steps, bytes, maxElements, macsPerSample };
}

function readHeader(bytes: Uint8Array): ModelHeader {
  if (bytes.length < FRAME_BYTES) fail(`file is ${bytes.length} bytes, too short for the ${FRAME_BYTES}-byte frame`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) fail('not an edgevae model: the file does not start with "EVAE"');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = view.getUint16(4, true);
  const minor = view.getUint16(6, true);
  if (major !== FORMAT_MAJOR) {
    fail(`unsupported format version ${major}.${minor}: this edgevae reads version ${FORMAT_MAJOR}.x`);
  }
  const declaredLength = view.getUint32(8, true);
  if (declaredLength !== bytes.length) {
    fail(
      declaredLength > bytes.length
        ? `file is truncated: the header says ${declaredLength} bytes, but there are ${bytes.length}`
        : `file has ${bytes.length - declaredLength} bytes of trailing garbage after the declared ${declaredLength}`,
    );
  }
  const storedCrc = view.getUint32(12, true);
  const actualCrc = fileCrc(bytes);
  if (storedCrc !== actualCrc) {
    fail(`checksum mismatch: the file says CRC32 ${hex(storedCrc)} but its contents give ${hex(actualCrc)} (corrupted?)`);
  }
  const jsonOffset = view.getUint32(16, true);
  const jsonLength = view.getUint32(20, true);
  if (jsonOffset !== FRAME_BYTES) fail(`header JSON must start at byte ${FRAME_BYTES}, not ${jsonOffset}`);
  if (jsonLength > LIMITS.headerBytes) fail(`header JSON of ${jsonLength} bytes exceeds the ${LIMITS.headerBytes}-byte limit`);
  if (jsonOffset + jsonLength > bytes.length) fail('header JSON runs past the end of the file');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(jsonOffset, jsonOffset + jsonLength)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  const dataOffset = view.getUint32(24, true);
  const dataLength = view.getUint32(28, true);
  const expectedDataOffset = Math.ceil((jsonOffset + jsonLength) / TENSOR_ALIGN) * TENSOR_ALIGN;
  if (dataOffset !== expectedDataOffset || dataOffset + dataLength !== bytes.length) {
    fail(`the data section (${dataLength} bytes at ${dataOffset}) does not follow the header and end with the file`);
  }
  return checkHeader(json, dataOffset, bytes.length);
}

/** CRC32 of the file with the CRC field (bytes 12..15) counted as zeros. */
export function fileCrc(bytes: Uint8Array): number {
  let crc = crc32(bytes.subarray(0, 12));
  crc = crc32(new Uint8Array(4), crc);
  return crc32(bytes.subarray(16), crc);
}

const hex = (n: number) => '0x' + n.toString(16).padStart(8, '0');

// ---- structural checks on the JSON ----

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${what} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

function finite(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what} must be a finite number, got ${JSON.stringify(v)}`);
  return v as number;
}

function oneOf<T extends string>(v: unknown, what: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) {
    fail(`${what} must be one of ${options.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function shapeOf(v: unknown, what: string, maxRank = 4): number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > maxRank) fail(`${what} must be an array of 1..${maxRank} dimensions`);
  return (v as unknown[]).map((d, i) => int(d, `${what}[${i}]`, 1, LIMITS.dim));
}

function pair(v: unknown, what: string, max: number): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) fail(`${what} must be a pair [h, w]`);
  const [a, b] = v as unknown[];
  return [int(a, `${what}[0]`, 1, max), int(b, `${what}[1]`, 1, max)];
}

function checkHeader(json: unknown, dataStart: number, fileLength: number): ModelHeader {
  if (!isObject(json)) fail('header JSON must be an object');
  const h = json as Record<string, unknown>;
  if (!Array.isArray(h.tensors) || h.tensors.length > LIMITS.tensors) fail(`header.tensors must be an array of at most ${LIMITS.tensors}`);
  if (!Array.isArray(h.layers) || h.layers.length < 1 || h.layers.length > LIMITS.layers) {
    fail(`header.layers must be an array of 1..${LIMITS.layers} layers`);
  }
  const tensors = (h.tensors as unknown[]).map((t, i) => checkTensor(t, i, dataStart, fileLength));
  const meta = checkMeta(h.meta);
  const layers = (h.layers as unknown[]).map((l, i) => checkLayer(l, i, tensors, meta.dtype));
  return { meta, layers, tensors };
}

function checkTensor(v: unknown, i: number, dataStart: number, fileLength: number): TensorSpec {
  const what = `tensors[${i}]`;
  if (!isObject(v)) fail(`${what} must be an object`);
  const t = v as Record<string, unknown>;
  const dtype = oneOf(t.dtype, `${what}.dtype`, DTYPES);
  const shape = shapeOf(t.shape, `${what}.shape`);
  const offset = int(t.offset, `${what}.offset`, 0, fileLength);
  if (offset % TENSOR_ALIGN !== 0) fail(`${what}.offset ${offset} is not aligned to ${TENSOR_ALIGN} bytes`);
  if (offset < dataStart) fail(`${what}.offset ${offset} overlaps the header (which ends at ${dataStart})`);
  const byteLength = product(shape) * DTYPE_BYTES[dtype];
  if (offset + byteLength > fileLength) {
    fail(`${what} (${dtype} [${shape.join(', ')}], ${byteLength} bytes at ${offset}) runs past the end of the ${fileLength}-byte file`);
  }
  return { dtype, shape, offset };
}

/** Checks a header's meta object (also used on the copy our ONNX exporter keeps in its metadata). */
export function checkMeta(v: unknown): ModelMeta {
  if (!isObject(v)) fail('header.meta must be an object');
  const m = v as Record<string, unknown>;
  const latentSize = int(m.latentSize, 'meta.latentSize', 1, LIMITS.latent);
  let conditioning: ModelMeta['conditioning'] = null;
  if (m.conditioning !== null && m.conditioning !== undefined) {
    if (!isObject(m.conditioning)) fail('meta.conditioning must be an object or null');
    const c = m.conditioning as Record<string, unknown>;
    conditioning = {
      classes: int(c.classes, 'meta.conditioning.classes', 1, LIMITS.classes),
      joinsAt: int(c.joinsAt, 'meta.conditioning.joinsAt', 0, LIMITS.layers),
    };
  }
  if (!isObject(m.output)) fail('meta.output must be an object');
  const o = m.output as Record<string, unknown>;
  const shape = shapeOf(o.shape, 'meta.output.shape', 3);
  if (!Array.isArray(o.range) || o.range.length !== 2) fail('meta.output.range must be [low, high]');
  const range: [number, number] = [finite((o.range as unknown[])[0], 'meta.output.range[0]'), finite((o.range as unknown[])[1], 'meta.output.range[1]')];
  if (!(range[0] < range[1])) fail(`meta.output.range [${range}] must have low < high`);
  const dtype = oneOf(m.dtype, 'meta.dtype', DTYPES);
  for (const key of ['preset', 'dataset', 'producer'] as const) {
    if (m[key] !== undefined && typeof m[key] !== 'string') fail(`meta.${key} must be a string`);
  }
  if (m.metrics !== undefined) {
    if (!isObject(m.metrics)) fail('meta.metrics must be an object of numbers');
    for (const [k, val] of Object.entries(m.metrics as object)) finite(val, `meta.metrics.${k}`);
  }
  if (m.inputs !== undefined) checkInputNames(m.inputs);
  if (m.source !== undefined) checkSource(m.source);
  if (m.prior !== undefined) checkPrior(m.prior, latentSize);
  return { ...m, latentSize, conditioning, output: { shape, range }, dtype } as ModelMeta;
}

function checkInputNames(v: unknown) {
  const inputs = v as Record<string, unknown>;
  if (!isObject(v) || typeof inputs.latent !== 'string' || (inputs.label !== undefined && typeof inputs.label !== 'string')) {
    fail('meta.inputs must be { "latent": name, "label"?: name } with string names');
  }
}

function checkSource(v: unknown) {
  if (!isObject(v)) fail('meta.source must be an object');
  const source = v as Record<string, unknown>;
  oneOf(source.format, 'meta.source.format', ['onnx'] as const);
  const output = source.output as Record<string, unknown>;
  if (!isObject(output) || typeof output.name !== 'string') fail('meta.source.output must be { "name": string, "shape": [...] }');
  shapeOf(output.shape, 'meta.source.output.shape', 3);
  if (source.layout !== undefined) oneOf(source.layout, 'meta.source.layout', ['NCHW', 'NHWC'] as const);
}

/** A mixture prior: sizes that match the latent, weights that form a distribution, factors with a positive diagonal. */
export function checkPrior(v: unknown, latentSize: number): MixturePrior {
  if (!isObject(v)) fail('meta.prior must be an object');
  const p = v as Record<string, unknown>;
  oneOf(p.type, 'meta.prior.type', ['gaussianMixture'] as const);
  const { weights, means, choleskyFactors } = p;
  if (!Array.isArray(weights) || weights.length < 1 || weights.length > LIMITS.priorComponents) {
    fail(`meta.prior.weights must be an array of 1..${LIMITS.priorComponents} weights`);
  }
  const k = (weights as unknown[]).length;
  const triangle = triangleSize(latentSize);
  if (k * (latentSize + triangle) > LIMITS.priorValues) {
    fail(`meta.prior has ${k} components of ${latentSize} + ${triangle} values: more than ${LIMITS.priorValues} in all`);
  }
  let total = 0;
  (weights as unknown[]).forEach((w, i) => {
    if (finite(w, `meta.prior.weights[${i}]`) <= 0) fail(`meta.prior.weights[${i}] must be > 0, got ${w}`);
    total += w as number;
  });
  if (Math.abs(total - 1) > 1e-6) fail(`meta.prior.weights must sum to 1, they sum to ${total}`);
  const rows = (v: unknown, what: string, length: number) => {
    if (!Array.isArray(v) || v.length !== k) fail(`${what} must be an array of ${k} rows, one per component`);
    (v as unknown[]).forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== length) fail(`${what}[${i}] must be an array of ${length} numbers`);
      (row as unknown[]).forEach((x, j) => finite(x, `${what}[${i}][${j}]`));
    });
    return v as number[][];
  };
  rows(means, 'meta.prior.means', latentSize);
  rows(choleskyFactors, 'meta.prior.choleskyFactors', triangle).forEach((factor, i) => {
    for (let d = 0; d < latentSize; d++) {
      const diagonal = factor[triangleSize(d + 1) - 1];
      if (!(diagonal > 0)) fail(`meta.prior.choleskyFactors[${i}] has diagonal entry ${d} = ${diagonal}; it must be > 0`);
    }
  });
  return v as unknown as MixturePrior;
}

function checkActivation(l: Record<string, unknown>, what: string): { activation: ActivationName; alpha?: number } {
  const activation = oneOf(l.activation, `${what}.activation`, ACTIVATIONS);
  if (activation === 'leakyRelu') return { activation, alpha: finite(l.alpha, `${what}.alpha`) };
  return { activation };
}

function tensorRef(v: unknown, what: string, tensors: TensorSpec[]): number {
  return int(v, what, 0, tensors.length - 1);
}

/** Checks that a layer's tensor indices exist and have the file's dtypes; shapes are checked in inferSteps. */
function checkWeightRefs(l: Record<string, unknown>, what: string, tensors: TensorSpec[], dtype: DType) {
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

function checkWeightShapes(layer: DenseLayer | ConvLayer, what: string, tensors: TensorSpec[], kernelShape: number[], outputs: number) {
  expectShape(tensors[layer.kernel], kernelShape, `${what}.kernel`);
  expectShape(tensors[layer.bias], [outputs], `${what}.bias`);
  if (layer.scale !== undefined) expectShape(tensors[layer.scale], [outputs], `${what}.scale`);
}

function expectShape(t: TensorSpec, shape: number[], what: string) {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(`${what} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}

/** Checks a layer's own fields. Kernel shapes depend on the input shape, so they are checked in inferSteps. */
function checkLayer(v: unknown, i: number, tensors: TensorSpec[], dtype: DType): LayerSpec {
  const what = `layers[${i}]`;
  if (!isObject(v)) fail(`${what} must be an object`);
  const l = v as Record<string, unknown>;
  const name = typeof l.name === 'string' ? { name: l.name } : {};
  const type = oneOf(l.type, `${what}.type`, ['dense', 'conv2d', 'conv2dTranspose', 'reshape', 'flatten', 'concatenate', 'activation'] as const);
  switch (type) {
    case 'dense':
      return { type, ...name, units: int(l.units, `${what}.units`, 1, LIMITS.dim), ...checkActivation(l, what), ...checkWeightRefs(l, what, tensors, dtype) };
    case 'conv2d':
    case 'conv2dTranspose':
      return {
        type,
        ...name,
        filters: int(l.filters, `${what}.filters`, 1, LIMITS.dim),
        kernelSize: pair(l.kernelSize, `${what}.kernelSize`, LIMITS.kernelSize),
        strides: pair(l.strides, `${what}.strides`, LIMITS.stride),
        padding: oneOf(l.padding, `${what}.padding`, ['same', 'valid'] as const),
        ...checkActivation(l, what),
        ...checkWeightRefs(l, what, tensors, dtype),
      };
    case 'reshape':
      return { type, ...name, shape: shapeOf(l.shape, `${what}.shape`, 3) };
    case 'flatten':
      return { type, ...name };
    case 'concatenate':
      if (typeof l.labelFirst !== 'boolean') fail(`${what}.labelFirst must be true or false`);
      return { type, ...name, labelFirst: l.labelFirst as boolean };
    case 'activation':
      return { type, ...name, ...checkActivation(l, what) };
  }
  return fail(`${what}: unknown type`);
}

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

/** The geometry of a validated conv step, from its layer and the per-sample shapes flowing in and out. */
export function convGeometry(layer: ConvLayer, inShape: readonly number[], outShape: readonly number[]): ConvGeometry {
  const [H, W, C] = inShape;
  const [OH, OW, OC] = outShape;
  const [kh, kw] = layer.kernelSize;
  const [sh, sw] = layer.strides;
  const transposed = layer.type === 'conv2dTranspose';
  const padTop = convPadBefore(H, OH, kh, sh, layer.padding, transposed);
  const padLeft = convPadBefore(W, OW, kw, sw, layer.padding, transposed);
  return { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed };
}

/** Walks the layers from the latent input, checking that each one fits the shape it receives. */
function inferSteps(header: ModelHeader): { steps: Step[]; maxElements: number; macsPerSample: number } {
  const { meta, tensors } = header;
  let shape = [meta.latentSize];
  let maxElements = meta.latentSize;
  let macsPerSample = 0;
  const concatAt: number[] = [];
  const steps: Step[] = header.layers.map((layer, index) => {
    const what = `layers[${index}] (${layer.type}${layer.name ? ` "${layer.name}"` : ''})`;
    const inShape = shape;
    let macs = 0;
    switch (layer.type) {
      case 'dense': {
        const inDim = inShape[inShape.length - 1];
        checkWeightShapes(layer, what, tensors, [inDim, layer.units], layer.units);
        shape = [...inShape.slice(0, -1), layer.units];
        macs = (product(inShape) / inDim) * inDim * layer.units;
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        if (inShape.length !== 3) fail(`${what} needs an [h, w, c] input, got [${inShape.join(', ')}]`);
        const [h, w, c] = inShape;
        const [kh, kw] = layer.kernelSize;
        const [sh, sw] = layer.strides;
        const transposed = layer.type === 'conv2dTranspose';
        const kernelShape = transposed ? [kh, kw, layer.filters, c] : [kh, kw, c, layer.filters];
        checkWeightShapes(layer, what, tensors, kernelShape, layer.filters);
        const oh = convOutputLength(h, kh, sh, layer.padding, transposed);
        const ow = convOutputLength(w, kw, sw, layer.padding, transposed);
        if (oh < 1 || ow < 1) fail(`${what}: a ${kh}x${kw} kernel does not fit the ${h}x${w} input with "${layer.padding}" padding`);
        shape = [oh, ow, layer.filters];
        macs = (transposed ? h * w : oh * ow) * kh * kw * c * layer.filters;
        break;
      }
      case 'reshape':
        if (product(layer.shape) !== product(inShape)) {
          fail(`${what} cannot reshape [${inShape.join(', ')}] (${product(inShape)} values) to [${layer.shape.join(', ')}]`);
        }
        shape = [...layer.shape];
        break;
      case 'flatten':
        shape = [product(inShape)];
        break;
      case 'concatenate':
        if (!meta.conditioning) fail(`${what} joins a class label, but meta.conditioning is null`);
        if (inShape.length !== 1) fail(`${what} needs a flat input, got [${inShape.join(', ')}]`);
        concatAt.push(index);
        shape = [inShape[0] + meta.conditioning!.classes];
        break;
      case 'activation':
        break;
    }
    const elements = product(shape);
    if (elements > LIMITS.elementsPerSample) fail(`${what} outputs ${elements} values per sample, over the limit of ${LIMITS.elementsPerSample}`);
    maxElements = Math.max(maxElements, elements);
    macsPerSample += macs;
    if (macsPerSample > LIMITS.macsPerSample) fail(`the model needs over ${LIMITS.macsPerSample} multiply-adds per sample (at ${what})`);
    return { index, layer, inShape, outShape: shape, macs };
  });
  if (meta.conditioning) {
    if (concatAt.length !== 1 || concatAt[0] !== meta.conditioning.joinsAt) {
      fail(`meta.conditioning.joinsAt is ${meta.conditioning.joinsAt}, but the label is joined at layer(s) [${concatAt.join(', ')}]`);
    }
  }
  const out = meta.output.shape;
  if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
    fail(`the layers produce [${shape.join(', ')}] per sample, but meta.output.shape is [${out.join(', ')}]`);
  }
  return { steps, maxElements, macsPerSample };
}

/** A typed view of one tensor's data (copied when the file's buffer is not aligned for the dtype). */
export function tensorData(model: ParsedModel, index: number): Float32Array | Uint16Array | Int8Array {
  const t = model.header.tensors[index];
  const length = product(t.shape);
  const start = model.bytes.byteOffset + t.offset;
  const byteLength = length * DTYPE_BYTES[t.dtype];
  const aligned = start % DTYPE_BYTES[t.dtype] === 0;
  const buffer = aligned ? model.bytes.buffer : model.bytes.slice(t.offset, t.offset + byteLength).buffer;
  const offset = aligned ? start : 0;
  if (t.dtype === 'f32') return new Float32Array(buffer, offset, length);
  if (t.dtype === 'f16') return new Uint16Array(buffer, offset, length);
  return new Int8Array(buffer, offset, length);
}
