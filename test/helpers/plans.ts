/**
 * The catalogue of small models the runtime and exporter tests share: every layer type, padding,
 * stride, kernel shape and label position, written with buildModel in any dtype.
 */
import type { ModelPlan } from './random-models.ts';

export const LAYER_PLANS: Record<string, ModelPlan> = {
  'dense chain, every activation': {
    latentSize: 5,
    layers: [
      { type: 'dense', units: 13, activation: 'relu' },
      { type: 'dense', units: 9, activation: 'leakyRelu', alpha: 0.3 },
      { type: 'dense', units: 17, activation: 'tanh' },
      { type: 'dense', units: 8, activation: 'linear' },
      { type: 'activation', activation: 'leakyRelu', alpha: 0.1 },
      { type: 'dense', units: 12, activation: 'sigmoid' },
    ],
    outputShape: [12],
  },
  'dense over the last axis of 2-D and 3-D activations': {
    latentSize: 6,
    layers: [
      { type: 'dense', units: 24, activation: 'relu' },
      { type: 'reshape', shape: [4, 6] },
      { type: 'dense', units: 5, activation: 'tanh' },
      { type: 'reshape', shape: [2, 2, 5] },
      { type: 'conv2d', filters: 3, kernelSize: [2, 2], strides: [1, 1], padding: 'same', activation: 'relu' },
      { type: 'dense', units: 7, activation: 'linear' },
      { type: 'conv2d', filters: 4, kernelSize: [1, 1], strides: [1, 1], padding: 'valid', activation: 'sigmoid' },
      { type: 'flatten' },
      { type: 'dense', units: 6, activation: 'sigmoid' },
    ],
    outputShape: [6],
  },
  'conv-vae-like decoder': {
    latentSize: 8,
    layers: [
      { type: 'dense', units: 24, activation: 'leakyRelu', alpha: 0.3 },
      { type: 'dense', units: 49, activation: 'leakyRelu', alpha: 0.3 },
      { type: 'reshape', shape: [7, 7, 1] },
      { type: 'conv2dTranspose', filters: 12, kernelSize: [4, 4], strides: [2, 2], padding: 'same', activation: 'leakyRelu', alpha: 0.3 },
      { type: 'conv2dTranspose', filters: 11, kernelSize: [4, 4], strides: [1, 1], padding: 'same', activation: 'leakyRelu', alpha: 0.3 },
      { type: 'flatten' },
      { type: 'dense', units: 784, activation: 'sigmoid' },
      { type: 'reshape', shape: [28, 28, 1] },
    ],
    outputShape: [28, 28, 1],
  },
  'conv2d, same and valid, strides 1 and 2, odd sizes': {
    latentSize: 7,
    layers: [
      { type: 'dense', units: 162, activation: 'relu' },
      { type: 'reshape', shape: [9, 9, 2] },
      { type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: 'same', activation: 'relu' }, // 5x5
      { type: 'conv2d', filters: 5, kernelSize: [4, 4], strides: [1, 1], padding: 'same', activation: 'tanh' }, // 5x5, pads 1 / 2
      { type: 'conv2d', filters: 3, kernelSize: [2, 4], strides: [2, 1], padding: 'same', activation: 'linear' }, // 3x5
      { type: 'conv2d', filters: 6, kernelSize: [2, 3], strides: [1, 2], padding: 'valid', activation: 'leakyRelu', alpha: 0.2 }, // 2x2
      { type: 'conv2d', filters: 2, kernelSize: [1, 1], strides: [2, 2], padding: 'valid', activation: 'sigmoid' }, // 1x1
    ],
    outputShape: [1, 1, 2],
  },
  'conv2dTranspose, valid k3 s2, asymmetric kernels and strides': {
    latentSize: 6,
    layers: [
      { type: 'dense', units: 30, activation: 'relu' },
      { type: 'reshape', shape: [3, 5, 2] },
      { type: 'conv2dTranspose', filters: 3, kernelSize: [3, 3], strides: [2, 2], padding: 'valid', activation: 'relu' }, // 7x11
      { type: 'conv2dTranspose', filters: 4, kernelSize: [1, 3], strides: [1, 1], padding: 'same', activation: 'tanh' }, // 7x11
      { type: 'conv2dTranspose', filters: 2, kernelSize: [3, 2], strides: [2, 1], padding: 'same', activation: 'linear' }, // 14x11
      { type: 'conv2d', filters: 3, kernelSize: [3, 2], strides: [2, 2], padding: 'valid', activation: 'relu' }, // 6x5
      { type: 'conv2dTranspose', filters: 2, kernelSize: [3, 2], strides: [1, 2], padding: 'valid', activation: 'sigmoid' }, // 8x10
    ],
    outputShape: [8, 10, 2],
  },
  'conv2dTranspose, kernels smaller than strides (output_padding) and odd same padding': {
    latentSize: 4,
    layers: [
      { type: 'dense', units: 12, activation: 'relu' },
      { type: 'reshape', shape: [2, 3, 2] },
      { type: 'conv2dTranspose', filters: 3, kernelSize: [1, 2], strides: [2, 3], padding: 'valid', activation: 'relu' }, // 4x9
      { type: 'conv2dTranspose', filters: 2, kernelSize: [1, 1], strides: [3, 2], padding: 'same', activation: 'tanh' }, // 12x18
      { type: 'conv2dTranspose', filters: 3, kernelSize: [3, 5], strides: [2, 3], padding: 'same', activation: 'linear' }, // 24x54
      { type: 'conv2dTranspose', filters: 1, kernelSize: [4, 4], strides: [1, 1], padding: 'valid', activation: 'sigmoid' }, // 27x57
    ],
    outputShape: [27, 57, 1],
  },
  'no-op layers only (the output is the latent, through an Identity)': {
    latentSize: 4,
    layers: [{ type: 'activation', activation: 'linear' }, { type: 'flatten' }],
    outputShape: [4],
  },
  'conditional, label joined after the latent': {
    latentSize: 4,
    classes: 10,
    layers: [
      { type: 'concatenate', labelFirst: false },
      { type: 'dense', units: 20, activation: 'relu' },
      { type: 'dense', units: 16, activation: 'sigmoid' },
    ],
    outputShape: [16],
  },
  'conditional, label joined first, mid-network, then convolutions': {
    latentSize: 3,
    classes: 4,
    layers: [
      { type: 'dense', units: 6, activation: 'relu' },
      { type: 'concatenate', labelFirst: true },
      { type: 'dense', units: 18, activation: 'relu' },
      { type: 'reshape', shape: [3, 3, 2] },
      { type: 'conv2dTranspose', filters: 2, kernelSize: [4, 4], strides: [2, 2], padding: 'same', activation: 'sigmoid' },
    ],
    outputShape: [6, 6, 2],
  },
  'conv2d and transposed, valid padding, odd kernels and strides': {
    latentSize: 6,
    layers: [
      { type: 'dense', units: 50, activation: 'relu' },
      { type: 'reshape', shape: [5, 5, 2] },
      { type: 'conv2dTranspose', filters: 3, kernelSize: [3, 3], strides: [2, 2], padding: 'valid', activation: 'relu' },
      { type: 'conv2d', filters: 9, kernelSize: [3, 2], strides: [2, 1], padding: 'same', activation: 'tanh' },
      { type: 'conv2d', filters: 5, kernelSize: [2, 2], strides: [1, 2], padding: 'valid', activation: 'linear' },
      { type: 'conv2dTranspose', filters: 4, kernelSize: [1, 3], strides: [1, 3], padding: 'same', activation: 'sigmoid' },
    ],
    outputShape: [5, 15, 4],
  },
  'conditional, label joined first, mid-network': {
    latentSize: 3,
    classes: 4,
    layers: [
      { type: 'dense', units: 6, activation: 'relu' },
      { type: 'concatenate', labelFirst: true },
      { type: 'dense', units: 9, activation: 'sigmoid' },
      { type: 'reshape', shape: [3, 3, 1] },
    ],
    outputShape: [3, 3, 1],
  },
};
