// Acceptance: for each seed decoder architecture, with random weights, the runtime's output matches
// TensorFlow.js (cpu backend) on random latents: max abs difference <= 1e-5 in f32, 2e-3 in f16,
// 2e-2 in int8.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder } from '../src/index.ts';
import { exportModel } from '../src/export/index.ts';
import { ALL_FIXTURES } from './fixtures/models.ts';
import { maxAbsDiff, randomValues, seededRandom } from './helpers/numbers.ts';
import { tf } from './helpers/setup.ts';

const TOLERANCE = { f32: 1e-5, f16: 2e-3, i8: 2e-2 } as const;
const BATCH = 13; // not a multiple of the kernels' 4-row block

describe('runtime vs TensorFlow.js (cpu backend)', () => {
  for (const fixture of ALL_FIXTURES) {
    it(`${fixture.name}: f32, f16 and int8 within tolerance`, async () => {
      const model = fixture.build(5);
      const latentSize = (model.inputs[0].shape[1] as number);
      const latents = randomValues(BATCH * latentSize, seededRandom(9), 2);
      const labels = Array.from({ length: BATCH }, (_, i) => i % 10 % (fixture.conditional ? (model.inputs[1].shape[1] as number) : 1));
      const inputs = [tf.tensor2d(latents, [BATCH, latentSize])];
      if (fixture.conditional) inputs.push(tf.oneHot(tf.tensor1d(labels, 'int32'), model.inputs[1].shape[1] as number).toFloat() as tf.Tensor2D);
      const expected = (model.predict(fixture.conditional ? inputs : inputs[0]) as tf.Tensor).dataSync() as Float32Array;
      tf.dispose(inputs);
      for (const dtype of ['f32', 'f16', 'i8'] as const) {
        const file = exportModel(model, { dtype, meta: { output: { shape: fixture.outputShape } } });
        const decoder = await Decoder.load(file);
        const got = decoder.decode(latents, fixture.conditional ? labels : undefined);
        const diff = maxAbsDiff(got, expected);
        assert.ok(diff <= TOLERANCE[dtype], `${fixture.name} ${dtype}: max abs diff ${diff.toExponential(2)} > ${TOLERANCE[dtype]}`);
      }
      model.dispose();
    });
  }
});
