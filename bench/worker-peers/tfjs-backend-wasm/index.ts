// tfjs-backend-wasm (SIMD build, one thread) running the cvae's layers as TensorFlow.js ops
// (concat, dense 256 relu, dense 512 relu, dense 784 sigmoid), with f32 weights of the same shapes.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';
import { conditionalInputs, peerWorker, routeInstantiateTo } from '../shared.ts';

const LAYERS: [number, number, 'relu' | 'sigmoid'][] = [[20, 256, 'relu'], [256, 512, 'relu'], [512, 784, 'sigmoid']];

export default peerWorker(async (env) => {
  if (env.INSTANTIATE === 'precompiled') {
    routeInstantiateTo(simdWasm);
    // Emscripten fetches the .wasm before instantiating it: answer that fetch with empty bytes, which
    // the routed instantiateStreaming ignores.
    const url = 'https://wasm.invalid/tfjs-backend-wasm-simd.wasm';
    const fetchFromNetwork = globalThis.fetch;
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => (String(input) === url ? Promise.resolve(new Response(new Uint8Array(0))) : fetchFromNetwork(input, init))) as typeof fetch;
    setWasmPaths({ 'tfjs-backend-wasm.wasm': url, 'tfjs-backend-wasm-simd.wasm': url, 'tfjs-backend-wasm-threaded-simd.wasm': url });
  }
  await useWasmBackend();
  const weights = LAYERS.map(([inputs, units]) => ({ kernel: tf.randomNormal([inputs, units], 0, 0.05, 'float32', 1), bias: tf.zeros([units]) }));
  return async (n) => {
    const { latents, oneHot } = conditionalInputs(n);
    const output = tf.tidy(() => {
      let x: tf.Tensor = tf.concat([tf.tensor2d(latents, [n, 10]), tf.tensor2d(oneHot, [n, 10])], 1);
      LAYERS.forEach(([, , activation], i) => {
        const y = tf.add(tf.matMul(x, weights[i].kernel), weights[i].bias);
        x = activation === 'relu' ? tf.relu(y) : tf.sigmoid(y);
      });
      return x;
    });
    const values = (await output.data()) as Float32Array;
    output.dispose();
    return values;
  };
});

/** tf.setBackend only logs why a backend failed and returns false: keep what it logged for the error. */
async function useWasmBackend(): Promise<void> {
  const logged: string[] = [];
  const { warn, error } = console;
  console.warn = console.error = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error(`tf.setBackend('wasm') returned false, logging: ${logged.join(' | ')}`);
  } finally {
    Object.assign(console, { warn, error });
  }
}
