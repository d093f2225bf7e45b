/**
 * The contenders of `npm run bench:real` on a RealModel (bench/real-models.ts): our runtime (f32, f16,
 * int8 weights; strict and relaxed builds) on our file, onnxruntime-web (wasm, one thread) and
 * onnxruntime-node (native, one thread) on the ONNX model, tfjs-backend-wasm (one thread) on the
 * TensorFlow.js models; and the check of their outputs against each other before anything is timed.
 */
import type * as ortNode from 'onnxruntime-node';
import type { BenchInputs, Precision } from '../src/bench/contender.ts';
import { edgevaeContender } from '../src/bench/edgevae-runner.ts';
import { tfjsContender } from '../src/bench/tfjs-runner.ts';
import { UnsupportedError } from '../src/errors.ts';
import type { DType } from '../src/format/spec.ts';
import { product } from '../src/format/spec.ts';
import { maxAbsDiff } from '../test/helpers/numbers.ts';
import { ENGINES, type OnnxEngine } from './onnx-runners.ts';
import { asOurs, type RealInputs, type RealModel } from './real-models.ts';

/** A prepared batch: each call decodes it once; `toOurs` lays an answer out as our runtime does (for the check only). */
export interface RealRunner {
  run(): Float32Array | Promise<Float32Array>;
  toOurs(output: Float32Array): Float32Array;
  dispose(): void;
}

export interface RealPrepared {
  forBatch(inputs: RealInputs): RealRunner;
  dispose(): Promise<void> | void;
}

export interface RealContender {
  name: string;
  engine: string;
  precision: Precision;
  /** Why this contender does not run `model`, or undefined when it does. */
  unavailable(model: RealModel): string | undefined;
  /** Throws UnsupportedError with the reason where it cannot run here (the relaxed build on an engine without relaxed SIMD). */
  prepare(model: RealModel): Promise<RealPrepared>;
}

/** Contender names, as the results and the report use them. */
export const REAL = {
  f32: 'edgevae f32 strict',
  f16: 'edgevae f16 strict',
  int8: 'edgevae int8 strict',
  ortWeb: 'onnxruntime-web f32',
  ortNode: 'onnxruntime-node f32',
  tfjsWasm: '@tensorflow/tfjs-backend-wasm f32',
} as const;

const benchInputsOf = (model: RealModel, inputs: RealInputs): BenchInputs => ({
  batch: inputs.batch,
  latentSize: product(model.latentShape),
  classes: model.classes,
  latents: inputs.latents,
  ...(inputs.labels ? { labels: inputs.labels, oneHot: inputs.oneHot } : {}),
});

const same = (output: Float32Array) => output;

/** Our runtime with `dtype` weights on the `simd` build. */
export function oursContender(dtype: DType, simd: 'strict' | 'relaxed'): RealContender {
  const inner = edgevaeContender(dtype, simd);
  return {
    name: inner.name,
    engine: inner.engine,
    precision: inner.precision,
    unavailable: (model) => (model.f32 ? undefined : model.refused),
    async prepare(model) {
      const prepared = await inner.prepare(model.f32!);
      return {
        forBatch: (inputs) => ({ ...prepared.forBatch(benchInputsOf(model, inputs)), toOurs: same }),
        dispose: () => prepared.dispose(),
      };
    },
  };
}

/** tfjs-backend-wasm on the TensorFlow.js models (our file rebuilt as a LayersModel). */
export function tfjsWasmContender(): RealContender {
  const inner = tfjsContender('wasm');
  return {
    name: inner.name,
    engine: inner.engine,
    precision: inner.precision,
    unavailable: (model) => (model.source === 'tfjs' ? undefined : 'a PyTorch model: no TensorFlow.js version of it'),
    async prepare(model) {
      const prepared = await inner.prepare(model.f32!);
      return {
        forBatch: (inputs) => ({ ...prepared.forBatch(benchInputsOf(model, inputs)), toOurs: same }),
        dispose: () => prepared.dispose(),
      };
    },
  };
}

type Session = ortNode.InferenceSession;

/** onnxruntime (web: its wasm build; node: native), one thread, on the model's ONNX file, f32. */
export function ortContender(engine: OnnxEngine): RealContender {
  const { ort, options } = ENGINES[engine];
  const Tensor = ort.Tensor as typeof ortNode.Tensor;
  return {
    name: `${engine} f32`,
    engine,
    precision: 'f32',
    unavailable: () => undefined,
    async prepare(model) {
      const create = ort.InferenceSession.create as (bytes: Uint8Array, options: object) => Promise<Session>;
      const session = await create(model.onnx, options);
      const latentDims = model.onnxNchw ? [model.latentShape[2], model.latentShape[0], model.latentShape[1]] : model.latentShape;
      return {
        forBatch: (inputs) => {
          const feeds: Record<string, ortNode.Tensor> = { [model.onnxInputs.latent]: new Tensor('float32', inputs.onnxLatents, [inputs.batch, ...latentDims]) };
          if (model.onnxInputs.label) feeds[model.onnxInputs.label] = new Tensor('float32', inputs.oneHot!, [inputs.batch, model.classes]);
          return {
            run: async () => (await session.run(feeds))[model.onnxOutput].data as Float32Array,
            toOurs: (output) => asOurs(model, output),
            dispose: () => {},
          };
        },
        dispose: () => session.release(),
      };
    },
  };
}

/** Every contender of the benchmark: our six builds, then the peers. */
export function realContenders(): RealContender[] {
  const ours = (['strict', 'relaxed'] as const).flatMap((simd) => (['f32', 'f16', 'i8'] as const).map((dtype) => oursContender(dtype, simd)));
  return [...ours, ortContender('onnxruntime-web'), tfjsWasmContender(), ortContender('onnxruntime-node')];
}

/**
 * How far each precision may be from the reference on the same inputs, as a fraction of the width of
 * the output's range: far above rounding (f32 summed over a deep network), far below a wiring mistake
 * (a wrong layout or label moves values by a good part of the range).
 */
export const TOLERANCE: Record<Precision, number> = { f32: 1e-4, f16: 1e-2, int8: 0.1 };

export interface Agreement {
  model: string;
  contender: string;
  /** What it was compared with: another contender, or torch's own output. */
  against: string;
  batch: number;
  maxAbsDiff: number;
  /** The largest difference allowed: TOLERANCE x the range's width. */
  tolerance: number;
}

/** Compares `output` (laid out as ours) with `reference`; throws, naming both, when they differ by more than the precision allows. */
export function checkAgreement(model: RealModel, contender: string, precision: Precision, against: string, batch: number, output: Float32Array, reference: Float32Array): Agreement {
  if (output.length !== reference.length) throw new Error(`${contender} on ${model.name}: ${output.length} output values against ${reference.length} from ${against}: not the same model`);
  const tolerance = TOLERANCE[precision] * (model.range[1] - model.range[0]);
  const diff = maxAbsDiff(output, reference);
  if (!(diff <= tolerance)) throw new Error(`${contender} on ${model.name}: output differs from ${against}'s by ${diff.toExponential(2)} (tolerance ${tolerance.toExponential(2)}): not the same model`);
  return { model: model.name, contender, against, batch, maxAbsDiff: diff, tolerance };
}

/** The contender whose f32 output the others are checked against: our strict f32, or onnxruntime-node where edgevae refuses the model. */
export function referenceContender(model: RealModel): string {
  return model.f32 ? REAL.f32 : REAL.ortNode;
}

/** Prepares a contender for a model, or gives the reason it does not run it. */
export async function prepareOrSkip(contender: RealContender, model: RealModel): Promise<{ prepared?: RealPrepared; reason?: string }> {
  const reason = contender.unavailable(model);
  if (reason) return { reason };
  try {
    return { prepared: await contender.prepare(model) };
  } catch (err) {
    if (err instanceof UnsupportedError) return { reason: err.message };
    throw err;
  }
}
