/**
 * Decoding throughput of the edgevae runtime on the three seed decoder architectures (random weights,
 * real shapes), per weight dtype, at batch 1 and 64. Peers (tfjs-backend-wasm, onnxruntime-web) join
 * this suite with the speed work; this is the runtime's own baseline.
 *
 * Run: npm run bench   (results: bench/results/<date>-<host>-decode.json and a chart beside it)
 */
import { hostname } from 'node:os';
import b from 'benny';
import * as tf from '@tensorflow/tfjs';
import { Decoder } from '../src/index.ts';
import { exportModel } from '../src/export/index.ts';
import { ALL_FIXTURES } from '../test/fixtures/models.ts';

await tf.setBackend('cpu');
const BATCHES = [1, 64];
const cases: Parameters<typeof b.suite>[1][] = [];
for (const fixture of ALL_FIXTURES.filter((f) => f.large)) {
  const model = fixture.build(1);
  for (const dtype of ['f32', 'f16', 'i8'] as const) {
    const decoder = await Decoder.load(exportModel(model, { dtype, meta: { output: { shape: fixture.outputShape } } }));
    for (const batch of BATCHES) {
      decoder.sample(batch, { seed: 1 }); // warm up: V8 runs wasm in its baseline tier first
      cases.push(b.add(`${fixture.name} ${dtype} batch ${batch}`, () => decoder.sample(batch, { seed: 1 })));
    }
  }
}

const stamp = `${new Date().toISOString().slice(0, 10)}-${hostname()}`;
await b.suite(
  'edgevae decode (samples/s = ops/s x batch)',
  ...cases,
  b.cycle(),
  b.complete(),
  b.save({ file: `${stamp}-decode`, folder: 'bench/results', format: 'json' }),
  b.save({ file: `${stamp}-decode`, folder: 'bench/results', format: 'chart.html' }),
);
