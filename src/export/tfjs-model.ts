/**
 * Builds a TensorFlow.js LayersModel from an edgevae model file: the same layers, in the same order,
 * with the same weights, so that any TensorFlow.js backend (or a tfjs-to-X converter) can run a
 * shipped model or a user's own, and the benchmark can put TensorFlow.js beside our runtime.
 *
 * The model computes exactly what `Decoder.decode` computes:
 * - input `z`: [N, latentSize]; conditional models take a second input `label`, [N, classes], the
 *   class **one-hot encoded** (as the ONNX export does), joined by a Concatenate layer where the
 *   file's `concatenate` layer sits, before or after the activations as it says.
 * - output: [N, ...meta.output.shape], NHWC for images, as our runtime.
 *
 * The format follows TensorFlow.js: kernels are stored in its layouts and its 'same' / 'valid' conv
 * padding rules are TensorFlow.js's, so a dense or conv node is a layer of the same kind with the same
 * weights. The format 2 kinds become the Keras layer that computes them: explicit conv padding a
 * ZeroPadding2D before a 'valid' Conv2D (a Cropping2D after a 'valid' Conv2DTranspose), a depthwise
 * conv a DepthwiseConv2D, an integer nearest or asymmetric bilinear resize an UpSampling2D, a binary
 * add or mul between values an Add or Multiply, an affine node a BatchNormalization (mean 0,
 * variance 1 - eps), a layerNorm a LayerNormalization, a transpose a Permute. What Keras has no layer
 * for (subtraction, division or a constant operand, groupNorm, depthToSpace, grouped convs other than
 * depthwise, a resize that is no UpSampling2D, dilated or depthwise transposed convs) is refused with
 * an UnsupportedError naming the node and its kind. Fused activations go into the Dense/Conv layer
 * where Keras fuses them, else they follow as a layer of their own. Kernels are read as f32 values:
 * f16 widened and int8 dequantized (q x scale of its output channel), the values our runtime computes with.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError, UnsupportedError } from '../errors.ts';
import { readModel, tensorData, type ParsedModel } from '../format/read.ts';
import type { ActivationName, ConvLayer, NodeSpec } from '../format/spec.ts';
import type { GraphNode } from '../layers/types.ts';
import { kernelValues } from '../runtime/reference.ts';

/** Names of the TensorFlow.js model's inputs (the same as the ONNX export's). */
export const TFJS_INPUT_NAMES = { latent: 'z', label: 'label' } as const;

/** The Keras activation string of each fused activation TensorFlow.js can take inside a layer. */
const FUSABLE: Partial<Record<ActivationName, 'linear' | 'relu' | 'sigmoid' | 'tanh'>> = {
  linear: 'linear',
  relu: 'relu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
};

/** Activations an Activation layer computes as the format does. */
const KERAS_ACTIVATIONS: Partial<Record<ActivationName, string>> = {
  ...FUSABLE,
  softplus: 'softplus',
  silu: 'swish',
  geluErf: 'gelu',
  geluTanh: 'gelu_new',
};

/** The variance an affine node's BatchNormalization holds: with this epsilon, var + eps is exactly 1 in f32. */
const AFFINE_EPSILON = 2 ** -10;

type Activated = { activation: ActivationName; alpha?: number; min?: number; max?: number };

/**
 * Builds a LayersModel with the layers and weights of an edgevae model (its bytes, or a model parsed by
 * readModel). Its tensors live on the TensorFlow.js backend active when it is called; dispose() the
 * model to free them.
 */
export function toLayersModel(model: Uint8Array | ArrayBuffer | ParsedModel): tf.LayersModel {
  const parsed = model instanceof Uint8Array || model instanceof ArrayBuffer ? readModel(model) : model;
  if (!parsed || !(parsed as ParsedModel).graph || !(parsed as ParsedModel).header) {
    throw new InputError('toLayersModel takes a model file (Uint8Array) or a ParsedModel from readModel');
  }
  const { graph } = parsed;
  const z = tf.input({ shape: graph.latent.shape, name: TFJS_INPUT_NAMES.latent });
  const label = graph.label ? tf.input({ shape: [graph.label.classes], name: TFJS_INPUT_NAMES.label }) : undefined;
  const values = new Map<string, tf.SymbolicTensor>([[graph.latent.name, z]]);
  if (graph.label) values.set(graph.label.name, label!);
  // Weights are set once the model is built, from tensors disposed right after (setWeights copies them).
  const weighted: [tf.layers.Layer, () => tf.Tensor[]][] = [];
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((v) => values.get(v)!);
    values.set(node.name, rebuild(parsed, node, inputs, weighted));
  }
  const result = tf.model({ name: 'edgevae_decoder', inputs: label ? [z, label] : [z], outputs: values.get(graph.output)! });
  for (const [built, weightsOf] of weighted) {
    const tensors = weightsOf();
    built.setWeights(tensors);
    tf.dispose(tensors);
  }
  return result;
}

function unsupported(node: GraphNode, why: string): UnsupportedError {
  return new UnsupportedError(`node "${node.name}" (${node.layer.type}) ${why}, which TensorFlow.js layers do not express`);
}

/** The Keras layers that compute one node, applied to its inputs. */
function rebuild(model: ParsedModel, node: GraphNode, inputs: tf.SymbolicTensor[], weighted: [tf.layers.Layer, () => tf.Tensor[]][]): tf.SymbolicTensor {
  const layer = node.layer as NodeSpec;
  const name = `l${node.index}_${layer.type}`;
  const x = inputs[0];
  switch (layer.type) {
    case 'dense': {
      const dense = tf.layers.dense({ name, units: layer.units, activation: FUSABLE[layer.activation] ?? 'linear' });
      weighted.push([dense, () => [kernel(model, layer), bias(model, layer.bias)]]);
      return activation(node, apply(dense, x), layer, name, true);
    }
    case 'conv2d':
      return conv2d(model, node, layer, x, name, weighted);
    case 'conv2dTranspose':
      return conv2dTranspose(model, node, layer, x, name, weighted);
    case 'reshape':
      return apply(tf.layers.reshape({ name, targetShape: layer.shape }), x);
    case 'flatten':
      // A flat activation stays as it is (Flatten of [N, K] is the identity).
      return node.inShapes[0].length > 1 ? apply(tf.layers.flatten({ name }), x) : x;
    case 'concatenate':
      return apply(tf.layers.concatenate({ name, axis: -1 }), inputs);
    case 'activation':
      return activation(node, x, layer, name, false);
    case 'binary': {
      if (layer.constant !== undefined) throw unsupported(node, 'has a constant operand');
      if (layer.op !== 'add' && layer.op !== 'mul') throw unsupported(node, `is a ${layer.op} between values (Keras has Add and Multiply)`);
      const merge = layer.op === 'add' ? tf.layers.add({ name }) : tf.layers.multiply({ name });
      return activation(node, apply(merge, inputs), layer, name, false);
    }
    case 'resize': {
      const [h, w] = node.inShapes[0];
      const scales = [layer.size[0] / h, layer.size[1] / w];
      const integer = scales.every((s) => Number.isInteger(s) && s >= 1);
      const nearest = layer.mode === 'nearest' && layer.coordinate === 'asymmetric' && (layer.nearest ?? 'round_prefer_floor') === 'floor';
      const bilinear = layer.mode === 'linear' && layer.coordinate === 'asymmetric';
      if (!integer || !(nearest || bilinear)) {
        throw unsupported(node, `resizes [${h}, ${w}] to [${layer.size.join(', ')}] (${layer.mode}, ${layer.coordinate}${layer.nearest ? `, ${layer.nearest}` : ''}); UpSampling2D is an integer nearest (asymmetric, floor) or asymmetric bilinear upsample`);
      }
      return apply(tf.layers.upSampling2d({ name, size: scales, interpolation: nearest ? 'nearest' : 'bilinear' }), x);
    }
    case 'affine': {
      const norm = tf.layers.batchNormalization({ name, axis: -1, epsilon: AFFINE_EPSILON });
      const channels = node.inShapes[0].at(-1)!;
      weighted.push([norm, () => [vector(model, layer.multiplier), vector(model, layer.offset), tf.zeros([channels]), tf.fill([channels], 1 - AFFINE_EPSILON)]]);
      return activation(node, apply(norm, x), layer, name, false);
    }
    case 'layerNorm': {
      const norm = tf.layers.layerNormalization({ name, axis: -1, epsilon: layer.epsilon });
      weighted.push([norm, () => [vector(model, layer.gamma), vector(model, layer.beta)]]);
      return activation(node, apply(norm, x), layer, name, false);
    }
    case 'transpose':
      return apply(tf.layers.permute({ name, dims: layer.perm.map((p) => p + 1) }), x);
    case 'groupNorm':
      throw unsupported(node, 'normalizes over groups of channels');
    case 'depthToSpace':
      throw unsupported(node, 'moves channels into space');
  }
}

function apply(layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(input) as tf.SymbolicTensor;
}

/**
 * The node's activation after the layer that computed `x`: nothing more where it was fused into that
 * layer (`fused`, for what Dense and Conv take), else an Activation, LeakyReLU, ELU or ReLU layer.
 */
function activation(node: GraphNode, x: tf.SymbolicTensor, act: Activated, name: string, fused: boolean): tf.SymbolicTensor {
  if (act.activation === 'linear' || (fused && FUSABLE[act.activation])) return x;
  const own = node.layer.type === 'activation';
  const layerName = own ? name : `${name}_${act.activation}`;
  switch (act.activation) {
    case 'leakyRelu':
      return apply(tf.layers.leakyReLU({ name: layerName, alpha: act.alpha ?? 0.3 }), x);
    case 'elu':
      // TensorFlow.js computes only alpha 1.
      if ((act.alpha ?? 1) !== 1) throw unsupported(node, `has an elu with alpha ${act.alpha}`);
      return apply(tf.layers.elu({ name: layerName }), x);
    case 'clip':
      if (act.min !== 0 || act.max === undefined) throw unsupported(node, `clips to [${act.min ?? '-inf'}, ${act.max ?? 'inf'}] (Keras has ReLU with maxValue, a clip to [0, max])`);
      return apply(tf.layers.reLU({ name: layerName, maxValue: act.max }), x);
    default: {
      const keras = KERAS_ACTIVATIONS[act.activation];
      if (!keras) throw unsupported(node, `has activation ${act.activation}`);
      return apply(tf.layers.activation({ name: layerName, activation: keras as 'relu' }), x);
    }
  }
}

function conv2d(model: ParsedModel, node: GraphNode, layer: ConvLayer, x: tf.SymbolicTensor, name: string, weighted: [tf.layers.Layer, () => tf.Tensor[]][]): tf.SymbolicTensor {
  const groups = layer.groups ?? 1;
  const dilationRate = layer.dilations ?? [1, 1];
  const channels = node.inShapes[0][2];
  if (dilationRate.some((d) => d > 1) && layer.strides.some((s) => s > 1)) throw unsupported(node, 'is dilated and strided at once');
  const depthwise = groups > 1 && groups === channels && layer.filters % channels === 0;
  if (groups > 1 && !depthwise) throw unsupported(node, `has ${groups} groups (Keras has depthwise convs only: a group per input channel)`);
  if (depthwise && dilationRate.some((d) => d > 1)) throw unsupported(node, 'is a dilated depthwise conv (TensorFlow.js DepthwiseConv2D ignores dilationRate)');
  const { padding, input } = explicitPadding(node, layer, x, name);
  const geometry = { kernelSize: layer.kernelSize, strides: layer.strides, padding, dataFormat: 'channelsLast' as const, activation: FUSABLE[layer.activation] ?? 'linear' };
  let conv: tf.layers.Layer;
  if (depthwise) {
    const depthMultiplier = layer.filters / channels;
    conv = tf.layers.depthwiseConv2d({ name, ...geometry, depthMultiplier });
    weighted.push([conv, () => [tf.reshape(kernel(model, layer), [...layer.kernelSize, channels, depthMultiplier]), bias(model, layer.bias)]]);
  } else {
    conv = tf.layers.conv2d({ name, ...geometry, filters: layer.filters, dilationRate: dilationRate as [number, number] });
    weighted.push([conv, () => [kernel(model, layer), bias(model, layer.bias)]]);
  }
  return activation(node, apply(conv, input), layer, name, true);
}

/** Explicit pads as a ZeroPadding2D before a 'valid' conv (none for all-zero pads). */
function explicitPadding(node: GraphNode, layer: ConvLayer, x: tf.SymbolicTensor, name: string): { padding: 'same' | 'valid'; input: tf.SymbolicTensor } {
  if (layer.padding !== 'explicit') return { padding: layer.padding, input: x };
  const [top, left, bottom, right] = layer.pads!;
  if (layer.pads!.some((p) => p < 0)) throw unsupported(node, `has negative pads [${layer.pads!.join(', ')}]`);
  if (layer.pads!.every((p) => p === 0)) return { padding: 'valid', input: x };
  const pad = tf.layers.zeroPadding2d({ name: `${name}_pad`, padding: [[top, bottom], [left, right]] });
  return { padding: 'valid', input: apply(pad, x) };
}

/**
 * A transposed conv: 'same' / 'valid' as stored; explicit pads (PyTorch's, cropping the full output)
 * as a 'valid' Conv2DTranspose, whose output is the full one (extended by bias-only rows where the
 * kernel is shorter than the stride), then a Cropping2D of the pads less the output padding.
 */
function conv2dTranspose(model: ParsedModel, node: GraphNode, layer: ConvLayer, x: tf.SymbolicTensor, name: string, weighted: [tf.layers.Layer, () => tf.Tensor[]][]): tf.SymbolicTensor {
  if ((layer.groups ?? 1) > 1) throw unsupported(node, `has ${layer.groups} groups`);
  if ((layer.dilations ?? [1, 1]).some((d) => d > 1)) throw unsupported(node, 'is dilated (TensorFlow.js Conv2DTranspose ignores dilationRate)');
  const explicit = layer.padding === 'explicit';
  const conv = tf.layers.conv2dTranspose({
    name,
    filters: layer.filters,
    kernelSize: layer.kernelSize,
    strides: layer.strides,
    padding: explicit ? 'valid' : (layer.padding as 'same' | 'valid'),
    dataFormat: 'channelsLast',
    activation: FUSABLE[layer.activation] ?? 'linear',
  });
  weighted.push([conv, () => [kernel(model, layer), bias(model, layer.bias)]]);
  let y = apply(conv, x);
  if (explicit) {
    const [top, left] = layer.pads!;
    const crops = [0, 1].map((a) => {
      const full = node.inShapes[0][a] * layer.strides[a] + Math.max(layer.kernelSize[a] - layer.strides[a], 0);
      return [[top, left][a], full - [top, left][a] - node.outShape[a]];
    });
    if (crops.flat().some((c) => c < 0)) throw unsupported(node, `has pads [${layer.pads!.join(', ')}] and output padding [${(layer.outputPadding ?? [0, 0]).join(', ')}] beyond what a crop of the full output gives`);
    if (crops.flat().some((c) => c > 0)) y = apply(tf.layers.cropping2D({ name: `${name}_crop`, cropping: crops as [[number, number], [number, number]] }), y);
  }
  return activation(node, y, layer, name, true);
}

/** A kernel as f32 values in TensorFlow.js layout, as stored. */
function kernel(model: ParsedModel, layer: Parameters<typeof kernelValues>[1]): tf.Tensor {
  return tf.tensor(kernelValues(model, layer), model.header.tensors[layer.kernel].shape, 'float32');
}

const bias = (model: ParsedModel, index: number) => vector(model, index);

/** An f32 vector tensor of the file (biases, norms' gamma and beta, affine multipliers and offsets). */
function vector(model: ParsedModel, index: number): tf.Tensor {
  return tf.tensor1d(Float32Array.from(tensorData(model, index) as Float32Array), 'float32');
}
