// Training randomness: the dropout mask's distribution, and that a (seed, step, stream) key fixes it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { StepRandom } from '../src/train/random.ts';
import { dropoutMask } from '../src/train/seeded.ts';

describe('dropout', () => {
  it('keeps about 1 - rate of the values, scaled by 1 / (1 - rate), and drops the rest to 0', () => {
    for (const rate of [0.2, 0.5, 0.9]) {
      const mask = dropoutMask(200_000, rate, 7);
      const scale = Math.fround(1 / (1 - rate));
      let kept = 0;
      for (const value of mask) {
        if (value === scale) kept++;
        else assert.equal(value, 0);
      }
      // 200,000 Bernoulli draws: the share is within 0.005 of 1 - rate by about 6 standard deviations
      assert.ok(Math.abs(kept / mask.length - (1 - rate)) < 0.005, `rate ${rate}: kept ${kept}`);
    }
  });

  it('is fixed by its seed, and differs between seeds', () => {
    assert.deepEqual(dropoutMask(1000, 0.3, 42), dropoutMask(1000, 0.3, 42));
    assert.notDeepEqual(dropoutMask(1000, 0.3, 42), dropoutMask(1000, 0.3, 43));
  });

  it('StepRandom applies it to a tensor: the same step and stream give the same result, another step another', async () => {
    await tf.setBackend('cpu');
    const x = tf.ones([4, 250]);
    const draw = (step: number) => Array.from(new StepRandom(5, step).dropout(x, 0.25).dataSync());
    const first = draw(3);
    assert.deepEqual(first, draw(3));
    assert.notDeepEqual(first, draw(4));
    assert.ok(first.every((v) => v === 0 || v === Math.fround(1 / 0.75)));
    assert.equal(new StepRandom(5, 3).dropout(x, 0), x, 'rate 0 is the identity');
    x.dispose();
  });
});
