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
 * Every layer of the format is a TensorFlow.js layer of the same name, because the format follows
 * TensorFlow.js: kernels are stored in its layouts and the conv padding rules are its own (read.ts's
 * convOutputLength is TensorFlow.js's), so no weight is permuted and no padding recomputed. Fused
 * activations go into the Dense/Conv layer, except leakyRelu, which TensorFlow.js only has as a layer
 * of its own. Kernels are read as f32 values: f16 widened and int8 dequantized (q x scale of its output
 * channel), the values our runtime computes with.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError, UnsupportedError } from '../errors.ts';
import { readModel, tensorData, type ParsedModel } from '../format/read.ts';
import type { ActivationName, ConvLayer, DenseLayer } from '../format/spec.ts';
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
  const { meta } = parsed.header;
  const { graph } = parsed;
  const z = tf.input({ shape: graph.latent.shape, name: TFJS_INPUT_NAMES.latent });
  const label = graph.label ? tf.input({ shape: [graph.label.classes], name: TFJS_INPUT_NAMES.label }) : undefined;
  const values = new Map<string, tf.SymbolicTensor>([[graph.latent.name, z]]);
  if (graph.label) values.set(graph.label.name, label!);
  // Weights are set once the layers are built, from tensors disposed right after (setWeights copies them).
  const weighted: [tf.layers.Layer, DenseLayer | ConvLayer][] = [];
  for (const node of graph.nodes) {
    const { layer, index } = node;
    const name = `l${index}_${layer.type}`;
    const inputs = node.inputs.map((v) => values.get(v)!);
    let x = inputs[0];
    switch (layer.type) {
      case 'dense': {
        const dense = tf.layers.dense({ name, units: layer.units, activation: FUSABLE[layer.activation] ?? 'linear' });
        weighted.push([dense, layer]);
        x = activation(apply(dense, x), layer.activation, layer.alpha, name);
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        const config = { name, ...convConfig(layer, node.name), activation: FUSABLE[layer.activation] ?? 'linear' };
        const conv = layer.type === 'conv2d' ? tf.layers.conv2d(config) : tf.layers.conv2dTranspose(config);
        weighted.push([conv, layer]);
        x = activation(apply(conv, x), layer.activation, layer.alpha, name);
        break;
      }
      case 'reshape':
        x = apply(tf.layers.reshape({ name, targetShape: layer.shape }), x);
        break;
      case 'flatten':
        // A flat activation stays as it is (Flatten of [N, K] is the identity).
        if (node.inShapes[0].length > 1) x = apply(tf.layers.flatten({ name }), x);
        break;
      case 'concatenate':
        x = apply(tf.layers.concatenate({ name, axis: -1 }), inputs);
        break;
      case 'activation':
        x = layer.activation === 'linear' ? x : activation(apply(tf.layers.activation({ name, activation: FUSABLE[layer.activation] ?? 'linear' }), x), layer.activation, layer.alpha, name);
        break;
    }
    values.set(node.name, x);
  }
  void meta;
  const x = values.get(graph.output)!;
  const result = tf.model({ name: 'edgevae_decoder', inputs: label ? [z, label] : [z], outputs: x });
  for (const [built, layer] of weighted) {
    const values = weightsOf(parsed, layer);
    built.setWeights(values);
    tf.dispose(values);
  }
  return result;
}

function apply(layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(input) as tf.SymbolicTensor;
}

/** A leakyRelu, which TensorFlow.js cannot fuse into Dense/Conv, as a LeakyReLU layer after it; other activations are already fused. */
function activation(x: tf.SymbolicTensor, name: ActivationName, alpha: number | undefined, layerName: string): tf.SymbolicTensor {
  if (name !== 'leakyRelu') return x;
  return apply(tf.layers.leakyReLU({ name: `${layerName}_leaky`, alpha: alpha ?? 0.3 }), x);
}

function convConfig(layer: ConvLayer, node: string) {
  if (layer.padding === 'explicit' || (layer.groups ?? 1) > 1 || (layer.dilations ?? [1, 1]).some((d) => d > 1)) {
    throw new UnsupportedError(`node "${node}" (${layer.type}) has explicit padding, groups or dilation, which TensorFlow.js layers do not express`);
  }
  return { filters: layer.filters, kernelSize: layer.kernelSize, strides: layer.strides, padding: layer.padding, dataFormat: 'channelsLast' as const };
}

/** Kernel (as f32 values, in TensorFlow.js layout as stored) and bias. */
function weightsOf(model: ParsedModel, layer: DenseLayer | ConvLayer): tf.Tensor[] {
  const kernelShape = model.header.tensors[layer.kernel].shape;
  const bias = tensorData(model, layer.bias) as Float32Array;
  return [tf.tensor(kernelValues(model, layer), kernelShape, 'float32'), tf.tensor1d(Float32Array.from(bias), 'float32')];
}
