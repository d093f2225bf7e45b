// The prior a model was trained against (meta.priorStddev): the adversarial autoencoders' N(0, 2^2 I)
// is written at export, and sample, evaluate, the Worker and the web component draw from it by
// default; a file without it (every file written before) keeps N(0, I). The field is validated, and a
// file that holds it is written as version 2.1.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder, FormatError, toImageGrid } from '../src/index.ts';
import { readModel } from '../src/format/read.ts';
import { encodePng } from '../src/runtime/png.ts';
import { handleRequest } from '../src/worker/index.ts';
import { readView } from '../src/web/sampler-view.ts';
import { edgevae } from './helpers/cli.ts';
import { reframe } from './helpers/corrupt.ts';
import { buildModel } from './helpers/random-models.ts';
import { LAYER_PLANS } from './helpers/plans.ts';

const shippedAae = readFileSync(new URL('../packages/models/aae.evae', import.meta.url));

/** `file` with meta fields set (undefined deletes one), its header otherwise as stored (a version 1 file stays one). */
function withMeta(file: Uint8Array, fields: Record<string, unknown>): Uint8Array {
  const length = new DataView(file.buffer, file.byteOffset).getUint32(20, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(32, 32 + length))) as { meta: Record<string, unknown> };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete header.meta[key];
    else header.meta[key] = value;
  }
  return reframe(file, header);
}

/** The shipped aae, trained against N(0, 2^2 I) and exported with it recorded. */
const aae = withMeta(shippedAae, { priorStddev: 2 });
/** The same model as a file written before the field existed: no priorStddev. */
const unrecorded = withMeta(shippedAae, { priorStddev: undefined });

describe('format: meta.priorStddev', () => {
  it('is read into info.priorStddev; a file without it says 1', async () => {
    assert.equal((await Decoder.load(aae)).info.priorStddev, 2);
    assert.equal((await Decoder.load(unrecorded)).info.priorStddev, 1);
  });

  it('the shipped aae records it', async () => {
    assert.equal((await Decoder.load(shippedAae)).info.meta.priorStddev, 2);
  });

  it('a file that holds it is written as 2.1, one without it as 2.0', () => {
    const plan = LAYER_PLANS['conv-vae-like decoder'];
    const minor = (file: Uint8Array) => new DataView(file.buffer, file.byteOffset).getUint16(6, true);
    assert.equal(minor(buildModel({ ...plan, seed: 1 })), 0);
    const file = buildModel({ ...plan, seed: 1, meta: { priorStddev: 2 } });
    assert.equal(minor(file), 1);
    assert.equal(readModel(file).header.meta.priorStddev, 2);
  });

  for (const bad of [0, -1, 1001, 'x', null]) {
    it(`refuses priorStddev ${JSON.stringify(bad)}`, async () => {
      await assert.rejects(Decoder.load(withMeta(shippedAae, { priorStddev: bad })), (e: unknown) => e instanceof FormatError && /meta\.priorStddev must be (a number in \(0, 1000\]|a finite number)/.test(e.message));
    });
  }
});

describe('runtime: the default stddev is the trained-against prior', () => {
  it('sample and sampleLatents draw N(0, 2^2 I) for a file that records it, N(0, I) for one that does not', async () => {
    const recorded = await Decoder.load(aae);
    const old = await Decoder.load(unrecorded);
    assert.deepEqual(recorded.sample(8, { seed: 3 }), old.sample(8, { seed: 3, stddev: 2 }));
    assert.deepEqual(recorded.sampleLatents(8, { seed: 3 }), old.sampleLatents(8, { seed: 3, stddev: 2 }));
    assert.deepEqual(recorded.sample(8, { seed: 3, prior: 'standard' }), old.sample(8, { seed: 3, stddev: 2 }), "'standard' is the Gaussian the model was trained against");
    assert.deepEqual(recorded.sample(8, { seed: 3, stddev: 1 }), old.sample(8, { seed: 3 }), 'an explicit stddev wins');
    assert.deepEqual(old.sample(8, { seed: 3 }), old.sample(8, { seed: 3, stddev: 1 }));
    assert.equal(recorded.defaultStddev(), 2);
    assert.equal(old.defaultStddev(), 1);
    // traverse's other dimensions, drawn from a seed, come from the same prior
    assert.deepEqual(recorded.traverse({ dim: 0, seed: 5, steps: 3 }), old.traverse({ dim: 0, seed: 5, steps: 3, stddev: 2 }));
  });

  it('with a fitted mixture too: 1 within its components, the trained stddev for prior standard', async () => {
    const plan = LAYER_PLANS['conv-vae-like decoder'];
    const d = 8;
    const factor = Array.from({ length: (d * (d + 1)) / 2 }, (_, i) => ([0, 2, 5, 9, 14, 20, 27, 35].includes(i) ? 1 : 0));
    const prior = { type: 'gaussianMixture' as const, weights: [1], means: [new Array(d).fill(1)], choleskyFactors: [factor] };
    const both = await Decoder.load(buildModel({ ...plan, seed: 2, prior, meta: { priorStddev: 3 } }));
    assert.equal(both.defaultStddev('model'), 1);
    assert.equal(both.defaultStddev('standard'), 3);
    assert.deepEqual(both.sampleLatents(4, { seed: 1, prior: 'standard' }), both.sampleLatents(4, { seed: 1, prior: 'standard', stddev: 3 }));
    assert.deepEqual(both.sampleLatents(4, { seed: 1 }), both.sampleLatents(4, { seed: 1, stddev: 1 }));
  });
});

describe('CLI, Worker and web component', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgevae-prior-'));
    file = join(dir, 'aae.evae');
    writeFileSync(file, aae);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sample draws from the file\'s prior by default; --stddev overrides it', async () => {
    const old = await Decoder.load(unrecorded);
    const png = (stddev: number) => encodePng(toImageGrid(old.sample(16, { seed: 4, stddev }), { shape: [28, 28, 1], range: [0, 1] }));
    for (const [args, stddev] of [[[], 2], [['--stddev', '1'], 1]] as const) {
      const out = join(dir, `s${stddev}.png`);
      const result = edgevae('sample', '--model', file, '--n', '16', '--seed', '4', ...args, '--out', out);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(new Uint8Array(readFileSync(out)), png(stddev), `stddev ${stddev}`);
    }
  });

  it('evaluate draws from the file\'s prior by default and takes --stddev', () => {
    const run = (...args: string[]) => {
      const result = edgevae('evaluate', '--model', file, '--per-class', '5', '--seed', '2', ...args);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout;
    };
    const byDefault = run();
    assert.match(byDefault, /latents from N\(0, 2\^2 I\)/);
    assert.equal(run('--stddev', '2').replace(/\s+/g, ' '), byDefault.replace(/\s+/g, ' '));
    const standard = run('--stddev', '1');
    assert.match(standard, /latents from N\(0, I\)/);
    assert.notEqual(standard.split('\n').slice(1).join('\n'), byDefault.split('\n').slice(1).join('\n'));
    const refused = edgevae('evaluate', '--model', file, '--stddev', '-1');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--stddev <sd>' argument '-1' is invalid\. expected a number >= 0/);
  });

  it('the Worker\'s /sample draws from it by default, takes stddev= and refuses a bad one', async () => {
    const recorded = await Decoder.load(aae);
    const get = async (query: string) => {
      const response = await handleRequest(new Request(`http://localhost/sample?${query}`), recorded);
      return { status: response.status, body: await response.json() };
    };
    const byDefault = await get('n=3&seed=11&format=json');
    assert.equal(byDefault.body.stddev, 2);
    assert.deepEqual(Float32Array.from(byDefault.body.samples.flat()), recorded.sample(3, { seed: 11, stddev: 2 }));
    const given = await get('n=3&seed=11&stddev=0.5&format=json');
    assert.equal(given.body.stddev, 0.5);
    assert.deepEqual(Float32Array.from(given.body.samples.flat()), recorded.sample(3, { seed: 11, stddev: 0.5 }));
    for (const bad of ['-1', 'wide', '1e400', '', '0x2', '1001']) {
      const { status, body } = await get(`n=1&stddev=${encodeURIComponent(bad)}`);
      assert.equal(status, 400, bad);
      assert.equal(body.error, `stddev must be a number in 0..1000, got ${JSON.stringify(bad)}`);
    }
  });

  it('the web component\'s stddev attribute defaults to it', async () => {
    const none = () => null;
    assert.equal(readView(await Decoder.load(aae), none, []).stddev, 2);
    assert.equal(readView(await Decoder.load(unrecorded), none, []).stddev, 1);
    assert.equal(readView(await Decoder.load(aae), (name) => (name === 'stddev' ? '0.5' : null), []).stddev, 0.5);
  });
});

describe('export: a run records the prior its preset trained against', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'edgevae-prior-runs-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  // One step on a few noise images is enough: what is checked is the file's meta, not the model.
  for (const [name, stddev] of [['aae', 2], ['aae-supervised', 2], ['aae-semi', 2], ['cvae', 1]] as const) {
    it(`${name}: priorStddev ${stddev === 1 ? 'absent (N(0, I))' : stddev}, and sample() draws from it`, async () => {
      const { selectBackend } = await import('../src/train/backend.ts');
      const { getPreset } = await import('../src/train/presets/index.ts');
      const { createRun, train } = await import('../src/train/trainer.ts');
      const { exportRun } = await import('../src/train/export-run.ts');
      const { syntheticSplit } = await import('./fixtures/tiny-presets.ts');
      await selectBackend('cpu');
      const preset = getPreset(name);
      const run = { preset: name, dataset: 'mnist', config: { ...preset.defaults, batchSize: 4, labelsPerClass: 1 } };
      const runDir = await createRun(root, run);
      await train({ runDir, preset, run, train: syntheticSplit(40, 1), test: syntheticSplit(8, 2), quiet: true, maxSteps: 1 });
      const bytes = await exportRun(runDir, 'f32');
      const decoder = await Decoder.load(bytes);
      assert.equal(decoder.info.meta.priorStddev, stddev === 1 ? undefined : stddev);
      assert.equal(decoder.info.priorStddev, stddev);
      assert.deepEqual(decoder.sampleLatents(4, { seed: 1 }), decoder.sampleLatents(4, { seed: 1, stddev }));
    });
  }
});
