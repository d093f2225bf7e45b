/**
 * Re-encodes an edgevae model file's kernels in another weight dtype, without TensorFlow.js: the same
 * layers, biases and metadata, the kernels read as the f32 values the runtime computes with (f16
 * widened, int8 dequantized) and written as f32, f16, or int8 quantized per output channel exactly as
 * `exportModel` quantizes. From int8 to int8 the stored values and scales are kept as they are.
 *
 * An int8 file converted to f32 holds the dequantized values, not the weights it was trained with: the
 * conversion is for running and comparing dtypes (the benchmark, `edgevae bench --dtype`), not a way
 * back to the original precision.
 */
import { calibrateInt8, type CalibratedKernel, type CalibrationOptions } from '../convert/calibrate.ts';
import { InputError } from '../errors.ts';
import { encodeF16 } from '../format/f16.ts';
import { quantizeInt8PerChannel } from '../format/int8.ts';
import { readModel, tensorData, type ParsedModel } from '../format/read.ts';
import { DTYPES, TENSOR_FIELDS, outputChannelAxis, type ConvLayer, type DType, type DenseLayer, type NodeSpec } from '../format/spec.ts';
import { writeModel, type TensorInput } from '../format/write.ts';
import { kernelValues } from '../runtime/reference.ts';

const F16_EXPONENT = 0x7c00;

/**
 * The model with its kernels stored as `dtype`. For int8, `calibrated` (from calibrateInt8, by node
 * name) gives kernels already rounded on calibration data; the others are rounded to nearest.
 */
export function convertDtype(model: Uint8Array | ArrayBuffer | ParsedModel, dtype: DType, calibrated?: ReadonlyMap<string, CalibratedKernel>): Uint8Array {
  if (!DTYPES.includes(dtype)) throw new InputError(`dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  const parsed = model instanceof Uint8Array || model instanceof ArrayBuffer ? readModel(model) : model;
  const tensors: TensorInput[] = [];
  const add = (tensor: TensorInput) => tensors.push(tensor) - 1;
  /** An f32 tensor copied as it is. */
  const copy = (index: number) => {
    const data = Float32Array.from(tensorData(parsed, index) as Float32Array);
    return add({ dtype: 'f32', shape: [...parsed.header.tensors[index].shape], data });
  };
  const nodes = parsed.header.nodes.map((node): NodeSpec => {
    const out = { ...node } as Record<string, unknown>;
    for (const field of TENSOR_FIELDS) if (typeof out[field] === 'number' && field !== 'kernel' && field !== 'scale') out[field] = copy(out[field] as number);
    if (!('kernel' in node)) return out as unknown as NodeSpec;
    delete out.scale;
    const rounded = dtype === 'i8' ? calibrated?.get(node.name) : undefined;
    const weights = rounded ? int8Kernel(parsed, node, rounded) : encodeKernel(parsed, node, dtype);
    out.kernel = add(weights.kernel);
    if (weights.scale) out.scale = add(weights.scale);
    return out as unknown as NodeSpec;
  });
  const { inputs, output, meta } = parsed.header;
  return writeModel({ meta: { ...meta, dtype }, inputs, nodes, output, tensors });
}

/**
 * The model with int8 kernels rounded by GPTQ on its own decodes (src/convert/calibrate.ts) rather
 * than to nearest: about half the output error on the PyTorch decoders, for a few seconds' work at
 * conversion time. What `edgevae import --dtype i8` writes unless told --no-calibrate.
 */
export async function quantizeCalibrated(model: Uint8Array | ParsedModel, options: CalibrationOptions = {}): Promise<Uint8Array> {
  const parsed = model instanceof Uint8Array ? readModel(model) : model;
  return convertDtype(parsed, 'i8', await calibrateInt8(parsed, options));
}

function int8Kernel(model: ParsedModel, layer: DenseLayer | ConvLayer, { q, scales }: CalibratedKernel): { kernel: TensorInput; scale: TensorInput } {
  const shape = model.header.tensors[layer.kernel].shape;
  return { kernel: { dtype: 'i8', shape, data: q }, scale: { dtype: 'f32', shape: [scales.length], data: scales } };
}

function encodeKernel(model: ParsedModel, layer: (DenseLayer | ConvLayer) & { name?: string }, dtype: DType): { kernel: TensorInput; scale?: TensorInput } {
  const shape = model.header.tensors[layer.kernel].shape;
  if (dtype === 'i8' && layer.scale !== undefined) {
    const scales = Float32Array.from(tensorData(model, layer.scale) as Float32Array);
    return { kernel: { dtype, shape, data: Int8Array.from(tensorData(model, layer.kernel) as Int8Array) }, scale: { dtype: 'f32', shape: [scales.length], data: scales } };
  }
  const values = kernelValues(model, layer);
  if (dtype === 'f32') return { kernel: { dtype, shape, data: values } };
  if (dtype === 'f16') {
    const bits = encodeF16(values);
    const overflow = bits.findIndex((b) => (b & F16_EXPONENT) === F16_EXPONENT);
    if (overflow >= 0) throw new InputError(`layer ${layer.name ?? layer.type} has a kernel value ${values[overflow]} beyond the f16 range (±65504): use f32 or i8`);
    return { kernel: { dtype, shape, data: bits } };
  }
  const { q, scales } = quantizeInt8PerChannel(values, shape, outputChannelAxis(layer.type));
  return { kernel: { dtype, shape, data: q }, scale: { dtype: 'f32', shape: [scales.length], data: scales } };
}
