/**
 * Turns a TensorFlow.js model's graph (graph.ts) into the format's nodes, with f32 weights still in
 * hand: training-only layers vanish, BatchNormalization is folded into the linear Dense or Conv before
 * it (else it becomes an affine node), and activations are fused into the node before them where that
 * node's value is read by nothing else and its kind can apply them. Nodes are named after the Keras
 * layers they come from.
 */
import { UnsupportedError } from '../errors.ts';
import type { PlannedNode, PlannedTensor } from '../convert/encode.ts';
import { batchNormScaleShift, scaleOutputChannels, type Weights } from '../convert/planned.ts';
import { FUSED_ACTIVATIONS, outputChannelAxis, product, type ActivationName, type WeightedType } from '../format/spec.ts';
import type { GraphLink, KerasGraph, Layer } from './graph.ts';

/** Layers that only act during training; at inference they are the identity, so they are dropped. */
/** The layers a ZeroPadding2D may feed: its pads fold into theirs. */
const PADDED_CONVS = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);

const TRAINING_ONLY = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);

const SUPPORTED_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv2D',
  'Conv2DTranspose',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'UpSampling2D',
  'ZeroPadding2D (into the conv it feeds)',
  'Cropping2D (of a valid Conv2DTranspose)',
  'Reshape',
  'Flatten',
  'Permute',
  'Concatenate (along the last axis)',
  'Add',
  'Multiply',
  'Average',
  'Activation',
  'LeakyReLU',
  'ReLU',
  'ELU',
  'BatchNormalization',
  'LayerNormalization (last axis)',
  ...TRAINING_ONLY,
].join(', ');

/** Keras activation names and what they are in the format. */
const ACTIVATIONS: Record<string, { activation: ActivationName; alpha?: number; min?: number; max?: number }> = {
  linear: { activation: 'linear' },
  relu: { activation: 'relu' },
  sigmoid: { activation: 'sigmoid' },
  tanh: { activation: 'tanh' },
  elu: { activation: 'elu', alpha: 1 },
  softplus: { activation: 'softplus' },
  swish: { activation: 'silu' },
  gelu: { activation: 'geluErf' },
  gelu_new: { activation: 'geluTanh' },
  relu6: { activation: 'clip', min: 0, max: 6 },
};

/** An activation with its parameters, as a node carries it. */
type Fused = (typeof ACTIVATIONS)[string];

/** Kinds whose kernels apply any activation after their own work, and those that apply only what a GEMM's epilogue does. */
const FUSES_ANY = new Set(['binary', 'affine']);
const FUSES_GEMM = new Set(['dense', 'conv2d', 'conv2dTranspose', 'layerNorm']);

type Config = Record<string, unknown>;
const configOf = (link: GraphLink) => link.layer.getConfig() as Config;
const describeLink = (link: GraphLink) => `layer "${link.layer.name}" (${link.className})`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Plans the graph's nodes; `output` is the planned value the model's output became. */
export function planGraph(graph: KerasGraph): { nodes: PlannedNode[]; output: string } {
  const planner = new Planner(graph);
  for (const link of graph.links) planner.step(link);
  return { nodes: planner.nodes, output: planner.value(graph.output) };
}

class Planner {
  readonly nodes: PlannedNode[] = [];
  /** The planned value each Keras value became (itself, or the value of the node it was fused or folded into). */
  private readonly aliases = new Map<string, string>();
  /** How many Keras layer calls (and the model output) read each planned value. */
  private readonly readers = new Map<string, number>();
  private readonly producers = new Map<string, PlannedNode>();
  private readonly names = new Set<string>();
  private readonly kerasReaders = new Map<string, number>();
  private readonly label: string | null;

  constructor(graph: KerasGraph) {
    this.label = graph.label?.name ?? null;
    for (const input of [graph.latent, graph.label]) {
      if (!input) continue;
      this.names.add(input.name);
      this.aliases.set(input.name, input.name);
    }
    for (const link of graph.links) for (const input of link.inputs) this.kerasReaders.set(input, (this.kerasReaders.get(input) ?? 0) + 1);
    this.kerasReaders.set(graph.output, (this.kerasReaders.get(graph.output) ?? 0) + 1);
    for (const input of [graph.latent, graph.label]) if (input) this.readers.set(input.name, this.kerasReaders.get(input.name) ?? 0);
  }

  /** ZeroPadding2D values, by Keras value: their pads [top, left, bottom, right], folded into the convs that read them. */
  private readonly padded = new Map<string, { layer: string; pads: [number, number, number, number] }>();

  /** The planned value a Keras value became; a ZeroPadding2D's only a conv may read (it folds the pads). */
  value(kerasValue: string, reader?: GraphLink): string {
    const pad = this.padded.get(kerasValue);
    if (pad && !(reader && PADDED_CONVS.has(reader.className))) {
      const who = reader ? describeLink(reader) : 'the model output';
      throw new UnsupportedError(`layer "${pad.layer}" (ZeroPadding2D) feeds ${who}; edgevae folds zero padding only into the Conv2D, DepthwiseConv2D or SeparableConv2D it feeds`);
    }
    return this.aliases.get(kerasValue)!;
  }

  /** The pads a conv reading `kerasValue` folds in (a ZeroPadding2D's), if any. */
  padsOf(kerasValue: string): [number, number, number, number] | undefined {
    return this.padded.get(kerasValue)?.pads;
  }

  step(link: GraphLink): void {
    switch (link.className) {
      case 'Dense':
        return this.weighted(link, planDense(link));
      case 'Conv2D':
      case 'Conv2DTranspose':
      case 'DepthwiseConv2D':
        return this.weighted(link, planConv(link, this.padsOf(link.inputs[0])));
      case 'SeparableConv2D':
        return this.separable(link);
      case 'ZeroPadding2D':
        return this.zeroPadding(link);
      case 'Cropping2D':
        return this.cropping(link);
      case 'Reshape':
        return this.emitFor(link, { type: 'reshape', shape: reshapeTarget(link) });
      case 'Flatten':
        return this.emitFor(link, planFlatten(link));
      case 'Permute':
        return this.emitFor(link, { type: 'transpose', perm: permutation(link) });
      case 'UpSampling2D':
        return this.emitFor(link, planUpSampling(link));
      case 'Concatenate':
        return this.concatenate(link);
      case 'Add':
      case 'Multiply':
      case 'Average':
        return this.merge(link);
      case 'Activation':
        return this.activation(link, namedActivation(link, configOf(link).activation));
      case 'LeakyReLU':
        return this.activation(link, { activation: 'leakyRelu', alpha: numberOf(link, 'alpha', 0.3) });
      case 'ELU':
        return this.activation(link, { activation: 'elu', alpha: numberOf(link, 'alpha', 1) });
      case 'ReLU': {
        const { maxValue } = configOf(link);
        return this.activation(link, maxValue === undefined || maxValue === null ? { activation: 'relu' } : { activation: 'clip', min: 0, max: numberOf(link, 'maxValue', 0) });
      }
      case 'BatchNormalization':
        return this.batchNorm(link);
      case 'LayerNormalization':
        return this.layerNorm(link);
      default:
        if (!TRAINING_ONLY.has(link.className)) throw unsupportedLayer(link);
        this.alias(link, this.value(link.inputs[0], link));
    }
  }

  /** A unique node name: the layer's own where it is free. */
  private unique(name: string): string {
    let candidate = name;
    for (let k = 1; this.names.has(candidate); k++) candidate = `${name}_${k}`;
    this.names.add(candidate);
    return candidate;
  }

  /** Adds a node reading planned values; returns it. Its readers are set by `alias`, or are the one node after it. */
  private emit(name: string, inputs: string[], spec: PlannedNode['spec'], extra: Pick<PlannedNode, 'weights' | 'tensors'> = {}): PlannedNode {
    const node: PlannedNode = { name: this.unique(name), inputs, spec, ...extra };
    this.nodes.push(node);
    this.producers.set(node.name, node);
    this.readers.set(node.name, 1);
    return node;
  }

  /** The Keras value `link` writes is the planned `value` (which `link` itself read once, if it was an input). */
  private alias(link: GraphLink, value: string, readOfValue = true) {
    this.aliases.set(link.name, value);
    const others = readOfValue ? (this.readers.get(value) ?? 0) - 1 : 0;
    this.readers.set(value, others + (this.kerasReaders.get(link.name) ?? 0));
  }

  /** One node for the layer call, reading its inputs; the call's value is the node's. */
  private emitFor(link: GraphLink, spec: PlannedNode['spec'], extra: Pick<PlannedNode, 'weights' | 'tensors'> = {}): void {
    const node = this.emit(link.name, link.inputs.map((v) => this.value(v, link)), spec, extra);
    this.alias(link, node.name, false);
  }

  /** A dense or conv node; an activation its GEMM cannot apply follows as a node of its own. */
  private weighted(link: GraphLink, planned: { spec: PlannedNode['spec']; weights: Weights; after?: Fused }) {
    this.emitFor(link, planned.spec, { weights: planned.weights });
    if (planned.after) this.activation(link, planned.after, true);
  }

  /** SeparableConv2D: a depthwise conv without bias, then the pointwise 1x1 conv with the bias and activation. */
  private separable(link: GraphLink) {
    const { depthwise, pointwise, after } = planSeparable(link, this.padsOf(link.inputs[0]));
    const first = this.emit(`${link.name}_depthwise`, [this.value(link.inputs[0], link)], depthwise.spec, { weights: depthwise.weights });
    const second = this.emit(link.name, [first.name], pointwise.spec, { weights: pointwise.weights });
    this.alias(link, second.name, false);
    if (after) this.activation(link, after, true);
  }

  /**
   * Applies an activation to what `link` reads (or, with `own`, to what `link` wrote): fused into the
   * node that wrote it where nothing else reads that value and the node's kind applies it; else a node.
   */
  private activation(link: GraphLink, fused: Fused, own = false) {
    const source = own ? this.value(link.name) : this.value(link.inputs[0], link);
    const producer = this.producers.get(source);
    if (fused.activation === 'linear') {
      if (!own) this.alias(link, source);
      return;
    }
    const fusable =
      !own &&
      producer !== undefined &&
      this.readers.get(source) === 1 &&
      (producer.spec.activation ?? 'linear') === 'linear' &&
      (FUSES_ANY.has(producer.spec.type) || (FUSES_GEMM.has(producer.spec.type) && FUSED_ACTIVATIONS.includes(fused.activation)));
    if (fusable) {
      Object.assign(producer.spec, fused);
      this.alias(link, source);
      return;
    }
    const node = this.emit(own ? `${link.name}_activation` : link.name, [source], { type: 'activation', ...fused });
    if (own) {
      // The layer's value is now the activation's; whatever read the layer reads it.
      this.aliases.set(link.name, node.name);
      this.readers.set(node.name, this.readers.get(source) ?? 0);
      this.readers.set(source, 1);
    } else {
      this.alias(link, node.name, false);
    }
  }

  /** BatchNormalization: folded into a linear dense or conv node nothing else reads, else a per-channel affine node. */
  private batchNorm(link: GraphLink) {
    checkChannelAxis(link);
    const inShape = link.inShapes[0];
    const channels = inShape[inShape.length - 1];
    const { scale, shift } = batchNormAffine(link, channels);
    const source = this.value(link.inputs[0], link);
    const producer = this.producers.get(source);
    if (producer?.weights && producer.spec.activation === 'linear' && this.readers.get(source) === 1) {
      scaleOutputChannels(producer.weights, outputChannelAxis(producer.spec.type as WeightedType), scale, shift);
      this.alias(link, source);
      return;
    }
    const tensors = { multiplier: vector(scale), offset: vector(shift) };
    this.emitFor(link, { type: 'affine', activation: 'linear' }, { tensors });
  }

  private layerNorm(link: GraphLink) {
    const config = configOf(link);
    const rank = link.inShapes[0].length + 1;
    const axes = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
    if (axes.length !== 1 || !(axes[0] === -1 || axes[0] === rank - 1)) {
      throw new UnsupportedError(`${describeLink(link)} normalizes axis ${JSON.stringify(config.axis)}; edgevae normalizes over the last (channel) axis only`);
    }
    const channels = link.inShapes[0][link.inShapes[0].length - 1];
    const weights = weightsByName(link.layer);
    const pick = (name: string, fallback: number): PlannedTensor => {
      const w = weights.get(name);
      return { data: w ? w.values : new Float32Array(channels).fill(fallback), shape: [channels] };
    };
    const epsilon = typeof config.epsilon === 'number' ? config.epsilon : 1e-3;
    this.emitFor(link, { type: 'layerNorm', epsilon, activation: 'linear' }, { tensors: { gamma: pick('gamma', 1), beta: pick('beta', 0) } });
  }

  /** ZeroPadding2D: no node; the convs that read it take its pads into their own (explicit) padding. */
  private zeroPadding(link: GraphLink) {
    checkChannelsLast(link);
    const [[top, bottom], [left, right]] = pairsOf(configOf(link).padding, 'padding', link);
    this.alias(link, this.value(link.inputs[0], link));
    this.padded.set(link.name, { layer: link.layer.name, pads: [top, left, bottom, right] });
  }

  /**
   * Cropping2D after a 'valid' Conv2DTranspose that nothing else reads: the transposed conv with
   * explicit pads (PyTorch's crop of the full output). 'valid' gives the full output, extended by
   * max(s - k, 0) bias-only rows, which output padding adds back where the crop leaves them.
   */
  private cropping(link: GraphLink) {
    checkChannelsLast(link);
    const [[top, bottom], [left, right]] = pairsOf(configOf(link).cropping, 'cropping', link);
    const source = this.value(link.inputs[0], link);
    const producer = this.producers.get(source);
    const spec = producer?.spec;
    if (!spec || spec.type !== 'conv2dTranspose' || spec.padding !== 'valid' || this.readers.get(source) !== 1) {
      throw new UnsupportedError(`${describeLink(link)} crops what no 'valid' Conv2DTranspose alone computes; edgevae folds a Cropping2D only into the Conv2DTranspose (padding "valid") before it`);
    }
    const [k, s] = [spec.kernelSize as [number, number], spec.strides as [number, number]];
    const after = [bottom, right].map((crop, a) => crop - Math.max(s[a] - k[a], 0));
    Object.assign(spec, { padding: 'explicit', pads: [top, left, Math.max(after[0], 0), Math.max(after[1], 0)], outputPadding: after.map((v) => Math.max(-v, 0)) });
    this.alias(link, source);
  }

  /** Concatenate: the one-hot label joined to a flat value, or two or more values joined along the last axis, a pair at a time. */
  private concatenate(link: GraphLink) {
    const rank = link.inShapes[0].length + 1;
    const axis = configOf(link).axis ?? -1;
    if (axis !== -1 && axis !== rank - 1) {
      throw new UnsupportedError(`${describeLink(link)} joins along axis ${axis}; edgevae joins values along the last axis only`);
    }
    const labelAt = link.inputs.findIndex((v) => v === this.label);
    if (labelAt >= 0) {
      if (link.inputs.length !== 2) throw new UnsupportedError(`${describeLink(link)} joins the label with ${link.inputs.length - 1} values; edgevae joins the label to one flat value`);
      const other = link.inShapes[1 - labelAt];
      if (other.length !== 1) {
        throw new UnsupportedError(
          `${describeLink(link)} joins the label to an activation of shape [null, ${other.join(', ')}]; the label can only join a flat activation (add a Flatten before it)`,
        );
      }
      return this.emitFor(link, { type: 'concatenate' });
    }
    this.pairwise(link, { type: 'concatenate' });
  }

  /** Add, Multiply, Average: binary nodes between values, a pair at a time (Average then scales by 1/n). */
  private merge(link: GraphLink) {
    const op = link.className === 'Multiply' ? 'mul' : 'add';
    if (link.className !== 'Average') {
      this.pairwise(link, { type: 'binary', op, activation: 'linear' });
      return;
    }
    const sum = this.pairwise(link, { type: 'binary', op, activation: 'linear' }, `${link.name}_sum`);
    const mean = this.emit(link.name, [sum], { type: 'binary', op: 'mul', activation: 'linear' }, { tensors: { constant: { data: Float32Array.of(1 / link.inputs.length), shape: [1] } } });
    this.alias(link, mean.name, false);
  }

  /**
   * Joins n values with n - 1 nodes of two inputs; the last is named after the layer. The larger
   * operand goes first, as a binary node broadcasts its second (an add and a mul commute).
   */
  private pairwise(link: GraphLink, spec: PlannedNode['spec'], lastName = link.name): string {
    let value = this.value(link.inputs[0], link);
    let shape = link.inShapes[0];
    for (let i = 1; i < link.inputs.length; i++) {
      let operands = [value, this.value(link.inputs[i], link)];
      const shapes = [shape, link.inShapes[i]];
      if (spec.type === 'binary' && product(shapes[0]) < product(shapes[1])) operands = [operands[1], operands[0]];
      const last = i === link.inputs.length - 1;
      const node = this.emit(last ? lastName : `${link.name}_${i}`, operands, { ...spec });
      value = node.name;
      shape = spec.type === 'binary' ? (product(shapes[0]) < product(shapes[1]) ? shapes[1] : shapes[0]) : [...shapes[0].slice(0, -1), shapes[0].at(-1)! + shapes[1].at(-1)!];
    }
    if (lastName === link.name) this.alias(link, value, false);
    return value;
  }
}

function unsupportedLayer(link: GraphLink): UnsupportedError {
  const nested = 'layers' in link.layer ? " (a nested model: build the decoder from the inner model's layers directly)" : '';
  return new UnsupportedError(`${describeLink(link)} is not supported by edgevae${nested}; supported: ${SUPPORTED_LAYERS}`);
}

function namedActivation(link: GraphLink, name: unknown): Fused {
  const activation = name ?? 'linear';
  const known = typeof activation === 'string' ? ACTIVATIONS[activation] : undefined;
  if (!known) {
    throw new UnsupportedError(
      `${describeLink(link)} uses activation ${JSON.stringify(activation)}, which edgevae does not support; ` +
        `supported: ${Object.keys(ACTIVATIONS).join(', ')}, and LeakyReLU / ReLU / ELU layers`,
    );
  }
  return { ...known };
}

function numberOf(link: GraphLink, field: string, fallback: number): number {
  const value = configOf(link)[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new UnsupportedError(`${describeLink(link)} has a non-numeric ${field} ${JSON.stringify(value)}`);
  return value;
}

const vector = (values: ArrayLike<number>): PlannedTensor => ({ data: Float32Array.from(values), shape: [values.length] });

// ---- weighted layers ----

/** A layer's weights by their short name ("kernel", "bias", "gamma", ...), copied so folding cannot touch the model. */
function weightsByName(layer: Layer): Map<string, { values: Float32Array; shape: number[] }> {
  const byName = new Map<string, { values: Float32Array; shape: number[] }>();
  for (const variable of layer.weights) {
    const shortName = variable.originalName.split('/').pop()!;
    const tensor = variable.read();
    if (tensor.dtype !== 'float32') {
      throw new UnsupportedError(`layer "${layer.name}" has ${tensor.dtype} weight "${shortName}"; edgevae exports float32 weights`);
    }
    // dataSync() may hand out the backend's own storage; copy it.
    byName.set(shortName, { values: Float32Array.from(tensor.dataSync() as Float32Array), shape: [...tensor.shape] });
  }
  return byName;
}

function kernelAndBias(link: GraphLink, kernelName: string, expectedKernelShape: number[], outputs: number, withBias = true): Weights {
  const weights = weightsByName(link.layer);
  const kernel = weights.get(kernelName);
  if (!kernel) throw new UnsupportedError(`${describeLink(link)} has no ${kernelName} weight (is it built?)`);
  if (!sameShape(kernel.shape, expectedKernelShape)) {
    throw new UnsupportedError(`${describeLink(link)} has a ${kernelName} of shape [${kernel.shape.join(', ')}], expected [${expectedKernelShape.join(', ')}]`);
  }
  const bias = withBias ? weights.get('bias') : undefined;
  // useBias: false is a bias of zeros; the format always stores one, so the runtime has a single code path.
  if (bias && bias.values.length !== outputs) throw new UnsupportedError(`${describeLink(link)} has ${bias.values.length} biases for ${outputs} outputs`);
  return { kernel: kernel.values, kernelShape: kernel.shape, bias: bias?.values ?? new Float32Array(outputs) };
}

/** A Keras activation on a dense or conv layer: fused where the GEMM applies it, else a node after it. */
function splitActivation(link: GraphLink, name: unknown): { activation: ActivationName; alpha?: number; after?: Fused } {
  const fused = namedActivation(link, name);
  return FUSED_ACTIVATIONS.includes(fused.activation) ? { activation: fused.activation } : { activation: 'linear', after: fused };
}

function planDense(link: GraphLink) {
  const config = configOf(link);
  const units = config.units as number;
  const inputs = link.inShapes[0][link.inShapes[0].length - 1];
  const { activation, after } = splitActivation(link, config.activation);
  return { spec: { type: 'dense' as const, units, activation }, weights: kernelAndBias(link, 'kernel', [inputs, units], units), after };
}

/**
 * The fields every conv layer shares: 2-D, channels-last, TensorFlow.js padding. A dilated conv, or
 * one that folds a ZeroPadding2D's `extraPads`, spells its padding out (the format's 'same' and
 * 'valid' are undilated TensorFlow.js padding).
 */
function convGeometry(link: GraphLink, extraPads?: [number, number, number, number]) {
  const config = configOf(link);
  checkChannelsLast(link);
  const padding = config.padding;
  if (padding !== 'same' && padding !== 'valid') throw new UnsupportedError(`${describeLink(link)} uses padding "${padding}"; edgevae supports "same" and "valid"`);
  const inShape = link.inShapes[0];
  if (inShape.length !== 3) throw new UnsupportedError(`${describeLink(link)} receives shape [${inShape.join(', ')}] per sample; expected [height, width, channels]`);
  // Conv2DTranspose leaves dilationRate out of its config because TensorFlow.js ignores it there, and
  // DepthwiseConv2D keeps it but computes without it (TensorFlow.js 4.x): the file computes what predict does.
  const dilation: [number, number] = link.className === 'DepthwiseConv2D' ? [1, 1] : pairOf(config.dilationRate ?? 1, 'dilationRate', link);
  const kernelSize = pairOf(config.kernelSize, 'kernelSize', link);
  const strides = pairOf(config.strides ?? 1, 'strides', link);
  const undilated = dilation[0] === 1 && dilation[1] === 1;
  if (undilated && !extraPads) return { kernelSize, strides, padding: padding as 'same' | 'valid', explicit: {}, inChannels: inShape[2] };
  const own = tfPads(inShape, kernelSize, strides, dilation, padding);
  const pads = own.map((p, i) => p + (extraPads?.[i] ?? 0)) as [number, number, number, number];
  return { kernelSize, strides, padding: 'explicit' as const, explicit: { pads, ...(undilated ? {} : { dilations: dilation }) }, inChannels: inShape[2] };
}

/** TensorFlow.js's padding of a conv, [top, left, bottom, right]: 'same' pads the effective kernel (k - 1) d + 1, an odd pixel after. */
function tfPads(inShape: number[], kernelSize: [number, number], strides: [number, number], dilation: [number, number], padding: 'same' | 'valid'): [number, number, number, number] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const [before, after] = [0, 1].map((a) => {
    const effective = (kernelSize[a] - 1) * dilation[a] + 1;
    const total = Math.max((Math.ceil(inShape[a] / strides[a]) - 1) * strides[a] + effective - inShape[a], 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  }).reduce<number[][]>((acc, [b, e]) => [[...acc[0], b], [...acc[1], e]], [[], []]);
  return [before[0], before[1], after[0], after[1]];
}

/**
 * Conv2D and Conv2DTranspose in TensorFlow.js's kernel layouts (the format's); DepthwiseConv2D as a
 * conv2d with a group per input channel: its kernel [kh, kw, C, m] is, value for value, the format's
 * [kh, kw, 1, C * m] (output channel c * m + j is input channel c's j-th filter in both).
 */
function planConv(link: GraphLink, extraPads?: [number, number, number, number]) {
  const config = configOf(link);
  if (extraPads && link.className === 'Conv2DTranspose') throw new UnsupportedError(`${describeLink(link)} reads a ZeroPadding2D; edgevae folds zero padding only into convs that are not transposed`);
  const { kernelSize, strides, padding, explicit, inChannels } = convGeometry(link, extraPads);
  const { activation, after } = splitActivation(link, config.activation);
  if (link.className === 'DepthwiseConv2D') {
    const multiplier = depthMultiplier(link);
    const filters = inChannels * multiplier;
    const weights = kernelAndBias(link, 'depthwise_kernel', [...kernelSize, inChannels, multiplier], filters);
    weights.kernelShape = [...kernelSize, 1, filters];
    const spec = { type: 'conv2d' as const, filters, kernelSize, strides, padding, ...explicit, groups: inChannels, activation };
    return { spec, weights, after };
  }
  const type: WeightedType = link.className === 'Conv2D' ? 'conv2d' : 'conv2dTranspose';
  const filters = config.filters as number;
  const kernelShape = type === 'conv2d' ? [...kernelSize, inChannels, filters] : [...kernelSize, filters, inChannels];
  return { spec: { type, filters, kernelSize, strides, padding, ...explicit, activation }, weights: kernelAndBias(link, 'kernel', kernelShape, filters), after };
}

/** SeparableConv2D's config leaves depthMultiplier out (TensorFlow.js 4.x), so the layer's own field is read first. */
function depthMultiplier(link: GraphLink): number {
  const value = (link.layer as unknown as { depthMultiplier?: unknown }).depthMultiplier ?? configOf(link).depthMultiplier ?? 1;
  if (!Number.isInteger(value) || (value as number) < 1) throw new UnsupportedError(`${describeLink(link)} has depthMultiplier ${JSON.stringify(value)}`);
  return value as number;
}

function planSeparable(link: GraphLink, extraPads?: [number, number, number, number]) {
  const config = configOf(link);
  const { kernelSize, strides, padding, explicit, inChannels } = convGeometry(link, extraPads);
  const { activation, after } = splitActivation(link, config.activation);
  const multiplier = depthMultiplier(link);
  const mid = inChannels * multiplier;
  const filters = config.filters as number;
  const depthwise = kernelAndBias(link, 'depthwise_kernel', [...kernelSize, inChannels, multiplier], mid, false);
  depthwise.kernelShape = [...kernelSize, 1, mid];
  const pointwise = kernelAndBias(link, 'pointwise_kernel', [1, 1, mid, filters], filters);
  return {
    depthwise: { spec: { type: 'conv2d' as const, filters: mid, kernelSize, strides, padding, ...explicit, groups: inChannels, activation: 'linear' as const }, weights: depthwise },
    pointwise: { spec: { type: 'conv2d' as const, filters, kernelSize: [1, 1], strides: [1, 1], padding: 'valid' as const, activation }, weights: pointwise },
    after,
  };
}

/** TensorFlow.js keeps kernelSize, strides and dilationRate as a number or an array of one per spatial axis. */
function pairOf(value: unknown, what: string, link: GraphLink): [number, number] {
  const array = typeof value === 'number' ? [value, value] : Array.isArray(value) && value.length === 1 ? [value[0], value[0]] : value;
  if (!Array.isArray(array) || array.length !== 2 || !array.every((v) => Number.isInteger(v) && v > 0)) {
    throw new UnsupportedError(`${describeLink(link)} has ${what} ${JSON.stringify(value)}; expected two positive integers`);
  }
  return [array[0], array[1]];
}

function checkChannelsLast(link: GraphLink) {
  const dataFormat = configOf(link).dataFormat ?? 'channelsLast';
  if (dataFormat !== 'channelsLast') throw new UnsupportedError(`${describeLink(link)} uses dataFormat "${dataFormat}"; edgevae runs channelsLast (NHWC) only`);
}

/** ZeroPadding2D's padding and Cropping2D's cropping: a number, [rows, cols], or [[top, bottom], [left, right]]. */
function pairsOf(value: unknown, what: string, link: GraphLink): [[number, number], [number, number]] {
  const both = typeof value === 'number' ? [value, value] : value;
  const pairs = Array.isArray(both) && both.length === 2 ? both.map((v) => (typeof v === 'number' ? [v, v] : v)) : undefined;
  if (!pairs || !pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every((n) => Number.isInteger(n) && n >= 0))) {
    throw new UnsupportedError(`${describeLink(link)} has ${what} ${JSON.stringify(value)}; expected non-negative integers`);
  }
  return pairs as [[number, number], [number, number]];
}

// ---- shape-only layers ----

function reshapeTarget(link: GraphLink): number[] {
  // The resolved output shape, so a -1 in targetShape has already been filled in by TensorFlow.js.
  if (link.outShape.length > 3) {
    throw new UnsupportedError(`${describeLink(link)} produces rank-${link.outShape.length} samples [${link.outShape.join(', ')}]; edgevae handles at most [h, w, c]`);
  }
  return [...link.outShape];
}

function planFlatten(link: GraphLink): PlannedNode['spec'] {
  const dataFormat = configOf(link).dataFormat;
  if (dataFormat === 'channelsFirst') throw new UnsupportedError(`${describeLink(link)} flattens in channelsFirst order; edgevae runs channelsLast (NHWC) only`);
  return { type: 'flatten' };
}

/** Permute's dims count from 1 (the batch axis is 0); the format's perm counts each sample's axes from 0. */
function permutation(link: GraphLink): number[] {
  const dims = configOf(link).dims;
  if (!Array.isArray(dims)) throw new UnsupportedError(`${describeLink(link)} has dims ${JSON.stringify(dims)}`);
  return dims.map((d) => (d as number) - 1);
}

/**
 * UpSampling2D resizes by integer factors: 'nearest' repeats each pixel (ONNX Resize nearest with
 * asymmetric coordinates, rounding down); 'bilinear' is tf.image.resizeBilinear without half-pixel
 * centers or aligned corners, source x = out_x / scale: ONNX's asymmetric linear.
 */
function planUpSampling(link: GraphLink): PlannedNode['spec'] {
  const config = configOf(link);
  checkChannelsLast(link);
  const scales = pairOf(config.size ?? 2, 'size', link);
  const [h, w] = link.inShapes[0];
  const size = [h * scales[0], w * scales[1]];
  if (config.interpolation === 'bilinear') return { type: 'resize', mode: 'linear', coordinate: 'asymmetric', size, scales };
  if ((config.interpolation ?? 'nearest') !== 'nearest') throw new UnsupportedError(`${describeLink(link)} interpolates "${config.interpolation}"; edgevae supports nearest and bilinear`);
  return { type: 'resize', mode: 'nearest', coordinate: 'asymmetric', nearest: 'floor', size, scales };
}

// ---- BatchNormalization ----

function checkChannelAxis(link: GraphLink) {
  const rank = link.inShapes[0].length + 1; // with the batch axis, as the layer's axis counts it
  const configured = configOf(link).axis ?? -1;
  const axis = typeof configured === 'number' && configured < 0 ? configured + rank : configured;
  if (axis !== rank - 1) {
    throw new UnsupportedError(`${describeLink(link)} normalizes axis ${JSON.stringify(configured)}; edgevae normalizes only over the last (channel) axis`);
  }
}

/**
 * At inference BatchNormalization is y = (x - mean) * gamma / sqrt(var + eps) + beta per channel: the
 * per-channel affine map y = x * scale + shift.
 */
function batchNormAffine(link: GraphLink, channels: number): { scale: Float64Array; shift: Float64Array } {
  const config = configOf(link);
  const epsilon = typeof config.epsilon === 'number' ? config.epsilon : 1e-3;
  const weights = weightsByName(link.layer);
  const pick = (name: string, fallback: number): ArrayLike<number> => {
    const w = weights.get(name);
    if (!w) return new Float32Array(channels).fill(fallback);
    if (w.values.length !== channels) throw new UnsupportedError(`${describeLink(link)} has ${w.values.length} values of ${name} for ${channels} channels`);
    return w.values;
  };
  const gamma = pick('gamma', 1); // absent when scale: false
  const beta = pick('beta', 0); // absent when center: false
  const mean = weights.get('moving_mean')?.values;
  const variance = weights.get('moving_variance')?.values;
  if (!mean || !variance || mean.length !== channels || variance.length !== channels) {
    throw new UnsupportedError(`${describeLink(link)} lacks moving statistics for its ${channels} channels`);
  }
  return batchNormScaleShift({ gamma, beta, mean, variance }, epsilon);
}
