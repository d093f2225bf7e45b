/**
 * Runs an exported model file with TensorFlow.js ops: an executor for tests that shares no code with
 * the exporter, so comparing it with the source model's predict() checks layouts, paddings, folds,
 * fusions and the label join end to end.
 */
import * as tf from '@tensorflow/tfjs';
import { dequantizeInt8PerChannel, outputChannelAxis } from '../../src/export/index.ts';
import { decodeF16, tensorData, type ParsedModel } from '../../src/format/index.ts';
import type { ActivationName, LayerSpec } from '../../src/format/spec.ts';

/** A weighted layer's kernel as f32, whatever dtype the file stores it in. */
export function kernelAsF32(model: ParsedModel, layer: Extract<LayerSpec, { kernel: number }>): Float32Array {
  const spec = model.header.tensors[layer.kernel];
  const data = tensorData(model, layer.kernel);
  if (spec.dtype === 'f32') return Float32Array.from(data as Float32Array);
  if (spec.dtype === 'f16') return decodeF16(data as Uint16Array);
  const scales = tensorData(model, layer.scale!) as Float32Array;
  return dequantizeInt8PerChannel(data as Int8Array, scales, spec.shape, outputChannelAxis(layer.type));
}

function activate(x: tf.Tensor, activation: ActivationName, alpha?: number): tf.Tensor {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'leakyRelu':
      return tf.leakyRelu(x, alpha);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
  }
}

/** Decodes a batch: `z` is [batch, latentSize]; `labels` holds one class index per sample for a conditional model. */
export function runReference(model: ParsedModel, z: number[][], labels?: number[]): tf.Tensor {
  const batch = z.length;
  const { meta } = model.header;
  return tf.tidy(() => {
    let x: tf.Tensor = tf.tensor2d(z);
    for (const step of model.steps) {
      const layer = step.layer;
      const outShape = [batch, ...step.outShape];
      switch (layer.type) {
        case 'dense': {
          const kernel = tf.tensor2d(kernelAsF32(model, layer), model.header.tensors[layer.kernel].shape as [number, number]);
          const inDim = step.inShape[step.inShape.length - 1];
          x = tf.matMul(x.reshape([-1, inDim]), kernel).reshape(outShape);
          break;
        }
        case 'conv2d': {
          const kernel = tf.tensor4d(kernelAsF32(model, layer), model.header.tensors[layer.kernel].shape as [number, number, number, number]);
          x = tf.conv2d(x as tf.Tensor4D, kernel, layer.strides, layer.padding);
          break;
        }
        case 'conv2dTranspose': {
          const kernel = tf.tensor4d(kernelAsF32(model, layer), model.header.tensors[layer.kernel].shape as [number, number, number, number]);
          x = tf.conv2dTranspose(x as tf.Tensor4D, kernel, outShape as [number, number, number, number], layer.strides, layer.padding);
          break;
        }
        case 'reshape':
        case 'flatten':
          x = x.reshape(outShape);
          break;
        case 'concatenate': {
          if (!labels) throw new Error('a conditional model needs labels');
          const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), meta.conditioning!.classes).toFloat();
          x = layer.labelFirst ? tf.concat([oneHot, x], 1) : tf.concat([x, oneHot], 1);
          break;
        }
        case 'activation':
          break;
      }
      if ('bias' in layer) x = tf.add(x, tf.tensor1d(tensorData(model, layer.bias) as Float32Array));
      if ('activation' in layer) x = activate(x, layer.activation, layer.alpha);
      if (x.shape.join() !== outShape.join()) throw new Error(`step ${step.index}: got [${x.shape}], expected [${outShape}]`);
    }
    return x;
  });
}
