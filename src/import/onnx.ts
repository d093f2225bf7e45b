/**
 * Imports an ONNX decoder (e.g. a PyTorch model through torch.onnx.export) into edgevae's format 2,
 * a graph of named values.
 *
 * Every ONNX operator maps to a layer kind (src/layers/): Gemm and MatMul to dense; Conv and
 * ConvTranspose to convolutions with explicit pads, output padding, dilation and groups; Add, Sub, Mul
 * and Div to binary nodes (with constants or between values: residual blocks); Resize and Upsample to
 * resize; InstanceNormalization, GroupNorm's Reshape + InstanceNormalization + Reshape + Mul + Add and
 * LayerNormalization to norms; DepthToSpace; Concat to concatenate; the activations to activation
 * nodes, fused into the node before them where that node computes a linear result nobody else reads.
 * BatchNormalization folds into a linear Conv, ConvTranspose or Gemm before it, else becomes an affine
 * node. Operators on constants are folded (onnx-constants.ts), so the Shape/Gather/Concat chains
 * PyTorch emits around a Reshape or Resize vanish.
 *
 * The runtime holds images channels-last, so layouts are bookkeeping (onnx-layout.ts): Transpose,
 * Reshape, Flatten, Squeeze and Unsqueeze relabel the values; a dense layer reading them permutes its
 * rows to match, and a consumer that needs another order gets it by permuting the columns of the dense
 * layer that wrote them, or else through a transpose node. Image outputs come out NHWC; meta.source
 * says how the graph had them.
 */
import { writeGraphDecoder, type ExportMeta, type ExportOptions, type PlannedNode } from '../convert/encode.ts';
import { LABEL_NAME, checkInputNames, type ModelInput } from '../convert/inputs.ts';
import { permute as permuteTensor } from '../convert/permute.ts';
import { batchNormScaleShift, scaleOutputChannels, type Weights } from '../convert/planned.ts';
import { FormatError, InputError, UnsupportedError } from '../errors.ts';
import { checkMeta } from '../format/read.ts';
import { FUSED_ACTIVATIONS, LIMITS, outputChannelAxis, product, type ActivationName, type ImportSource, type ModelMeta, type ResizeLayer } from '../format/spec.ts';
import { floatAttribute, intAttribute, stringAttribute } from './onnx-attributes.ts';
import { convOf } from './onnx-conv.ts';
import {
  CONSTANT_FOLDS,
  BATCH,
  axesOf,
  constantFromProto,
  isBatch,
  normalizeAxis,
  reshapedDims,
  shapeOf,
  squeezedDims,
  transposePerm,
  unsqueezedDims,
  type Constant,
} from './onnx-constants.ts';
import { readOnnxGraph, type GraphInput, type OnnxGraph, type OnnxNode } from './onnx-graph.ts';
import { channelsLastOrder, columnsFor, concatenatedOrder, orderFromRows, rowsOf, sameDims, sameOrder, transposedOrder, type Order } from './onnx-layout.ts';

export type OutputLayout = 'NCHW' | 'NHWC';

export interface OnnxImportOptions extends ExportOptions {
  /**
   * How a [a, b, c] output is read: 'NCHW' ([c, h, w], ONNX's convention) or 'NHWC'. By default, the
   * one the values are already held in, else NCHW (see docs/IMPORT.md).
   */
  outputLayout?: OutputLayout;
}

/** A value the graph computes: its ONNX per-sample shape, and where and how the runtime keeps it. */
interface Activation {
  kind: 'activation';
  /** The edgevae value holding it. */
  value: string;
  /** The ONNX shape without the batch axis. */
  shape: number[];
  /** Entry j: the ONNX index of the value stored at j (null: the same order). */
  order: Order;
  /** The per-sample shape the runtime's nodes see. */
  stored: number[];
}

type Value =
  | { kind: 'constant'; constant: Constant }
  | Activation
  | { kind: 'label'; tensor: string; size: number }
  | { kind: 'unavailable'; why: string; deferred?: boolean };

/** Converts an ONNX model (its bytes) to an edgevae model file. */
export function importOnnx(bytes: Uint8Array, options: OnnxImportOptions = {}): Uint8Array {
  if (typeof options !== 'object' || options === null) throw new InputError(`options must be an object, got ${JSON.stringify(options)}`);
  if (options.outputLayout !== undefined && options.outputLayout !== 'NCHW' && options.outputLayout !== 'NHWC') {
    throw new InputError(`outputLayout must be 'NCHW' or 'NHWC', got ${JSON.stringify(options.outputLayout)}`);
  }
  const graph = readOnnxGraph(bytes);
  checkOperators(graph);
  const { latent, label } = chooseInputs(graph, options);
  const importer = new Importer(graph, latent, label);
  importer.walk();
  const hint = exporterMeta(graph, latent, label, importer.outputShape());
  const { output, outShape, source } = importer.finish(options.outputLayout ?? (hint ? 'NHWC' : undefined));
  const meta = importedMeta(hint, options.meta, source);
  return writeGraphDecoder(
    { name: `ONNX graph "${graph.name}"`, latent: importer.latentInput, label, nodes: importer.nodes, output, outShape },
    { ...options, meta },
  );
}

// ---- operators ----

type Handler = (importer: Importer, node: OnnxNode, inputs: (Value | undefined)[]) => void;

const activationHandler = (activation: ActivationName, params?: (node: OnnxNode) => { alpha?: number }): Handler => (i, node, inputs) =>
  i.activation(node, inputs, activation, params?.(node) ?? {});

/** Operators on the graph's computed values. */
const OPERATORS: Record<string, Handler> = {
  Gemm: (i, node, inputs) => i.gemm(node, inputs),
  MatMul: (i, node, inputs) => i.matMul(node, inputs),
  Add: (i, node, inputs) => i.binary(node, inputs, 'add'),
  Sub: (i, node, inputs) => i.binary(node, inputs, 'sub'),
  Mul: (i, node, inputs) => i.binary(node, inputs, 'mul'),
  Div: (i, node, inputs) => i.binary(node, inputs, 'div'),
  BatchNormalization: (i, node, inputs) => i.batchNormalization(node, inputs),
  InstanceNormalization: (i, node, inputs) => i.instanceNormalization(node, inputs),
  LayerNormalization: (i, node, inputs) => i.layerNormalization(node, inputs),
  ReduceMean: (i, node, inputs) => i.reduceMean(node, inputs),
  Pow: (_i, node) => refusedOutsideLayerNorm(node),
  Sqrt: (_i, node) => refusedOutsideLayerNorm(node),
  Conv: (i, node, inputs) => i.conv(node, inputs, false),
  ConvTranspose: (i, node, inputs) => i.conv(node, inputs, true),
  Resize: (i, node, inputs) => i.resize(node, inputs),
  Upsample: (i, node, inputs) => i.resize(node, inputs),
  DepthToSpace: (i, node, inputs) => i.depthToSpace(node, inputs),
  Pad: (i, node, inputs) => i.pad(node, inputs),
  Relu: activationHandler('relu'),
  LeakyRelu: activationHandler('leakyRelu', (node) => ({ alpha: floatAttribute(node, 'alpha', 0.01) })),
  Sigmoid: (i, node, inputs) => i.sigmoid(node, inputs),
  Tanh: activationHandler('tanh'),
  Elu: activationHandler('elu', (node) => ({ alpha: floatAttribute(node, 'alpha', 1) })),
  Softplus: activationHandler('softplus'),
  Clip: (i, node, inputs) => i.clip(node, inputs),
  Erf: (i, node) => i.erf(node),
  Reshape: (i, node, inputs) => i.reshape(node, inputs),
  Flatten: (i, node, inputs) => i.flatten(node, inputs),
  Transpose: (i, node, inputs) => i.transpose(node, inputs),
  Squeeze: (i, node, inputs) => i.squeeze(node, inputs, false),
  Unsqueeze: (i, node, inputs) => i.squeeze(node, inputs, true),
  Concat: (i, node, inputs) => i.concat(node, inputs),
  Identity: (i, node, inputs) => i.passThrough(node, inputs),
  Dropout: (i, node, inputs) => i.dropout(node, inputs),
  Cast: (i, node, inputs) => i.cast(node, inputs),
  Shape: (i, node, inputs) => i.shape(node, inputs),
};

/** Operators edgevae runs only as part of a LayerNorm that opsets before 17 spell out. */
function refusedOutsideLayerNorm(node: OnnxNode): never {
  throw new UnsupportedError(`${node.label}: edgevae runs ${node.opType} only inside a LayerNorm over the last axis, as torch.onnx.export writes nn.LayerNorm before opset 17`);
}

export const SUPPORTED_OPERATORS = [...new Set([...Object.keys(OPERATORS), ...Object.keys(CONSTANT_FOLDS)])].sort();

/** Lists every operator of the graph edgevae cannot run, with the nodes that use it, in one error. */
function checkOperators(graph: OnnxGraph): void {
  const unsupported = new Map<string, string[]>();
  for (const node of graph.nodes) {
    if (!SUPPORTED_OPERATORS.includes(node.opType)) unsupported.set(node.opType, [...(unsupported.get(node.opType) ?? []), node.name]);
  }
  if (unsupported.size === 0) return;
  const list = [...unsupported].map(([op, names]) => `${op} (${names.map((n) => JSON.stringify(n)).join(', ')})`).join('; ');
  throw new UnsupportedError(`the ONNX graph uses operators edgevae does not support: ${list}. Supported: ${SUPPORTED_OPERATORS.join(', ')}`);
}

// ---- inputs ----

const describeInput = (input: GraphInput) => `"${input.name}" [${input.dims.join(', ')}]`;

/** Which graph input is the latent and which (if any) the one-hot label: as named in the options, else by structure, else by name. */
function chooseInputs(graph: OnnxGraph, options: ExportOptions): { latent: ModelInput & { dims: number[] }; label: ModelInput | null } {
  const { inputs } = graph;
  const names = inputs.map((i) => i.name);
  checkInputNames(names, options);
  if (inputs.length === 0) throw new UnsupportedError('the ONNX graph has no inputs: a decoder reads a latent');
  if (inputs.length > 2) throw new UnsupportedError(`the ONNX graph has ${inputs.length} inputs (${inputs.map(describeInput).join(', ')}); edgevae imports a latent input and at most a one-hot label`);
  if (inputs.length === 1) {
    if (options.labelInput !== undefined) throw new InputError(`labelInput "${options.labelInput}" was given, but the graph's only input is the latent`);
    return { latent: latentOf(inputs[0]), label: null };
  }
  const labelName = options.labelInput ?? (options.latentInput !== undefined ? names.find((n) => n !== options.latentInput)! : guessLabel(graph));
  const [label, latent] = labelName === inputs[0].name ? inputs : [inputs[1], inputs[0]];
  return { latent: latentOf(latent), label: labelOf(label) };
}

/** The label feeds Concat nodes only; when both inputs could be it, a name like "label" or "y" decides. */
function guessLabel(graph: OnnxGraph): string {
  const feedsOnlyConcat = graph.inputs.filter((input) => {
    const readers = graph.nodes.filter((n) => n.inputs.includes(input.name));
    return readers.length > 0 && readers.every((n) => n.opType === 'Concat');
  });
  if (feedsOnlyConcat.length === 1) return feedsOnlyConcat[0].name;
  const named = graph.inputs.filter((input) => LABEL_NAME.test(input.name));
  if (named.length === 1) return named[0].name;
  throw new InputError(
    `cannot tell which of the inputs ${graph.inputs.map(describeInput).join(' and ')} is the latent and which the one-hot label: ` +
      'name them with latentInput / labelInput (--latent-input / --label-input)',
  );
}

function perSample(input: GraphInput, what: string): number[] {
  if (input.dims.length < 2) throw new UnsupportedError(`the ${what} input ${describeInput(input)} has no batch axis; edgevae needs [N, ...]`);
  return input.dims.slice(1).map((d, i) => {
    if (typeof d !== 'number') throw new UnsupportedError(`the ${what} input "${input.name}" has a symbolic size "${d}" on axis ${i + 1}; only the batch axis may vary`);
    return d;
  });
}

function latentOf(input: GraphInput): ModelInput & { dims: number[] } {
  const dims = perSample(input, 'latent');
  const size = product(dims);
  if (dims.length > 3) throw new UnsupportedError(`the latent input ${describeInput(input)} has ${dims.length} axes after the batch; edgevae takes a vector or an image [C, H, W]`);
  if (size > LIMITS.latent) throw new UnsupportedError(`the latent input ${describeInput(input)} has ${size} values, over the limit of ${LIMITS.latent}`);
  return { name: input.name, size, dims };
}

function labelOf(input: GraphInput): ModelInput {
  const shape = perSample(input, 'label');
  if (shape.length !== 1) throw new UnsupportedError(`the label input ${describeInput(input)} must be a flat one-hot vector [N, classes]`);
  if (shape[0] > LIMITS.classes) throw new UnsupportedError(`the label input ${describeInput(input)} has over ${LIMITS.classes} classes`);
  return { name: input.name, size: shape[0] };
}

// ---- the walk ----

/** Activations an op of each kind may apply after its own work (dense and conv: only what their GEMM fuses). */
const FUSES_ANY = new Set(['binary', 'affine', 'activation']);
const FUSES_GEMM = new Set(['dense', 'conv2d', 'conv2dTranspose', 'groupNorm', 'layerNorm']);

class Importer {
  readonly nodes: PlannedNode[] = [];
  readonly latentInput: ModelInput & { shape: number[]; layout?: 'NCHW' | 'NHWC' };
  private readonly values = new Map<string, Value>();
  /** The planned node that writes each edgevae value. */
  private readonly producers = new Map<string, PlannedNode>();
  /** How many ONNX nodes read each ONNX tensor (the graph output counts as a reader). */
  private readonly readers = new Map<string, number>();
  /** The ONNX nodes that read each tensor. */
  private readonly consumers = new Map<string, OnnxNode[]>();
  /** ONNX nodes already computed as part of a pattern that started before them. */
  private readonly absorbed = new Set<OnnxNode>();
  /** Dense nodes that read a flat input: their output columns can be put in any order. */
  private readonly flatDense = new Set<PlannedNode>();
  private readonly names = new Set<string>();
  private labelJoined = false;
  /** The batch size, when the graph fixes it (a Reshape may then spell it out). */
  private readonly batchSize: number | null;

  private readonly graph: OnnxGraph;
  private readonly label: ModelInput | null;

  constructor(graph: OnnxGraph, latent: ModelInput & { dims: number[] }, label: ModelInput | null) {
    this.graph = graph;
    this.label = label;
    const image = latent.dims.length === 3;
    const stored = image ? [latent.dims[1], latent.dims[2], latent.dims[0]] : [latent.size];
    this.latentInput = { name: latent.name, size: latent.size, shape: stored, ...(image ? { layout: 'NCHW' as const } : {}) };
    this.names.add(latent.name);
    this.values.set(latent.name, { kind: 'activation', value: latent.name, shape: latent.dims, order: image ? channelsLastOrder(latent.dims) : null, stored });
    if (label) {
      this.names.add(label.name);
      this.values.set(label.name, { kind: 'label', tensor: label.name, size: label.size });
    }
    const latentInput = graph.inputs.find((i) => i.name === latent.name)!;
    this.batchSize = typeof latentInput.dims[0] === 'number' ? latentInput.dims[0] : null;
    for (const node of graph.nodes) {
      for (const input of new Set(node.inputs)) {
        if (input === '') continue;
        this.readers.set(input, (this.readers.get(input) ?? 0) + 1);
        this.consumers.set(input, [...(this.consumers.get(input) ?? []), node]);
      }
    }
    this.readers.set(graph.output, (this.readers.get(graph.output) ?? 0) + 1);
  }

  walk(): void {
    for (const node of this.graph.nodes) if (!this.absorbed.has(node)) this.step(node);
  }

  private step(node: OnnxNode): void {
    const inputs = node.inputs.map((name) => (name === '' ? undefined : this.read(name, node)));
    const fold = CONSTANT_FOLDS[node.opType];
    if (fold && inputs.every((v) => v === undefined || v.kind === 'constant')) {
      const constant = fold(node, inputs.map((v) => (v as { constant: Constant } | undefined)?.constant), this.graph.opset);
      this.define(node, { kind: 'constant', constant });
      return;
    }
    const handler = OPERATORS[node.opType];
    if (!handler) throw new UnsupportedError(`${node.label} reads a computed value; edgevae folds ${node.opType} only when all its inputs are constants`);
    handler(this, node, inputs);
  }

  /** A tensor's value; initializers are decoded when first read, so unused ones cannot fail the import. */
  private read(name: string, node: OnnxNode): Value {
    if (!this.values.has(name)) {
      const initializer = this.graph.initializers.get(name);
      if (!initializer) throw new FormatError(`${node.label} reads "${name}", which nothing computes`);
      this.values.set(name, { kind: 'constant', constant: constantFromProto(initializer, `initializer "${name}"`) });
    }
    const value = this.values.get(name)!;
    if (value.kind === 'unavailable' && !value.deferred) throw new UnsupportedError(`${node.label} reads "${name}", ${value.why}`);
    return value;
  }

  /** Sets the node's first output; any other output (a Dropout mask, BatchNormalization statistics) is not computed. */
  private define(node: OnnxNode, value: Value): void {
    node.outputs.forEach((output, i) => {
      if (output === '') return;
      this.values.set(output, i === 0 ? value : { kind: 'unavailable', why: `output ${i} of ${node.label}, which edgevae does not compute (it runs the model for inference)` });
    });
  }

  /** A unique edgevae value name for what `node` writes. */
  private nameFor(node: OnnxNode, suffix = ''): string {
    const base = `${node.name || node.outputs[0] || node.opType}${suffix}`.slice(0, 200);
    let name = base;
    for (let i = 2; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Adds a planned node reading edgevae values `inputs`; returns its value name. */
  private emit(node: OnnxNode, spec: PlannedNode['spec'], inputs: string[], extra: Pick<PlannedNode, 'weights' | 'tensors'> = {}, suffix = ''): PlannedNode {
    const planned: PlannedNode = { name: this.nameFor(node, suffix), inputs, spec, ...extra };
    this.nodes.push(planned);
    this.producers.set(planned.name, planned);
    return planned;
  }

  /** Defines node's output as a new activation held by `value`. */
  private advance(node: OnnxNode, value: string, next: Omit<Activation, 'kind' | 'value'>): Activation {
    checkElements(node, next.shape);
    const activation: Activation = { kind: 'activation', value, ...next };
    this.define(node, activation);
    return activation;
  }

  private activationOf(node: OnnxNode, value: Value | undefined, what = 'input'): Activation {
    if (value === undefined) throw new FormatError(`${node.label} lacks its ${what}`);
    if (value.kind === 'label') throw new UnsupportedError(`the label input "${value.tensor}" feeds ${node.label}; edgevae joins the one-hot label to a value with a Concat only`);
    if (value.kind === 'unavailable') throw new UnsupportedError(`${node.label} reads ${value.why}`);
    if (value.kind !== 'activation') throw new UnsupportedError(`${node.label} has a constant ${what} where edgevae expects a computed value`);
    return value;
  }

  private constant(node: OnnxNode, value: Value | undefined, what: string, rank?: number): Constant & { type: 'float' } {
    if (value === undefined) throw new FormatError(`${node.label} lacks its ${what}`);
    if (value.kind !== 'constant') throw new UnsupportedError(`${node.label}: its ${what} is computed at run time; edgevae needs it to be a constant (an initializer)`);
    const c = value.constant;
    if (c.type !== 'float') throw new FormatError(`${node.label}: its ${what} must be a float tensor`);
    if (rank !== undefined && c.dims.length !== rank) throw new FormatError(`${node.label}: its ${what} has shape [${c.dims.join(', ')}], expected rank ${rank}`);
    return c;
  }

  /** Whether only `node` reads the ONNX tensor `tensor` (so the node that wrote it may be changed for it). */
  private onlyReader(tensor: string): boolean {
    return this.readers.get(tensor) === 1;
  }

  /** The planned node that wrote `input`, if nothing else reads it and it may take more work: a fold target. */
  private foldTarget(node: OnnxNode, input: Activation): PlannedNode | null {
    if (!this.onlyReader(node.inputs[0])) return null;
    const producer = this.producers.get(input.value);
    return producer && producer.spec.activation === 'linear' ? producer : null;
  }

  // ---- layers with weights ----

  gemm(node: OnnxNode, [a, b, c]: (Value | undefined)[]): void {
    const input = this.activationOf(node, a);
    if (intAttribute(node, 'transA', 0) !== 0) throw new UnsupportedError(`${node.label} has transA = 1, which would move the batch axis`);
    const weights = this.constant(node, b, 'B', 2);
    const transB = intAttribute(node, 'transB', 0) !== 0;
    const [k, m] = transB ? [weights.dims[1], weights.dims[0]] : weights.dims;
    if (input.shape.length !== 1) throw new FormatError(`${node.label} needs a 2-D input [N, K], got [N, ${input.shape.join(', ')}]`);
    checkInner(node, input, k, m);
    const alpha = floatAttribute(node, 'alpha', 1);
    const kernel = new Float32Array(k * m);
    for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) kernel[i * m + j] = alpha * weights.data[transB ? j * k + i : i * m + j];
    const bias = new Float32Array(m);
    if (c !== undefined) {
      const at = broadcaster(node, this.constant(node, c, 'C'), [m], 'C');
      const beta = floatAttribute(node, 'beta', 1);
      for (let j = 0; j < m; j++) bias[j] = beta * at(j);
    }
    this.dense(node, input, { kernel, kernelShape: [k, m], bias });
  }

  matMul(node: OnnxNode, [a, b]: (Value | undefined)[]): void {
    const input = this.activationOf(node, a, 'input A');
    const weights = this.constant(node, b, 'B', 2);
    const m = weights.dims[1];
    this.dense(node, input, { kernel: Float32Array.from(weights.data), kernelShape: [...weights.dims], bias: new Float32Array(m) });
  }

  /** A dense layer over the input's last axis; a flat input's stored order is absorbed into the kernel's rows. */
  private dense(node: OnnxNode, input: Activation, weights: Weights): void {
    const [k, m] = weights.kernelShape;
    checkInner(node, input, k, m);
    const spec = { type: 'dense' as const, units: m, activation: 'linear' as ActivationName };
    if (input.shape.length === 1) {
      const stored = this.store(node, input, [k]);
      if (stored.order) weights.kernel = permuteRows(weights.kernel, stored.order, m);
      const planned = this.emit(node, spec, [stored.value], { weights });
      this.flatDense.add(planned);
      this.advance(node, planned.name, { shape: [m], order: null, stored: [m] });
      return;
    }
    const rows = rowsOf(input.order, k);
    if (input.order && !rows) {
      throw new UnsupportedError(`${node.label} multiplies over the last axis of [${input.shape.join(', ')}], which the runtime holds in another order (channels-last)`);
    }
    // The runtime's dense reads contiguous rows of k values: the stored shape must end in k.
    const stored = input.stored.at(-1) !== k ? this.store(node, input, input.order ? [rows!.length, k] : input.shape) : input;
    const planned = this.emit(node, spec, [stored.value], { weights });
    const shape = checkElements(node, [...input.shape.slice(0, -1), m]);
    this.advance(node, planned.name, { shape, order: orderFromRows(rows, m), stored: [...stored.stored.slice(0, -1), m] });
  }

  conv(node: OnnxNode, [x, w, b]: (Value | undefined)[], transposed: boolean): void {
    const input = this.activationOf(node, x, 'input X');
    if (input.shape.length !== 3) throw new UnsupportedError(`${node.label} convolves [N, ${input.shape.join(', ')}]; edgevae runs 2-D convolutions of [N, C, H, W]`);
    const weights = this.constant(node, w, 'weights W', 4);
    const conv = convOf(node, input.shape, weights.dims, transposed, this.padded.get(node));
    const kernel = permuteKernel(weights);
    const bias = b === undefined ? new Float32Array(conv.filters) : Float32Array.from(this.constant(node, b, 'bias B', 1).data);
    if (bias.length !== conv.filters) throw new FormatError(`${node.label} has ${bias.length} biases for ${conv.filters} output channels`);
    const source = this.channelsLast(node, input, `${node.label} reads "${node.inputs[0]}" as channels-last [H, W, C]`);
    const { OH, OW, ...fields } = conv;
    const spec = { type: transposed ? ('conv2dTranspose' as const) : ('conv2d' as const), ...fields, padding: 'explicit' as const, activation: 'linear' as ActivationName };
    const planned = this.emit(node, spec, [source.value], { weights: { kernel: kernel.data, kernelShape: kernel.dims, bias } });
    const shape = checkElements(node, [conv.filters, OH, OW]);
    this.advance(node, planned.name, { shape, order: channelsLastOrder(shape), stored: [OH, OW, conv.filters] });
  }

  /** Zero pads on the spatial axes, read by a Conv: they become the conv's own pads. */
  private readonly padded = new Map<OnnxNode, number[]>();

  pad(node: OnnxNode, [x, pads, value]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x, 'data');
    const mode = stringAttribute(node, 'mode', 'constant');
    const amounts = this.graph.opset < 11 ? intsOf(node, 'pads') : pads?.kind === 'constant' ? Array.from(pads.constant.data) : undefined;
    const fill = this.graph.opset < 11 ? floatAttribute(node, 'value', 0) : value?.kind === 'constant' ? value.constant.data[0] : 0;
    const readers = this.consumers.get(node.outputs[0]) ?? [];
    const conv = readers.length === 1 && readers[0].opType === 'Conv' ? readers[0] : undefined;
    const rank = input.shape.length + 1;
    if (mode !== 'constant' || fill !== 0 || !amounts || amounts.length !== 2 * rank || rank !== 4 || !conv || !this.onlyReader(node.outputs[0])) {
      throw new UnsupportedError(`${node.label}: edgevae runs a Pad only as zero padding of H and W read by one Conv (it becomes the conv's pads)`);
    }
    const [, , top, left, , , bottom, right] = amounts;
    if (amounts[0] || amounts[1] || amounts[4] || amounts[5] || [top, left, bottom, right].some((p) => p < 0 || p > LIMITS.kernelSize * LIMITS.stride)) {
      throw new UnsupportedError(`${node.label} pads [${amounts.join(', ')}]; edgevae folds only non-negative padding of H and W into the conv that reads it`);
    }
    // The conv reads the unpadded value with these pads added to its own.
    this.padded.set(conv, [top, left, bottom, right]);
    this.define(node, input);
  }

  // ---- element-wise ----

  binary(node: OnnxNode, inputs: (Value | undefined)[], op: 'add' | 'sub' | 'mul' | 'div'): void {
    const [a, b] = inputs;
    if (a === undefined || b === undefined) throw new FormatError(`${node.label} needs two operands`);
    if (a.kind === 'label' || b.kind === 'label') this.activationOf(node, a.kind === 'label' ? a : b);
    if (a.kind === 'constant' || b.kind === 'constant') {
      const constantFirst = a.kind === 'constant';
      const input = this.activationOf(node, constantFirst ? b : a);
      const constant = this.constant(node, constantFirst ? a : b, 'constant operand');
      if (!constantFirst && (op === 'div' || op === 'mul') && this.soleReader(node.outputs[0], 'Erf')) {
        // x / sqrt(2) inside GELU: the Erf node recognizes the whole pattern (see erf).
        this.define(node, { kind: 'unavailable', why: 'the scaled input of a GELU, which edgevae computes as one', deferred: true });
        return;
      }
      if (!constantFirst && this.foldConstant(node, input, constant, op)) return;
      const tensor = this.constantOperand(node, input, constant);
      const spec = { type: 'binary' as const, op, activation: 'linear' as ActivationName, ...(constantFirst ? { constantFirst: true } : {}) };
      const planned = this.emit(node, spec, [input.value], { tensors: { constant: tensor } });
      this.advance(node, planned.name, { shape: input.shape, order: input.order, stored: input.stored });
      return;
    }
    if (op === 'mul' && node.inputs[0] === node.inputs[1] && this.geluTanhPattern(node, this.activationOf(node, a))) return;
    const [x, y] = [this.activationOf(node, a, 'input A'), this.activationOf(node, b, 'input B')];
    // The larger operand keeps its layout; the smaller one is stored to broadcast against it.
    const [big, small] = product(x.shape) >= product(y.shape) ? [x, y] : [y, x];
    const operands = x === big ? [big, this.operandFor(node, small, big)] : [this.operandFor(node, small, big), big];
    const planned = this.emit(node, { type: 'binary', op, activation: 'linear' }, operands.map((o) => o.value));
    this.advance(node, planned.name, { shape: big.shape, order: big.order, stored: big.stored });
  }

  /**
   * The smaller (or equal) operand of a value-value binary, stored so it broadcasts against `big`: the
   * same shape in the same order, one value per channel, or one value.
   */
  private operandFor(node: OnnxNode, small: Activation, big: Activation): Activation {
    if (sameDims(small.shape, big.shape)) {
      if (sameOrder(small.order, big.order)) return this.store(node, small, big.stored);
      return this.relayout(node, small, big.order, big.stored, `${node.label} combines two values held in different orders`);
    }
    const size = product(small.shape);
    const channels = big.shape.length === 3 && big.order !== null && sameOrder(big.order, channelsLastOrder(big.shape)) ? big.shape[0] : big.shape.at(-1)!;
    const perChannel = big.shape.length === 3 ? small.shape.length === 3 && small.shape[0] === channels && small.shape[1] === 1 && small.shape[2] === 1 : false;
    if (size === 1 || perChannel) return this.store(node, small, [size]);
    throw new UnsupportedError(`${node.label} broadcasts [${small.shape.join(', ')}] against [${big.shape.join(', ')}]; edgevae broadcasts one value, or one per channel`);
  }

  /** A constant operand as the binary kind reads it: one value, one per stored channel, or the value's shape in its stored order. */
  private constantOperand(node: OnnxNode, input: Activation, constant: Constant & { type: 'float' }): { data: Float32Array; shape: number[] } {
    const dims = constant.dims.length === input.shape.length + 1 && constant.dims[0] === 1 ? constant.dims.slice(1) : constant.dims;
    const size = product(dims);
    if (size === 1) return { data: Float32Array.of(constant.data[0]), shape: [1] };
    const channels = perChannelOf(input, dims);
    if (channels) return { data: Float32Array.from(constant.data), shape: [channels] };
    if (dims.length <= input.shape.length && size === product(input.shape)) {
      const at = broadcaster(node, constant, input.shape, 'its constant operand');
      const data = new Float32Array(size);
      for (let j = 0; j < size; j++) data[j] = at(input.order ? input.order[j] : j);
      return { data, shape: [...input.stored] };
    }
    throw new UnsupportedError(`${node.label}: a constant of shape [${constant.dims.join(', ')}] against [N, ${input.shape.join(', ')}]; edgevae broadcasts one value, one per channel, or the full shape`);
  }

  /**
   * x op c folded into the linear Gemm, MatMul, Conv or ConvTranspose that wrote x, when c is one value
   * per output channel (a bias add, a scale): exact, and one node fewer.
   */
  private foldConstant(node: OnnxNode, input: Activation, constant: Constant & { type: 'float' }, op: 'add' | 'sub' | 'mul' | 'div'): boolean {
    const target = this.foldTarget(node, input);
    if (!target?.weights) return false;
    const channels = target.spec.type === 'dense' ? (target.spec.units as number) : (target.spec.filters as number);
    const values = this.perOutputChannel(input, constant, channels);
    if (!values) return false;
    const scale = new Float64Array(channels).fill(1);
    const shift = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      if (op === 'add') shift[c] = values[c];
      else if (op === 'sub') shift[c] = -values[c];
      else if (op === 'mul') scale[c] = values[c];
      else scale[c] = 1 / values[c];
    }
    scaleOutputChannels(target.weights, outputChannelAxis(target.spec.type as 'dense'), scale, shift);
    this.define(node, input);
    return true;
  }

  /** A constant's value for each stored output channel of a dense or conv output, or null when it varies within one. */
  private perOutputChannel(input: Activation, constant: Constant & { type: 'float' }, channels: number): Float64Array | null {
    let at: (index: number) => number;
    try {
      at = broadcaster({ label: '' } as OnnxNode, constant, input.shape, '');
    } catch {
      return null;
    }
    const values = new Float64Array(channels).fill(NaN);
    const size = product(input.shape);
    for (let j = 0; j < size; j++) {
      const c = j % channels;
      const v = at(input.order ? input.order[j] : j);
      if (Number.isNaN(values[c])) values[c] = v;
      else if (values[c] !== v) return null;
    }
    return values;
  }

  batchNormalization(node: OnnxNode, [x, ...statistics]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x, 'input X');
    if (intAttribute(node, 'training_mode', 0) !== 0) throw new UnsupportedError(`${node.label} runs in training mode; export the model in eval mode`);
    if (this.graph.opset < 9 && intAttribute(node, 'spatial', 1) !== 1) throw new UnsupportedError(`${node.label} normalizes per position (spatial = 0)`);
    const channels = input.shape[0];
    const [gamma, beta, mean, variance] = ['scale', 'B', 'input_mean', 'input_var'].map((what, i) => {
      const c = this.constant(node, statistics[i], what, 1);
      if (c.data.length !== channels) throw new FormatError(`${node.label}: ${what} has ${c.data.length} values for ${channels} channels`);
      return c.data;
    });
    const { scale, shift } = batchNormScaleShift({ gamma, beta, mean, variance }, floatAttribute(node, 'epsilon', 1e-5));
    const target = this.foldTarget(node, input);
    if (target?.weights) {
      const outputs = target.spec.type === 'dense' ? (target.spec.units as number) : (target.spec.filters as number);
      const perChannel = (values: Float64Array) => this.perOutputChannel(input, { type: 'float', dims: [channels, ...input.shape.slice(1).map(() => 1)], data: Float32Array.from(values) }, outputs);
      const [s, t] = [perChannel(scale), perChannel(shift)];
      if (s && t) {
        scaleOutputChannels(target.weights, outputChannelAxis(target.spec.type as 'dense'), s, t);
        this.define(node, input);
        return;
      }
    }
    // Nothing to fold into: a per-channel affine node (channels-last images, or a flat [C] value).
    const source = input.shape.length === 3 ? this.channelsLast(node, input, `${node.label} normalizes per channel`) : this.store(node, this.inOrder(node, input, null), input.shape);
    const tensors = { multiplier: { data: Float32Array.from(scale), shape: [channels] }, offset: { data: Float32Array.from(shift), shape: [channels] } };
    const planned = this.emit(node, { type: 'affine', activation: 'linear' }, [source.value], { tensors });
    this.advance(node, planned.name, { shape: source.shape, order: source.order, stored: source.stored });
  }

  /** InstanceNormalization: a groupNorm with a group per channel, or, after PyTorch's GroupNorm reshape, the whole pattern. */
  instanceNormalization(node: OnnxNode, [x, s, b]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x, 'input');
    const epsilon = floatAttribute(node, 'epsilon', 1e-5);
    const [scale, bias] = [this.constant(node, s, 'scale', 1).data, this.constant(node, b, 'B', 1).data];
    if (input.shape.length !== 3) throw new UnsupportedError(`${node.label} normalizes [N, ${input.shape.join(', ')}]; edgevae runs InstanceNormalization on [N, C, H, W]`);
    const source = this.channelsLast(node, input, `${node.label} normalizes per channel`);
    const channels = input.shape[0];
    const tensors = { gamma: { data: Float32Array.from(scale), shape: [channels] }, beta: { data: Float32Array.from(bias), shape: [channels] } };
    const planned = this.emit(node, { type: 'groupNorm', groups: channels, epsilon, activation: 'linear' }, [source.value], { tensors });
    this.advance(node, planned.name, { shape: source.shape, order: source.order, stored: source.stored });
  }

  /**
   * PyTorch's GroupNorm(G, C) as torch.onnx.export writes it before opset 18: Reshape to [N, G, -1],
   * InstanceNormalization with ones and zeros, Reshape back to [N, C, H, W], Mul by gamma, Add beta
   * (each [C, 1, 1]). Recognized at its first Reshape; the nodes after it are absorbed.
   */
  private groupNormPattern(node: OnnxNode, input: Activation, target: number[]): boolean {
    if (input.shape.length !== 3 || target.length !== 3 || !(target[0] === 0 || isBatch(target[0]) || target[0] === this.batchSize) || target[2] !== -1) return false;
    const groups = target[1];
    const [C, H, W] = input.shape;
    if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) return false;
    const norm = this.soleReader(node.outputs[0], 'InstanceNormalization');
    const back = norm && this.soleReader(norm.outputs[0], 'Reshape');
    if (!norm || !back) return false;
    const [scale, bias] = [norm.inputs[1], norm.inputs[2]].map((t) => this.constantValue(t));
    const shape = this.constantValue(back.inputs[1], 'int');
    if (!scale || !bias || scale.data.length !== groups || bias.data.length !== groups || !shape || shape.data.length !== 4) return false;
    if (!sameDims(Array.from(shape.data).slice(1), [C, H, W])) return false;
    // y = (norm(x) * s_g + b_g) * gamma_c + beta_c.
    const gamma = new Float32Array(C);
    const beta = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / (C / groups));
      gamma[c] = scale.data[g];
      beta[c] = bias.data[g];
    }
    let last = back;
    const mul = this.soleReader(back.outputs[0], 'Mul');
    const mulBy = mul && this.perChannelConstant(mul, back.outputs[0], C);
    if (mul && mulBy) {
      for (let c = 0; c < C; c++) [gamma[c], beta[c]] = [gamma[c] * mulBy[c], beta[c] * mulBy[c]];
      last = mul;
      const add = this.soleReader(mul.outputs[0], 'Add');
      const addBy = add && this.perChannelConstant(add, mul.outputs[0], C);
      if (add && addBy) {
        for (let c = 0; c < C; c++) beta[c] += addBy[c];
        last = add;
      }
    }
    const source = this.channelsLast(node, input, `${node.label} normalizes groups of channels`);
    const epsilon = floatAttribute(norm, 'epsilon', 1e-5);
    const tensors = { gamma: { data: gamma, shape: [C] }, beta: { data: beta, shape: [C] } };
    const planned = this.emit(last, { type: 'groupNorm', groups, epsilon, activation: 'linear' }, [source.value], { tensors });
    for (const absorbed of [norm, back, mul, last]) if (absorbed) this.absorbed.add(absorbed);
    const result: Activation = { kind: 'activation', value: planned.name, shape: input.shape, order: source.order, stored: source.stored };
    for (const n of [node, norm, back, ...(last !== back ? [mul!] : []), ...(last !== back && last !== mul ? [last] : [])]) this.define(n, result);
    return true;
  }

  /** The one node that reads `tensor`, if it is of `opType` and is the only reader. */
  private soleReader(tensor: string, opType: string): OnnxNode | undefined {
    const readers = this.consumers.get(tensor) ?? [];
    return readers.length === 1 && readers[0].opType === opType && this.onlyReader(tensor) ? readers[0] : undefined;
  }

  /** An initializer or already-folded constant, without reading it as an error when it is not one. */
  private constantValue(tensor: string | undefined, type: 'float' | 'int' = 'float'): Constant | undefined {
    if (tensor === undefined || tensor === '') return undefined;
    const known = this.values.get(tensor);
    if (known?.kind === 'constant') return known.constant.type === type ? known.constant : undefined;
    if (known) return undefined;
    const initializer = this.graph.initializers.get(tensor);
    if (initializer) {
      const constant = constantFromProto(initializer, `initializer "${tensor}"`);
      return constant.type === type ? constant : undefined;
    }
    const producer = this.graph.nodes.find((n) => n.outputs[0] === tensor);
    const fold = producer && CONSTANT_FOLDS[producer.opType];
    if (!producer || !fold) return undefined;
    const inputs = producer.inputs.map((t) => (t === '' ? undefined : this.constantValue(t, 'float') ?? this.constantValue(t, 'int')));
    if (producer.opType === 'Shape') {
      const data = producer.inputs[0] ? this.values.get(producer.inputs[0]) : undefined;
      if (data?.kind === 'activation') return shapeOf(producer, [BATCH, ...data.shape]);
      return undefined;
    }
    if (inputs.some((v, i) => v === undefined && producer.inputs[i] !== '')) return undefined;
    const constant = fold(producer, inputs, this.graph.opset);
    return constant.type === type ? constant : undefined;
  }

  /** The other operand of a binary node reading `tensor`, when it is a constant of one value per channel. */
  private perChannelConstant(node: OnnxNode, tensor: string, channels: number): Float32Array | undefined {
    const other = node.inputs[0] === tensor ? node.inputs[1] : node.inputs[0];
    const constant = this.constantValue(other) as (Constant & { type: 'float' }) | undefined;
    if (!constant || constant.data.length !== channels) return undefined;
    const dims = constant.dims.length === 4 && constant.dims[0] === 1 ? constant.dims.slice(1) : constant.dims;
    return dims.length === 3 && dims[0] === channels && dims[1] === 1 && dims[2] === 1 ? constant.data : undefined;
  }

  layerNormalization(node: OnnxNode, [x, s, b]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x, 'input X');
    const axis = normalizeAxis(node, intAttribute(node, 'axis', -1), input.shape.length + 1);
    if (axis !== input.shape.length) throw new UnsupportedError(`${node.label} normalizes from axis ${axis}; edgevae runs LayerNormalization over the last axis`);
    const C = input.shape.at(-1)!;
    const scale = this.constant(node, s, 'scale').data;
    const bias = b === undefined ? new Float32Array(C) : this.constant(node, b, 'B').data;
    if (scale.length !== C || bias.length !== C) throw new FormatError(`${node.label}: scale and B must hold ${C} values`);
    this.layerNorm(node, node, input, floatAttribute(node, 'epsilon', 1e-5), scale, bias);
  }

  /** A layerNorm node over the last ONNX axis of `input`, whose value `last` (the pattern's end) writes. */
  private layerNorm(first: OnnxNode, last: OnnxNode, input: Activation, epsilon: number, gamma: Float32Array, beta: Float32Array): void {
    const C = input.shape.at(-1)!;
    const source = this.inOrder(first, input, null);
    const tensors = { gamma: { data: Float32Array.from(gamma), shape: [C] }, beta: { data: Float32Array.from(beta), shape: [C] } };
    const planned = this.emit(last, { type: 'layerNorm', epsilon, activation: 'linear' }, [source.value], { tensors });
    this.advance(last, planned.name, { shape: source.shape, order: source.order, stored: source.stored });
  }

  /**
   * ReduceMean only as the start of nn.LayerNorm before opset 17: mean = ReduceMean(x), d = x - mean,
   * var = ReduceMean(d ^ 2), y = d / Sqrt(var + eps), then optionally * weight + bias, all over the
   * last axis. The nodes after it are absorbed.
   */
  reduceMean(node: OnnxNode, [x, axesInput]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x, 'data');
    const last = input.shape.length;
    const overLast = (n: OnnxNode, axes?: Value) => {
      const list = axes?.kind === 'constant' ? Array.from(axes.constant.data) : (intsOf(n, 'axes') ?? []);
      return intAttribute(n, 'keepdims', 1) === 1 && list.length === 1 && normalizeAxis(n, list[0], last + 1) === last;
    };
    const scalar = (tensor: string | undefined) => {
      const c = this.constantValue(tensor);
      return c && c.data.length === 1 ? c.data[0] : undefined;
    };
    const sub = overLast(node, axesInput) ? this.soleReader(node.outputs[0], 'Sub') : undefined;
    const readers = sub && sub.inputs[0] === node.inputs[0] ? (this.consumers.get(sub.outputs[0]) ?? []) : [];
    const pow = readers.find((n) => n.opType === 'Pow');
    const div = readers.find((n) => n.opType === 'Div');
    const variance = readers.length === 2 && pow && div && scalar(pow.inputs[1]) === 2 ? this.soleReader(pow.outputs[0], 'ReduceMean') : undefined;
    const add = variance && overLast(variance, this.values.get(variance.inputs[1] ?? '')) ? this.soleReader(variance.outputs[0], 'Add') : undefined;
    const epsilon = add && scalar(add.inputs[0] === variance!.outputs[0] ? add.inputs[1] : add.inputs[0]);
    const sqrt = add && epsilon !== undefined ? this.soleReader(add.outputs[0], 'Sqrt') : undefined;
    if (!sqrt || !div || this.soleReader(sqrt.outputs[0], 'Div') !== div || div.inputs[0] !== sub!.outputs[0]) {
      throw new UnsupportedError(`${node.label}: edgevae runs ReduceMean only inside a LayerNorm over the last axis, as torch.onnx.export writes nn.LayerNorm before opset 17`);
    }
    const C = input.shape.at(-1)!;
    const vector = (n: OnnxNode | undefined, from: string) => {
      const c = n && this.constantValue(n.inputs[0] === from ? n.inputs[1] : n.inputs[0]);
      return c?.data.length === C ? Float32Array.from(c.data) : undefined;
    };
    const mul = this.soleReader(div.outputs[0], 'Mul');
    const gamma = vector(mul, div.outputs[0]);
    const plus = gamma ? this.soleReader(mul!.outputs[0], 'Add') : undefined;
    const beta = plus ? vector(plus, mul!.outputs[0]) : undefined;
    const end = beta ? plus! : gamma ? mul! : div;
    for (const absorbed of [sub!, pow!, variance!, add!, sqrt, div, ...(gamma ? [mul!] : []), ...(beta ? [plus!] : [])]) this.absorbed.add(absorbed);
    this.layerNorm(node, end, input, epsilon!, gamma ?? new Float32Array(C).fill(1), beta ?? new Float32Array(C));
  }

  // ---- activations ----

  activation(node: OnnxNode, [x]: (Value | undefined)[], activation: ActivationName, params: { alpha?: number; min?: number; max?: number }): void {
    const input = this.activationOf(node, x);
    this.applyActivation(node, input, activation, params);
  }

  private applyActivation(node: OnnxNode, input: Activation, activation: ActivationName, params: { alpha?: number; min?: number; max?: number }): void {
    const target = this.foldTarget(node, input);
    const fuses = target && (FUSES_ANY.has(target.spec.type) || (FUSES_GEMM.has(target.spec.type) && FUSED_ACTIVATIONS.includes(activation)));
    if (target && fuses) {
      Object.assign(target.spec, { activation }, params);
      this.define(node, input);
      return;
    }
    const planned = this.emit(node, { type: 'activation', activation, ...params }, [input.value]);
    this.advance(node, planned.name, { shape: input.shape, order: input.order, stored: input.stored });
  }

  /** Sigmoid, or SiLU when its only reader multiplies it by its input (x * sigmoid(x), as nn.SiLU exports). */
  sigmoid(node: OnnxNode, [x]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x);
    const mul = this.soleReader(node.outputs[0], 'Mul');
    if (mul && mul.inputs.includes(node.inputs[0]) && mul.inputs.includes(node.outputs[0])) {
      this.absorbed.add(mul);
      this.applyActivation(mul, input, 'silu', {});
      this.define(node, { kind: 'unavailable', why: 'the sigmoid inside a SiLU, which edgevae computes as one' });
      return;
    }
    this.applyActivation(node, input, 'sigmoid', {});
  }

  /** Erf only as part of GELU: x * 0.5 * (1 + erf(x / sqrt 2)) in any of the orders exporters write it. */
  erf(node: OnnxNode): void {
    const div = this.graph.nodes.find((n) => n.outputs[0] === node.inputs[0]);
    const source = div && (div.opType === 'Div' || div.opType === 'Mul') ? div.inputs[0] : undefined;
    const divisor = div && this.constantValue(div.inputs[1]);
    const scaled = divisor?.data.length === 1 && (div!.opType === 'Div' ? Math.abs(divisor.data[0] - Math.SQRT2) < 1e-4 : Math.abs(divisor.data[0] - Math.SQRT1_2) < 1e-4);
    const add = this.soleReader(node.outputs[0], 'Add');
    const one = add && this.constantValue(add.inputs[0] === node.outputs[0] ? add.inputs[1] : add.inputs[0]);
    const mul = add && one?.data.length === 1 && one.data[0] === 1 ? this.soleReader(add.outputs[0], 'Mul') : undefined;
    const half = mul && this.soleReader(mul.outputs[0], 'Mul');
    const halfValue = half && this.constantValue(half.inputs[0] === mul!.outputs[0] ? half.inputs[1] : half.inputs[0]);
    const valid = source && scaled && mul?.inputs.includes(source) && halfValue?.data.length === 1 && halfValue.data[0] === 0.5;
    if (!valid || !this.onlyReader(div!.outputs[0])) {
      throw new UnsupportedError(`${node.label}: edgevae runs Erf only inside GELU, x * 0.5 * (1 + erf(x / sqrt(2))), as torch.onnx.export writes it`);
    }
    const input = this.activationOf(node, this.values.get(source!));
    for (const absorbed of [add!, mul!, half!]) this.absorbed.add(absorbed);
    this.applyActivation(half!, input, 'geluErf', {});
  }

  /**
   * GELU's tanh form as nn.GELU(approximate='tanh') exports it, starting at x * x:
   * 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x * x * x))), with constants on either side.
   * Recognized as one geluTanh activation; the eight nodes after it are absorbed.
   */
  private geluTanhPattern(square: OnnxNode, input: Activation): boolean {
    const x = square.inputs[0];
    const close = (v: number | undefined, want: number) => v !== undefined && Math.abs(v - want) <= 1e-6 * Math.max(1, Math.abs(want));
    /** The sole reader of `tensor` of `opType` whose other operand passes `other`. */
    const next = (tensor: string | undefined, opType: string, other: (operand: string) => boolean) => {
      const reader = tensor === undefined ? undefined : this.soleReader(tensor, opType);
      if (!reader || reader.inputs.length !== 2) return undefined;
      const operand = reader.inputs[0] === tensor ? reader.inputs[1] : reader.inputs[0];
      return other(operand) ? reader : undefined;
    };
    const isX = (operand: string) => operand === x;
    const scalar = (want: number) => (operand: string) => {
      const c = this.constantValue(operand);
      return c?.data.length === 1 && close(c.data[0], want);
    };
    const cube = next(square.outputs[0], 'Mul', isX);
    const scaled = next(cube?.outputs[0], 'Mul', scalar(0.044715));
    const inner = next(scaled?.outputs[0], 'Add', isX);
    const outer = next(inner?.outputs[0], 'Mul', scalar(Math.sqrt(2 / Math.PI)));
    const tanh = outer && this.soleReader(outer.outputs[0], 'Tanh');
    const onePlus = next(tanh?.outputs[0], 'Add', scalar(1));
    const times = next(onePlus?.outputs[0], 'Mul', isX);
    const half = next(times?.outputs[0], 'Mul', scalar(0.5));
    if (!cube || !scaled || !inner || !outer || !tanh || !onePlus || !times || !half) return false;
    for (const absorbed of [cube, scaled, inner, outer, tanh, onePlus, times, half]) this.absorbed.add(absorbed);
    this.applyActivation(half, input, 'geluTanh', {});
    return true;
  }

  clip(node: OnnxNode, [x, low, high]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x);
    const bound = (value: Value | undefined, attribute: string): number | undefined => {
      if (this.graph.opset < 11) return node.attributes.has(attribute) ? floatAttribute(node, attribute, 0) : undefined;
      return value === undefined ? undefined : this.constant(node, value, attribute).data[0];
    };
    const [min, max] = [bound(low, 'min'), bound(high, 'max')];
    const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && Math.abs(v) < 3.4e38 ? v : undefined);
    const params = { ...(finite(min) !== undefined ? { min } : {}), ...(finite(max) !== undefined ? { max } : {}) };
    if (params.min === 0 && params.max === undefined) return this.applyActivation(node, input, 'relu', {});
    this.applyActivation(node, input, 'clip', params);
  }

  // ---- resampling ----

  resize(node: OnnxNode, inputs: (Value | undefined)[]): void {
    const input = this.activationOf(node, inputs[0], 'input X');
    if (input.shape.length !== 3) throw new UnsupportedError(`${node.label} resizes [N, ${input.shape.join(', ')}]; edgevae resizes images [N, C, H, W]`);
    const opset = this.graph.opset;
    const upsample = node.opType === 'Upsample';
    const mode = stringAttribute(node, 'mode', 'nearest');
    if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') throw new UnsupportedError(`${node.label} resizes by "${mode}"; edgevae runs nearest and (bi)linear`);
    const old = upsample || opset < 11;
    const [scalesInput, sizesInput] = upsample ? [inputs[1], undefined] : opset < 11 ? [inputs[1], undefined] : [inputs[2], inputs[3]];
    const scales = upsample && opset < 9 ? floatsOf(node, 'scales') : scalesInput?.kind === 'constant' && scalesInput.constant.data.length ? Array.from(scalesInput.constant.data) : undefined;
    const sizes = sizesInput?.kind === 'constant' && sizesInput.constant.data.length ? Array.from(sizesInput.constant.data) : undefined;
    const [C, H, W] = input.shape;
    let size: [number, number];
    let scalePair: [number, number] | undefined;
    if (sizes) {
      if (sizes.length !== 4 || (!isBatch(sizes[0]) && sizes[0] !== (this.batchSize ?? sizes[0])) || sizes[1] !== C) throw new UnsupportedError(`${node.label} resizes to [${sizes.join(', ')}]; edgevae resizes H and W only`);
      size = [sizes[2], sizes[3]];
    } else if (scales) {
      if (scales.length !== 4 || scales[0] !== 1 || scales[1] !== 1) throw new UnsupportedError(`${node.label} scales by [${scales.join(', ')}]; edgevae resizes H and W only`);
      scalePair = [scales[2], scales[3]];
      size = [Math.floor(H * scales[2]), Math.floor(W * scales[3])];
    } else {
      throw new UnsupportedError(`${node.label} computes its scales or sizes at run time; edgevae needs them constant`);
    }
    const coordinate = old ? 'asymmetric' : stringAttribute(node, 'coordinate_transformation_mode', 'half_pixel');
    const known = ['asymmetric', 'half_pixel', 'pytorch_half_pixel', 'align_corners', 'tf_half_pixel_for_nn'];
    if (!known.includes(coordinate)) throw new UnsupportedError(`${node.label} uses coordinate_transformation_mode "${coordinate}"; edgevae runs ${known.join(', ')}`);
    const linear = mode !== 'nearest';
    const nearest = old ? 'floor' : stringAttribute(node, 'nearest_mode', 'round_prefer_floor');
    const spec: Omit<ResizeLayer, 'type'> & { type: 'resize' } = {
      type: 'resize',
      mode: linear ? 'linear' : 'nearest',
      coordinate: coordinate as ResizeLayer['coordinate'],
      ...(linear ? {} : { nearest: nearest as ResizeLayer['nearest'] }),
      size,
      ...(scalePair ? { scales: scalePair } : {}),
    };
    const source = this.channelsLast(node, input, `${node.label} resizes channels-last values`);
    const planned = this.emit(node, spec, [source.value]);
    const shape = checkElements(node, [C, size[0], size[1]]);
    this.advance(node, planned.name, { shape, order: channelsLastOrder(shape), stored: [size[0], size[1], C] });
  }

  depthToSpace(node: OnnxNode, [x]: (Value | undefined)[]): void {
    const input = this.activationOf(node, x);
    if (input.shape.length !== 3) throw new UnsupportedError(`${node.label} rearranges [N, ${input.shape.join(', ')}]; edgevae runs DepthToSpace on [N, C, H, W]`);
    const block = intAttribute(node, 'blocksize', 0);
    const mode = stringAttribute(node, 'mode', 'DCR');
    if (mode !== 'DCR' && mode !== 'CRD') throw new FormatError(`${node.label} has mode "${mode}"`);
    const [C, H, W] = input.shape;
    if (!(block >= 1 && block <= LIMITS.stride) || C % (block * block) !== 0) throw new FormatError(`${node.label}: blocksize ${block} does not divide its ${C} channels`);
    const source = this.channelsLast(node, input, `${node.label} rearranges channels-last values`);
    const planned = this.emit(node, { type: 'depthToSpace', blockSize: block, mode }, [source.value]);
    const shape = checkElements(node, [C / (block * block), H * block, W * block]);
    this.advance(node, planned.name, { shape, order: channelsLastOrder(shape), stored: [shape[1], shape[2], shape[0]] });
  }

  // ---- relabelling ----

  reshape(node: OnnxNode, [data, shape]: (Value | undefined)[]): void {
    const input = this.activationOf(node, data, 'data');
    if (shape?.kind !== 'constant' || shape.constant.type !== 'int') throw new UnsupportedError(`${node.label} computes its target shape at run time; edgevae needs a constant shape`);
    const target = Array.from(shape.constant.data);
    if (this.groupNormPattern(node, input, target)) return;
    const [first, ...rest] = target;
    const allowZero = intAttribute(node, 'allowzero', 0) === 1;
    const keepsBatch = isBatch(first) || first === -1 || (first === 0 && !allowZero) || first === this.batchSize;
    if (first === undefined || !keepsBatch) {
      throw new UnsupportedError(`${node.label} reshapes to [${formatDims(shape.constant.data)}]: its first axis must stay the batch (-1, 0 or the batch size)`);
    }
    if (rest.some(isBatch)) throw new UnsupportedError(`${node.label} moves the batch size into another axis`);
    if (first === -1 && rest.includes(-1)) throw new FormatError(`${node.label} reshapes to [${formatDims(shape.constant.data)}], with more than one -1`);
    this.define(node, { ...input, shape: checkElements(node, reshapedDims(node, input.shape, rest, allowZero)) });
  }

  flatten(node: OnnxNode, [data]: (Value | undefined)[]): void {
    const input = this.activationOf(node, data);
    const rank = input.shape.length + 1;
    const axis = intAttribute(node, 'axis', 1);
    if ((axis < 0 ? axis + rank : axis) !== 1) throw new UnsupportedError(`${node.label} flattens at axis ${axis}; edgevae keeps the batch axis apart (axis 1)`);
    this.define(node, { ...input, shape: [product(input.shape)] });
  }

  transpose(node: OnnxNode, [data]: (Value | undefined)[]): void {
    const input = this.activationOf(node, data);
    const perm = transposePerm(node, input.shape.length + 1);
    if (perm[0] !== 0) throw new UnsupportedError(`${node.label} moves the batch axis (perm [${perm.join(', ')}])`);
    const samplePerm = perm.slice(1).map((p) => p - 1);
    this.define(node, { ...input, shape: samplePerm.map((p) => input.shape[p]), order: transposedOrder(input.order, input.shape, samplePerm) });
  }

  /** Squeeze and Unsqueeze of a computed value: a reshape that must leave the batch axis alone. */
  squeeze(node: OnnxNode, inputs: (Value | undefined)[], unsqueeze: boolean): void {
    const input = this.activationOf(node, inputs[0]);
    const axesInput = inputs[1];
    if (axesInput !== undefined && axesInput.kind !== 'constant') throw new UnsupportedError(`${node.label} computes its axes at run time`);
    const axes = axesOf(node, [undefined, axesInput?.constant], this.graph.opset);
    // A batch placeholder of 2 (not 1), so that squeezing "all size-1 axes" never takes it.
    const full = [2, ...input.shape];
    const dims = unsqueeze ? unsqueezedDims(node, full, axes) : squeezedDims(node, full, axes);
    if (dims[0] !== 2 || (unsqueeze && axes!.some((a) => normalizeAxis(node, a, dims.length) === 0))) {
      throw new UnsupportedError(`${node.label} ${unsqueeze ? 'inserts an axis before' : 'removes'} the batch axis`);
    }
    this.define(node, { ...input, shape: dims.slice(1) });
  }

  passThrough(node: OnnxNode, [data]: (Value | undefined)[]): void {
    if (data?.kind === 'label') return this.define(node, data);
    this.define(node, this.activationOf(node, data));
  }

  dropout(node: OnnxNode, [data, , training]: (Value | undefined)[]): void {
    const inTraining = training !== undefined && (training.kind !== 'constant' || training.constant.data.some((v) => v !== 0));
    if (inTraining) throw new UnsupportedError(`${node.label} may run in training mode; export the model in eval mode`);
    this.define(node, this.activationOf(node, data));
  }

  cast(node: OnnxNode, [data]: (Value | undefined)[]): void {
    const to = intAttribute(node, 'to', 0);
    if (to !== FLOAT_TYPE) throw new UnsupportedError(`${node.label} casts a computed value to type ${to}; edgevae computes in float`);
    this.passThrough(node, [data]);
  }

  shape(node: OnnxNode, [data]: (Value | undefined)[]): void {
    if (data?.kind !== 'activation') throw new UnsupportedError(`${node.label} reads the shape of the label input`);
    this.define(node, { kind: 'constant', constant: shapeOf(node, [BATCH, ...data.shape]) });
  }

  /** Concat along the channels (axis 1): of the one-hot label and a flat value, or of two computed values. */
  concat(node: OnnxNode, inputs: (Value | undefined)[]): void {
    const operands = inputs.filter((v): v is Value => v !== undefined);
    const rank = operands.find((v): v is Activation => v.kind === 'activation')?.shape.length ?? 1;
    const axis = normalizeAxis(node, intAttribute(node, 'axis', NaN), rank + 1);
    if (operands.length !== 2) throw new UnsupportedError(`${node.label} joins ${operands.length} values; edgevae joins two`);
    if (axis !== 1) throw new UnsupportedError(`${node.label} joins along axis ${axis}; edgevae joins along the channels (axis 1)`);
    const labelAt = operands.findIndex((v) => v.kind === 'label');
    if (labelAt >= 0) {
      const input = this.activationOf(node, operands[1 - labelAt]);
      if (input.shape.length !== 1) throw new UnsupportedError(`${node.label} joins the label to a value of shape [N, ${input.shape.join(', ')}]; flatten it first`);
      if (this.labelJoined) throw new UnsupportedError(`${node.label} joins the label a second time; edgevae reads the label once`);
      this.labelJoined = true;
      const size = input.shape[0];
      const classes = this.label!.size;
      const stored = this.store(node, input, [size]);
      const names = labelAt === 0 ? [this.label!.name, stored.value] : [stored.value, this.label!.name];
      const planned = this.emit(node, { type: 'concatenate' }, names);
      this.advance(node, planned.name, { shape: [size + classes], order: concatenatedOrder(stored.order, size, classes, labelAt === 0), stored: [size + classes] });
      return;
    }
    const [a, b] = operands.map((v, i) => this.activationOf(node, v, `input ${i}`));
    if (a.shape.length !== b.shape.length || a.shape.slice(1).some((d, i) => d !== b.shape[i + 1])) {
      throw new UnsupportedError(`${node.label} joins [${a.shape.join(', ')}] and [${b.shape.join(', ')}], which differ beyond the channels`);
    }
    const image = a.shape.length === 3;
    const [x, y] = image
      ? [this.channelsLast(node, a, `${node.label} joins channels-last values`), this.channelsLast(node, b, `${node.label} joins channels-last values`)]
      : [this.store(node, this.inOrder(node, a, null), a.shape), this.store(node, this.inOrder(node, b, null), b.shape)];
    const planned = this.emit(node, { type: 'concatenate' }, [x.value, y.value]);
    const shape = checkElements(node, [a.shape[0] + b.shape[0], ...a.shape.slice(1)]);
    this.advance(node, planned.name, image ? { shape, order: channelsLastOrder(shape), stored: [shape[1], shape[2], shape[0]] } : { shape, order: null, stored: shape });
  }

  // ---- layout ----

  /** `input` held with the per-sample `shape` (same order), through a reshape node if the stored shape differs. */
  private store(node: OnnxNode, input: Activation, shape: number[]): Activation {
    if (sameDims(input.stored, shape)) return input;
    if (shape.length > 3) throw new UnsupportedError(`"${node.inputs[0]}" has shape [N, ${shape.join(', ')}]; the runtime handles at most [h, w, c] per sample`);
    const planned = this.emit(node, shape.length === 1 ? { type: 'flatten' } : { type: 'reshape', shape }, [input.value], {}, '_view');
    return { ...input, value: planned.name, stored: shape };
  }

  /** An image [c, h, w] held channels-last as [h, w, c]. */
  private channelsLast(node: OnnxNode, input: Activation, why: string): Activation {
    const [c, h, w] = input.shape;
    return this.relayout(node, input, channelsLastOrder(input.shape), [h, w, c], why);
  }

  /** `input` held in ONNX order (`order` null) or another, with its ONNX shape. */
  private inOrder(node: OnnxNode, input: Activation, order: Order): Activation {
    const stored = order === null ? input.shape : input.stored;
    return this.relayout(node, input, order, stored, `${node.label} reads "${node.inputs[0]}" in its own order`);
  }

  /**
   * `input` stored in `order` with the per-sample `shape`: as it is when it already is; else by
   * permuting the output columns of the dense layer that wrote it (free, when nothing else reads it);
   * else through a transpose node, when the change is one (channels-last to first and back).
   */
  private relayout(node: OnnxNode, input: Activation, order: Order, shape: number[], why: string): Activation {
    if (sameOrder(input.order, order)) return this.store(node, input, shape);
    const dense = this.reorderableDense(input);
    if (dense) {
      permuteColumns(dense.weights!, columnsFor(input.order, order, product(input.shape)));
      return this.store(node, { ...input, order }, shape);
    }
    const perm = transposeBetween(input, order);
    if (!perm) throw new UnsupportedError(`${why}, but the runtime holds it in another order that no transpose of its axes reaches`);
    const from = this.store(node, input, perm.from);
    const planned = this.emit(node, { type: 'transpose', perm: perm.perm }, [from.value], {}, '_layout');
    return this.store(node, { ...input, value: planned.name, order, stored: perm.perm.map((p) => perm.from[p]) }, shape);
  }

  /** The flat-input dense layer that wrote `input` (through reshapes only), if nothing else reads what it wrote. */
  private reorderableDense(input: Activation): PlannedNode | null {
    let planned = this.producers.get(input.value);
    while (planned && (planned.spec.type === 'reshape' || planned.spec.type === 'flatten')) planned = this.producers.get(planned.inputs[0]);
    if (!planned || !this.flatDense.has(planned)) return null;
    const readers = this.nodes.filter((n) => n.inputs.includes(planned!.name));
    return readers.every((n) => n.spec.type === 'reshape' || n.spec.type === 'flatten') && this.singleUse(planned) ? planned : null;
  }

  /** Whether the value a planned node writes is read along one path only (no other ONNX reader). */
  private singleUse(planned: PlannedNode): boolean {
    const tensors = [...this.values].filter(([, v]) => v.kind === 'activation' && (v.value === planned.name || this.aliasOf(v.value) === planned.name)).map(([t]) => t);
    const readers = tensors.reduce((sum, t) => sum + (this.readers.get(t) ?? 0), 0);
    return readers <= 1 + tensors.length;
  }

  private aliasOf(value: string): string {
    let planned = this.producers.get(value);
    while (planned && (planned.spec.type === 'reshape' || planned.spec.type === 'flatten')) {
      const source = this.producers.get(planned.inputs[0]);
      if (!source) break;
      planned = source;
    }
    return planned?.name ?? value;
  }

  /** The ONNX per-sample shape of the graph's output, once walked. */
  outputShape(): number[] {
    const output = this.values.get(this.graph.output);
    if (output?.kind !== 'activation') {
      const why = output?.kind === 'label' ? 'is the label input' : 'does not depend on the latent input';
      throw new UnsupportedError(`the graph output "${this.graph.output}" ${why}`);
    }
    return output.shape;
  }

  /** Lays the output out as the runtime returns it: images NHWC, everything else in the graph's order. */
  finish(layout: OutputLayout | undefined): { output: string; outShape: number[]; source: ImportSource } {
    const output = this.values.get(this.graph.output) as Activation;
    const shape = this.outputShape();
    if (this.label && !this.labelJoined) throw new UnsupportedError(`the label input "${this.label.name}" does not reach the output`);
    if (shape.length > 3) throw new UnsupportedError(`the graph output "${this.graph.output}" has shape [N, ${shape.join(', ')}]; edgevae outputs at most [h, w, c] per sample`);
    const source: ImportSource = { format: 'onnx', output: { name: this.graph.output, shape } };
    const outputNode = { label: `the graph output "${this.graph.output}"`, inputs: [this.graph.output], name: `${this.graph.output}`, outputs: [this.graph.output] } as unknown as OnnxNode;
    const why = `the graph output "${this.graph.output}" must come out`;
    let result: Activation;
    if (shape.length === 3) {
      // NCHW unless the values are held in the graph's own order and no dense layer could reorder them.
      const natural = sameOrder(output.order, channelsLastOrder(shape)) || output.order !== null || this.reorderableDense(output) ? 'NCHW' : 'NHWC';
      source.layout = layout ?? natural;
      result = source.layout === 'NCHW' ? this.relayout(outputNode, output, channelsLastOrder(shape), [shape[1], shape[2], shape[0]], `${why} as NHWC [h, w, c]`) : this.relayout(outputNode, output, null, shape, `${why} in its own order`);
    } else {
      result = this.relayout(outputNode, output, null, shape, `${why} in its own order`);
    }
    // The format needs a node, and the output must be one: a graph that passes a value through gets a linear activation.
    if (!this.producers.has(result.value)) {
      const planned = this.emit(outputNode, { type: 'activation', activation: 'linear' }, [result.value]);
      result = { ...result, value: planned.name };
    }
    return { output: result.value, outShape: result.stored, source };
  }
}

const FLOAT_TYPE = 1;

/** An activation's shape, checked to fit the runtime before anything is allocated for it. */
function checkElements(node: OnnxNode, shape: number[]): number[] {
  const elements = product(shape);
  if (elements > LIMITS.elementsPerSample) throw new UnsupportedError(`${node.label} outputs ${elements} values per sample, over the limit of ${LIMITS.elementsPerSample}`);
  return shape;
}

function checkInner(node: OnnxNode, input: Activation, k: number, m: number): void {
  const inner = input.shape.at(-1);
  if (inner !== k) throw new FormatError(`${node.label} multiplies [N, ${input.shape.join(', ')}] by a [${k}, ${m}] matrix: ${inner} and ${k} differ`);
}

const formatDims = (dims: ArrayLike<number>) => Array.from(dims, (d) => (isBatch(d) ? 'N' : String(d))).join(', ');

function intsOf(node: OnnxNode, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a?.ints ? a.ints.map((v) => Number(v)) : undefined;
}

function floatsOf(node: OnnxNode, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a?.floats ? Array.from(a.floats) : undefined;
}

/** The channel count when `dims` hold one value per channel of `input` ([C, 1, 1] of an image, [C] of a flat value). */
function perChannelOf(input: Activation, dims: number[]): number | null {
  if (input.shape.length === 3) {
    const [C] = input.shape;
    const trimmed = dims.length === 3 ? dims : dims.length === 1 && dims[0] === 1 ? dims : null;
    if (trimmed && trimmed[0] === C && trimmed[1] === 1 && trimmed[2] === 1 && sameOrder(input.order, channelsLastOrder(input.shape))) return C;
    return null;
  }
  return null;
}

/** The axis permutation taking `input` (in its order) to `order`, when one exists: channels-last to first and back. */
function transposeBetween(input: Activation, order: Order): { from: number[]; perm: number[] } | null {
  if (input.shape.length !== 3) {
    // A flat value that came from an image: view it as the image it was.
    return null;
  }
  const [c, h, w] = input.shape;
  const channelsLast = channelsLastOrder(input.shape);
  if (sameOrder(input.order, channelsLast) && order === null) return { from: [h, w, c], perm: [2, 0, 1] };
  if (input.order === null && sameOrder(order, channelsLast)) return { from: [c, h, w], perm: [1, 2, 0] };
  return null;
}

/** Rows of a [k, m] kernel reordered: new row j is old row order[j]. */
function permuteRows(kernel: Float32Array, order: Int32Array, m: number): Float32Array {
  const out = new Float32Array(kernel.length);
  order.forEach((from, to) => out.set(kernel.subarray(from * m, (from + 1) * m), to * m));
  return out;
}

/** Output columns of a dense layer reordered: new column j is old column columns[j]. */
function permuteColumns(weights: Weights, columns: Int32Array): void {
  const [k, m] = weights.kernelShape;
  const kernel = new Float32Array(weights.kernel.length);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) kernel[i * m + j] = weights.kernel[i * m + columns[j]];
  weights.kernel = kernel;
  weights.bias = Float32Array.from(columns, (c) => weights.bias[c]);
}

/** ONNX Conv weights [out, in/G, kh, kw] and ConvTranspose [in, out/G, kh, kw] to the format's [kh, kw, in/G, out] / [kh, kw, out, in]. */
function permuteKernel(weights: Constant & { type: 'float' }): { data: Float32Array; dims: number[] } {
  const perm = [2, 3, 1, 0];
  return { data: permuteTensor(weights.data, weights.dims, perm), dims: perm.map((p) => weights.dims[p]) };
}

/**
 * A per-sample index of an activation of `shape` to the value of a constant broadcast against
 * [N, ...shape] (numpy rules; its batch axis, if any, must be 1).
 */
function broadcaster(node: OnnxNode, constant: Constant & { type: 'float' }, shape: number[], what: string): (index: number) => number {
  const full = [1, ...shape];
  const offset = full.length - constant.dims.length;
  const fits = offset >= 0 && constant.dims.every((d, a) => d === 1 || d === full[offset + a]);
  if (!fits) throw new FormatError(`${node.label}: ${what} of shape [${constant.dims.join(', ')}] does not broadcast to [N, ${shape.join(', ')}]`);
  // For each per-sample axis: its size and the constant's stride along it (0 where the constant repeats).
  const strides = shape.map((_, axis) => {
    const a = axis + 1 - offset;
    return a < 0 || constant.dims[a] === 1 ? 0 : product(constant.dims.slice(a + 1));
  });
  return (index: number) => {
    let at = 0;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      at += (index % shape[axis]) * strides[axis];
      index = Math.floor(index / shape[axis]);
    }
    return constant.data[at];
  };
}

// ---- meta ----

/**
 * The meta our own ONNX exporter keeps in metadata_props "edgevae", when it still describes this graph:
 * it says the output is NHWC and gives back the range, preset, dataset and metrics.
 */
function exporterMeta(graph: OnnxGraph, latent: ModelInput, label: ModelInput | null, outputShape: number[]): ModelMeta | null {
  const json = graph.metadata.get('edgevae');
  if (json === undefined) return null;
  let meta: ModelMeta;
  try {
    meta = checkMeta(JSON.parse(json));
  } catch (err) {
    throw new FormatError(`the ONNX model's metadata "edgevae" is not a valid edgevae meta: ${(err as Error).message}`, { cause: err });
  }
  const describes = meta.latentSize === latent.size && (meta.conditioning?.classes ?? null) === (label?.size ?? null) && sameDims(meta.output.shape, outputShape);
  return describes ? meta : null;
}

/** The caller's meta over the exporter's (minus what the import derives), with where the model came from. */
function importedMeta(hint: ModelMeta | null, given: ExportMeta | undefined, source: ImportSource): ExportMeta {
  const { latentSize: _l, conditioning: _c, dtype: _d, producer: _p, inputs: _i, source: _s, output, ...kept } = hint ?? ({} as Partial<ModelMeta>);
  const range = given?.output?.range ?? output?.range;
  return { ...kept, ...given, output: { ...given?.output, ...(range ? { range } : {}) }, source };
}
