// edgevae in the peer comparison: the example Worker's runtime and model, decoding given inputs.
import wasm from 'edgevae/wasm';
import model from 'edgevae/models/cvae.evae';
import { Decoder } from 'edgevae/core';
import { conditionalInputs, peerWorker } from '../shared.ts';

export default peerWorker(async () => {
  const decoder = await Decoder.load(model, { wasm });
  return async (n) => {
    const { latents } = conditionalInputs(n);
    return decoder.decode(latents, Int32Array.from({ length: n }, (_, i) => i % 10));
  };
});
