// Fitted latent priors: the EM fit recovers a known mixture, the runtime draws from a file's mixture
// (reproducibly, in any batch split), 'standard' keeps the N(0, I) draws, and a reader refuses a
// malformed prior with a message naming the field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, FormatError, InputError } from '../src/index.ts';
import { readModel } from '../src/format/read.ts';
import { triangleSize, type MixturePrior } from '../src/format/spec.ts';
import { fitMixture, priorLogLikelihood } from '../src/train/latent-prior.ts';
import { buildModel } from './helpers/random-models.ts';
import { reframe, smallConvPlan } from './helpers/corrupt.ts';
import { LAYER_PLANS } from './helpers/plans.ts';

/** Two well-separated components in 8-d: 30% at -3 on axis 0 (narrow), 70% at +3 with axes 1 and 2 correlated. */
function twoBlobs(): MixturePrior {
  const d = 8;
  const narrow = new Array<number>(triangleSize(d)).fill(0);
  const tilted = new Array<number>(triangleSize(d)).fill(0);
  for (let i = 0; i < d; i++) {
    narrow[triangleSize(i + 1) - 1] = 0.5;
    tilted[triangleSize(i + 1) - 1] = 1;
  }
  // row 2 of the tilted factor: [0, 0.8, 0.6]: axes 1 and 2 have covariance 0.8, each variance 1
  tilted[triangleSize(2) + 1] = 0.8;
  tilted[triangleSize(2) + 2] = 0.6;
  const mean = (x0: number) => [x0, 0, 0, 0, 0, 0, 0, 1];
  return { type: 'gaussianMixture', weights: [0.3, 0.7], means: [mean(-3), mean(3)], choleskyFactors: [narrow, tilted] };
}

const plan = LAYER_PLANS['conv-vae-like decoder'];
const withPrior = buildModel({ ...plan, seed: 11, prior: twoBlobs() });
const withoutPrior = buildModel({ ...plan, seed: 11 });

/** Mean and covariance of the rows of n x d values that `keep` selects. */
function moments(z: Float32Array, d: number, keep: (row: Float32Array) => boolean) {
  const rows: Float32Array[] = [];
  for (let i = 0; i < z.length / d; i++) if (keep(z.subarray(i * d, (i + 1) * d))) rows.push(z.subarray(i * d, (i + 1) * d));
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  const cov = (a: number, b: number) => rows.reduce((s, r) => s + (r[a] - mean[a]) * (r[b] - mean[b]), 0) / rows.length;
  return { count: rows.length, mean, cov };
}

describe('runtime: sampling from a fitted prior', () => {
  it('draws each component by its weight, with its mean and covariance', async () => {
    const decoder = await Decoder.load(withPrior);
    assert.deepEqual(decoder.info.prior, { type: 'gaussianMixture', components: 2 });
    const n = 20000;
    const z = decoder.sampleLatents(n, { seed: 9 });
    const left = moments(z, 8, (r) => r[0] < 0);
    const right = moments(z, 8, (r) => r[0] >= 0);
    // 20,000 draws: the weight's standard error is 0.0032; the moments' about 0.01
    assert.ok(Math.abs(left.count / n - 0.3) < 0.015, `share of component 0: ${left.count / n}`);
    assert.ok(Math.abs(left.mean[0] + 3) < 0.05 && Math.abs(right.mean[0] - 3) < 0.05, `means ${left.mean[0]}, ${right.mean[0]}`);
    assert.ok(Math.abs(left.mean[7] - 1) < 0.05 && Math.abs(right.mean[7] - 1) < 0.05);
    assert.ok(Math.abs(left.cov(3, 3) - 0.25) < 0.03, `narrow variance ${left.cov(3, 3)}`);
    assert.ok(Math.abs(left.cov(1, 2)) < 0.03, `narrow covariance ${left.cov(1, 2)}`);
    assert.ok(Math.abs(right.cov(1, 2) - 0.8) < 0.05 && Math.abs(right.cov(2, 2) - 1) < 0.05, `tilted covariance ${right.cov(1, 2)}, variance ${right.cov(2, 2)}`);
  });

  it('is fixed by the seed across loads, batch splits and offsets; sample() decodes sampleLatents()', async () => {
    const a = await Decoder.load(withPrior);
    const b = await Decoder.load(withPrior, { maxBatch: 5 });
    const whole = a.sample(40, { seed: 4 });
    assert.deepEqual(b.sample(40, { seed: 4 }), whole);
    const joined = new Float32Array(whole.length);
    joined.set(a.sample(13, { seed: 4 }));
    joined.set(a.sample(27, { seed: 4, offset: 13 }), 13 * 784);
    assert.deepEqual(joined, whole);
    assert.deepEqual(a.decode(a.sampleLatents(40, { seed: 4 })), whole);
  });

  it("prior 'standard' gives the N(0, I) draws of a file without one; stddev 0 gives the components' means", async () => {
    const fitted = await Decoder.load(withPrior);
    const plain = await Decoder.load(withoutPrior);
    assert.deepEqual(plain.info.prior, { type: 'standard' });
    assert.deepEqual(fitted.sampleLatents(30, { seed: 2, prior: 'standard' }), plain.sampleLatents(30, { seed: 2 }));
    assert.deepEqual(plain.sampleLatents(30, { seed: 2, prior: 'model' }), plain.sampleLatents(30, { seed: 2 }), "'model' without a fitted prior is N(0, I)");
    const centres = fitted.sampleLatents(50, { seed: 2, stddev: 0 });
    for (let i = 0; i < 50; i++) assert.ok([-3, 3].includes(centres[i * 8]) && centres[i * 8 + 7] === 1, `row ${i}: ${centres.subarray(i * 8, i * 8 + 8)}`);
    assert.throws(() => fitted.sample(2, { prior: 'gaussian' as never }), (e: unknown) => e instanceof InputError && /prior must be one of model, standard, got "gaussian"/.test(e.message));
  });
});

describe('fitting a prior (EM)', () => {
  it('recovers the mixture the runtime drew from', async () => {
    const truth = twoBlobs();
    const codes = (await Decoder.load(withPrior)).sampleLatents(20000, { seed: 1 });
    const fit = fitMixture(codes, 8, 2, { seed: 3 });
    const order = fit.prior.means[0][0] < 0 ? [0, 1] : [1, 0];
    order.forEach((k, i) => {
      assert.ok(Math.abs(fit.prior.weights[k] - truth.weights[i]) < 0.015, `weight ${fit.prior.weights[k]}`);
      fit.prior.means[k].forEach((m, j) => assert.ok(Math.abs(m - truth.means[i][j]) < 0.05, `component ${i} mean[${j}] ${m}`));
      fit.prior.choleskyFactors[k].forEach((l, j) => assert.ok(Math.abs(l - truth.choleskyFactors[i][j]) < 0.05, `component ${i} factor[${j}] ${l}`));
    });
    // the fitted prior explains fresh draws about as well as the true one
    const fresh = (await Decoder.load(withPrior)).sampleLatents(5000, { seed: 77 });
    const gap = priorLogLikelihood(truth, fresh, 8) - priorLogLikelihood(fit.prior, fresh, 8);
    assert.ok(Math.abs(gap) < 0.01, `log-likelihood gap ${gap}`);
    // the reported log-likelihood is the returned prior's, whether EM converged or ran out of iterations
    for (const stopped of [fit, fitMixture(codes, 8, 2, { seed: 3, iterations: 3 })]) {
      assert.ok(Math.abs(stopped.logLikelihood - priorLogLikelihood(stopped.prior, codes, 8)) < 1e-9, `after ${stopped.iterations} iterations`);
    }
  });

  it('gives N(0, I) its closed-form log-likelihood, and a file that stores the fit loads', async () => {
    const d = 3;
    const identity = [1, 0, 1, 0, 0, 1];
    const standard: MixturePrior = { type: 'gaussianMixture', weights: [1], means: [[0, 0, 0]], choleskyFactors: [identity] };
    const codes = Float32Array.of(0, 0, 0, 1, 2, -1);
    const expected = -0.5 * d * Math.log(2 * Math.PI) - 0.5 * (0 + 6) / 2;
    assert.ok(Math.abs(priorLogLikelihood(standard, codes, d) - expected) < 1e-12);
    const fit = fitMixture(Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i * 12.9898) * 3), d, 4, { seed: 1 });
    const file = buildModel({ ...smallConvPlan('f32'), prior: fit.prior });
    assert.equal((await Decoder.load(file)).info.prior.type, 'gaussianMixture');
  });

  it('refuses too few codes, non-finite codes and bad sizes', () => {
    assert.throws(() => fitMixture(new Float32Array(30), 3, 4), /10 codes are too few to fit 4 components of 3 dimensions/);
    assert.throws(() => fitMixture(Float32Array.of(1, 2, NaN, ...new Array(297).fill(0)), 3, 1), /code value 2 is NaN/);
    assert.throws(() => fitMixture(new Float32Array(31), 3, 1), /31 values is not a whole number of 3-value codes/);
    assert.throws(() => fitMixture(new Float32Array(30), 3, 0), /components must be a positive integer/);
  });
});

describe('format: a malformed prior is refused, naming the field', () => {
  const file = buildModel({ ...smallConvPlan('f32'), prior: { type: 'gaussianMixture', weights: [0.5, 0.5], means: [[0, 0, 0], [1, 1, 1]], choleskyFactors: [[1, 0, 1, 0, 0, 1], [1, 0, 1, 0, 0, 1]] } });
  const header = () => readModel(file).header as unknown as { meta: { prior: Record<string, unknown> } };
  const cases: [string, (prior: Record<string, unknown>) => void, RegExp][] = [
    ['wrong type', (p) => (p.type = 'vampprior'), /meta\.prior\.type must be one of gaussianMixture, got "vampprior"/],
    ['weights not summing to 1', (p) => (p.weights = [0.5, 0.6]), /meta\.prior\.weights must sum to 1, they sum to 1\.1/],
    ['a zero weight', (p) => (p.weights = [1, 0]), /meta\.prior\.weights\[1\] must be > 0, got 0/],
    ['no components', (p) => (p.weights = []), /meta\.prior\.weights must be an array of 1\.\.256 weights/],
    ['a mean of the wrong length', (p) => ((p.means as number[][])[1] = [1, 1]), /meta\.prior\.means\[1\] must be an array of 3 numbers/],
    ['a missing factor', (p) => (p.choleskyFactors = [[1, 0, 1, 0, 0, 1]]), /meta\.prior\.choleskyFactors must be an array of 2 rows, one per component/],
    ['a zero on the diagonal', (p) => ((p.choleskyFactors as number[][])[0] = [1, 0, 0, 0, 0, 1]), /meta\.prior\.choleskyFactors\[0\] has diagonal entry 1 = 0; it must be > 0/],
    ['a non-number', (p) => ((p.means as unknown[][])[0][2] = 'x'), /meta\.prior\.means\[0\]\[2\] must be a finite number, got "x"/],
  ];
  for (const [what, edit, message] of cases) {
    it(what, async () => {
      const h = header();
      edit(h.meta.prior);
      await assert.rejects(Decoder.load(reframe(file, h)), (e: unknown) => e instanceof FormatError && message.test(e.message));
    });
  }

  it('more values than the limit', async () => {
    const h = header() as unknown as { meta: Record<string, unknown> };
    const k = 200;
    h.meta.latentSize = 100; // 200 x (100 + 5050) values; the prior is checked before the layers
    h.meta.prior = { type: 'gaussianMixture', weights: new Array(k).fill(1 / k), means: [], choleskyFactors: [] };
    await assert.rejects(Decoder.load(reframe(file, h)), (e: unknown) => e instanceof FormatError && /meta\.prior has 200 components of 100 \+ 5050 values: more than 65536 in all/.test(e.message));
  });
});
