/**
 * What a benchmark contender is: an engine that prepares a model once, then decodes fixed batches of
 * it. Our runtime and each peer engine implement this, so `edgevae bench` and `npm run bench` time
 * them all the same way, on the same latents and labels.
 */
import type { Decoder } from '../runtime/decoder.ts';

/** The inputs of one batch, in every form an engine takes them. */
export interface BenchInputs {
  batch: number;
  latentSize: number;
  classes: number;
  /** batch x latentSize latent vectors. */
  latents: Float32Array;
  /** One class per sample, for conditional models (i mod classes). */
  labels?: Int32Array;
  /** The same labels one-hot encoded, batch x classes, for engines that take the label as a tensor. */
  oneHot?: Float32Array;
}

/** A prepared batch: each call decodes it once and returns the outputs (a promise for async engines). */
export interface BatchRunner {
  run(): Float32Array | Promise<Float32Array>;
  dispose(): void;
}

/** A model loaded into an engine, ready for batches of any size. */
export interface PreparedModel {
  forBatch(inputs: BenchInputs): BatchRunner;
  dispose(): Promise<void> | void;
}

export type Precision = 'f32' | 'f16' | 'int8';

export interface Contender {
  /** Unique in a run, e.g. "edgevae int8 strict", "tfjs-backend-wasm f32". */
  name: string;
  /** The engine (package) that decodes. */
  engine: string;
  /** The precision of the arithmetic on the weights. */
  precision: Precision;
  /**
   * Loads the model (an edgevae file, in any dtype; each contender converts it as it needs). Throws
   * UnsupportedError with the reason when the contender cannot run here.
   */
  prepare(model: Uint8Array): Promise<PreparedModel>;
}

/** Latents drawn from our runtime's seeded stream (the same for every contender), labels cycling through the classes. */
export function benchInputs(decoder: Decoder, batch: number, seed = 1): BenchInputs {
  const { latentSize, classes } = decoder.info;
  const latents = decoder.sampleLatents(batch, { seed });
  if (!classes) return { batch, latentSize, classes, latents };
  const labels = Int32Array.from({ length: batch }, (_, i) => i % classes);
  const oneHot = new Float32Array(batch * classes);
  labels.forEach((label, i) => (oneHot[i * classes + label] = 1));
  return { batch, latentSize, classes, latents, labels, oneHot };
}
