/**
 * ONNX models written directly with onnx protobuf, the way torch.onnx.export writes decoders (NCHW,
 * Gemm with transB, explicit pads, Shape -> Gather -> Unsqueeze -> Concat before a Reshape), with
 * seeded random weights: the import tests run them in onnxruntime-node and in our runtime.
 */
import onnxProto from 'onnx-proto';
import { randomValues, seededRandom } from './numbers.ts';

const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.IModelProto;
type Attribute = onnxProto.onnx.IAttributeProto;
const A = onnx.AttributeProto.AttributeType;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export const attr = {
  int: (name: string, i: number): Attribute => ({ name, type: A.INT, i }),
  ints: (name: string, ints: number[]): Attribute => ({ name, type: A.INTS, ints }),
  float: (name: string, f: number): Attribute => ({ name, type: A.FLOAT, f }),
};

/** Builds a graph node by node; tensor names are made up from the node names. */
export class OnnxGraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  /** A float input of shape [N, ...perSample]. */
  input(name: string, perSample: number[]): string {
    this.inputs.push(valueInfo(name, perSample));
    return name;
  }

  node(opType: string, name: string, inputs: string[], attribute: Attribute[] = [], outputs = [name + '_out']): string {
    this.nodes.push({ name, opType, input: inputs, output: outputs, attribute });
    return outputs[0];
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** An int64 initializer: a vector, or a scalar when `dims` is []. */
  ints(name: string, values: number[], dims = [values.length]): string {
    this.initializers.push({ name, dims, dataType: INT64, int64Data: values });
    return name;
  }

  /** Random weights scaled by 1 / sqrt(fanIn), so activations stay in a useful range. */
  weights(name: string, dims: number[], fanIn: number): string {
    return this.floats(name, dims, randomValues(dims.reduce((a, b) => a * b, 1), this.random, Math.sqrt(3 / fanIn)));
  }

  /** nn.Linear as PyTorch exports it: Gemm with weight [out, in] and transB = 1. */
  linear(name: string, x: string, inFeatures: number, outFeatures: number): string {
    const w = this.weights(`${name}.weight`, [outFeatures, inFeatures], inFeatures);
    const b = this.floats(`${name}.bias`, [outFeatures], randomValues(outFeatures, this.random, 0.1));
    return this.node('Gemm', name, [x, w, b], [attr.float('alpha', 1), attr.float('beta', 1), attr.int('transB', 1)]);
  }

  /** x.view(x.size(0), ...shape) as PyTorch exports it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape. */
  view(name: string, x: string, shape: number[], opset: number): string {
    const size = this.node('Shape', `${name}/Shape`, [x]);
    const batch = this.node('Gather', `${name}/Gather`, [size, this.ints(`${name}/zero`, [0], [])], [attr.int('axis', 0)]);
    const unsqueezed = opset >= 13
      ? this.node('Unsqueeze', `${name}/Unsqueeze`, [batch, this.ints(`${name}/axes`, [0])])
      : this.node('Unsqueeze', `${name}/Unsqueeze`, [batch], [attr.ints('axes', [0])]);
    const target = this.node('Concat', `${name}/Concat`, [unsqueezed, this.ints(`${name}/dims`, shape)], [attr.int('axis', 0)]);
    return this.node('Reshape', name, [x, target]);
  }

  /** nn.Unflatten(1, shape) as PyTorch exports it: Shape -> Slice [0:1] -> Concat -> Reshape (Slice's bounds as attributes before opset 10). */
  unflatten(name: string, x: string, shape: number[], opset: number): string {
    const size = this.node('Shape', `${name}/Shape`, [x]);
    const batch = opset >= 10
      ? this.node('Slice', `${name}/Slice`, [size, this.ints(`${name}/starts`, [0]), this.ints(`${name}/ends`, [1]), this.ints(`${name}/axes`, [0])])
      : this.node('Slice', `${name}/Slice`, [size], [attr.ints('starts', [0]), attr.ints('ends', [1]), attr.ints('axes', [0])]);
    const target = this.node('Concat', `${name}/Concat`, [batch, this.ints(`${name}/dims`, shape)], [attr.int('axis', 0)]);
    return this.node('Reshape', name, [x, target]);
  }

  batchNorm(name: string, x: string, channels: number): string {
    const stat = (what: string, low: number, high: number) =>
      this.floats(`${name}.${what}`, [channels], Float32Array.from({ length: channels }, () => low + (high - low) * this.random()));
    return this.node('BatchNormalization', name, [x, stat('weight', 0.5, 1.5), stat('bias', -0.3, 0.3), stat('running_mean', -0.5, 0.5), stat('running_var', 0.5, 2)], [attr.float('epsilon', 1e-5)]);
  }

  /** The model: graph output `output` of per-sample shape `perSample`, at `opset`. */
  model(output: string, perSample: number[], opset = 17): ModelProto {
    return {
      irVersion: 8,
      opsetImport: [{ domain: '', version: opset }],
      producerName: 'edgevae tests',
      graph: { name: 'decoder', node: this.nodes, initializer: this.initializers, input: this.inputs, output: [valueInfo(output, perSample)] },
    };
  }
}

function valueInfo(name: string, perSample: number[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, ...perSample.map((d) => ({ dimValue: d }))] } } } };
}

export const encodeOnnx = (model: ModelProto): Uint8Array => new Uint8Array(onnx.ModelProto.encode(model).finish());
export const decodeOnnx = (bytes: Uint8Array): ModelProto => onnx.ModelProto.decode(bytes);

/** A built test model: its graph and the facts a test needs to feed and read it. */
export interface OnnxCase {
  model: ModelProto;
  /** The latent input; `shape` is its per-sample shape when not flat ([size]). */
  latent: { name: string; size: number; shape?: number[] };
  label?: { name: string; classes: number };
  /** The ONNX output's per-sample shape, and whether it is an NCHW image our runtime returns as NHWC. */
  outputShape: number[];
  nchw: boolean;
}

/**
 * PyTorch-style decoders covering what the import must map: Gemm with transB, a view to NCHW before a
 * ConvTranspose (the Linear's columns must be permuted), BatchNormalization, LeakyRelu alpha,
 * Conv / ConvTranspose with asymmetric pads, output_padding and stride 2, a Flatten of NCHW data into a
 * Gemm (the rows must be permuted), MatMul + Add, a one-hot label joined by Concat.
 */
export const ONNX_CASES: Record<string, (seed: number) => OnnxCase> = {
  'DCGAN-style decoder: Linear, view to NCHW, ConvTranspose k4 s2 p1, BatchNorm, LeakyRelu, Sigmoid (opset 17)': (seed) => {
    const g = new OnnxGraphBuilder(seed);
    const z = g.input('z', [6]);
    let x = g.node('Relu', 'fc/relu', [g.linear('fc', z, 6, 4 * 3 * 3)]);
    x = g.view('view', x, [4, 3, 3], 17);
    x = g.node('ConvTranspose', 'up1', [x, g.weights('up1.weight', [4, 5, 4, 4], 4 * 16), g.weights('up1.bias', [5], 16)], [attr.ints('kernel_shape', [4, 4]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])]);
    x = g.node('LeakyRelu', 'up1/act', [g.batchNorm('bn1', x, 5)], [attr.float('alpha', 0.2)]);
    x = g.node('ConvTranspose', 'up2', [x, g.weights('up2.weight', [5, 3, 4, 4], 5 * 16), g.weights('up2.bias', [3], 16)], [attr.ints('kernel_shape', [4, 4]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])]);
    x = g.node('Sigmoid', 'out', [x], [], ['x']);
    return { model: g.model(x, [3, 12, 12]), latent: { name: 'z', size: 6 }, outputShape: [3, 12, 12], nchw: true };
  },
  'asymmetric pads: Unflatten, Conv k4 s1 pads [1,1,2,2], Conv k3 s2 pads [0,0,1,1], ConvTranspose k3 s2 pads [0,0,1,1], ConvTranspose k2 s3 output_padding [1,1] (opset 11)': (seed) => {
    const g = new OnnxGraphBuilder(seed);
    const z = g.input('latent', [5]);
    let x = g.node('Tanh', 'fc/tanh', [g.linear('fc', z, 5, 2 * 8 * 8)]);
    x = g.unflatten('view', x, [2, 8, 8], 11);
    const conv = (name: string, input: string, w: number[], k: number[], s: number[], pads: number[], transposed = false, extra: Attribute[] = []) =>
      g.node(transposed ? 'ConvTranspose' : 'Conv', name, [input, g.weights(`${name}.weight`, w, w[transposed ? 0 : 1] * k[0] * k[1]), g.weights(`${name}.bias`, [w[transposed ? 1 : 0]], 9)], [attr.ints('kernel_shape', k), attr.ints('strides', s), attr.ints('pads', pads), ...extra]);
    x = g.node('Relu', 'c1/relu', [conv('c1', x, [3, 2, 4, 4], [4, 4], [1, 1], [1, 1, 2, 2])]); // 8x8 -> 8x8 ('same')
    x = g.node('LeakyRelu', 'c2/act', [conv('c2', x, [4, 3, 3, 3], [3, 3], [2, 2], [0, 0, 1, 1])], [attr.float('alpha', 0.05)]); // 8x8 -> 4x4 ('same')
    x = g.node('Relu', 't1/relu', [conv('t1', x, [4, 2, 3, 3], [3, 3], [2, 2], [0, 0, 1, 1], true)]); // 4x4 -> 8x8 ('same')
    x = conv('t2', x, [2, 2, 2, 2], [2, 2], [3, 3], [0, 0, 0, 0], true, [attr.ints('output_padding', [1, 1])]); // 8x8 -> 24x24 ('valid')
    x = g.node('Sigmoid', 'out', [x], [], ['image']);
    return { model: g.model(x, [2, 24, 24], 11), latent: { name: 'latent', size: 5 }, outputShape: [2, 24, 24], nchw: true };
  },
  'conditional: Concat(z, one-hot), Gemm transB, Conv, Flatten of NCHW into a Gemm, LeakyRelu alpha (opset 13)': (seed) => {
    const g = new OnnxGraphBuilder(seed);
    const z = g.input('z', [4]);
    const y = g.input('y', [3]);
    let x = g.node('Concat', 'join', [z, y], [attr.int('axis', 1)]);
    x = g.node('LeakyRelu', 'fc/act', [g.linear('fc', x, 7, 3 * 5 * 5)], [attr.float('alpha', 0.3)]);
    x = g.view('view', x, [3, 5, 5], 13);
    x = g.node('Conv', 'conv', [x, g.weights('conv.weight', [4, 3, 3, 3], 27), g.weights('conv.bias', [4], 9)], [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [1, 1, 1, 1])]);
    x = g.node('Relu', 'conv/relu', [x]);
    x = g.node('Flatten', 'flat', [x], [attr.int('axis', 1)]);
    x = g.node('Sigmoid', 'out', [g.linear('head', x, 100, 10)], [], ['x']);
    return { model: g.model(x, [10], 13), latent: { name: 'z', size: 4 }, label: { name: 'y', classes: 3 }, outputShape: [10], nchw: false };
  },
  'DCGAN generator: latent [N, 4, 1, 1], ConvTranspose k4 s1 p0, BatchNorm, Relu, ConvTranspose k4 s2 p1, Tanh (opset 13)': (seed) => {
    const g = new OnnxGraphBuilder(seed);
    let x = g.input('noise', [4, 1, 1]);
    x = g.node('ConvTranspose', 'g1', [x, g.weights('g1.weight', [4, 6, 4, 4], 4)], [attr.ints('kernel_shape', [4, 4]), attr.ints('strides', [1, 1]), attr.ints('pads', [0, 0, 0, 0])]); // 1x1 -> 4x4
    x = g.node('Relu', 'g1/relu', [g.batchNorm('g1.bn', x, 6)]);
    x = g.node('ConvTranspose', 'g2', [x, g.weights('g2.weight', [6, 3, 4, 4], 6 * 4)], [attr.ints('kernel_shape', [4, 4]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])]); // 4x4 -> 8x8
    x = g.node('Tanh', 'out', [x], [], ['fake']);
    return { model: g.model(x, [3, 8, 8], 13), latent: { name: 'noise', size: 4, shape: [4, 1, 1] }, outputShape: [3, 8, 8], nchw: true };
  },
  'MLP decoder: MatMul + Add, Gemm without transB, BatchNorm1d, output Unflatten to [N, 1, 6, 6] (opset 9)': (seed) => {
    const g = new OnnxGraphBuilder(seed);
    const z = g.input('z', [3]);
    let x = g.node('MatMul', 'fc1', [z, g.weights('fc1.w', [3, 16], 3)]);
    x = g.node('Add', 'fc1/add', [x, g.weights('fc1.b', [16], 9)]);
    x = g.node('Relu', 'fc1/relu', [g.batchNorm('bn', x, 16)]);
    x = g.node('Gemm', 'fc2', [x, g.weights('fc2.w', [16, 36], 16), g.weights('fc2.b', [36], 9)]);
    x = g.node('Sigmoid', 'fc2/sigmoid', [x]);
    x = g.node('Identity', 'out', [g.unflatten('view', x, [1, 6, 6], 9)], [], ['x']);
    return { model: g.model(x, [1, 6, 6], 9), latent: { name: 'z', size: 3 }, outputShape: [1, 6, 6], nchw: true };
  },
};
