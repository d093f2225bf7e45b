import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError, dequantizeInt8PerChannel, quantizeInt8PerChannel } from '../src/export/index.ts';
import { normalSamples, seededRandom } from './helpers/numbers.ts';

/** Random tensors of rank 1..4 with a random channel axis and per-channel magnitudes spanning 1e-4..1e3. */
function* randomCases(count: number) {
  const random = seededRandom(42);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  for (let n = 0; n < count; n++) {
    const shape = Array.from({ length: int(1, 4) }, () => int(1, 6));
    const axis = int(0, shape.length - 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const magnitudes = Array.from({ length: shape[axis] }, () => 10 ** (random() * 7 - 4));
    const values = normalSamples(random, shape.reduce((a, b) => a * b, 1));
    const data = Float32Array.from(values, (v, i) => v * magnitudes[Math.floor(i / inner) % shape[axis]]);
    yield { shape, axis, inner, data };
  }
}

describe('quantizeInt8PerChannel', () => {
  test('round trip: every value is within half a step of its channel', () => {
    for (const { shape, axis, inner, data } of randomCases(300)) {
      const { q, scales } = quantizeInt8PerChannel(data, shape, axis);
      assert.equal(scales.length, shape[axis]);
      const restored = dequantizeInt8PerChannel(q, scales, shape, axis);
      for (let i = 0; i < data.length; i++) {
        assert.ok(q[i] >= -127 && q[i] <= 127);
        const scale = scales[Math.floor(i / inner) % shape[axis]];
        // scale / 2 from rounding, plus the f32 rounding of q * scale.
        assert.ok(Math.abs(data[i] - restored[i]) <= scale / 2 + Math.abs(data[i]) * 2 ** -23, `shape [${shape}] axis ${axis} index ${i}`);
      }
    }
  });

  test('the largest magnitude of each channel maps to ±127', () => {
    for (const { shape, axis, inner, data } of randomCases(100)) {
      const { q } = quantizeInt8PerChannel(data, shape, axis);
      const maxLevel = new Array(shape[axis]).fill(0);
      for (let i = 0; i < q.length; i++) {
        const c = Math.floor(i / inner) % shape[axis];
        maxLevel[c] = Math.max(maxLevel[c], Math.abs(q[i]));
      }
      assert.deepEqual(maxLevel, new Array(shape[axis]).fill(127));
    }
  });

  test('scales follow the chosen axis', () => {
    // [2, 3] row-major: along axis 1 the channels are the columns, along axis 0 the rows.
    const data = Float32Array.of(1, -3, 4, -127, 0.5, 0);
    assert.deepEqual([...quantizeInt8PerChannel(data, [2, 3], 1).scales], [1, 3 / 127, 4 / 127].map(Math.fround));
    assert.deepEqual([...quantizeInt8PerChannel(data, [2, 3], 0).scales], [4 / 127, 1].map(Math.fround));
    const { q } = quantizeInt8PerChannel(data, [2, 3], 0);
    assert.deepEqual([...q], [32, -95, 127, -127, 1, 0]); // 1 / (4/127) = 31.75 → 32; 0.5 with scale 1 rounds away from zero
  });

  test('an all-zero channel gets scale 1 and zeros', () => {
    const { q, scales } = quantizeInt8PerChannel(new Float32Array(6), [3, 2], 1);
    assert.deepEqual([...scales], [1, 1]);
    assert.deepEqual([...q], [0, 0, 0, 0, 0, 0]);
  });

  test('negation is exact: w and -w quantize to opposite levels', () => {
    for (const { shape, axis, data } of randomCases(50)) {
      const negated = data.map((v) => -v);
      const a = quantizeInt8PerChannel(data, shape, axis);
      const b = quantizeInt8PerChannel(negated, shape, axis);
      assert.deepEqual(b.scales, a.scales);
      assert.ok(a.q.every((v, i) => b.q[i] === -v));
    }
  });

  test('bad arguments are InputErrors', () => {
    assert.throws(() => quantizeInt8PerChannel(new Float32Array(6), [2, 3], 2), InputError);
    assert.throws(() => quantizeInt8PerChannel(new Float32Array(5), [2, 3], 1), InputError);
    assert.throws(() => quantizeInt8PerChannel(Float32Array.of(1, NaN), [2], 0), InputError);
    assert.throws(() => dequantizeInt8PerChannel(new Int8Array(6), new Float32Array(2), [2, 3], 1), InputError);
  });
});
