/**
 * Converts an edgevae model file into an ONNX model (a serialized ModelProto), so a decoder can be run
 * by ONNX Runtime or any other ONNX consumer, and so the wasm runtime can be benchmarked against them.
 *
 * The ONNX graph computes exactly what `Decoder.decode` computes:
 * - input `z`: the latent, float [N, latentSize] for a vector latent; an image latent [h, w, c] is the
 *   input [N, c, h, w] (NCHW, PyTorch's order: what `decode(latents, labels, { layout: 'NCHW' })`
 *   takes, and what importOnnx reads a rank-4 input as). `N` is a dynamic batch dimension.
 * - input `label` (conditional decoders only): float [N, classes], the class label **one-hot encoded**
 *   (1 at the class index, 0 elsewhere), where `Decoder.decode` takes the integer class. It is joined
 *   to a flat value by a Concat, before or after it as the graph's `concatenate` node says.
 * - output `x`: float [N, ...meta.output.shape], in the same layout as our runtime (NHWC for images).
 *
 * The graph's nodes are written in their order, each value mapped to its ONNX tensor. Image values
 * (rank 3, NHWC in edgevae) are held in NCHW or NHWC, whichever their producer wrote, and a Transpose
 * is added (once per value) only where a consumer needs the other layout: convolutions, resize,
 * groupNorm, depthToSpace and channel concats run in NCHW; dense, reshape, flatten, layerNorm and the
 * output read edgevae's element order (NHWC); activations, affine, binary and transposes take either.
 * The table of kinds and operators is in docs/ONNX-EXPORT.md. Anything the target opset cannot
 * express (LayerNormalization below 17) is an UnsupportedError naming the node and the opset that works.
 *
 * Weights are f32 initializers by default (f16 and int8 files are widened/dequantized, so ONNX sees the
 * same values our runtime uses). With `weights: 'i8'` the kernels are stored as int8 initializers with
 * one scale per output channel, each dequantized by a DequantizeLinear node (per-axis, opset 13+)
 * feeding its Gemm/MatMul/Conv: int8 files keep their own values and scales, f32/f16 files are
 * quantized here exactly as `exportModel` would quantize them. Biases are always f32. (onnxruntime's
 * default optimizations turn DequantizeLinear -> Gemm/MatMul into MatMulNBits, which by default also
 * quantizes the activations, about 1e-3 off; session config `session.qdq_matmulnbits_accuracy_level`
 * "1" keeps it in f32, the arithmetic the graph describes.) With `quantize: 'dynamic'` the dense and
 * conv2d layers become what onnxruntime's `quantize_dynamic` writes (DynamicQuantizeLinear,
 * MatMulInteger / ConvInteger, Cast, Mul, Add), the model onnxruntime runs through its own int8 kernels.
 *
 * The model's metadata header is kept as JSON in `metadata_props` under the key "edgevae".
 */
import onnxProto from 'onnx-proto';
import { InputError, UnsupportedError } from '../errors.ts';
import { quantizeInt8PerChannel } from '../format/int8.ts';
import { readModel, tensorData, type ConvGeometry, type ParsedModel } from '../format/read.ts';
import { convGeometry, type ConvNodeGeometry } from '../layers/conv.ts';
import type { GraphNode } from '../layers/types.ts';
import type { ActivationFields } from '../layers/activation.ts';
import { permute } from '../convert/permute.ts';
import { outputChannelAxis, product, type BinaryLayer, type ConvLayer, type DenseLayer, type GroupNormLayer, type ResizeLayer } from '../format/spec.ts';
import { kernelValues } from '../runtime/reference.ts';
import { VERSION } from '../version.ts';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IAttribute = onnxProto.onnx.IAttributeProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;

export interface OnnxExportOptions {
  /** The ai.onnx opset to target, 13..23 (default 13). The IR version is the one released with it. */
  opset?: number;
  /**
   * How kernels are stored: 'f32' (default) as float initializers; 'i8' as int8 initializers with
   * per-output-channel scales, dequantized in the graph by DequantizeLinear.
   */
  weights?: 'f32' | 'i8';
  /**
   * 'dynamic': the dense and conv2d layers as onnxruntime's `quantize_dynamic` writes them, with
   * activations quantized to uint8 at run time and int8 kernels: DynamicQuantizeLinear -> MatMulInteger
   * (per-column int8 zero points of 0) or ConvInteger (one zero point of 0: onnxruntime 1.30 refuses
   * per-channel zero points there) -> Cast -> Mul by the product of the two scales -> Add bias.
   * onnxruntime fuses the dense chain into its DynamicQuantizeMatMul kernel, its own int8 path.
   * conv2dTranspose layers stay as `weights` says, as quantize_dynamic leaves them: ONNX has no
   * integer ConvTranspose. Default 'none'.
   */
  quantize?: 'none' | 'dynamic';
}

/** The IR version that shipped with each ai.onnx opset (ONNX 1.8 .. 1.18). */
const IR_VERSION_FOR_OPSET: Record<number, number> = {
  13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11,
};
export const ONNX_OPSETS = { min: 13, max: 23, default: 13 } as const;

/** Names of the graph's inputs and output. */
export const ONNX_NAMES = { latent: 'z', label: 'label', output: 'x' } as const;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT8 = onnx.TensorProto.DataType.INT8;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

const attr = {
  int: (name: string, i: number): IAttribute => ({ name, type: A.INT, i }),
  ints: (name: string, ints: number[]): IAttribute => ({ name, type: A.INTS, ints }),
  float: (name: string, f: number): IAttribute => ({ name, type: A.FLOAT, f }),
  string: (name: string, s: string): IAttribute => ({ name, type: A.STRING, s: new TextEncoder().encode(s) }),
};

/** How an int8 kernel's scales and zero points are shaped for the op that consumes them. */
interface Int8Layout {
  /** Dims of the scale tensor (default: [output channels]). */
  scaleDims?: number[];
  /** One zero point (0) for the whole kernel rather than one per channel. */
  scalarZeroPoint?: boolean;
}

/** NHWC <-> NCHW permutations of a batched rank-4 tensor. */
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** TF.js kernel [kh, kw, in, out] (conv2d) or [kh, kw, out, in] (conv2dTranspose) to ONNX's [out, in, kh, kw] / [in, out, kh, kw]. */
const KERNEL_TO_ONNX = [3, 2, 0, 1];

/** Converts an edgevae model (the file's bytes, or a model already parsed by readModel) to ONNX bytes. */
export function exportOnnx(model: Uint8Array | ArrayBuffer | ParsedModel, options: OnnxExportOptions = {}): Uint8Array {
  const parsed = model instanceof Uint8Array || model instanceof ArrayBuffer ? readModel(model) : model;
  if (!parsed || !(parsed as ParsedModel).graph || !(parsed as ParsedModel).header) {
    throw new InputError('exportOnnx takes a model file (Uint8Array) or a ParsedModel from readModel');
  }
  const opset = options.opset ?? ONNX_OPSETS.default;
  if (!Number.isInteger(opset) || IR_VERSION_FOR_OPSET[opset] === undefined) {
    throw new InputError(`opset must be an integer in ${ONNX_OPSETS.min}..${ONNX_OPSETS.max}, got ${JSON.stringify(options.opset)}`);
  }
  const weights = options.weights ?? 'f32';
  if (weights !== 'f32' && weights !== 'i8') throw new InputError(`weights must be 'f32' or 'i8', got ${JSON.stringify(options.weights)}`);

  const quantize = options.quantize ?? 'none';
  if (quantize !== 'none' && quantize !== 'dynamic') throw new InputError(`quantize must be 'none' or 'dynamic', got ${JSON.stringify(options.quantize)}`);

  const graph = new GraphBuilder(parsed, weights, quantize === 'dynamic', opset);
  graph.build();
  const { meta } = parsed.header;
  const proto: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION_FOR_OPSET[opset],
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'edgevae',
    producerVersion: VERSION,
    modelVersion: 1,
    docString: graph.docString(),
    graph: {
      name: 'edgevae_decoder',
      node: graph.nodes,
      initializer: graph.initializers,
      input: graph.inputs,
      output: graph.outputs,
    },
    metadataProps: [{ key: 'edgevae', value: JSON.stringify(meta) }],
  };
  // A copy into a buffer of its own: protobufjs may hand back a view into a shared Node Buffer pool.
  return new Uint8Array(onnx.ModelProto.encode(proto).finish());
}

/** Where an edgevae value lives in the ONNX graph: rank-3 values in NHWC and/or NCHW, others as they are. */
interface Held {
  /** Per-sample shape in edgevae's order ([h, w, c] for images). */
  shape: number[];
  NHWC?: string;
  NCHW?: string;
  /** A value of rank other than 3 (or the label): one layout only. */
  plain?: string;
}
type Layout = 'NHWC' | 'NCHW';
/** Per layout, which logical (edgevae) axis of a rank-3 value each physical axis after the batch holds. */
const PHYSICAL: Record<Layout, number[]> = { NHWC: [0, 1, 2], NCHW: [2, 0, 1] };

/** Emits the nodes and initializers for the nodes of one model's graph, tracking the layout of each value. */
class GraphBuilder {
  readonly nodes: INode[] = [];
  readonly initializers: ITensor[] = [];
  readonly inputs: IValueInfo[] = [];
  readonly outputs: IValueInfo[] = [];
  /** edgevae value name -> its ONNX tensors. */
  private readonly values = new Map<string, Held>();
  private prefix = '';
  /** What messages call the node being emitted: `node "name" (kind)`. */
  private what = '';
  private readonly names = new Set<string>();

  private readonly model: ParsedModel;
  private readonly weights: 'f32' | 'i8';
  private readonly opset: number;
  /** quantize 'dynamic': dense and conv2d layers get integer ops with activations quantized at run time. */
  private readonly dynamic: boolean;

  constructor(model: ParsedModel, weights: 'f32' | 'i8', dynamic: boolean, opset: number) {
    this.model = model;
    this.weights = weights;
    this.dynamic = dynamic;
    this.opset = opset;
  }

  build(): void {
    const { meta } = this.model.header;
    const { graph } = this.model;
    const latentShape = graph.latent.shape;
    if (latentShape.length === 3) {
      // An image latent is the ONNX input [N, c, h, w], as PyTorch takes it (and importOnnx reads a rank-4 input).
      const [h, w, c] = latentShape;
      this.inputs.push(valueInfo(ONNX_NAMES.latent, [c, h, w], `latent images, float [N, ${c}, ${h}, ${w}] (NCHW): decode(latents, labels, { layout: 'NCHW' }) order`));
      this.values.set(graph.latent.name, { shape: latentShape, NCHW: ONNX_NAMES.latent });
    } else {
      this.inputs.push(valueInfo(ONNX_NAMES.latent, [meta.latentSize], `latent vectors, float [N, ${meta.latentSize}]`));
      this.values.set(graph.latent.name, { shape: latentShape, plain: ONNX_NAMES.latent });
    }
    if (meta.conditioning) {
      const c = meta.conditioning.classes;
      this.inputs.push(valueInfo(ONNX_NAMES.label, [c], `class labels one-hot encoded, float [N, ${c}]: 1 at the class index, 0 elsewhere`));
      if (graph.label) this.values.set(graph.label.name, { shape: [c], plain: ONNX_NAMES.label });
    }
    for (const node of graph.nodes) {
      const { index, layer } = node;
      this.prefix = `l${index}_${sanitize(layer.name ?? layer.type)}`;
      this.what = `node "${node.name}" (${layer.type})`;
      this.set(node.name, node.outShape, this.emit(node));
    }
    const out = this.logical(graph.output);
    if (this.nodes.some((n) => n.input!.includes(out)) || !this.nodes.some((n) => n.output![0] === out)) {
      this.nodes.push({ name: 'output', opType: 'Identity', input: [out], output: [ONNX_NAMES.output] });
    } else {
      this.nodes.find((n) => n.output![0] === out)!.output = [ONNX_NAMES.output];
    }
    const shape = meta.output.shape;
    this.outputs.push(valueInfo(ONNX_NAMES.output, shape, `decoded samples, float [N, ${shape.join(', ')}]${shape.length === 3 ? ' (NHWC)' : ''}, in [${meta.output.range.join(', ')}]`));
  }

  /** Emits one node's ONNX nodes; returns its output tensor and the layout it is in. */
  private emit(node: GraphNode): { name: string; layout?: Layout } {
    const { layer, inShapes, outShape } = node;
    const [inShape] = inShapes;
    switch (layer.type) {
      case 'dense':
        return this.fused(this.dense(layer, node.inputs[0], inShape), layer, outShape.length === 3 ? 'NHWC' : undefined);
      case 'conv2d':
      case 'conv2dTranspose':
        return this.fused(this.conv(layer, node.inputs[0], inShape, outShape), layer, 'NCHW');
      case 'reshape': {
        const x = this.logical(node.inputs[0]);
        const layout = outShape.length === 3 ? 'NHWC' : undefined;
        if (sameDims(inShape, outShape)) return { name: x, layout };
        // 0 copies the batch dimension from the input.
        const shape = this.initializer('shape', { dims: [outShape.length + 1], dataType: INT64, int64Data: [0, ...outShape] });
        return { name: this.node('Reshape', [x, shape]), layout };
      }
      case 'flatten': {
        const x = this.logical(node.inputs[0]);
        return { name: inShape.length > 1 ? this.node('Flatten', [x], [attr.int('axis', 1)]) : x };
      }
      case 'concatenate':
        return this.concatenate(node);
      case 'activation': {
        const x = this.any(node.inputs[0]);
        return { name: this.activation(x.name, layer), layout: x.layout };
      }
      case 'binary':
        return this.binary(layer, node);
      case 'resize':
        return this.resize(layer, node.inputs[0], inShape);
      case 'groupNorm':
        return this.groupNorm(layer, node.inputs[0], inShape);
      case 'layerNorm': {
        if (this.opset < 17) throw new UnsupportedError(`${this.what}: LayerNormalization needs opset 17 or later; this export targets opset ${this.opset} (pass opset: 17)`);
        const x = this.logical(node.inputs[0]);
        const C = inShape[inShape.length - 1];
        const y = this.node('LayerNormalization', [x, this.vector('gamma', layer.gamma, [C]), this.vector('beta', layer.beta, [C])], [attr.int('axis', -1), attr.float('epsilon', layer.epsilon)]);
        return this.fused(y, layer, inShape.length === 3 ? 'NHWC' : undefined);
      }
      case 'affine': {
        const x = this.any(node.inputs[0]);
        const C = inShape[inShape.length - 1];
        const dims = x.layout === 'NCHW' ? [C, 1, 1] : [C];
        const y = this.node('Add', [this.node('Mul', [x.name, this.vector('multiplier', layer.multiplier, dims)]), this.vector('offset', layer.offset, dims)]);
        return this.fused(y, layer, x.layout);
      }
      case 'depthToSpace': {
        if (inShape.length !== 3) throw new UnsupportedError(`${this.what}: DepthToSpace takes an image`);
        const x = this.physical(node.inputs[0], 'NCHW');
        return { name: this.node('DepthToSpace', [x], [attr.int('blocksize', layer.blockSize), attr.string('mode', layer.mode)]), layout: 'NCHW' };
      }
      case 'transpose':
        return this.transpose(layer.perm, node.inputs[0], inShape);
    }
  }

  /** A node's fused activation after its own op. */
  private fused(x: string, layer: ActivationFields, layout: Layout | undefined): { name: string; layout?: Layout } {
    return { name: this.activation(x, layer), layout };
  }

  private set(value: string, shape: number[], { name, layout }: { name: string; layout?: Layout }): void {
    if (shape.length === 3) {
      if (!layout) throw new Error(`internal: rank-3 value ${value} without a layout`);
      this.values.set(value, { shape, [layout]: name });
    } else {
      this.values.set(value, { shape, plain: name });
    }
  }

  private held(value: string): Held {
    const held = this.values.get(value);
    if (!held) throw new Error(`internal: value "${value}" not emitted`);
    return held;
  }

  /** A value in whatever layout it already has (NCHW first). */
  private any(value: string): { name: string; layout?: Layout } {
    const held = this.held(value);
    if (held.plain !== undefined) return { name: held.plain };
    return held.NCHW !== undefined ? { name: held.NCHW, layout: 'NCHW' } : { name: held.NHWC!, layout: 'NHWC' };
  }

  /** A value in edgevae's element order (NHWC for images): what reshape, flatten, dense and the output read. */
  private logical(value: string): string {
    const held = this.held(value);
    return held.plain ?? this.physical(value, 'NHWC');
  }

  /** A rank-3 value in `layout`, transposed once (and remembered) when it is held in the other. */
  private physical(value: string, layout: Layout): string {
    const held = this.held(value);
    if (held.plain !== undefined) throw new UnsupportedError(`${this.what} needs an image [h, w, c], got [${held.shape.join(', ')}]`);
    if (held[layout] === undefined) held[layout] = this.node('Transpose', [layout === 'NCHW' ? held.NHWC! : held.NCHW!], [attr.ints('perm', layout === 'NCHW' ? TO_NCHW : TO_NHWC)]);
    return held[layout]!;
  }

  docString(): string {
    const { meta } = this.model.header;
    const label = meta.conditioning ? ` and "label" (float [N, ${meta.conditioning.classes}], one-hot)` : '';
    const dense = this.dynamic ? ' Dense and conv2d layers dynamically quantized (uint8 activations, int8 kernels, MatMulInteger / ConvInteger).' : '';
    const [h, w, c] = this.model.graph.latent.shape;
    const latent = this.model.graph.latent.shape.length === 3 ? `float [N, ${c}, ${h}, ${w}], NCHW` : `float [N, ${meta.latentSize}]`;
    return `edgevae decoder: inputs "z" (${latent})${label}; output "x" (float [N, ${meta.output.shape.join(', ')}], NHWC as the edgevae runtime). Weights: ${this.weights}.${dense}`;
  }

  /** Adds a node with one output, named after the current layer and op; returns the output's name. */
  private node(opType: string, input: string[], attribute: IAttribute[] = []): string {
    let name = `${this.prefix}/${opType}`;
    for (let i = 1; this.names.has(name); i++) name = `${this.prefix}/${opType}_${i}`;
    this.names.add(name);
    this.nodes.push({ name, opType, input, output: [name], ...(attribute.length ? { attribute } : {}) });
    return name;
  }

  private initializer(suffix: string, tensor: Omit<ITensor, 'name'>): string {
    let name = `${this.prefix}.${suffix}`;
    for (let i = 1; this.names.has(name); i++) name = `${this.prefix}.${suffix}_${i}`;
    this.names.add(name);
    this.initializers.push({ name, ...tensor });
    return name;
  }

  private floats(suffix: string, dims: number[], data: Float32Array): string {
    return this.initializer(suffix, { dims, dataType: FLOAT, rawData: bytesOf(data) });
  }

  private scalar(suffix: string, value: number): string {
    return this.floats(suffix, [], Float32Array.of(value));
  }

  /** An f32 vector tensor of the file as an initializer of `dims`. */
  private vector(suffix: string, tensor: number, dims: number[]): string {
    return this.floats(suffix, dims, Float32Array.from(tensorData(this.model, tensor) as Float32Array));
  }

  /**
   * A kernel as an ONNX tensor name: f32 values permuted by `perm` to ONNX's layout, or (weights 'i8')
   * int8 values and scales dequantized along `onnxAxis`, the output-channel axis after the permutation.
   */
  private kernel(layer: DenseLayer | ConvLayer, perm: number[] | null, onnxAxis: number): string {
    const tfShape = this.model.header.tensors[layer.kernel].shape;
    const dims = perm ? perm.map((p) => tfShape[p]) : tfShape;
    if (this.weights === 'f32') {
      const values = kernelValues(this.model, layer);
      return this.floats('kernel', dims, perm ? permute(values, tfShape, perm) : values);
    }
    const { q, scale, zeroPoint } = this.int8Kernel(layer, perm);
    return this.node('DequantizeLinear', [q, scale, zeroPoint], [attr.int('axis', onnxAxis)]);
  }

  /**
   * A kernel as int8 initializers in ONNX layout (permuted by `perm`), with its per-output-channel
   * scales and zero points (all 0: our scheme is symmetric). An int8 file keeps its own values and
   * scales; f32/f16 files are quantized here exactly as `exportModel` would quantize them.
   */
  private int8Kernel(layer: DenseLayer | ConvLayer, perm: number[] | null, layout: Int8Layout = {}): { q: string; scale: string; zeroPoint: string } {
    if (layer.type === 'conv2dTranspose' && (layer.groups ?? 1) > 1) {
      throw new UnsupportedError(`${this.what}: a grouped transposed conv's output channels span two axes of the ONNX kernel [in, out / groups, kh, kw], which one per-axis DequantizeLinear cannot scale; export it with weights 'f32'`);
    }
    const tfShape = this.model.header.tensors[layer.kernel].shape;
    const dims = perm ? perm.map((p) => tfShape[p]) : tfShape;
    let q: Int8Array;
    let scales: Float32Array;
    if (layer.scale !== undefined) {
      q = tensorData(this.model, layer.kernel) as Int8Array;
      scales = Float32Array.from(tensorData(this.model, layer.scale) as Float32Array);
    } else {
      ({ q, scales } = quantizeInt8PerChannel(kernelValues(this.model, layer), tfShape, outputChannelAxis(layer.type)));
    }
    const zeroPoints = layout.scalarZeroPoint ? 1 : scales.length;
    return {
      q: this.initializer('kernel_q', { dims, dataType: INT8, rawData: bytesOf(perm ? permute(q, tfShape, perm) : Int8Array.from(q)) }),
      scale: this.floats('kernel_scale', layout.scaleDims ?? [scales.length], scales),
      zeroPoint: this.initializer('kernel_zero_point', { dims: layout.scalarZeroPoint ? [] : [zeroPoints], dataType: INT8, rawData: new Uint8Array(zeroPoints) }),
    };
  }

  private bias(layer: DenseLayer | ConvLayer): string {
    const b = tensorData(this.model, layer.bias) as Float32Array;
    return this.floats('bias', [b.length], Float32Array.from(b));
  }

  private dense(layer: DenseLayer, input: string, inShape: number[]): string {
    const x = this.logical(input);
    if (this.dynamic) return this.dynamicallyQuantizedDense(layer, x);
    const w = this.kernel(layer, null, 1);
    const b = this.bias(layer);
    if (inShape.length === 1) return this.node('Gemm', [x, w, b]);
    // Over the last axis of [N, ..., K]: MatMul broadcasts the [K, units] kernel, Add the bias.
    return this.node('Add', [this.node('MatMul', [x, w]), b]);
  }

  /**
   * What onnxruntime's quantize_dynamic makes of MatMul + Add: the activation quantized to uint8 with
   * its own scale and zero point at run time, an integer matmul against the int8 kernel, and the int32
   * result scaled back to float (activation scale x the kernel's per-column scales) before the bias.
   */
  private dynamicallyQuantizedDense(layer: DenseLayer, input: string): string {
    const { q, scale, zeroPoint } = this.int8Kernel(layer, null);
    const x = this.quantizeActivations(input);
    const product = this.node('MatMulInteger', [x.q, q, x.zeroPoint, zeroPoint]);
    return this.node('Add', [this.toFloat(product, x.scale, scale), this.bias(layer)]);
  }

  /**
   * What quantize_dynamic makes of a Conv: ConvInteger on the uint8 activation and the int8 kernel, then
   * the same scaling. onnxruntime's ConvInteger takes one zero point for the whole kernel: ours are all
   * 0, so one scalar 0 stands for every channel, and the per-channel scales apply after it, [OC, 1, 1]
   * to broadcast over NCHW, as the bias does (ConvInteger has none).
   */
  private dynamicallyQuantizedConv(layer: ConvLayer, input: string, attributes: IAttribute[]): string {
    const channels = [layer.filters, 1, 1];
    const { q, scale, zeroPoint } = this.int8Kernel(layer, KERNEL_TO_ONNX, { scaleDims: channels, scalarZeroPoint: true });
    const x = this.quantizeActivations(input);
    const product = this.node('ConvInteger', [x.q, q, x.zeroPoint, zeroPoint], attributes);
    const bias = Float32Array.from(tensorData(this.model, layer.bias) as Float32Array);
    return this.node('Add', [this.toFloat(product, x.scale, scale), this.floats('bias', channels, bias)]);
  }

  /** DynamicQuantizeLinear of an activation: its uint8 values, scale and zero point. */
  private quantizeActivations(input: string): { q: string; scale: string; zeroPoint: string } {
    const q = this.node('DynamicQuantizeLinear', [input]);
    this.nodes[this.nodes.length - 1].output = [q, `${q}.scale`, `${q}.zero_point`];
    return { q, scale: `${q}.scale`, zeroPoint: `${q}.zero_point` };
  }

  /** An int32 product back in float: Cast, then times the activation scale x the kernel's scales. */
  private toFloat(product: string, activationScale: string, kernelScale: string): string {
    const asFloat = this.node('Cast', [product], [attr.int('to', FLOAT)]);
    return this.node('Mul', [asFloat, this.node('Mul', [activationScale, kernelScale])]);
  }

  private conv(layer: ConvLayer, input: string, inShape: number[], outShape: number[]): string {
    const g = convGeometry(layer, inShape, outShape);
    const x = this.physical(input, 'NCHW');
    const attributes = this.convAttributes(layer, g);
    if (g.transposed) {
      // ONNX ConvTranspose weights are [in, out / groups, kh, kw]: output channels on axis 1. No integer variant exists.
      return this.node('ConvTranspose', [x, this.kernel(layer, KERNEL_TO_ONNX, 1), this.bias(layer)], attributes);
    }
    if (this.dynamic) return this.dynamicallyQuantizedConv(layer, x, attributes);
    // ONNX Conv weights are [out, in / groups, kh, kw]: output channels on axis 0.
    return this.node('Conv', [x, this.kernel(layer, KERNEL_TO_ONNX, 0), this.bias(layer)], attributes);
  }

  /**
   * kernel_shape, strides, dilations, group and pads (and output_padding): explicit padding as the
   * node gives it (ONNX's and PyTorch's meaning), 'same'/'valid' as the pads that give TensorFlow.js's size.
   */
  private convAttributes(layer: ConvLayer, g: ConvNodeGeometry): IAttribute[] {
    const attributes = [attr.ints('kernel_shape', [g.kh, g.kw]), attr.ints('strides', [g.sh, g.sw])];
    if (g.dh !== 1 || g.dw !== 1) attributes.push(attr.ints('dilations', [g.dh, g.dw]));
    if (g.groups !== 1) attributes.push(attr.int('group', g.groups));
    let pads: number[];
    let outputPadding: number[];
    if (layer.padding === 'explicit') {
      pads = [...layer.pads!];
      outputPadding = [...(layer.outputPadding ?? [0, 0])];
    } else {
      // A dilated kernel covers d (k - 1) + 1 pixels: TF.js's sizes are those of that dense kernel.
      const padding = onnxConvPadding({ ...g, kh: g.dh * (g.kh - 1) + 1, kw: g.dw * (g.kw - 1) + 1 });
      if (!padding) throw new UnsupportedError(`${this.what}: no ONNX ${g.transposed ? 'ConvTranspose' : 'Conv'} padding gives the ${g.OH}x${g.OW} output of this layer`);
      ({ pads, outputPadding } = padding);
    }
    attributes.push(attr.ints('pads', pads));
    if (outputPadding[0] || outputPadding[1]) attributes.push(attr.ints('output_padding', outputPadding));
    return attributes;
  }

  /** Concat of two values along edgevae's last axis (the channels of an image), or the one-hot label joined to a flat value. */
  private concatenate(node: GraphNode): { name: string; layout?: Layout } {
    const [a, b] = node.inputs;
    const rank = node.outShape.length;
    if (rank !== 3) return { name: this.node('Concat', [this.logical(a), this.logical(b)], [attr.int('axis', rank)]) };
    // In NCHW, along axis 1: the channel concat PyTorch writes (and importOnnx reads).
    return { name: this.node('Concat', [this.physical(a, 'NCHW'), this.physical(b, 'NCHW')], [attr.int('axis', 1)]), layout: 'NCHW' };
  }

  /**
   * a op b, with b a value or a constant. Both values in one layout; the smaller one shaped to broadcast
   * by ONNX's (numpy) rules: a per-channel constant [C, 1, 1] against NCHW, a scalar [], a full-shape
   * constant permuted to the value's layout.
   */
  private binary(layer: BinaryLayer, node: GraphNode): { name: string; layout?: Layout } {
    const op = ({ add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' } as const)[layer.op];
    const { inShapes } = node;
    if (layer.constant !== undefined) {
      const x = this.any(node.inputs[0]);
      const full = inShapes[0];
      const constShape = this.model.header.tensors[layer.constant].shape;
      const data = Float32Array.from(tensorData(this.model, layer.constant) as Float32Array);
      let c: string;
      if (data.length === 1) c = this.floats('constant', [], data);
      else if (full.length > 1 && data.length === full[full.length - 1] && trimOnes(constShape).length === 1) c = this.floats('constant', x.layout === 'NCHW' ? [full[2], 1, 1] : [data.length], data);
      else if (x.layout === 'NCHW') c = this.floats('constant', [full[2], full[0], full[1]], permute(data, full, [2, 0, 1]));
      else c = this.floats('constant', full, data);
      const inputs = layer.constantFirst ? [c, x.name] : [x.name, c];
      return this.fused(this.node(op, inputs), layer, x.layout);
    }
    // The larger operand decides the layout; the other follows it.
    const big = product(inShapes[1]) > product(inShapes[0]) ? 1 : 0;
    const full = inShapes[big];
    const other = inShapes[1 - big];
    const names: string[] = [];
    let layout: Layout | undefined;
    if (full.length === 3 && other.length === 3) {
      const x = this.any(node.inputs[big]);
      layout = x.layout;
      names[big] = x.name;
      names[1 - big] = this.physical(node.inputs[1 - big], layout!);
    } else if (full.length === other.length) {
      names[big] = this.logical(node.inputs[big]);
      names[1 - big] = this.logical(node.inputs[1 - big]);
    } else {
      // Ranks differ: the smaller operand reshaped to the larger's rank, ones before its own axes.
      const x = full.length === 3 && product(other) !== 1 && trimOnes(other).length !== 1 ? { name: this.logical(node.inputs[big]), layout: 'NHWC' as Layout } : this.any(node.inputs[big]);
      layout = x.layout;
      names[big] = x.name;
      let dims = [...new Array<number>(full.length - trimOnes(other).length).fill(1), ...trimOnes(other)];
      if (layout === 'NCHW' && product(other) !== 1) dims = [dims[2], dims[0], dims[1]];
      const shape = this.initializer('shape', { dims: [dims.length + 1], dataType: INT64, int64Data: [0, ...dims] });
      names[1 - big] = this.node('Reshape', [this.logical(node.inputs[1 - big]), shape]);
    }
    return this.fused(this.node(op, names), layer, layout);
  }

  /** Resize in NCHW: by the node's scales where it has them (they set the coordinates), else to its size. */
  private resize(layer: ResizeLayer, input: string, inShape: number[]): { name: string; layout: Layout } {
    const x = this.physical(input, 'NCHW');
    const [H, W] = inShape;
    const attributes = [attr.string('mode', layer.mode), attr.string('coordinate_transformation_mode', layer.coordinate)];
    if (layer.mode === 'nearest') attributes.push(attr.string('nearest_mode', layer.nearest ?? 'round_prefer_floor'));
    const s = layer.scales;
    const f32 = (v: number) => Math.fround(v);
    let inputs: string[];
    if (s && Math.floor(H * f32(s[0])) === layer.size[0] && Math.floor(W * f32(s[1])) === layer.size[1]) {
      inputs = [x, '', this.floats('scales', [4], Float32Array.of(1, 1, s[0], s[1]))];
    } else {
      // sizes: [N, C] of the input (the batch is dynamic), then the node's [oh, ow].
      const shape = this.node('Shape', [x]);
      const starts = this.initializer('starts', { dims: [1], dataType: INT64, int64Data: [0] });
      const ends = this.initializer('ends', { dims: [1], dataType: INT64, int64Data: [2] });
      const nc = this.node('Slice', [shape, starts, ends]);
      const hw = this.initializer('size', { dims: [2], dataType: INT64, int64Data: [...layer.size] });
      inputs = [x, '', '', this.node('Concat', [nc, hw], [attr.int('axis', 0)])];
    }
    return { name: this.node('Resize', inputs, attributes), layout: 'NCHW' };
  }

  /**
   * GroupNorm in NCHW: InstanceNormalization with gamma and beta when each channel is its own group; else
   * the pattern torch.onnx.export writes (Reshape [N, G, -1], InstanceNormalization with ones and zeros,
   * Reshape back, Mul gamma, Add beta), which importOnnx recognizes and every opset runs.
   */
  private groupNorm(layer: GroupNormLayer, input: string, inShape: number[]): { name: string; layout: Layout } {
    if (inShape.length !== 3) throw new UnsupportedError(`${this.what} normalizes a [${inShape.join(', ')}] value; the ONNX export writes groupNorm on images [h, w, c]`);
    const x = this.physical(input, 'NCHW');
    const [H, W, C] = inShape;
    const G = layer.groups;
    const epsilon = attr.float('epsilon', layer.epsilon);
    let y: string;
    if (G === C) {
      y = this.node('InstanceNormalization', [x, this.vector('gamma', layer.gamma, [C]), this.vector('beta', layer.beta, [C])], [epsilon]);
    } else {
      const grouped = this.initializer('groups_shape', { dims: [3], dataType: INT64, int64Data: [0, G, -1] });
      const back = this.initializer('shape', { dims: [4], dataType: INT64, int64Data: [0, C, H, W] });
      const norm = this.node('InstanceNormalization', [this.node('Reshape', [x, grouped]), this.floats('ones', [G], new Float32Array(G).fill(1)), this.floats('zeros', [G], new Float32Array(G))], [epsilon]);
      const scaled = this.node('Mul', [this.node('Reshape', [norm, back]), this.vector('gamma', layer.gamma, [C, 1, 1])]);
      y = this.node('Add', [scaled, this.vector('beta', layer.beta, [C, 1, 1])]);
    }
    return { name: this.activation(y, layer), layout: 'NCHW' };
  }

  /**
   * edgevae's transpose of a value's axes, composed with the layouts it is held in and written to:
   * one Transpose, or none when the permutation only changes which layout the value is held in.
   */
  private transpose(perm: number[], input: string, inShape: number[]): { name: string; layout?: Layout } {
    if (inShape.length !== 3) {
      const x = this.logical(input);
      if (perm.every((p, i) => p === i)) return { name: x };
      return { name: this.node('Transpose', [x], [attr.ints('perm', [0, ...perm.map((p) => p + 1)])]) };
    }
    const x = this.any(input);
    const inverse = (p: number[]) => p.map((_, i) => p.indexOf(i));
    const inPhysical = inverse(PHYSICAL[x.layout!]);
    const onnxPerm = (out: Layout) => PHYSICAL[out].map((logical) => inPhysical[perm[logical]]);
    for (const out of ['NHWC', 'NCHW'] as const) if (onnxPerm(out).every((p, i) => p === i)) return { name: x.name, layout: out };
    return { name: this.node('Transpose', [x.name], [attr.ints('perm', [0, ...onnxPerm('NHWC').map((p) => p + 1)])]), layout: 'NHWC' };
  }

  /** An activation by ONNX operators: one op where ONNX has it, else its arithmetic (SiLU, GELU). */
  private activation(x: string, { activation, alpha, min, max }: ActivationFields): string {
    switch (activation) {
      case 'linear':
        return x;
      case 'relu':
        return this.node('Relu', [x]);
      case 'leakyRelu':
        return this.node('LeakyRelu', [x], [attr.float('alpha', alpha ?? 0.3)]);
      case 'sigmoid':
        return this.node('Sigmoid', [x]);
      case 'tanh':
        return this.node('Tanh', [x]);
      case 'elu':
        return this.node('Elu', [x], [attr.float('alpha', alpha ?? 1)]);
      case 'softplus':
        return this.node('Softplus', [x]);
      case 'clip': {
        // Opset 11+: the bounds are inputs; an absent one is left out ('').
        const bounds = [min === undefined ? '' : this.scalar('min', min), max === undefined ? '' : this.scalar('max', max)];
        while (bounds.length && bounds[bounds.length - 1] === '') bounds.pop();
        return this.node('Clip', [x, ...bounds]);
      }
      case 'silu':
        // x * sigmoid(x), as nn.SiLU exports.
        return this.node('Mul', [x, this.node('Sigmoid', [x])]);
      case 'geluErf': {
        // x * 0.5 * (1 + erf(x / sqrt 2)), as nn.GELU() exports.
        const erf = this.node('Erf', [this.node('Div', [x, this.scalar('sqrt2', Math.SQRT2)])]);
        const times = this.node('Mul', [x, this.node('Add', [erf, this.scalar('one', 1)])]);
        return this.node('Mul', [times, this.scalar('half', 0.5)]);
      }
      case 'geluTanh': {
        // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), nn.GELU(approximate='tanh') before opset 20's Gelu.
        const cube = this.node('Mul', [this.node('Mul', [x, x]), x]);
        const inner = this.node('Add', [x, this.node('Mul', [cube, this.scalar('c', 0.044715)])]);
        const t = this.node('Tanh', [this.node('Mul', [inner, this.scalar('sqrt_2_over_pi', Math.sqrt(2 / Math.PI))])]);
        const times = this.node('Mul', [x, this.node('Add', [t, this.scalar('one', 1)])]);
        return this.node('Mul', [times, this.scalar('half', 0.5)]);
      }
    }
  }
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A shape without its leading ones. */
function trimOnes(shape: readonly number[]): number[] {
  const first = shape.findIndex((d) => d !== 1);
  return first < 0 ? [] : shape.slice(first);
}

/**
 * The ONNX pads [top, left, bottom, right] (and, for ConvTranspose, output_padding) that give a conv
 * step's TensorFlow.js output, or null when none does.
 * - Conv: out = floor((in + before + after - k) / s) + 1. TF.js 'same' puts the odd pixel after.
 * - ConvTranspose: out = s * (in - 1) + k - before - after + output_padding, and input pixel i lands on
 *   i * s + ky - before, as in our scatter. What we do not produce at the end is cropped (pads), or the
 *   rows/columns only the bias reaches are appended (output_padding, always < s for TF.js sizes).
 */
export function onnxConvPadding(g: ConvGeometry): { pads: number[]; outputPadding: number[] } | null {
  if (!g.transposed) {
    const after = (inLen: number, outLen: number, k: number, s: number, before: number) => Math.max((outLen - 1) * s + k - inLen - before, 0);
    const padBottom = after(g.H, g.OH, g.kh, g.sh, g.padTop);
    const padRight = after(g.W, g.OW, g.kw, g.sw, g.padLeft);
    const size = (inLen: number, k: number, s: number, total: number) => Math.floor((inLen + total - k) / s) + 1;
    if (size(g.H, g.kh, g.sh, g.padTop + padBottom) !== g.OH || size(g.W, g.kw, g.sw, g.padLeft + padRight) !== g.OW) return null;
    return { pads: [g.padTop, g.padLeft, padBottom, padRight], outputPadding: [0, 0] };
  }
  const endOf = (inLen: number, outLen: number, k: number, s: number, before: number) => s * (inLen - 1) + k - before - outLen;
  const cropH = endOf(g.H, g.OH, g.kh, g.sh, g.padTop);
  const cropW = endOf(g.W, g.OW, g.kw, g.sw, g.padLeft);
  const outputPadding = [Math.max(-cropH, 0), Math.max(-cropW, 0)];
  if (outputPadding[0] >= g.sh || outputPadding[1] >= g.sw) return null;
  return { pads: [g.padTop, g.padLeft, Math.max(cropH, 0), Math.max(cropW, 0)], outputPadding };
}

function valueInfo(name: string, perSample: number[], docString: string): IValueInfo {
  return {
    name,
    docString,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, ...perSample.map((d) => ({ dimValue: d }))] } } },
  };
}

/** Node and tensor names keep to letters, digits, '_', '.', '-'. */
function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** The little-endian bytes of a typed array (raw_data is little-endian, as our format and every host we run on). */
function bytesOf(data: Float32Array | Int8Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

