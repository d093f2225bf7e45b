/**
 * Classifying images with a judge loaded in edgevae's runtime (see judge.ts for the judge itself):
 * softmax and argmax over the logits it decodes. Apart from judge.ts because it needs no
 * TensorFlow.js: `edgevae evaluate` runs in the runtime package, which installs without it.
 */
import type { Decoder } from '../runtime/decoder.ts';
import { InputError } from '../errors.ts';

export interface Classification {
  /** The most likely class of each image. */
  labels: Uint8Array;
  /** Its softmax probability. */
  confidence: Float32Array;
}

/**
 * Classifies images (n x 784 floats in [0,1]) with a judge loaded in edgevae's runtime: the decoder
 * returns logits, and the softmax and argmax are done here.
 */
export function classify(decoder: Decoder, images: Float32Array): Classification {
  const { latentSize, outputSize, classes } = decoder.info;
  if (classes) throw new InputError('classify needs a judge model (pixels in, logits out), not a conditional decoder');
  if (outputSize < 2 || outputSize > 256) throw new InputError(`a judge outputs one logit per class (2..256); this model outputs ${outputSize} values`);
  if (images.length % latentSize !== 0) throw new InputError(`${images.length} pixel values is not a whole number of ${latentSize}-pixel images`);
  return softmaxArgmax(decoder.decode(images), outputSize);
}

/** Row-wise argmax and softmax probability of the winner, for n x classes logits (stable: max-subtracted). */
export function softmaxArgmax(logits: Float32Array, classes: number): Classification {
  if (!Number.isInteger(classes) || classes < 1 || classes > 256) throw new InputError(`classes must be an integer in 1..256, got ${classes}`);
  if (logits.length % classes !== 0) throw new InputError(`${logits.length} logits is not a whole number of rows of ${classes}`);
  const n = logits.length / classes;
  const labels = new Uint8Array(n);
  const confidence = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[row + c] > logits[row + best]) best = c;
    const max = logits[row + best];
    if (!Number.isFinite(max)) throw new InputError(`logits of row ${i} are not finite`);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[row + c] - max);
    labels[i] = best;
    confidence[i] = 1 / sum;
  }
  return { labels, confidence };
}
