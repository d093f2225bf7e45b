/**
 * Our runtime as a benchmark contender: the model converted to the wanted weight dtype and loaded with
 * the wanted SIMD build.
 */
import { UnsupportedError } from '../errors.ts';
import { convertDtype } from '../export/convert-dtype.ts';
import { readModel } from '../format/read.ts';
import type { DType } from '../format/spec.ts';
// Benchmarks time the builds embedded in the package.
import '../runtime/embedded.ts';
import { Decoder } from '../runtime/decoder.ts';
import { relaxedSimdSupported, type SimdMode } from '../runtime/wasm.ts';
import type { Contender, PreparedModel } from './contender.ts';

export const SIMD_CHOICES: readonly SimdMode[] = ['auto', 'strict', 'relaxed'];

const PRECISION = { f32: 'f32', f16: 'f16', i8: 'int8' } as const;

/** Why the relaxed build cannot run here, or undefined when it can. */
export function relaxedSimdUnavailable(): string | undefined {
  return relaxedSimdSupported() ? undefined : 'this engine does not support relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; Node 22 and later have it)';
}

/** A decoder with the asked-for build; UnsupportedError (with the reason) where relaxed SIMD is asked for and missing. */
export async function loadWithSimd(bytes: Uint8Array, simd: SimdMode): Promise<Decoder> {
  const unavailable = simd === 'relaxed' ? relaxedSimdUnavailable() : undefined;
  if (unavailable) throw new UnsupportedError(unavailable);
  return Decoder.load(bytes, { simd });
}

/** A contender decoding with our runtime in `dtype`, with the `simd` build. */
export function edgevaeContender(dtype: DType, simd: SimdMode): Contender {
  return {
    name: `edgevae ${PRECISION[dtype]} ${simd}`,
    engine: 'edgevae',
    precision: PRECISION[dtype],
    async prepare(model: Uint8Array): Promise<PreparedModel> {
      const bytes = readModel(model).header.meta.dtype === dtype ? model : convertDtype(model, dtype);
      const decoder = await loadWithSimd(bytes, simd);
      return {
        forBatch: ({ latents, labels }) => ({ run: () => decoder.decode(latents, labels), dispose: () => {} }),
        dispose: () => {},
      };
    },
  };
}

/**
 * Our runtime across `threads` worker threads (Node's edgevae/node pool): each worker holds its own
 * instance and decodes a contiguous share of the batch; results are bit-identical to one thread.
 */
export function edgevaePoolContender(dtype: DType, simd: 'strict' | 'relaxed', threads: number): Contender {
  return {
    name: `edgevae ${PRECISION[dtype]} ${simd} x${threads} threads`,
    engine: 'edgevae',
    precision: PRECISION[dtype],
    async prepare(model: Uint8Array): Promise<PreparedModel> {
      const { createNodePool } = await import('../node/pool.ts');
      const bytes = readModel(model).header.meta.dtype === dtype ? model : convertDtype(model, dtype);
      const pool = await createNodePool(bytes, { threads, simd });
      return {
        forBatch: ({ latents, labels }) => ({ run: () => pool.decode(latents, labels), dispose: () => {} }),
        dispose: () => pool.close(),
      };
    },
  };
}

/**
 * Our runtime with each decode shared by `threads` threads (Decoder.load's `threads`, edgevae/node):
 * every conv's output rows split between them, for one large image; strict SIMD, as the threads build
 * is. Same bytes as one thread.
 */
export function edgevaeSharedContender(dtype: DType, threads: number): Contender {
  return {
    name: `edgevae ${PRECISION[dtype]} strict, one decode on ${threads} threads`,
    engine: 'edgevae',
    precision: PRECISION[dtype],
    async prepare(model: Uint8Array): Promise<PreparedModel> {
      // edgevae/node registers the worker_threads host the shared decode needs.
      const { Decoder: NodeDecoder } = await import('../node/index.ts');
      const bytes = readModel(model).header.meta.dtype === dtype ? model : convertDtype(model, dtype);
      const decoder = await NodeDecoder.load(bytes, { threads });
      return {
        forBatch: ({ latents, labels }) => ({ run: () => decoder.decode(latents, labels), dispose: () => {} }),
        dispose: () => decoder.close(),
      };
    },
  };
}
