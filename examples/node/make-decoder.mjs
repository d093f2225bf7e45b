// Builds a small TensorFlow.js decoder and saves it as model.json + weights.bin, the way a training
// script would (train it first in real use). Run from the repository: node examples/node/make-decoder.mjs
import * as tf from '@tensorflow/tfjs';
import { saveModel, selectBackend } from 'edgevae-train/export';

await selectBackend('cpu'); // tf.setBackend('cpu'), without tfjs's "install tfjs-node" banner
const decoder = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [8], units: 49, activation: 'relu' }),
    tf.layers.reshape({ targetShape: [7, 7, 1] }),
    tf.layers.conv2dTranspose({ filters: 16, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu' }),
    tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'sigmoid' }),
  ],
});
await saveModel(decoder, 'my-decoder');
console.log('saved my-decoder/model.json');
