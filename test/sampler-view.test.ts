// The <edgevae-sampler> element's DOM-free half: every attribute is checked with a message naming it
// and the bad value, and what the element draws equals toImageGrid(Decoder.sample) for the same
// seed, digit and stddev (sliders at zero), or the decoded shifted latents (sliders moved).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Decoder, InputError, toImageGrid } from '../src/index.ts';
import { shippedModel } from '../src/node/files.ts';
import { GRAPH_PLANS, buildGraphModel } from './helpers/random-models.ts';
import { drawSamples, parseDigit, parseIntegerAttribute, parseModelUrl, parseNumberAttribute, readView } from '../src/web/sampler-view.ts';

const load = (name: string) => Decoder.load(readFileSync(shippedModel(name)));
const cvae = await load('cvae');
const aae = await load('aae');

const gridOf = (decoder: Decoder, samples: Float32Array) => toImageGrid(samples, { shape: decoder.info.outputShape, range: decoder.info.range });
const attributes = (values: Record<string, string>) => (name: string) => values[name] ?? null;

describe('sampler attributes', () => {
  it('integers: the fallback when absent, the value when in range, a clear error otherwise', () => {
    assert.equal(parseIntegerAttribute('seed', null, 0, 10, 7), 7);
    assert.equal(parseIntegerAttribute('seed', ' 10 ', 0, 10, 7), 10);
    for (const bad of ['', ' ', 'abc', '-1', '1.5', '1e3', '11', '0x5', '9007199254740993']) {
      assert.throws(() => parseIntegerAttribute('seed', bad, 0, 10, 7), (err: Error) => err instanceof InputError && err.message === `seed must be an integer in 0..10, got "${bad}"`, bad);
    }
  });

  it('numbers: finite and in range', () => {
    assert.equal(parseNumberAttribute('stddev', null, 0, 10, 1), 1);
    assert.equal(parseNumberAttribute('stddev', '2.5', 0, 10, 1), 2.5);
    for (const bad of ['', 'x', 'NaN', 'Infinity', '-0.1', '10.5']) {
      assert.throws(() => parseNumberAttribute('stddev', bad, 0, 10, 1), /stddev must be a number in 0\.\.10/, bad);
    }
  });

  it('model: required, resolved against the page', () => {
    assert.equal(parseModelUrl('models/cvae.evae', 'http://127.0.0.1:8080/demo/index.html').href, 'http://127.0.0.1:8080/demo/models/cvae.evae');
    assert.throws(() => parseModelUrl(null, 'http://x/'), /set the model attribute/);
    assert.throws(() => parseModelUrl('  ', 'http://x/'), /set the model attribute/);
    assert.throws(() => parseModelUrl('http://[broken', 'http://x/'), /model "http:\/\/\[broken" is not a valid URL/);
  });

  it('digit: absent means every class in turn; only conditional models take one', () => {
    assert.equal(parseDigit(null, 10), undefined);
    assert.equal(parseDigit('', 10), undefined);
    assert.equal(parseDigit('9', 10), 9);
    assert.throws(() => parseDigit('10', 10), /digit must be an integer in 0\.\.9, got "10"/);
    assert.throws(() => parseDigit('3', 0), /this model is not conditional: it takes no digit \(got "3"\)/);
  });

  it('readView gathers them, with the defaults', () => {
    assert.deepEqual(readView(cvae, attributes({}), [0]), { seed: 1, count: 16, stddev: 1, digit: undefined, offsets: [0] });
    assert.deepEqual(readView(cvae, attributes({ seed: '42', count: '3', digit: '7', stddev: '0.5' }), []), { seed: 42, count: 3, stddev: 0.5, digit: 7, offsets: [] });
    assert.throws(() => readView(cvae, attributes({ count: '101' }), []), /count must be an integer in 1\.\.100, got "101"/);
  });
});

describe('drawSamples', () => {
  it('with the sliders at zero, draws exactly what Decoder.sample gives (every digit in turn, or one)', () => {
    const zeros = new Array(cvae.info.latentSize).fill(0);
    assert.deepEqual(drawSamples(cvae, { seed: 5, count: 20, stddev: 1, offsets: zeros }), gridOf(cvae, cvae.sample(20, { seed: 5 })));
    assert.deepEqual(drawSamples(cvae, { seed: 5, count: 9, stddev: 1, digit: 3, offsets: zeros }), gridOf(cvae, cvae.sample(9, { seed: 5, labels: 3 })));
    assert.deepEqual(drawSamples(aae, { seed: 1, count: 16, stddev: 2, offsets: [0, 0] }), gridOf(aae, aae.sample(16, { seed: 1, stddev: 2 })));
  });

  it('a moved slider shifts that latent coordinate of every sample, in standard deviations', () => {
    const latents = aae.sampleLatents(4, { seed: 8, stddev: 2 });
    for (let i = 0; i < 4; i++) latents[2 * i + 1] += 1.5 * 2;
    const moved = drawSamples(aae, { seed: 8, count: 4, stddev: 2, offsets: [0, 1.5] });
    assert.deepEqual(moved, gridOf(aae, aae.decode(latents)));
    assert.notDeepEqual(moved.data, drawSamples(aae, { seed: 8, count: 4, stddev: 2, offsets: [0, 0] }).data);
  });

  it('draws an RGB model in colour, scaled from its [-1, 1] range; a slider shifts one coordinate of the flattened image latent', async () => {
    const rgb = await Decoder.load(buildGraphModel({ ...GRAPH_PLANS['rgb from an image latent'], seed: 4 }));
    const zeros = new Array(128).fill(0);
    const grid = drawSamples(rgb, { seed: 2, count: 4, stddev: 1, offsets: zeros });
    assert.deepEqual(grid, toImageGrid(rgb.sample(4, { seed: 2 }), { shape: [8, 8, 3], range: [-1, 1] }));
    assert.ok(grid.data.some((v, i) => i % 4 === 0 && v !== grid.data[i + 1]), 'some pixel is not grey');
    const latents = rgb.sampleLatents(4, { seed: 2 });
    for (let i = 0; i < 4; i++) latents[i * 128 + 77] += 2;
    const offsets = zeros.map((_, dim) => (dim === 77 ? 2 : 0));
    assert.deepEqual(drawSamples(rgb, { seed: 2, count: 4, stddev: 1, offsets }), toImageGrid(rgb.decode(latents), { shape: [8, 8, 3], range: [-1, 1] }));
  });

  it('needs one offset per latent dimension', () => {
    assert.throws(() => drawSamples(aae, { seed: 1, count: 1, stddev: 1, offsets: [0] }), /1 offsets given for a 2-d latent/);
  });
});
