/**
 * onnxruntime as benchmark peers: onnxruntime-web (its wasm build, one thread) and onnxruntime-node
 * (native, one intra-op thread), each running the f32 ONNX export of the model and the dynamically
 * quantized one (`exportOnnx(..., { quantize: 'dynamic' })`, the int8 model onnxruntime's own
 * quantize_dynamic would write, run through its DynamicQuantizeMatMul kernels).
 */
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { exportOnnx } from '../src/export/onnx.ts';
import type { BenchInputs, Contender, PreparedModel } from '../src/bench/contender.ts';

type Quantize = 'none' | 'dynamic';
type Ort = typeof ortNode | typeof ortWeb;
type Session = ortNode.InferenceSession | ortWeb.InferenceSession;

// Before the first session: onnxruntime-web reads these when it initialises its wasm.
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.proxy = false;

export const ENGINES = {
  'onnxruntime-web': {
    ort: ortWeb as Ort,
    options: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' },
  },
  'onnxruntime-node': {
    ort: ortNode as Ort,
    options: { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' },
  },
} as const;

export type OnnxEngine = keyof typeof ENGINES;

function feeds(ort: Ort, { batch, latents, latentSize, oneHot, classes }: BenchInputs) {
  const Tensor = ort.Tensor as typeof ortNode.Tensor;
  return { z: new Tensor('float32', latents, [batch, latentSize]), ...(oneHot ? { label: new Tensor('float32', oneHot, [batch, classes]) } : {}) };
}

export function onnxContender(engine: OnnxEngine, quantize: Quantize): Contender {
  const { ort, options } = ENGINES[engine];
  return {
    name: `${engine} ${quantize === 'dynamic' ? 'int8 (dynamic)' : 'f32'}`,
    engine,
    precision: quantize === 'dynamic' ? 'int8' : 'f32',
    async prepare(model: Uint8Array): Promise<PreparedModel> {
      const create = ort.InferenceSession.create as (bytes: Uint8Array, options: object) => Promise<Session>;
      const session = await create(exportOnnx(model, { quantize }), options);
      return {
        forBatch: (inputs) => {
          const input = feeds(ort, inputs);
          return {
            run: async () => ((await (session.run as (f: object) => Promise<Record<string, { data: unknown }>>)(input)).x.data as Float32Array),
            dispose: () => {},
          };
        },
        dispose: () => session.release(),
      };
    },
  };
}
