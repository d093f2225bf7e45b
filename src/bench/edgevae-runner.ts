/**
 * Our runtime as a benchmark contender: the model converted to the wanted weight dtype and loaded with
 * the wanted SIMD build.
 */
import { UnsupportedError } from '../errors.ts';
import { convertDtype } from '../export/convert-dtype.ts';
import { readModel } from '../format/read.ts';
import type { DType } from '../format/spec.ts';
import { Decoder, type LoadOptions } from '../runtime/decoder.ts';
import type { Contender, PreparedModel } from './contender.ts';

/** Which wasm build to ask for: 'auto' takes relaxed SIMD where the engine validates it. */
export type SimdChoice = 'auto' | 'strict' | 'relaxed';
export const SIMD_CHOICES: readonly SimdChoice[] = ['auto', 'strict', 'relaxed'];
export type SimdBuild = 'strict' | 'relaxed';

const PRECISION = { f32: 'f32', f16: 'f16', i8: 'int8' } as const;

/**
 * Loads a decoder with the asked-for SIMD build and says which build it got. A runtime that predates
 * the choice (no `info.simd`) has only the strict build: asking it for relaxed is refused here rather
 * than silently timing the strict one.
 */
export async function loadWithSimd(bytes: Uint8Array, simd: SimdChoice): Promise<{ decoder: Decoder; build: SimdBuild }> {
  const decoder = await Decoder.load(bytes, { simd } as LoadOptions);
  const build = (decoder.info as { simd?: SimdBuild }).simd;
  if (build === undefined) {
    if (simd === 'relaxed') throw new UnsupportedError('this edgevae runtime has only its strict SIMD build: Decoder.load has no relaxed SIMD option yet');
    return { decoder, build: 'strict' };
  }
  if (simd !== 'auto' && build !== simd) throw new UnsupportedError(`asked for the ${simd} SIMD build, but the runtime loaded the ${build} one`);
  return { decoder, build };
}

/** A contender decoding with our runtime in `dtype`, with the `simd` build. */
export function edgevaeContender(dtype: DType, simd: SimdChoice): Contender {
  return {
    name: `edgevae ${PRECISION[dtype]} ${simd}`,
    engine: 'edgevae',
    precision: PRECISION[dtype],
    async prepare(model: Uint8Array): Promise<PreparedModel> {
      const bytes = readModel(model).header.meta.dtype === dtype ? model : convertDtype(model, dtype);
      const { decoder } = await loadWithSimd(bytes, simd);
      return {
        forBatch: ({ latents, labels }) => ({ run: () => decoder.decode(latents, labels), dispose: () => {} }),
        dispose: () => {},
      };
    },
  };
}
