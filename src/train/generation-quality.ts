/**
 * How good generated digits are, as the independent judge classifier sees them:
 * - conditional models: the share of samples generated for digit d that the judge calls d;
 * - any model: the share of samples the judge classifies with confidence >= 0.9;
 * - two files of one model (e.g. int8 and f32): how often the judge gives them the same label.
 */
import type { Decoder, PriorChoice } from '../runtime/decoder.ts';
import { InputError } from '../errors.ts';
import { classify } from './classify.ts';

export interface GenerationQuality {
  samples: number;
  /** Conditional models only: judge label == requested label. */
  conditionalAccuracy?: number;
  perClassAccuracy?: number[];
  /** Share of samples the judge classifies with confidence >= 0.9. */
  confidentShare: number;
  meanConfidence: number;
  /** Share of samples the judge gives each class: a model that draws a few easy digits shows here. */
  judgedShares: number[];
}

export interface QualityOptions {
  /** Samples per class for conditional models; total samples for unconditional ones is 10x this. */
  perClass?: number;
  seed?: number;
  /** Latents from the model's fitted prior (default, when it has one) or the Gaussian it was trained against. */
  prior?: PriorChoice;
  /** Standard deviation of the latent draws (default: the model's, Decoder.defaultStddev). */
  stddev?: number;
}

function requestedLabels(decoder: Decoder, perClass: number): Int32Array | undefined {
  const classes = decoder.info.classes;
  if (!classes) return undefined;
  return Int32Array.from({ length: classes * perClass }, (_, i) => Math.floor(i / perClass));
}

/** Samples `perClass` per digit (or 10 x perClass for an unconditional model) and has the judge classify them. */
export function generationQuality(decoder: Decoder, judge: Decoder, options: QualityOptions = {}): GenerationQuality {
  const perClass = options.perClass ?? 100;
  if (judge.info.latentSize !== decoder.info.outputSize) {
    throw new InputError(`the judge reads ${judge.info.latentSize} values, but the model outputs ${decoder.info.outputSize}`);
  }
  const labels = requestedLabels(decoder, perClass);
  const n = labels ? labels.length : 10 * perClass;
  const images = decoder.sample(n, { seed: options.seed ?? 1, prior: options.prior, stddev: options.stddev, labels });
  const { labels: judged, confidence } = classify(judge, images);
  const confident = confidence.reduce((s, c) => s + (c >= 0.9 ? 1 : 0), 0);
  const judgedShares = new Array<number>(judge.info.outputSize).fill(0);
  for (const label of judged) judgedShares[label] += 1 / n;
  const quality: GenerationQuality = { samples: n, confidentShare: confident / n, meanConfidence: confidence.reduce((s, c) => s + c, 0) / n, judgedShares };
  if (labels) {
    const hits = new Array<number>(decoder.info.classes).fill(0);
    labels.forEach((want, i) => (hits[want] += judged[i] === want ? 1 : 0));
    quality.conditionalAccuracy = hits.reduce((a, b) => a + b, 0) / n;
    quality.perClassAccuracy = hits.map((h) => h / perClass);
  }
  return quality;
}

/** Share of samples (same seed and labels) on which the judge gives two files of a model the same label. */
export function judgeAgreement(a: Decoder, b: Decoder, judge: Decoder, options: QualityOptions = {}): number {
  if (a.info.latentSize !== b.info.latentSize || a.info.classes !== b.info.classes || a.info.outputSize !== b.info.outputSize) {
    throw new InputError('the two models do not have the same latent size, classes and output: they are not versions of one model');
  }
  const perClass = options.perClass ?? 100;
  const labels = requestedLabels(a, perClass);
  const n = labels ? labels.length : 10 * perClass;
  const seed = options.seed ?? 1;
  const { prior, stddev } = options;
  const fromA = classify(judge, a.sample(n, { seed, prior, stddev, labels })).labels;
  const fromB = classify(judge, b.sample(n, { seed, prior, stddev, labels })).labels;
  let same = 0;
  for (let i = 0; i < n; i++) same += fromA[i] === fromB[i] ? 1 : 0;
  return same / n;
}
