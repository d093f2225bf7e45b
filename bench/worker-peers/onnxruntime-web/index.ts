// onnxruntime-web (its wasm-only build, one thread) running the shipped cvae exported to ONNX
// (written beside this file by bench/worker-peers.ts).
import * as ort from 'onnxruntime-web/wasm';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import model from './cvae.onnx';
import { conditionalInputs, peerWorker, routeInstantiateTo } from '../shared.ts';

export default peerWorker(async (env) => {
  ort.env.wasm.numThreads = 1; // Workers have no threads
  // Any bytes will do for both: unrouted, workerd refuses to compile them; routed, ortWasm runs instead.
  if (env.INSTANTIATE !== 'defaults') ort.env.wasm.wasmBinary = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
  if (env.INSTANTIATE === 'precompiled') routeInstantiateTo(ortWasm);
  const session = await ort.InferenceSession.create(new Uint8Array(model));
  return async (n) => {
    const { latents, oneHot } = conditionalInputs(n);
    const { x } = await session.run({ z: new ort.Tensor('float32', latents, [n, 10]), label: new ort.Tensor('float32', oneHot, [n, 10]) });
    return x.data as Float32Array;
  };
});
