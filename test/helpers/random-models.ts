/**
 * Models written directly in the compact format with seeded random weights, covering every layer
 * type, padding, stride and dtype without going through TensorFlow.js.
 */
import { encodeF16 } from '../../src/format/f16.ts';
import { convOutputLength } from '../../src/format/read.ts';
import { writeModel, type TensorInput } from '../../src/format/write.ts';
import { outputChannelAxis, type ActivationName, type DType, type LayerSpec, type MixturePrior, type ModelMeta } from '../../src/format/spec.ts';
import { quantizeInt8PerChannel } from '../../src/format/int8.ts';
import { randomValues, seededRandom } from './numbers.ts';

/** A layer as a test describes it: weights are made up by buildModel. */
export type LayerPlan =
  | { type: 'dense'; units: number; activation?: ActivationName; alpha?: number }
  | { type: 'conv2d' | 'conv2dTranspose'; filters: number; kernelSize: [number, number]; strides: [number, number]; padding: 'same' | 'valid'; activation?: ActivationName; alpha?: number }
  | { type: 'reshape'; shape: number[] }
  | { type: 'flatten' }
  | { type: 'concatenate'; labelFirst: boolean }
  | { type: 'activation'; activation: ActivationName; alpha?: number };

export interface ModelPlan {
  latentSize: number;
  classes?: number;
  layers: LayerPlan[];
  outputShape: number[];
  dtype?: DType;
  seed?: number;
  /** A fitted latent prior to store in meta. */
  prior?: MixturePrior;
}

/** Writes a model file for `plan`, with weights scaled so activations stay in a useful range. */
export function buildModel(plan: ModelPlan): Uint8Array {
  const random = seededRandom(plan.seed ?? 1);
  const dtype = plan.dtype ?? 'f32';
  const tensors: TensorInput[] = [];
  const add = (t: TensorInput) => tensors.push(t) - 1;
  let shape = [plan.latentSize];
  const layers: LayerSpec[] = plan.layers.map((l) => {
    if (l.type === 'dense' || l.type === 'conv2d' || l.type === 'conv2dTranspose') {
      const inC = shape[shape.length - 1];
      const outC = l.type === 'dense' ? l.units : l.filters;
      const kernelShape = l.type === 'dense' ? [inC, outC] : l.type === 'conv2d' ? [...l.kernelSize, inC, outC] : [...l.kernelSize, outC, inC];
      const fanIn = kernelShape.reduce((a, b) => a * b, 1) / outC;
      const values = randomValues(fanIn * outC, random, Math.sqrt(3 / fanIn));
      const bias = add({ dtype: 'f32', shape: [outC], data: randomValues(outC, random, 0.1) });
      let kernel: number;
      let scale: number | undefined;
      if (dtype === 'i8') {
        const { q, scales } = quantizeInt8PerChannel(values, kernelShape, outputChannelAxis(l.type));
        kernel = add({ dtype, shape: kernelShape, data: q });
        scale = add({ dtype: 'f32', shape: [outC], data: scales });
      } else {
        kernel = add({ dtype, shape: kernelShape, data: dtype === 'f16' ? encodeF16(values) : values });
      }
      shape = nextShape(shape, l);
      return { ...l, activation: l.activation ?? 'linear', kernel, bias, ...(scale === undefined ? {} : { scale }) } as LayerSpec;
    }
    shape = nextShape(shape, l, plan.classes);
    return { ...l } as LayerSpec;
  });
  const joinsAt = plan.layers.findIndex((l) => l.type === 'concatenate');
  const meta: ModelMeta = {
    latentSize: plan.latentSize,
    conditioning: plan.classes ? { classes: plan.classes, joinsAt } : null,
    output: { shape: plan.outputShape, range: [0, 1] },
    dtype,
    producer: 'edgevae tests',
    ...(plan.prior ? { prior: plan.prior } : {}),
  };
  return writeModel({ meta, layers, tensors });
}

function nextShape(shape: number[], l: LayerPlan, classes = 0): number[] {
  switch (l.type) {
    case 'dense': return [...shape.slice(0, -1), l.units];
    case 'reshape': return l.shape;
    case 'flatten': return [shape.reduce((a, b) => a * b, 1)];
    case 'concatenate': return [shape[0] + classes];
    case 'activation': return shape;
    default: {
      const t = l.type === 'conv2dTranspose';
      const len = (axis: 0 | 1) => convOutputLength(shape[axis], l.kernelSize[axis], l.strides[axis], l.padding, t);
      return [len(0), len(1), l.filters];
    }
  }
}
