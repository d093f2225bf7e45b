// The judge-based measures of generated digits, on a conditional "decoder" whose output for label d is
// a real MNIST test image of digit d (so a good judge must call every sample right), and on one that
// ignores its label (so conditional accuracy falls to chance).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MNIST_DIR, MNIST_SKIP } from './helpers/mnist.ts';
import { Decoder } from '../src/index.ts';
import { writeModel } from '../src/format/write.ts';
import { loadDataset } from '../src/data/datasets.ts';
import { generationQuality, judgeAgreement } from '../src/train/generation-quality.ts';

const judge = await Decoder.load(readFileSync(new URL('../packages/models/judge/mnist.evae', import.meta.url)));
// Real digits make the templates: without MNIST the suite skips, saying how to provide it.
const test = MNIST_SKIP ? undefined! : (await loadDataset('mnist', { dir: MNIST_DIR })).test;

/** latent (1 value, weight 0) + one-hot label -> dense 784: row d of the kernel is the template for label d. */
async function templateDecoder(templateFor: (label: number) => number): Promise<Decoder> {
  const kernel = new Float32Array(11 * 784);
  for (let d = 0; d < 10; d++) {
    const index = test.labels.findIndex((l) => l === templateFor(d));
    kernel.set(test.images.subarray(index * 784, (index + 1) * 784), (1 + d) * 784);
  }
  const bytes = writeModel({
    meta: { latentSize: 1, conditioning: { classes: 10, joinsAt: 0 }, output: { shape: [28, 28, 1], range: [0, 1] }, dtype: 'f32' },
    layers: [{ type: 'concatenate', labelFirst: false }, { type: 'dense', units: 784, activation: 'linear', kernel: 0, bias: 1 }, { type: 'reshape', shape: [28, 28, 1] }],
    tensors: [{ dtype: 'f32', shape: [11, 784], data: kernel }, { dtype: 'f32', shape: [784], data: new Float32Array(784) }],
  });
  return Decoder.load(bytes);
}

describe('generation quality by the judge', { skip: MNIST_SKIP }, () => {
  it('scores a decoder that draws the requested digit at 100%', async () => {
    const quality = generationQuality(await templateDecoder((d) => d), judge, { perClass: 20 });
    assert.equal(quality.samples, 200);
    assert.equal(quality.conditionalAccuracy, 1);
    assert.deepEqual(quality.perClassAccuracy, new Array(10).fill(1));
    assert.ok(quality.confidentShare > 0.8);
    assert.ok(quality.judgedShares.every((share) => Math.abs(share - 0.1) < 1e-9), `each digit a tenth: ${quality.judgedShares}`);
  });

  it('scores a decoder that always draws a 3 at chance, and tells two decoders apart', async () => {
    const threes = await templateDecoder(() => 3);
    const quality = generationQuality(threes, judge, { perClass: 20 });
    assert.equal(quality.conditionalAccuracy, 0.1);
    assert.equal(quality.perClassAccuracy![3], 1);
    assert.ok(Math.abs(quality.judgedShares[3] - 1) < 1e-9, 'the judge calls every sample a 3');
    assert.equal(judgeAgreement(threes, threes, judge, { perClass: 20 }), 1);
    assert.equal(judgeAgreement(threes, await templateDecoder((d) => d), judge, { perClass: 20 }), 0.1);
  });
});
