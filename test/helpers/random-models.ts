/**
 * Models written directly in the compact format with seeded random weights, covering every layer
 * type, padding, stride and dtype without going through TensorFlow.js.
 */
import { encodeF16 } from '../../src/format/f16.ts';
import { convOutputLength } from '../../src/format/read.ts';
import { writeModel, type GraphDraft, type TensorInput } from '../../src/format/write.ts';
import { outputChannelAxis, type ActivationName, type DType, type LayerSpec, type MixturePrior, type ModelMeta, type NodeSpec, type WeightedType } from '../../src/format/spec.ts';
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
  /** Other meta fields to store (priorStddev, ...). */
  meta?: Partial<ModelMeta>;
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
      const refs = addWeights(l, shape[shape.length - 1], dtype, random, add);
      shape = nextShape(shape, l);
      return { ...l, activation: l.activation ?? 'linear', ...refs } as LayerSpec;
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
    ...plan.meta,
  };
  return writeModel({ meta, layers, tensors });
}

/**
 * Seeded kernel and bias tensors for a weighted layer reading `inC` channels (int8 kernels with their
 * per-channel scales), scaled by fan-in so activations stay in a useful range; returns their indices.
 */
function addWeights(
  l: { type: WeightedType; units?: number; filters?: number; kernelSize?: [number, number] },
  inC: number,
  dtype: DType,
  random: () => number,
  add: (t: TensorInput) => number,
): { kernel: number; bias: number; scale?: number } {
  const outC = l.type === 'dense' ? l.units! : l.filters!;
  const kernelShape = l.type === 'dense' ? [inC, outC] : l.type === 'conv2d' ? [...l.kernelSize!, inC, outC] : [...l.kernelSize!, outC, inC];
  const fanIn = kernelShape.reduce((a, b) => a * b, 1) / outC;
  const values = randomValues(fanIn * outC, random, Math.sqrt(3 / fanIn));
  const bias = add({ dtype: 'f32', shape: [outC], data: randomValues(outC, random, 0.1) });
  if (dtype !== 'i8') return { kernel: add({ dtype, shape: kernelShape, data: dtype === 'f16' ? encodeF16(values) : values }), bias };
  const { q, scales } = quantizeInt8PerChannel(values, kernelShape, outputChannelAxis(l.type));
  const kernel = add({ dtype, shape: kernelShape, data: q });
  return { kernel, bias, scale: add({ dtype: 'f32', shape: [outC], data: scales }) };
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

// ---- format-2 graphs: named values, image latents, branches ----

type Fused = { activation?: ActivationName; alpha?: number };
type ConvPadding =
  | { padding: 'same' | 'valid' }
  | { padding: 'explicit'; pads: [number, number, number, number]; outputPadding?: [number, number] };

/** A graph node as a test describes it: a name, the values it reads, and its layer without weights. */
export type GraphNodePlan = { name: string; inputs: string[] } & (
  | ({ type: 'dense'; units: number } & Fused)
  | ({ type: 'conv2d' | 'conv2dTranspose'; filters: number; kernelSize: [number, number]; strides: [number, number] } & ConvPadding & Fused)
  | { type: 'reshape'; shape: number[] }
  | { type: 'flatten' }
  | { type: 'concatenate' }
  | { type: 'activation'; activation: ActivationName; alpha?: number }
);

export interface GraphPlan {
  /** The latent input: a vector [D] or an image [h, w, c] (channels-last, as the runtime holds it). */
  latent: { name: string; shape: number[]; layout?: 'NCHW' | 'NHWC' };
  /** A one-hot label input, for conditional decoders. */
  label?: { name: string; classes: number };
  nodes: GraphNodePlan[];
  /** The value decoded (default: the last node's). */
  output?: string;
  /** What the output values span, recorded as meta.output.range (default [0, 1]). */
  range?: [number, number];
  dtype?: DType;
  seed?: number;
}

/** Writes a format-2 graph file for `plan`, with seeded weights; shapes are worked out value by value. */
export function buildGraphModel(plan: GraphPlan): Uint8Array {
  const random = seededRandom(plan.seed ?? 1);
  const dtype = plan.dtype ?? 'f32';
  const tensors: TensorInput[] = [];
  const add = (t: TensorInput) => tensors.push(t) - 1;
  const shapes = new Map<string, number[]>([[plan.latent.name, plan.latent.shape]]);
  if (plan.label) shapes.set(plan.label.name, [plan.label.classes]);
  const nodes = plan.nodes.map((node): NodeSpec => {
    const inShapes = node.inputs.map((input) => shapes.get(input) ?? missing(node.name, input));
    shapes.set(node.name, graphNodeShape(node, inShapes));
    if (node.type === 'dense' || node.type === 'conv2d' || node.type === 'conv2dTranspose') {
      const first = inShapes[0];
      return { ...node, activation: node.activation ?? 'linear', ...addWeights(node, first[first.length - 1], dtype, random, add) } as NodeSpec;
    }
    return { ...node } as NodeSpec;
  });
  const output = plan.output ?? plan.nodes[plan.nodes.length - 1].name;
  const latentSize = plan.latent.shape.reduce((a, b) => a * b, 1);
  const draft: GraphDraft = {
    meta: {
      latentSize,
      conditioning: plan.label ? { classes: plan.label.classes } : null,
      output: { shape: shapes.get(output)!, range: plan.range ?? [0, 1] },
      dtype,
      producer: 'edgevae tests',
    },
    inputs: [{ kind: 'latent', ...plan.latent }, ...(plan.label ? [{ kind: 'label' as const, ...plan.label }] : [])],
    nodes,
    output,
    tensors,
  };
  return writeModel(draft);
}

const missing = (node: string, input: string): never => {
  throw new Error(`test plan: node "${node}" reads "${input}", which no earlier node or input defines`);
};

/** The per-sample output shape of a planned node (PyTorch's formulas for explicit padding). */
function graphNodeShape(node: GraphNodePlan, inShapes: number[][]): number[] {
  const [first, second] = inShapes;
  switch (node.type) {
    case 'concatenate': return [...first.slice(0, -1), first[first.length - 1] + second[second.length - 1]];
    case 'conv2d':
    case 'conv2dTranspose': {
      if (node.padding !== 'explicit') return nextShape(first, node);
      const transposed = node.type === 'conv2dTranspose';
      const length = (axis: 0 | 1) => {
        const [k, s, before, after] = [node.kernelSize[axis], node.strides[axis], node.pads[axis], node.pads[axis + 2]];
        if (transposed) return (first[axis] - 1) * s - before - after + k + (node.outputPadding?.[axis] ?? 0);
        return Math.floor((first[axis] + before + after - k) / s) + 1;
      };
      return [length(0), length(1), node.filters];
    }
    default: return nextShape(first, node);
  }
}

/**
 * The graph models the RGB, image-latent and fuzz tests share. Each is small enough to decode in
 * microseconds and covers what format 2 added: an image latent recorded as PyTorch's NCHW, explicit
 * padding with output padding, outputs in [-1, 1] and [0, 1], a label joined by name, and a value
 * read by two nodes whose outputs a concatenate joins along channels.
 */
export const GRAPH_PLANS = {
  /** (a) An image latent [4, 4, 8] up to an [8, 8, 3] image in [-1, 1], PyTorch-style padding. */
  'rgb from an image latent': {
    latent: { name: 'z', shape: [4, 4, 8], layout: 'NCHW' },
    nodes: [
      { name: 'up', inputs: ['z'], type: 'conv2dTranspose', filters: 6, kernelSize: [3, 3], strides: [2, 2], padding: 'explicit', pads: [1, 1, 1, 1], outputPadding: [1, 1], activation: 'relu' },
      { name: 'rgb', inputs: ['up'], type: 'conv2d', filters: 3, kernelSize: [3, 3], strides: [1, 1], padding: 'explicit', pads: [1, 1, 1, 1], activation: 'tanh' },
    ],
    range: [-1, 1],
  },
  /** (b) A flat latent through dense and reshape to a [8, 8, 3] image in [0, 1]. */
  'rgb from a flat latent': {
    latent: { name: 'z', shape: [6] },
    nodes: [
      { name: 'fc', inputs: ['z'], type: 'dense', units: 64, activation: 'relu' },
      { name: 'grid', inputs: ['fc'], type: 'reshape', shape: [4, 4, 4] },
      { name: 'rgb', inputs: ['grid'], type: 'conv2dTranspose', filters: 3, kernelSize: [4, 4], strides: [2, 2], padding: 'explicit', pads: [1, 1, 1, 1], activation: 'sigmoid' },
    ],
    range: [0, 1],
  },
  /** (c) (b) with a one-hot label of 4 classes joined to the latent first. */
  'conditional rgb': {
    latent: { name: 'z', shape: [5] },
    label: { name: 'class', classes: 4 },
    nodes: [
      { name: 'joined', inputs: ['z', 'class'], type: 'concatenate' },
      { name: 'fc', inputs: ['joined'], type: 'dense', units: 64, activation: 'leakyRelu', alpha: 0.2 },
      { name: 'grid', inputs: ['fc'], type: 'reshape', shape: [4, 4, 4] },
      { name: 'rgb', inputs: ['grid'], type: 'conv2dTranspose', filters: 3, kernelSize: [4, 4], strides: [2, 2], padding: 'explicit', pads: [1, 1, 1, 1], activation: 'sigmoid' },
    ],
    range: [0, 1],
  },
  /** (d) A branch: two convolutions read one value, a channel concatenate joins them. */
  'branch joined along channels': {
    latent: { name: 'z', shape: [3] },
    nodes: [
      { name: 'fc', inputs: ['z'], type: 'dense', units: 64, activation: 'relu' },
      { name: 'grid', inputs: ['fc'], type: 'reshape', shape: [4, 4, 4] },
      { name: 'wide', inputs: ['grid'], type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'same', activation: 'relu' },
      { name: 'narrow', inputs: ['grid'], type: 'conv2d', filters: 2, kernelSize: [1, 1], strides: [1, 1], padding: 'valid', activation: 'tanh' },
      { name: 'both', inputs: ['wide', 'narrow'], type: 'concatenate' },
      { name: 'rgb', inputs: ['both'], type: 'conv2d', filters: 3, kernelSize: [3, 3], strides: [1, 1], padding: 'explicit', pads: [1, 1, 1, 1], activation: 'sigmoid' },
    ],
    range: [0, 1],
  },
} satisfies Record<string, GraphPlan>;

export type GraphPlanName = keyof typeof GRAPH_PLANS;
