/**
 * Turns the chain of TensorFlow.js layers into the format's layers, with f32 weights still in hand:
 * training-only layers vanish, BatchNormalization is folded into the weights before it, and standalone
 * activations are fused into the layer before them where that layer's own activation is linear.
 */
import { UnsupportedError } from '../errors.ts';
import { applyActivation, batchNormScaleShift, outputsOf, scaleOutputChannels, type PlannedLayer, type PlannedWeighted, type Weights } from '../convert/planned.ts';
import {
  outputChannelAxis,
  type ActivationLayer,
  type ActivationName,
  type ConcatenateLayer,
  type ConvLayer,
  type DenseLayer,
  type FlattenLayer,
  type ReshapeLayer,
  type WeightedType,
} from '../format/spec.ts';
import type { Chain, ChainLink, Layer } from './graph.ts';






/** Layers that only act during training; at inference they are the identity, so they are dropped. */
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
  'Reshape',
  'Flatten',
  'Concatenate (label input only)',
  'Activation',
  'LeakyReLU',
  'ReLU',
  'BatchNormalization (after a linear Dense/Conv)',
  ...TRAINING_ONLY,
].join(', ');

/** Activations that Dense, Conv2D and Activation layers may name; LeakyReLU comes only as its own layer. */
const SUPPORTED_ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'sigmoid', 'tanh'];

export function planLayers(chain: Chain): PlannedLayer[] {
  const plan: PlannedLayer[] = [];
  for (const link of chain.links) {
    switch (link.className) {
      case 'Dense':
        plan.push(planDense(link));
        break;
      case 'Conv2D':
      case 'Conv2DTranspose':
        plan.push(planConv(link));
        break;
      case 'Reshape':
        plan.push({ name: link.layer.name, spec: { type: 'reshape', shape: reshapeTarget(link) } });
        break;
      case 'Flatten':
        plan.push({ name: link.layer.name, spec: planFlatten(link) });
        break;
      case 'Concatenate':
        // graph.ts lets through only the Concatenate that joins the label.
        plan.push({ name: link.layer.name, spec: { type: 'concatenate', labelFirst: chain.label!.labelFirst } });
        break;
      case 'Activation':
        applyActivation(plan, { activation: namedActivation(link, link.layer.getConfig().activation) }, link.layer.name);
        break;
      case 'LeakyReLU':
        applyActivation(plan, { activation: 'leakyRelu', alpha: leakyAlpha(link) }, link.layer.name);
        break;
      case 'ReLU':
        checkPlainRelu(link);
        applyActivation(plan, { activation: 'relu' }, link.layer.name);
        break;
      case 'BatchNormalization':
        foldBatchNorm(plan, link);
        break;
      default:
        if (!TRAINING_ONLY.has(link.className)) throw unsupportedLayer(link);
    }
  }
  return plan;
}

function unsupportedLayer(link: ChainLink): UnsupportedError {
  const nested = 'layers' in link.layer ? ' (a nested model: build the decoder from the inner model\'s layers directly)' : '';
  return new UnsupportedError(
    `layer "${link.layer.name}" (${link.className}) is not supported by edgevae${nested}; supported: ${SUPPORTED_LAYERS}`,
  );
}

const describeLink = (link: ChainLink) => `layer "${link.layer.name}" (${link.className})`;

type Config = Record<string, unknown>;
const configOf = (link: ChainLink) => link.layer.getConfig() as Config;

function namedActivation(link: ChainLink, name: unknown): ActivationName {
  const activation = name ?? 'linear';
  if (typeof activation !== 'string' || !SUPPORTED_ACTIVATIONS.includes(activation as ActivationName)) {
    throw new UnsupportedError(
      `${describeLink(link)} uses activation ${JSON.stringify(activation)}, which edgevae does not support; ` +
        `supported: ${SUPPORTED_ACTIVATIONS.join(', ')}, and LeakyReLU / ReLU layers`,
    );
  }
  return activation as ActivationName;
}

function leakyAlpha(link: ChainLink): number {
  const alpha = configOf(link).alpha ?? 0.3; // the TensorFlow.js default
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new UnsupportedError(`${describeLink(link)} has a non-numeric alpha ${JSON.stringify(alpha)}`);
  return alpha;
}

function checkPlainRelu(link: ChainLink) {
  const { maxValue } = configOf(link);
  if (maxValue !== undefined && maxValue !== null) {
    throw new UnsupportedError(`${describeLink(link)} clips at maxValue ${maxValue}; edgevae supports only an unbounded ReLU`);
  }
}


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

function kernelAndBias(link: ChainLink, expectedKernelShape: number[], outputs: number): Weights {
  const weights = weightsByName(link.layer);
  const kernel = weights.get('kernel');
  if (!kernel) throw new UnsupportedError(`${describeLink(link)} has no kernel weight (is it built?)`);
  if (!sameShape(kernel.shape, expectedKernelShape)) {
    throw new UnsupportedError(`${describeLink(link)} has a kernel of shape [${kernel.shape.join(', ')}], expected [${expectedKernelShape.join(', ')}]`);
  }
  const bias = weights.get('bias');
  // useBias: false is a bias of zeros; the format always stores one, so the runtime has a single code path.
  if (bias && bias.values.length !== outputs) throw new UnsupportedError(`${describeLink(link)} has ${bias.values.length} biases for ${outputs} outputs`);
  return { kernel: kernel.values, kernelShape: kernel.shape, bias: bias?.values ?? new Float32Array(outputs) };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function planDense(link: ChainLink): PlannedWeighted {
  const config = configOf(link);
  const units = config.units as number;
  const inputs = link.inShape[link.inShape.length - 1];
  return {
    name: link.layer.name,
    spec: { type: 'dense', units, activation: namedActivation(link, config.activation) },
    weights: kernelAndBias(link, [inputs, units], units),
  };
}

function planConv(link: ChainLink): PlannedWeighted {
  const config = configOf(link);
  const type: WeightedType = link.className === 'Conv2D' ? 'conv2d' : 'conv2dTranspose';
  const dataFormat = config.dataFormat ?? 'channelsLast';
  if (dataFormat !== 'channelsLast') {
    throw new UnsupportedError(`${describeLink(link)} uses dataFormat "${dataFormat}"; edgevae runs channelsLast (NHWC) only`);
  }
  // Conv2DTranspose leaves dilationRate out of its config because TensorFlow.js ignores it there.
  const dilation = pairOf(config.dilationRate ?? 1, 'dilationRate', link);
  if (dilation[0] !== 1 || dilation[1] !== 1) {
    throw new UnsupportedError(`${describeLink(link)} has dilationRate [${dilation.join(', ')}]; edgevae supports only undilated convolutions`);
  }
  const padding = config.padding;
  if (padding !== 'same' && padding !== 'valid') {
    throw new UnsupportedError(`${describeLink(link)} uses padding "${padding}"; edgevae supports "same" and "valid"`);
  }
  if (link.inShape.length !== 3) {
    throw new UnsupportedError(`${describeLink(link)} receives shape [${link.inShape.join(', ')}] per sample; expected [height, width, channels]`);
  }
  const filters = config.filters as number;
  const kernelSize = pairOf(config.kernelSize, 'kernelSize', link);
  const strides = pairOf(config.strides ?? 1, 'strides', link);
  const inChannels = link.inShape[2];
  const kernelShape = type === 'conv2d' ? [...kernelSize, inChannels, filters] : [...kernelSize, filters, inChannels];
  return {
    name: link.layer.name,
    spec: { type, filters, kernelSize, strides, padding, activation: namedActivation(link, config.activation) },
    weights: kernelAndBias(link, kernelShape, filters),
  };
}

/** TensorFlow.js keeps kernelSize, strides and dilationRate as a number or an array of one per spatial axis. */
function pairOf(value: unknown, what: string, link: ChainLink): [number, number] {
  const array = typeof value === 'number' ? [value, value] : Array.isArray(value) && value.length === 1 ? [value[0], value[0]] : value;
  if (!Array.isArray(array) || array.length !== 2 || !array.every((v) => Number.isInteger(v) && v > 0)) {
    throw new UnsupportedError(`${describeLink(link)} has ${what} ${JSON.stringify(value)}; expected two positive integers`);
  }
  return [array[0], array[1]];
}

// ---- shape-only layers ----

function reshapeTarget(link: ChainLink): number[] {
  // The resolved output shape, so a -1 in targetShape has already been filled in by TensorFlow.js.
  if (link.outShape.length > 3) {
    throw new UnsupportedError(`${describeLink(link)} produces rank-${link.outShape.length} samples [${link.outShape.join(', ')}]; edgevae handles at most [h, w, c]`);
  }
  return [...link.outShape];
}

function planFlatten(link: ChainLink): FlattenLayer {
  const dataFormat = configOf(link).dataFormat;
  if (dataFormat === 'channelsFirst') {
    throw new UnsupportedError(`${describeLink(link)} flattens in channelsFirst order; edgevae runs channelsLast (NHWC) only`);
  }
  return { type: 'flatten' };
}

// ---- BatchNormalization ----

/**
 * At inference BatchNormalization is y = (x - mean) * gamma / sqrt(var + eps) + beta per channel, an
 * affine map that can be folded into the linear layer before it:
 *   w' = w * f,  b' = (b - mean) * f + beta,  with f = gamma / sqrt(var + eps) per output channel.
 * This is exact only if nothing non-linear sits between the two, hence the checks.
 */
function foldBatchNorm(plan: PlannedLayer[], link: ChainLink) {
  const last = plan.at(-1);
  if (!last?.weights) {
    const after = last ? `${last.spec.type} layer "${last.name}"` : 'the model input';
    throw new UnsupportedError(
      `${describeLink(link)} follows ${after}; edgevae has no batch-normalization layer and can only fold one into a Dense, Conv2D or Conv2DTranspose directly before it`,
    );
  }
  if (last.spec.activation !== 'linear') {
    const source = last.fusedFrom ? ` (from layer "${last.fusedFrom}")` : '';
    throw new UnsupportedError(
      `${describeLink(link)} follows layer "${last.name}", whose ${last.spec.activation} activation${source} comes before the normalization; ` +
        'folding is exact only into a linear layer: give that layer no activation and put the activation after the BatchNormalization',
    );
  }
  checkChannelAxis(link);
  const { scale, shift } = batchNormAffine(link, outputsOf(last));
  scaleOutputChannels(last.weights, outputChannelAxis(last.spec.type), scale, shift);
}


function checkChannelAxis(link: ChainLink) {
  const rank = link.inShape.length + 1; // with the batch axis, as the layer's axis counts it
  const configured = configOf(link).axis ?? -1;
  const axis = typeof configured === 'number' && configured < 0 ? configured + rank : configured;
  if (axis !== rank - 1) {
    throw new UnsupportedError(`${describeLink(link)} normalizes axis ${JSON.stringify(configured)}; edgevae can fold only a normalization over the last (channel) axis`);
  }
}

/** The per-channel affine map y = x * scale + shift that the normalization computes at inference. */
function batchNormAffine(link: ChainLink, channels: number): { scale: Float64Array; shift: Float64Array } {
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



