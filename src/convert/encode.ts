/**
 * Encodes a planned decoder (from a TensorFlow.js model or an ONNX graph) as an edgevae model file:
 * its weights in the chosen dtype, its meta (the names of the inputs that became the latent and the
 * label, the output range its last activation gives). Shared by export and import.
 */
import { FormatError, InputError, UnsupportedError } from '../errors.ts';
import { encodeF16 } from '../format/f16.ts';
import { quantizeInt8PerChannel } from '../format/int8.ts';
import { DTYPES, outputChannelAxis, product, type ActivationName, type DType, type GraphInputSpec, type LayerSpec, type ModelMeta, type NodeSpec, type WeightedType } from '../format/spec.ts';
import { writeModel, type TensorInput } from '../format/write.ts';
import { VERSION } from '../version.ts';
import type { ModelInput } from './inputs.ts';
import type { PlannedLayer, Weights } from './planned.ts';

/** Meta fields a caller may set. Derived fields (latentSize, conditioning, dtype) may be given only to assert them. */
export interface ExportMeta {
  preset?: string;
  dataset?: string;
  metrics?: Record<string, number>;
  producer?: string;
  /** `shape` re-views the output (e.g. [28, 28, 1] for a flat 784), `range` overrides the one read from the last activation. */
  output?: { shape?: number[]; range?: [number, number] };
  latentSize?: number;
  conditioning?: ModelMeta['conditioning'];
  dtype?: DType;
  [extra: string]: unknown;
}

export interface ExportOptions {
  /** Weight dtype: 'f32' (default), 'f16', or 'i8' with per-output-channel scales. Biases stay f32. */
  dtype?: DType;
  meta?: ExportMeta;
  /** Name of the one-hot label input, for a conditional decoder whose label input cannot be told apart by its place or name. */
  labelInput?: string;
  /** Name of the latent input, the other way to say which of two inputs is which. */
  latentInput?: string;
}

/** A decoder planned from any source (a TensorFlow.js model, an ONNX graph), ready to be encoded. */
export interface PlannedDecoder {
  /** How messages name the source, e.g. `model "decoder"`. */
  name: string;
  latent: ModelInput;
  /** The one-hot label input, for a conditional decoder. */
  label: ModelInput | null;
  plan: PlannedLayer[];
  /** The per-sample shape the plan produces. */
  outShape: number[];
}

/**
 * Encodes a planned decoder's weights in the chosen dtype, describes it in the header's meta (with the
 * names of the inputs that became the latent and the label) and writes the file.
 */
export function writeDecoder(decoder: PlannedDecoder, options: ExportOptions): Uint8Array {
  const overrides = options.meta ?? {};
  const dtype = chooseDtype(options.dtype, overrides.dtype);
  const { plan } = decoder;
  if (plan.length === 0) throw new UnsupportedError(`${decoder.name} has no layers edgevae would run (only inputs and training-only layers)`);
  const outputShape = chooseOutputShape(decoder.outShape, overrides.output?.shape);
  const { layers, tensors } = encodeLayers(plan, dtype);
  if (!sameShape(outputShape, decoder.outShape)) layers.push({ type: 'reshape', shape: outputShape });
  const meta = buildMeta(decoder, layers, dtype, outputShape, overrides);
  try {
    return writeModel({ meta, layers, tensors });
  } catch (err) {
    // Everything the exporter controls has been checked; what remains is a model beyond the format's LIMITS.
    if (err instanceof FormatError) throw new UnsupportedError(`${decoder.name} cannot be stored in edgevae's format: ${err.message}`, { cause: err });
    throw err;
  }
}

function chooseDtype(option: unknown, fromMeta: unknown): DType {
  for (const [value, what] of [[option, 'options.dtype'], [fromMeta, 'options.meta.dtype']] as const) {
    if (value !== undefined && !DTYPES.includes(value as DType)) throw new InputError(`${what} must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  if (option !== undefined && fromMeta !== undefined && option !== fromMeta) {
    throw new InputError(`options.dtype "${option}" and options.meta.dtype "${fromMeta}" disagree`);
  }
  return ((option ?? fromMeta) as DType | undefined) ?? 'f32';
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The model's own output shape, or the caller's re-view of it (same values, e.g. [784] as [28, 28, 1]). */
function chooseOutputShape(natural: number[], requested: unknown): number[] {
  if (requested === undefined) return natural;
  if (!Array.isArray(requested) || requested.length < 1 || requested.length > 3 || !requested.every((d) => Number.isInteger(d) && d > 0)) {
    throw new InputError(`options.meta.output.shape must be 1 to 3 positive integers, got ${JSON.stringify(requested)}`);
  }
  if (product(requested) !== product(natural)) {
    throw new InputError(
      `options.meta.output.shape [${requested.join(', ')}] holds ${product(requested)} values, but the model outputs [${natural.join(', ')}] = ${product(natural)}`,
    );
  }
  return [...requested];
}

// ---- weights ----

function encodeLayers(plan: PlannedLayer[], dtype: DType): { layers: LayerSpec[]; tensors: TensorInput[] } {
  const tensors: TensorInput[] = [];
  const add = (tensor: TensorInput) => tensors.push(tensor) - 1;
  const layers = plan.map((planned): LayerSpec => {
    const name = planned.name === undefined ? {} : { name: planned.name };
    if (!planned.weights) return { ...name, ...planned.spec };
    const { kernel, bias, scale } = encodeWeights(planned.weights, planned.spec.type, dtype, planned.name ?? planned.spec.type);
    return {
      ...name,
      ...planned.spec,
      kernel: add(kernel),
      bias: add(bias),
      ...(scale ? { scale: add(scale) } : {}),
    };
  });
  return { layers, tensors };
}

function encodeWeights(weights: Weights, type: WeightedType, dtype: DType, layerName: string) {
  checkFinite(weights.kernel, layerName, 'kernel');
  checkFinite(weights.bias, layerName, 'bias');
  const shape = weights.kernelShape;
  const bias: TensorInput = { dtype: 'f32', shape: [weights.bias.length], data: weights.bias };
  if (dtype === 'f32') return { kernel: { dtype, shape, data: weights.kernel }, bias };
  if (dtype === 'f16') return { kernel: { dtype, shape, data: toF16(weights.kernel, layerName) }, bias };
  const { q, scales } = quantizeInt8PerChannel(weights.kernel, shape, outputChannelAxis(type));
  return { kernel: { dtype, shape, data: q }, bias, scale: { dtype: 'f32' as const, shape: [scales.length], data: scales } };
}

function checkFinite(values: Float32Array, layerName: string, what: string) {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new InputError(`layer "${layerName}" has a non-finite ${what} value (${values[bad]} at index ${bad}): did training diverge?`);
}

const F16_EXPONENT = 0x7c00;

function toF16(kernel: Float32Array, layerName: string): Uint16Array {
  const bits = encodeF16(kernel);
  const overflow = bits.findIndex((b) => (b & F16_EXPONENT) === F16_EXPONENT);
  if (overflow >= 0) {
    throw new InputError(`layer "${layerName}" has a kernel value ${kernel[overflow]} beyond the f16 range (±65504): export it as f32 or i8`);
  }
  return bits;
}

// ---- meta ----

function buildMeta(decoder: PlannedDecoder, layers: LayerSpec[], dtype: DType, shape: number[], overrides: ExportMeta): ModelMeta {
  const { latent, label, plan } = decoder;
  const conditioning = label ? { classes: label.size, joinsAt: layers.findIndex((l) => l.type === 'concatenate') } : null;
  const inputs = { latent: latent.name, ...(label ? { label: label.name } : {}) };
  assertDerived('latentSize', overrides.latentSize, latent.size);
  assertDerived('conditioning', overrides.conditioning, conditioning);
  assertDerived('inputs', overrides.inputs, inputs);
  checkOptionalFields(overrides);
  const range = chooseRange(finalActivation(plan), overrides.output?.range);
  const { output: _output, ...rest } = overrides;
  return { ...rest, latentSize: latent.size, conditioning, inputs, output: { shape, range }, dtype, producer: overrides.producer ?? `edgevae ${VERSION}` };
}

/** A caller may state a derived value (to guard against exporting the wrong model) but not change it. */
function assertDerived(key: string, given: unknown, derived: unknown) {
  if (given !== undefined && canonicalJson(given) !== canonicalJson(derived)) {
    throw new InputError(`options.meta.${key} is ${JSON.stringify(given)}, but the model gives ${JSON.stringify(derived)}`);
  }
}

/** JSON with an object's keys sorted, so { joinsAt, classes } equals { classes, joinsAt }. Flat objects suffice here. */
function canonicalJson(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value, Object.keys(value).sort()) : JSON.stringify(value);
}

/** The same checks the reader applies, made here so a bad argument is reported as such and not as a corrupt file. */
function checkOptionalFields(meta: ExportMeta) {
  for (const key of ['preset', 'dataset', 'producer'] as const) {
    if (meta[key] !== undefined && typeof meta[key] !== 'string') throw new InputError(`options.meta.${key} must be a string`);
  }
  if (meta.metrics === undefined) return;
  if (typeof meta.metrics !== 'object' || meta.metrics === null || Array.isArray(meta.metrics)) {
    throw new InputError('options.meta.metrics must be an object of numbers');
  }
  for (const [key, value] of Object.entries(meta.metrics)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new InputError(`options.meta.metrics.${key} must be a finite number, got ${JSON.stringify(value)}`);
  }
}

/** The activation that produces the output values; reshapes and flattens only move them. */
function finalActivation(plan: PlannedLayer[]): ActivationName {
  for (let i = plan.length - 1; i >= 0; i--) {
    const spec = plan[i].spec;
    if (spec.type === 'reshape' || spec.type === 'flatten') continue;
    return spec.type === 'concatenate' ? 'linear' : spec.activation;
  }
  return 'linear';
}

/** Bounded activations give the range; a linear output is taken to be [0, 1] data; relu-like ones must be told. */
function chooseRange(activation: ActivationName, requested: unknown): [number, number] {
  if (requested !== undefined) {
    const ok = Array.isArray(requested) && requested.length === 2 && requested.every(Number.isFinite) && requested[0] < requested[1];
    if (!ok) throw new InputError(`options.meta.output.range must be [low, high] with finite low < high, got ${JSON.stringify(requested)}`);
    return [requested[0], requested[1]];
  }
  switch (activation) {
    case 'sigmoid':
    case 'linear':
      return [0, 1];
    case 'tanh':
      return [-1, 1];
    default:
      throw new InputError(`the output comes from a ${activation} activation, whose range is unbounded: give options.meta.output.range`);
  }
}

// ---- graphs ----

/** An f32 tensor a weightless node carries (a norm's gamma, a constant operand), with its shape. */
export interface PlannedTensor {
  data: Float32Array;
  shape: number[];
}

/** A graph node before its tensors are encoded: its spec without tensor indices, and the tensors in hand. */
export interface PlannedNode {
  name: string;
  inputs: string[];
  spec: Record<string, unknown> & { type: LayerSpec['type']; activation?: ActivationName };
  /** Weighted kinds: kernel and bias, encoded in the file's dtype. */
  weights?: Weights;
  /** Other tensor fields by name (gamma, beta, constant, multiplier, offset), stored as f32. */
  tensors?: Record<string, PlannedTensor>;
}

/** A decoder planned as a graph (from an ONNX graph), ready to be encoded. */
export interface PlannedGraph {
  name: string;
  latent: ModelInput & { shape: number[]; layout?: 'NCHW' | 'NHWC' };
  label: ModelInput | null;
  nodes: PlannedNode[];
  output: string;
  outShape: number[];
}

/** Kinds that move values without changing them: the output's range comes from the node before them. */
const MOVES_VALUES = new Set(['reshape', 'flatten', 'transpose', 'depthToSpace', 'resize']);

/** Encodes a planned graph's tensors in the chosen dtype, describes it in the meta and writes the file. */
export function writeGraphDecoder(decoder: PlannedGraph, options: ExportOptions): Uint8Array {
  const overrides = options.meta ?? {};
  const dtype = chooseDtype(options.dtype, overrides.dtype);
  const tensors: TensorInput[] = [];
  const add = (tensor: TensorInput) => tensors.push(tensor) - 1;
  const nodes = decoder.nodes.map((planned) => {
    const node: Record<string, unknown> = { name: planned.name, inputs: planned.inputs, ...planned.spec };
    if (planned.weights) {
      const { kernel, bias, scale } = encodeWeights(planned.weights, planned.spec.type as WeightedType, dtype, planned.name);
      Object.assign(node, { kernel: add(kernel), bias: add(bias), ...(scale ? { scale: add(scale) } : {}) });
    }
    for (const [field, tensor] of Object.entries(planned.tensors ?? {})) {
      checkFinite(tensor.data, planned.name, field);
      node[field] = add({ dtype: 'f32', shape: tensor.shape, data: tensor.data });
    }
    return node as unknown as NodeSpec;
  });
  const outputShape = chooseOutputShape(decoder.outShape, overrides.output?.shape);
  let output = decoder.output;
  if (!sameShape(outputShape, decoder.outShape)) {
    nodes.push({ type: 'reshape', name: `${output}_view`, inputs: [output], shape: outputShape } as NodeSpec);
    output = `${output}_view`;
  }
  const byName = new Map(decoder.nodes.map((n) => [n.name, n]));
  let last = byName.get(decoder.output);
  while (last && MOVES_VALUES.has(last.spec.type)) last = byName.get(last.inputs[0]);
  const activation = last?.spec.activation ?? 'linear';
  const { latent, label } = decoder;
  const meta = graphMeta(decoder, activation, dtype, outputShape, overrides);
  const inputs: GraphInputSpec[] = [{ name: latent.name, kind: 'latent', shape: latent.shape, ...(latent.layout ? { layout: latent.layout } : {}) }];
  if (label) inputs.push({ name: label.name, kind: 'label', classes: label.size });
  try {
    return writeModel({ meta, inputs, nodes, output, tensors });
  } catch (err) {
    if (err instanceof FormatError) throw new UnsupportedError(`${decoder.name} cannot be stored in edgevae's format: ${err.message}`, { cause: err });
    throw err;
  }
}

function graphMeta(decoder: PlannedGraph, activation: ActivationName, dtype: DType, shape: number[], overrides: ExportMeta): ModelMeta {
  const { latent, label } = decoder;
  const conditioning = label ? { classes: label.size } : null;
  const inputs = { latent: latent.name, ...(label ? { label: label.name } : {}) };
  assertDerived('latentSize', overrides.latentSize, latent.size);
  assertDerived('inputs', overrides.inputs, inputs);
  if (overrides.conditioning !== undefined && (overrides.conditioning?.classes ?? null) !== (conditioning?.classes ?? null)) {
    throw new InputError(`options.meta.conditioning is ${JSON.stringify(overrides.conditioning)}, but the model gives ${JSON.stringify(conditioning)}`);
  }
  checkOptionalFields(overrides);
  const range = chooseRange(activation, overrides.output?.range);
  const { output: _output, conditioning: _conditioning, ...rest } = overrides;
  return { ...rest, latentSize: latent.size, conditioning, inputs, output: { shape, range }, dtype, producer: overrides.producer ?? `edgevae ${VERSION}` };
}
