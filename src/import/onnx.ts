/**
 * Imports an ONNX decoder (e.g. a PyTorch model through torch.onnx.export) into edgevae's format.
 *
 * The graph is walked in order as one chain of activations from the latent input to the output, which a
 * one-hot label input may join once through a Concat. Operators map to the format's layers: Gemm and
 * MatMul (+ Add) to dense, Conv / ConvTranspose to conv2d / conv2dTranspose when their pads are what
 * TensorFlow.js 'same' or 'valid' gives, Relu / LeakyRelu / Sigmoid / Tanh to activations (fused where
 * they follow a linear layer); BatchNormalization and constant Adds fold into the layer before them;
 * Dropout, Identity and float Casts vanish; operators on constants are folded (onnx-constants.ts).
 *
 * The runtime holds images channels-last and has no transpose, so layouts are bookkeeping
 * (onnx-layout.ts): Transpose, Reshape, Flatten, Squeeze and Unsqueeze only relabel the values, a
 * dense layer reading them permutes its rows to match, and a consumer that needs another order (a Conv
 * after a Linear and a view to NCHW, an image output) gets it by permuting the columns of the dense
 * layer that wrote them. Image outputs come out NHWC; meta.source says how the graph had them.
 */
import { FormatError, InputError, UnsupportedError } from '../errors.ts';
import { writeDecoder, type ExportMeta, type ExportOptions } from '../export/export-model.ts';
import { LABEL_NAME, checkInputNames, type ModelInput } from '../export/graph.ts';
import { permute as permuteTensor } from '../export/onnx.ts';
import { applyActivation, batchNormScaleShift, outputsOf, scaleOutputChannels, type PlannedLayer, type PlannedWeighted, type Weights } from '../export/plan.ts';
import { checkMeta } from '../format/read.ts';
import { LIMITS, outputChannelAxis, product, type ActivationName, type ImportSource, type ModelMeta } from '../format/spec.ts';
import { floatAttribute, intAttribute } from './onnx-attributes.ts';
import { convGeometryOf, tfPadding } from './onnx-conv.ts';
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

/** One of the chain's activations: its ONNX per-sample shape, and where the runtime keeps its values. */
interface Activation {
  kind: 'activation';
  tensor: string;
  /** The ONNX shape without the batch axis. */
  shape: number[];
  order: Order;
  /** The per-sample shape the runtime's layers see. */
  stored: number[];
}

type Value =
  | { kind: 'constant'; constant: Constant }
  | Activation
  | { kind: 'label'; tensor: string; size: number }
  | { kind: 'unavailable'; why: string };

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
  const { outShape, source } = importer.finish(options.outputLayout ?? (hint ? 'NHWC' : undefined));
  const meta = importedMeta(hint, options.meta, source);
  return writeDecoder({ name: `ONNX graph "${graph.name}"`, latent, label, plan: importer.plan, outShape }, { ...options, meta });
}

// ---- operators ----

type Handler = (importer: Importer, node: OnnxNode, inputs: (Value | undefined)[]) => void;

/** Operators on the chain's activation (or, for Concat, joining the label). */
const ACTIVATION_OPS: Record<string, Handler> = {
  Gemm: (i, node, inputs) => i.gemm(node, inputs),
  MatMul: (i, node, inputs) => i.matMul(node, inputs),
  Add: (i, node, inputs) => i.add(node, inputs),
  BatchNormalization: (i, node, inputs) => i.batchNormalization(node, inputs),
  Conv: (i, node, inputs) => i.conv(node, inputs, false),
  ConvTranspose: (i, node, inputs) => i.conv(node, inputs, true),
  Relu: (i, node, inputs) => i.activation(node, inputs, 'relu'),
  LeakyRelu: (i, node, inputs) => i.activation(node, inputs, 'leakyRelu', floatAttribute(node, 'alpha', 0.01)),
  Sigmoid: (i, node, inputs) => i.activation(node, inputs, 'sigmoid'),
  Tanh: (i, node, inputs) => i.activation(node, inputs, 'tanh'),
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

export const SUPPORTED_OPERATORS = [...new Set([...Object.keys(ACTIVATION_OPS), ...Object.keys(CONSTANT_FOLDS)])].sort();

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
function chooseInputs(graph: OnnxGraph, options: ExportOptions): { latent: ModelInput; label: ModelInput | null } {
  const { inputs } = graph;
  const names = inputs.map((i) => i.name);
  checkInputNames(names, options);
  if (inputs.length === 0) throw new UnsupportedError('the ONNX graph has no inputs: a decoder reads a latent vector');
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

function latentOf(input: GraphInput): ModelInput {
  const size = product(perSample(input, 'latent'));
  if (size > LIMITS.latent) throw new UnsupportedError(`the latent input ${describeInput(input)} has ${size} values, over the limit of ${LIMITS.latent}`);
  return { name: input.name, size };
}

function labelOf(input: GraphInput): ModelInput {
  const shape = perSample(input, 'label');
  if (shape.length !== 1) throw new UnsupportedError(`the label input ${describeInput(input)} must be a flat one-hot vector [N, classes]`);
  if (shape[0] > LIMITS.classes) throw new UnsupportedError(`the label input ${describeInput(input)} has over ${LIMITS.classes} classes`);
  return { name: input.name, size: shape[0] };
}

// ---- the walk ----

const CHAIN_RULE = 'edgevae runs a chain: one path from the latent input to the output, which a one-hot label may join once through a Concat';

class Importer {
  readonly plan: PlannedLayer[] = [];
  private readonly values = new Map<string, Value>();
  private head: Activation;
  /** Dense layers that read a flat input: their output columns can be put in any order. */
  private readonly flatDense = new Set<PlannedLayer>();
  private labelJoined = false;
  /** The batch size, when the graph fixes it (a Reshape may then spell it out). */
  private readonly batchSize: number | null;

  private readonly graph: OnnxGraph;
  private readonly label: ModelInput | null;

  constructor(graph: OnnxGraph, latent: ModelInput, label: ModelInput | null) {
    this.graph = graph;
    this.label = label;
    const latentInput = graph.inputs.find((i) => i.name === latent.name)!;
    const shape = latentInput.dims.slice(1) as number[];
    this.head = { kind: 'activation', tensor: latent.name, shape, order: null, stored: [latent.size] };
    this.values.set(latent.name, this.head);
    if (label) this.values.set(label.name, { kind: 'label', tensor: label.name, size: label.size });
    this.batchSize = typeof latentInput.dims[0] === 'number' ? latentInput.dims[0] : null;
  }

  walk(): void {
    for (const node of this.graph.nodes) this.step(node);
  }

  private step(node: OnnxNode): void {
    const inputs = node.inputs.map((name) => (name === '' ? undefined : this.read(name, node)));
    const fold = CONSTANT_FOLDS[node.opType];
    if (fold && inputs.every((v) => v === undefined || v.kind === 'constant')) {
      const constant = fold(node, inputs.map((v) => (v as { constant: Constant } | undefined)?.constant), this.graph.opset);
      this.define(node, { kind: 'constant', constant });
      return;
    }
    const handler = ACTIVATION_OPS[node.opType];
    if (!handler) throw new UnsupportedError(`${node.label} reads an activation; edgevae folds ${node.opType} only when all its inputs are constants`);
    handler(this, node, inputs);
  }

  /** A tensor's value; initializers are decoded when first read, so unused ones cannot fail the import. */
  private read(name: string, node: OnnxNode): Value {
    if (!this.values.has(name)) this.values.set(name, { kind: 'constant', constant: constantFromProto(this.graph.initializers.get(name)!, `initializer "${name}"`) });
    const value = this.values.get(name)!;
    if (value.kind === 'unavailable') throw new UnsupportedError(`${node.label} reads "${name}", ${value.why}`);
    return value;
  }

  /** Sets the node's first output; any other output (a Dropout mask, BatchNormalization statistics) is not computed. */
  private define(node: OnnxNode, value: Value): void {
    node.outputs.forEach((output, i) => {
      if (output === '') return;
      this.values.set(output, i === 0 ? value : { kind: 'unavailable', why: `output ${i} of ${node.label}, which edgevae does not compute (it runs the model for inference)` });
    });
  }

  /** The next activation of the chain, written by `node`. */
  private advance(node: OnnxNode, next: Omit<Activation, 'kind' | 'tensor'>): void {
    checkElements(node, next.shape);
    this.head = { ...next, kind: 'activation', tensor: node.outputs[0] };
    this.define(node, this.head);
  }

  /** The chain's current activation, which `value` must be: anything else would be a branch. */
  private take(node: OnnxNode, value: Value | undefined, what = 'input'): Activation {
    if (value === undefined) throw new FormatError(`${node.label} lacks its ${what}`);
    if (value.kind === 'label') {
      throw new UnsupportedError(`the label input "${value.tensor}" feeds ${node.label}; ${CHAIN_RULE}`);
    }
    if (value.kind !== 'activation') throw new UnsupportedError(`${node.label} has a constant ${what} where edgevae expects the activation`);
    if (value !== this.head) throw new UnsupportedError(`${node.label} reads "${value.tensor}", an activation that already fed another node; ${CHAIN_RULE}`);
    return value;
  }

  private constant(node: OnnxNode, value: Value | undefined, what: string, rank?: number): Constant & { type: 'float' } {
    if (value === undefined) throw new FormatError(`${node.label} lacks its ${what}`);
    if (value.kind !== 'constant') throw new UnsupportedError(`${node.label}: its ${what} "${(value as { tensor?: string }).tensor}" is computed at run time; edgevae needs it to be a constant (an initializer)`);
    const c = value.constant;
    if (c.type !== 'float') throw new FormatError(`${node.label}: its ${what} must be a float tensor`);
    if (rank !== undefined && c.dims.length !== rank) throw new FormatError(`${node.label}: its ${what} has shape [${c.dims.join(', ')}], expected rank ${rank}`);
    return c;
  }

  // ---- layers with weights ----

  gemm(node: OnnxNode, [a, b, c]: (Value | undefined)[]): void {
    const input = this.take(node, a);
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
    const input = this.take(node, a, 'input A');
    const weights = this.constant(node, b, 'B', 2);
    const m = weights.dims[1];
    this.dense(node, input, { kernel: Float32Array.from(weights.data), kernelShape: [...weights.dims], bias: new Float32Array(m) });
  }

  /** A dense layer over the input's last axis; a flat input's stored order is absorbed into the kernel's rows. */
  private dense(node: OnnxNode, input: Activation, weights: Weights): void {
    const [k, m] = weights.kernelShape;
    checkInner(node, input, k, m);
    const layer: PlannedWeighted = { name: node.name, spec: { type: 'dense', units: m, activation: 'linear' }, weights };
    if (input.shape.length === 1) {
      this.store(input, [k]);
      if (input.order) weights.kernel = permuteRows(weights.kernel, input.order, m);
      this.plan.push(layer);
      this.flatDense.add(layer);
      this.advance(node, { shape: [m], order: null, stored: [m] });
      return;
    }
    const rows = rowsOf(input.order, k);
    if (input.order && !rows) {
      throw new UnsupportedError(`${node.label} multiplies over the last axis of [${input.shape.join(', ')}], which the runtime holds in another order (channels-last) and cannot transpose`);
    }
    // The runtime's dense reads contiguous rows of k values: the stored shape must end in k.
    if (input.stored.at(-1) !== k) this.store(input, input.order ? [rows!.length, k] : input.shape);
    this.plan.push(layer);
    const shape = checkElements(node, [...input.shape.slice(0, -1), m]);
    this.advance(node, { shape, order: orderFromRows(rows, m), stored: [...input.stored.slice(0, -1), m] });
  }

  conv(node: OnnxNode, [x, w, b]: (Value | undefined)[], transposed: boolean): void {
    const input = this.take(node, x, 'input X');
    if (input.shape.length !== 3) throw new UnsupportedError(`${node.label} convolves [N, ${input.shape.join(', ')}]; edgevae runs 2-D convolutions of [N, C, H, W]`);
    const weights = this.constant(node, w, 'weights W', 4);
    const g = convGeometryOf(node, input.shape, weights.dims, transposed);
    const padding = tfPadding(node, g);
    const kernel = permuteKernel(weights);
    const bias = b === undefined ? new Float32Array(g.OC) : Float32Array.from(this.constant(node, b, 'bias B', 1).data);
    if (bias.length !== g.OC) throw new FormatError(`${node.label} has ${bias.length} biases for ${g.OC} output channels`);
    this.relayout(input, channelsLastOrder(input.shape), [g.H, g.W, g.C], `${node.label} reads "${input.tensor}" as channels-last [H, W, C]`);
    this.plan.push({
      name: node.name,
      spec: { type: transposed ? 'conv2dTranspose' : 'conv2d', filters: g.OC, kernelSize: [g.kh, g.kw], strides: [g.sh, g.sw], padding, activation: 'linear' },
      weights: { kernel: kernel.data, kernelShape: kernel.dims, bias },
    });
    const shape = checkElements(node, [g.OC, g.OH, g.OW]);
    this.advance(node, { shape, order: channelsLastOrder(shape), stored: [g.OH, g.OW, g.OC] });
  }

  // ---- folded into the layer before ----

  add(node: OnnxNode, inputs: (Value | undefined)[]): void {
    const index = Math.max(inputs.findIndex((v) => v?.kind !== 'constant'), 0);
    const input = this.take(node, inputs[index]);
    const other = this.constant(node, inputs[1 - index], 'other operand');
    this.foldAffine(node, input, () => 1, broadcaster(node, other, input.shape, 'the added constant'));
  }

  batchNormalization(node: OnnxNode, [x, ...statistics]: (Value | undefined)[]): void {
    const input = this.take(node, x, 'input X');
    if (intAttribute(node, 'training_mode', 0) !== 0) throw new UnsupportedError(`${node.label} runs in training mode; export the model in eval mode`);
    if (this.graph.opset < 9 && intAttribute(node, 'spatial', 1) !== 1) throw new UnsupportedError(`${node.label} normalizes per position (spatial = 0)`);
    const channels = input.shape[0];
    const [gamma, beta, mean, variance] = ['scale', 'B', 'input_mean', 'input_var'].map((what, i) => {
      const c = this.constant(node, statistics[i], what, 1);
      if (c.data.length !== channels) throw new FormatError(`${node.label}: ${what} has ${c.data.length} values for ${channels} channels`);
      return c.data;
    });
    const { scale, shift } = batchNormScaleShift({ gamma, beta, mean, variance }, floatAttribute(node, 'epsilon', 1e-5));
    // The channel is the first per-sample axis (ONNX axis 1).
    const inner = product(input.shape.slice(1));
    this.foldAffine(node, input, (o) => scale[Math.floor(o / inner)], (o) => shift[Math.floor(o / inner)]);
  }

  /**
   * y = x * scale + shift, with scale and shift given per ONNX index of x, folded into the weights of the
   * layer that wrote x. Exact only if that layer is linear and the values are the same within each of
   * its output channels.
   */
  private foldAffine(node: OnnxNode, input: Activation, scaleAt: (o: number) => number, shiftAt: (o: number) => number): void {
    const last = this.plan.at(-1);
    if (!last?.weights || last.spec.activation !== 'linear') {
      const after = !last ? 'the model input' : last.weights ? `the ${last.spec.activation} activation of ${last.name}` : `${last.spec.type} ${last.name}`;
      throw new UnsupportedError(`${node.label} follows ${after}; edgevae folds it only into a linear Gemm, MatMul, Conv or ConvTranspose directly before it`);
    }
    const channels = outputsOf(last);
    const scale = new Float64Array(channels).fill(NaN);
    const shift = new Float64Array(channels).fill(NaN);
    const size = product(input.shape);
    for (let j = 0; j < size; j++) {
      const c = j % channels;
      const o = input.order ? input.order[j] : j;
      if (Number.isNaN(scale[c])) [scale[c], shift[c]] = [scaleAt(o), shiftAt(o)];
      else if (scale[c] !== scaleAt(o) || shift[c] !== shiftAt(o)) {
        throw new UnsupportedError(`${node.label} applies values that vary within an output channel of ${last.name}; edgevae folds only per-channel constants`);
      }
    }
    scaleOutputChannels(last.weights, outputChannelAxis(last.spec.type), scale, shift);
    this.advance(node, input);
  }

  activation(node: OnnxNode, [x]: (Value | undefined)[], activation: ActivationName, alpha?: number): void {
    const input = this.take(node, x);
    applyActivation(this.plan, alpha === undefined ? { activation } : { activation, alpha }, node.name);
    this.advance(node, input);
  }

  // ---- relabelling ----

  reshape(node: OnnxNode, [data, shape]: (Value | undefined)[]): void {
    const input = this.take(node, data, 'data');
    if (shape?.kind !== 'constant' || shape.constant.type !== 'int') throw new UnsupportedError(`${node.label} computes its target shape at run time; edgevae needs a constant shape`);
    const [first, ...rest] = Array.from(shape.constant.data);
    const allowZero = intAttribute(node, 'allowzero', 0) === 1;
    const keepsBatch = isBatch(first) || first === -1 || (first === 0 && !allowZero) || first === this.batchSize;
    if (first === undefined || !keepsBatch) {
      throw new UnsupportedError(`${node.label} reshapes to [${formatDims(shape.constant.data)}]: its first axis must stay the batch (-1, 0 or the batch size)`);
    }
    if (rest.some(isBatch)) throw new UnsupportedError(`${node.label} moves the batch size into another axis`);
    if (first === -1 && rest.includes(-1)) throw new FormatError(`${node.label} reshapes to [${formatDims(shape.constant.data)}], with more than one -1`);
    this.advance(node, { ...input, shape: reshapedDims(node, input.shape, rest, allowZero) });
  }

  flatten(node: OnnxNode, [data]: (Value | undefined)[]): void {
    const input = this.take(node, data);
    const rank = input.shape.length + 1;
    const axis = intAttribute(node, 'axis', 1);
    if ((axis < 0 ? axis + rank : axis) !== 1) throw new UnsupportedError(`${node.label} flattens at axis ${axis}; edgevae keeps the batch axis apart (axis 1)`);
    this.advance(node, { ...input, shape: [product(input.shape)] });
  }

  transpose(node: OnnxNode, [data]: (Value | undefined)[]): void {
    const input = this.take(node, data);
    const perm = transposePerm(node, input.shape.length + 1);
    if (perm[0] !== 0) throw new UnsupportedError(`${node.label} moves the batch axis (perm [${perm.join(', ')}])`);
    const samplePerm = perm.slice(1).map((p) => p - 1);
    this.advance(node, { ...input, shape: samplePerm.map((p) => input.shape[p]), order: transposedOrder(input.order, input.shape, samplePerm) });
  }

  /** Squeeze and Unsqueeze of an activation: a reshape that must leave the batch axis alone. */
  squeeze(node: OnnxNode, inputs: (Value | undefined)[], unsqueeze: boolean): void {
    const input = this.take(node, inputs[0]);
    const axesInput = inputs[1];
    if (axesInput !== undefined && axesInput.kind !== 'constant') throw new UnsupportedError(`${node.label} computes its axes at run time`);
    const axes = axesOf(node, [undefined, axesInput?.constant], this.graph.opset);
    // A batch placeholder of 2 (not 1), so that squeezing "all size-1 axes" never takes it.
    const full = [2, ...input.shape];
    const dims = unsqueeze ? unsqueezedDims(node, full, axes) : squeezedDims(node, full, axes);
    if (dims[0] !== 2 || (unsqueeze && axes!.some((a) => normalizeAxis(node, a, dims.length) === 0))) {
      throw new UnsupportedError(`${node.label} ${unsqueeze ? 'inserts an axis before' : 'removes'} the batch axis`);
    }
    this.advance(node, { ...input, shape: dims.slice(1) });
  }

  passThrough(node: OnnxNode, [data]: (Value | undefined)[]): void {
    if (data?.kind === 'label') return this.define(node, data);
    this.advance(node, this.take(node, data));
  }

  dropout(node: OnnxNode, [data, , training]: (Value | undefined)[]): void {
    const inTraining = training !== undefined && (training.kind !== 'constant' || training.constant.data.some((v) => v !== 0));
    if (inTraining) throw new UnsupportedError(`${node.label} may run in training mode; export the model in eval mode`);
    this.advance(node, this.take(node, data));
  }

  cast(node: OnnxNode, [data]: (Value | undefined)[]): void {
    const to = intAttribute(node, 'to', 0);
    if (to !== FLOAT_TYPE) throw new UnsupportedError(`${node.label} casts the activation to type ${to}; edgevae computes in float`);
    this.passThrough(node, [data]);
  }

  shape(node: OnnxNode, [data]: (Value | undefined)[]): void {
    if (data?.kind !== 'activation') throw new UnsupportedError(`${node.label} reads the shape of the label input`);
    this.define(node, { kind: 'constant', constant: shapeOf(node, [BATCH, ...data.shape]) });
  }

  /** The one Concat that joins the one-hot label to a flat activation. */
  concat(node: OnnxNode, inputs: (Value | undefined)[]): void {
    const operands = inputs.filter((v): v is Value => v !== undefined);
    const labelAt = operands.findIndex((v) => v.kind === 'label');
    if (operands.length !== 2 || labelAt < 0) {
      const kinds = operands.map((v) => (v.kind === 'activation' ? `activation "${v.tensor}"` : v.kind)).join(', ');
      throw new UnsupportedError(`${node.label} joins ${kinds}; edgevae joins only the one-hot label input to the activation. ${CHAIN_RULE}`);
    }
    const input = this.take(node, operands[1 - labelAt]);
    const axis = intAttribute(node, 'axis', NaN);
    if (input.shape.length !== 1) throw new UnsupportedError(`${node.label} joins the label to an activation of shape [N, ${input.shape.join(', ')}]; flatten it first`);
    if (axis !== 1 && axis !== -1) throw new UnsupportedError(`${node.label} joins along axis ${axis}; edgevae joins the label along the features (axis 1)`);
    if (this.labelJoined) throw new UnsupportedError(`${node.label} joins the label a second time; ${CHAIN_RULE}`);
    this.labelJoined = true;
    const size = input.shape[0];
    const classes = this.label!.size;
    this.store(input, [size]);
    this.plan.push({ name: node.name, spec: { type: 'concatenate', labelFirst: labelAt === 0 } });
    this.advance(node, { shape: [size + classes], order: concatenatedOrder(input.order, size, classes, labelAt === 0), stored: [size + classes] });
  }

  // ---- layout ----

  /** Makes the runtime's layers see `input` with the per-sample `shape`, by a reshape (or flatten) layer if needed. */
  private store(input: Activation, shape: number[]): void {
    if (sameDims(input.stored, shape)) return;
    if (shape.length > 3) throw new UnsupportedError(`"${input.tensor}" has shape [N, ${shape.join(', ')}]; the runtime handles at most [h, w, c] per sample`);
    this.plan.push({ name: input.tensor, spec: shape.length === 1 ? { type: 'flatten' } : { type: 'reshape', shape } });
    input.stored = shape;
  }

  /**
   * Gets `input` stored in `order` (then with `shape`): free when it already is, else by permuting the
   * output columns of the dense layer that wrote it, with nothing but activations and reshapes since.
   */
  private relayout(input: Activation, order: Order, shape: number[], why: string): void {
    if (!sameOrder(input.order, order)) {
      const dense = this.reorderableDense();
      if (!dense) {
        throw new UnsupportedError(
          `${why}, but the runtime holds it in another order and has no transpose; edgevae can reorder only the outputs of a Gemm/MatMul on a flat input before it`,
        );
      }
      permuteColumns(dense.weights, columnsFor(input.order, order, product(input.shape)));
      input.order = order;
    }
    this.store(input, shape);
  }

  private reorderableDense(): PlannedWeighted | null {
    for (let i = this.plan.length - 1; i >= 0; i--) {
      const layer = this.plan[i];
      if (layer.spec.type === 'activation' || layer.spec.type === 'reshape' || layer.spec.type === 'flatten') continue;
      return this.flatDense.has(layer) ? (layer as PlannedWeighted) : null;
    }
    return null;
  }

  /** The ONNX per-sample shape of the graph's output, once walked. */
  outputShape(): number[] {
    const output = this.values.get(this.graph.output);
    if (output?.kind !== 'activation') {
      const why = output?.kind === 'label' ? 'is the label input' : 'does not depend on the latent input';
      throw new UnsupportedError(`the graph output "${this.graph.output}" ${why}`);
    }
    if (output !== this.head) throw new UnsupportedError(`the graph output "${this.graph.output}" is not the end of the chain; ${CHAIN_RULE}`);
    return output.shape;
  }

  /** Lays the output out as the runtime returns it: images NHWC, everything else in the graph's order. */
  finish(layout: OutputLayout | undefined): { outShape: number[]; source: ImportSource } {
    const output = this.head;
    const shape = this.outputShape();
    if (this.label && !this.labelJoined) throw new UnsupportedError(`the label input "${this.label.name}" does not reach the output; ${CHAIN_RULE}`);
    if (shape.length > 3) throw new UnsupportedError(`the graph output "${output.tensor}" has shape [N, ${shape.join(', ')}]; edgevae outputs at most [h, w, c] per sample`);
    const source: ImportSource = { format: 'onnx', output: { name: this.graph.output, shape } };
    const why = `the graph output "${output.tensor}" must come out`;
    if (shape.length === 3) {
      source.layout = layout ?? this.naturalLayout(output);
      if (source.layout === 'NCHW') this.relayout(output, channelsLastOrder(shape), [shape[1], shape[2], shape[0]], `${why} as NHWC [h, w, c]`);
      else this.relayout(output, null, shape, `${why} in its own order`);
    } else {
      this.relayout(output, null, shape, `${why} in its own order`);
    }
    // The format needs a layer; a graph that passes its input through gets a linear activation.
    if (this.plan.length === 0) this.plan.push({ name: output.tensor, spec: { type: 'activation', activation: 'linear' } });
    return { outShape: output.stored, source };
  }

  /** NCHW unless the values are held in the graph's own order and no dense layer could reorder them. */
  private naturalLayout(output: Activation): OutputLayout {
    if (sameOrder(output.order, channelsLastOrder(output.shape))) return 'NCHW';
    return output.order === null && !this.reorderableDense() ? 'NHWC' : 'NCHW';
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

/** ONNX Conv weights [out, in, kh, kw] and ConvTranspose [in, out, kh, kw] to TensorFlow.js [kh, kw, in, out] / [kh, kw, out, in]. */
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
