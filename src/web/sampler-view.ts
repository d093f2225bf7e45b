/**
 * What the <edgevae-sampler> element shows, apart from the DOM: its attributes checked (each bad value
 * becomes an InputError whose message the element displays), and the image grid for a given state.
 * Kept DOM-free so Node tests can hold the element's drawing against Decoder.sample.
 */
import { InputError } from '../errors.ts';
import type { Decoder } from '../runtime/decoder.ts';
import { toImageGrid, type ImageGrid } from '../runtime/image.ts';

/** The largest seed Decoder.sample takes. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;
/** More samples than this would make a canvas too large to read at a glance. */
export const MAX_COUNT = 100;
export const DEFAULT_SEED = 1;
export const DEFAULT_COUNT = 16;
/** The largest stddev attribute; without one, the draws' spread is the model's own (Decoder.defaultStddev: 2 for an AAE that records its N(0, 2^2 I) prior). */
export const MAX_STDDEV = 10;
/** Slider range for each latent dimension, in standard deviations: ±3 covers nearly all of the prior. */
export const OFFSET_LIMIT = 3;

/** Everything that decides the picture. */
export interface SamplerView {
  seed: number;
  count: number;
  /** Standard deviation of the latent draws. */
  stddev: number;
  /** The class every sample is drawn as (conditional models); undefined: sample i is class i % classes. */
  digit?: number;
  /** Added to every sample's latent vector, one value per latent dimension in units of stddev (the sliders). */
  offsets: readonly number[];
}

/** An integer attribute in min..max; `fallback` when the attribute is absent. */
export function parseIntegerAttribute(name: string, text: string | null, min: number, max: number, fallback: number): number {
  if (text === null) return fallback;
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InputError(`${name} must be an integer in ${min}..${max}, got "${text}"`);
  }
  return value;
}

/** A number attribute in min..max; `fallback` when the attribute is absent. */
export function parseNumberAttribute(name: string, text: string | null, min: number, max: number, fallback: number): number {
  if (text === null) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) throw new InputError(`${name} must be a number in ${min}..${max}, got "${text}"`);
  return value;
}

/** The model attribute as an absolute URL, resolved against the page. */
export function parseModelUrl(text: string | null, base: string): URL {
  if (text === null || text.trim() === '') throw new InputError('set the model attribute to the URL of an edgevae model file (.evae)');
  try {
    return new URL(text, base);
  } catch {
    throw new InputError(`model "${text}" is not a valid URL`);
  }
}

/** The digit attribute: absent or empty draws every class in turn; otherwise one of the model's classes. */
export function parseDigit(text: string | null, classes: number): number | undefined {
  if (text === null || text === '') return undefined;
  if (!classes) throw new InputError(`this model is not conditional: it takes no digit (got "${text}")`);
  return parseIntegerAttribute('digit', text, 0, classes - 1, 0);
}

/** Reads the element's attributes into a view of `decoder`, with the sliders' offsets. */
export function readView(decoder: Decoder, attribute: (name: string) => string | null, offsets: readonly number[]): SamplerView {
  return {
    seed: parseIntegerAttribute('seed', attribute('seed'), 0, MAX_SEED, DEFAULT_SEED),
    count: parseIntegerAttribute('count', attribute('count'), 1, MAX_COUNT, DEFAULT_COUNT),
    stddev: parseNumberAttribute('stddev', attribute('stddev'), 0, MAX_STDDEV, decoder.defaultStddev()),
    digit: parseDigit(attribute('digit'), decoder.info.classes),
    offsets,
  };
}

/**
 * The grid the element draws: the seed's latents, shifted by offsets x stddev, decoded. With every
 * offset zero this is exactly toImageGrid(decoder.sample(count, { seed, stddev, labels: digit })).
 */
export function drawSamples(decoder: Decoder, view: SamplerView): ImageGrid {
  const { latentSize, classes, outputShape, range } = decoder.info;
  if (view.offsets.length !== latentSize) throw new InputError(`${view.offsets.length} offsets given for a ${latentSize}-d latent`);
  const latents = decoder.sampleLatents(view.count, { seed: view.seed, stddev: view.stddev });
  for (let i = 0; i < latents.length; i++) latents[i] += view.offsets[i % latentSize] * view.stddev;
  const labels = classes ? (view.digit ?? Int32Array.from({ length: view.count }, (_, i) => i % classes)) : undefined;
  return toImageGrid(decoder.decode(latents, labels), { shape: outputShape, range });
}
