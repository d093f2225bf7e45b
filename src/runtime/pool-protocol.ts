/**
 * The messages between a DecoderPool and its workers. Everything in them survives structured clone;
 * errors cross as plain data (name and message) and are rebuilt on the caller's side as the same
 * EdgeVaeError class, because structured clone turns every Error subclass into a plain Error.
 */
import { EdgeVaeError, FormatError, InputError, RuntimeError, UnsupportedError } from '../errors.ts';
import type { DecodeOptions, Decoder, DecoderInfo, LoadOptions, SampleOptions, TraverseOptions } from './decoder.ts';

export type LatentsInput = Parameters<Decoder['decode']>[0];
export type LabelsInput = number | ArrayLike<number>;

/** One call on a worker's decoder: the method and its arguments, as the Decoder takes them. */
export type DecoderCall =
  | { method: 'sample'; n: number; options: SampleOptions }
  | { method: 'sampleLatents'; n: number; options: Omit<SampleOptions, 'labels'> }
  | { method: 'decode'; latents: LatentsInput; labels?: LabelsInput; options?: DecodeOptions }
  | { method: 'traverse'; options: TraverseOptions };

export type PoolRequest =
  | { id: number; kind: 'load'; model: ArrayBuffer; options: LoadOptions }
  | { id: number; kind: 'call'; call: DecoderCall };

/** A load answers with the decoder's info, a call with its samples; either may fail instead. */
export type PoolReply =
  | { id: number; ok: true; value: DecoderInfo | Float32Array }
  | { id: number; ok: false; error: ErrorData };

export interface ErrorData {
  name: string;
  message: string;
}

const EDGEVAE_ERRORS: Record<string, new (message: string) => EdgeVaeError> = { FormatError, InputError, UnsupportedError, RuntimeError };

export function errorToData(error: unknown): ErrorData {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** The worker's error as the class it was thrown as; anything else is a bug, reported as a RuntimeError. */
export function errorFromData(data: ErrorData): EdgeVaeError {
  const ErrorClass = EDGEVAE_ERRORS[data.name];
  if (ErrorClass) return new ErrorClass(data.message);
  return new RuntimeError(`a decoder pool worker failed with ${data.name}: ${data.message}`);
}
