// The deployable Worker: edgevae's sampling API (GET /sample, POST /decode, GET /info) serving the
// shipped conditional VAE. To serve your own model, import its .evae file instead.
import wasm from 'edgevae/wasm'; // the strict SIMD build: the same bytes as Node, Deno and browsers for a seed
import model from 'edgevae/models/cvae.evae';
import { createWorker } from 'edgevae/worker';

// Pages on any origin may read the responses; to allow only yours: cors: { origin: ['https://your.page'] }.
export default createWorker({ model, wasm });
