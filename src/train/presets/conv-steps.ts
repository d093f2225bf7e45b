/**
 * Running the convolutional presets' layers one by one in a training pass (conv-vae, dcgan-vae):
 * dropout where the list says so, BatchNormalization in training mode, and on backends without a
 * fast filter gradient, convolutions whose kernel gradient is computed by `filterGradient`.
 */
import * as tf from '@tensorflow/tfjs';
import { EDGEVAE_BACKEND } from '../edgevae-backend.ts';

/** A layer, or the place of a dropout that only the training pass applies. */
export type Step = tf.layers.Layer | 'dropout';

type Padding = 'same' | 'valid';

/**
 * The gradient of a 2-d convolution with respect to its filter: what tf.conv2DBackpropFilter
 * computes, the same sum, written as one forward convolution: with the batch as channels, dy as the
 * filter and the stride as its dilation,
 *   dW[i, j, c, o] = sum over n, p, q of input[n, p*s + i, q*s + j, c] * dy[n, p, q, o].
 * It exists because tfjs's cpu kernel for Conv2DBackpropFilter loops element by element (about
 * 37 s of a 41 s conv-vae training step at batch 8) and the wasm backend has none at all. The
 * edgevae backend has a fast one, so there the layers run with tfjs's own gradients
 * (hasFastFilterGradient). 'same' pads the input as the forward pass did; 'valid' drops the rows
 * and columns no output reads.
 */
function filterGradient(input: tf.Tensor4D, dy: tf.Tensor4D, kernel: [number, number], strides: [number, number], padding: Padding): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = input.shape;
    const [, oh, ow] = dy.shape;
    const [kh, kw] = kernel;
    const [sh, sw] = strides;
    const needH = (oh - 1) * sh + kh;
    const needW = (ow - 1) * sw + kw;
    let x = input;
    if (padding === 'same') {
      const padH = Math.max(0, needH - h);
      const padW = Math.max(0, needW - w);
      x = input.pad([[0, 0], [Math.floor(padH / 2), padH - Math.floor(padH / 2)], [Math.floor(padW / 2), padW - Math.floor(padW / 2)], [0, 0]]);
    } else if (needH < h || needW < w) {
      x = input.slice([0, 0, 0, 0], [-1, needH, needW, -1]);
    }
    // [c, h', w', n] convolved with [oh, ow, n, o], dilated by the stride: [c, kh, kw, o]
    const grad = tf.conv2d(x.transpose([3, 1, 2, 0]) as tf.Tensor4D, dy.transpose([1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid', 'NHWC', [sh, sw]);
    return grad.transpose([1, 2, 0, 3]) as tf.Tensor4D;
  });
}

interface ConvConfig {
  kernelSize: [number, number];
  strides: [number, number];
  filters: number;
  padding: Padding;
  activation: string;
}

/**
 * Applies a Conv2D or Conv2DTranspose layer (no fused activation, bias or none) to `x` with the same
 * forward value as layer.apply, and gradients that use filterGradient for the kernel.
 */
function applyConv(layer: tf.layers.Layer, x: tf.Tensor4D): tf.Tensor4D {
  const transposed = layer.getClassName() === 'Conv2DTranspose';
  const { kernelSize, strides, filters, padding, activation } = layer.getConfig() as unknown as ConvConfig;
  if (activation !== 'linear') throw new Error(`layer ${layer.name} fuses a ${activation} activation, which applyConv leaves out`);
  const [kernel, bias] = layer.weights.map((w) => w.read());
  const [n, h, w] = x.shape;
  const side = (size: number, k: number, s: number) => (padding === 'same' ? size * s : (size - 1) * s + k);
  const outShape: [number, number, number, number] = [n, side(h, kernelSize[0], strides[0]), side(w, kernelSize[1], strides[1]), filters];
  const forward = (xi: tf.Tensor4D, ki: tf.Tensor4D) => (transposed ? tf.conv2dTranspose(xi, ki, outShape, strides, padding) : tf.conv2d(xi, ki, strides, padding));
  const gradients = (g: tf.Tensor4D, xs: tf.Tensor4D, ks: tf.Tensor4D): tf.Tensor[] =>
    transposed
      ? [tf.conv2d(g, ks, strides, padding), filterGradient(g, xs, kernelSize, strides, padding)]
      : [tf.conv2dTranspose(g, ks, xs.shape, strides, padding), filterGradient(xs, g, kernelSize, strides, padding)];
  if (!bias) {
    const op = tf.customGrad((input, k, save) => {
      (save as tf.GradSaveFunc)([input as tf.Tensor4D, k as tf.Tensor4D]);
      return { value: forward(input as tf.Tensor4D, k as tf.Tensor4D), gradFunc: (dy, [xs, ks]) => gradients(dy as tf.Tensor4D, xs as tf.Tensor4D, ks as tf.Tensor4D) };
    });
    return op(x, kernel) as tf.Tensor4D;
  }
  const op = tf.customGrad((input, k, b, save) => {
    (save as tf.GradSaveFunc)([input as tf.Tensor4D, k as tf.Tensor4D]);
    return {
      value: forward(input as tf.Tensor4D, k as tf.Tensor4D).add(b as tf.Tensor),
      gradFunc: (dy, [xs, ks]) => [...gradients(dy as tf.Tensor4D, xs as tf.Tensor4D, ks as tf.Tensor4D), (dy as tf.Tensor4D).sum([0, 1, 2])],
    };
  });
  return op(x, kernel, bias) as tf.Tensor4D;
}

/** True on the edgevae backend, whose Conv2DBackpropFilter kernel beats filterGradient's workaround. */
function hasFastFilterGradient(): boolean {
  return tf.getBackend() === EDGEVAE_BACKEND;
}

/**
 * Runs `steps` on `x`: dropouts only when `dropout` is given, BatchNormalization with the batch's
 * statistics (updating its moving ones) when `training`, else as at inference.
 */
export function runSteps(steps: Step[], x: tf.Tensor, options: { dropout?: (t: tf.Tensor) => tf.Tensor; training?: boolean } = {}): tf.Tensor {
  const ownFilterGradient = !hasFastFilterGradient();
  for (const step of steps) {
    if (step === 'dropout') {
      if (options.dropout) x = options.dropout(x);
    } else if (ownFilterGradient && (step.getClassName() === 'Conv2D' || step.getClassName() === 'Conv2DTranspose')) {
      x = applyConv(step, x as tf.Tensor4D);
    } else {
      x = step.apply(x, { training: options.training ?? false }) as tf.Tensor;
    }
  }
  return x;
}

/** The steps' layers, dropouts left out: what a model of them holds. */
export const layersOf = (steps: Step[]) => steps.filter((s): s is tf.layers.Layer => s !== 'dropout');
