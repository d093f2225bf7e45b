// Property-based corruption tests (fast-check): whatever happens to a model file, loading and decoding
// it either works or throws an EdgeVaeError. Never a wasm trap, a TypeError, a hang or a runaway
// allocation. 10,000 cases in all, on two small models (f32 dense+conv, i8 conditional).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Decoder, EdgeVaeError } from '../src/index.ts';
import { readModel } from '../src/format/read.ts';
import { buildModel } from './helpers/random-models.ts';
import { fixCrc, mutateAt, reframe, smallConvPlan } from './helpers/corrupt.ts';

const conv = buildModel(smallConvPlan('f32'));
const conditional = buildModel({
  latentSize: 2,
  classes: 3,
  dtype: 'i8',
  layers: [
    { type: 'concatenate', labelFirst: false },
    { type: 'dense', units: 9, activation: 'tanh' },
    { type: 'reshape', shape: [3, 3, 1] },
  ],
  outputShape: [3, 3, 1],
});
const MODELS = [conv, conditional];
const LOAD = { maxMemory: 64 << 20 };

/** How the cases ended, so each test can check it exercised both the loading and the refusing paths. */
const outcomes = { decoded: 0, refused: 0 };

/** Loads and decodes two samples; true if it worked, true if it failed with an EdgeVaeError, else throws. */
async function survives(file: Uint8Array): Promise<boolean> {
  try {
    const decoder = await Decoder.load(file, LOAD);
    const out = decoder.sample(2, { seed: 1 });
    assert.equal(out.length, 2 * decoder.info.outputSize);
    outcomes.decoded++;
    return true;
  } catch (err) {
    if (!(err instanceof EdgeVaeError)) throw err;
    outcomes.refused++;
    return true;
  }
}

function expectOutcomes(runs: number, expected: 'both' | 'refused') {
  const { decoded, refused } = outcomes;
  assert.equal(decoded + refused, runs, 'every case ran');
  if (expected === 'both') assert.ok(decoded > 0 && refused > 0, `cases decoded: ${decoded}, refused: ${refused}`);
  else assert.equal(refused, runs, `every case refused (decoded: ${decoded})`);
  outcomes.decoded = outcomes.refused = 0;
}

const modelArb = fc.constantFrom(...MODELS);

/** Any JSON value, including the ones a validator forgets: huge, negative, fractional, wrong type. */
const nastyValue = fc.oneof(
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 32 + 1, -(2 ** 31), 2 ** 53, 1e308, 0.5, null, true, '', 'dense', [], {}, [0], [1, 1, 1], [65536, 65536, 1]),
  fc.integer({ min: -5, max: 100 }),
  fc.jsonValue({ maxDepth: 2 }),
);

describe('corrupted model files (property-based)', { timeout: 600_000 }, () => {
  it('random bit flips are caught by the checksum (2,000 cases)', () => {
    fc.assert(
      fc.property(modelArb, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (file, flips) => {
        const bad = file.slice();
        for (const f of flips) bad[(f >> 3) % bad.length] ^= 1 << (f & 7);
        if (bad.every((b, i) => b === file[i])) return true; // flips cancelled out
        assert.throws(() => readModel(bad), EdgeVaeError);
        return true;
      }),
      { numRuns: 2000, seed: 1 },
    );
  });

  it('byte mutations behind a valid checksum never crash (3,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(modelArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (file, edits) => {
        const bad = file.slice();
        for (const [at, byte] of edits) bad[16 + (at % (bad.length - 16))] = byte; // past the CRC field
        return survives(fixCrc(bad));
      }),
      { numRuns: 3000, seed: 2 },
    );
    expectOutcomes(3000, 'both');
  });

  it('header mutations (absurd values, wrong types, removed fields) never crash (4,000 cases)', async () => {
    const headers = MODELS.map((m) => readModel(m).header);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: MODELS.length - 1 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
        nastyValue,
        fc.boolean(),
        async (which, path, value, remove) => survives(reframe(MODELS[which], mutateAt(headers[which], path, value, remove))),
      ),
      { numRuns: 4000, seed: 3 },
    );
    expectOutcomes(4000, 'both');
  });

  it('truncation is refused even with the length and checksum patched to match (1,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(modelArb, fc.nat(), async (file, cut) => {
        const bad = file.slice(0, 32 + (cut % (file.length - 32)));
        new DataView(bad.buffer).setUint32(8, bad.length, true);
        return survives(fixCrc(bad));
      }),
      { numRuns: 1000, seed: 4 },
    );
    expectOutcomes(1000, 'refused');
  });
});
