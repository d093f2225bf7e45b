/**
 * Exports a trained TensorFlow.js decoder to edgevae's compact format: reads its graph as a chain,
 * plans the format's layers (folding and fusing on the way), encodes the weights in the chosen dtype
 * and describes the model in the header's meta.
 */
import type * as tf from '@tensorflow/tfjs';
import { FormatError, InputError, UnsupportedError } from '../errors.ts';
import { encodeF16 } from '../format/f16.ts';
import { quantizeInt8PerChannel } from '../format/int8.ts';
import { DTYPES, outputChannelAxis, product, type ActivationName, type DType, type LayerSpec, type ModelMeta, type WeightedType } from '../format/spec.ts';
import { writeModel, type TensorInput } from '../format/write.ts';
import { VERSION } from '../version.ts';
import { readChain, type ModelInput } from './graph.ts';
import { planLayers, type PlannedLayer, type Weights } from './plan.ts';

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

/**
 * Exports `model` (a decoder: latent vector in, sample out) as an edgevae model file.
 * Throws UnsupportedError, naming the layer, for a layer, activation or graph shape edgevae cannot run;
 * InputError for bad options, an ambiguous label input, or weights that are not finite (or too large for f16).
 */
export function exportModel(model: tf.LayersModel, options: ExportOptions = {}): Uint8Array {
  const chain = readChain(model, { labelInput: options.labelInput, latentInput: options.latentInput });
  return writeDecoder({ name: `model "${model.name}"`, latent: chain.latent, label: chain.label, plan: planLayers(chain), outShape: chain.outShape }, options);
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
