/**
 * Converts an edgevae model file into an ONNX model (a serialized ModelProto), so a decoder can be run
 * by ONNX Runtime or any other ONNX consumer, and so the wasm runtime can be benchmarked against them.
 *
 * The ONNX graph computes exactly what `Decoder.decode` computes:
 * - input `z`: float [N, latentSize], the latent vectors; `N` is a dynamic batch dimension.
 * - input `label` (conditional decoders only): float [N, classes], the class label **one-hot encoded**
 *   (1 at the class index, 0 elsewhere), where `Decoder.decode` takes the integer class. It is joined
 *   to the activations by a Concat, before or after them as the file's `concatenate` layer says.
 * - output `x`: float [N, ...meta.output.shape], in the same layout as our runtime (NHWC for images).
 *
 * Layers map to ONNX operators: dense to Gemm (2-D input) or MatMul + Add; conv2d to Conv and
 * conv2dTranspose to ConvTranspose, computed in NCHW with explicit pads (and output_padding) that
 * reproduce TensorFlow.js's 'same'/'valid' sizes exactly; the activations stay in NCHW through
 * consecutive convolutions and go back to NHWC (one Transpose) before anything that depends on the
 * element order (reshape, flatten, dense, the output). Activations map to Relu, LeakyRelu, Sigmoid, Tanh.
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
import { convGeometry, readModel, tensorData, type ConvGeometry, type ParsedModel } from '../format/read.ts';
import { permute } from '../convert/permute.ts';
import { outputChannelAxis, product, type ActivationName, type ConvLayer, type DenseLayer } from '../format/spec.ts';
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

  const graph = new GraphBuilder(parsed, weights, quantize === 'dynamic');
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

/** Emits the nodes and initializers for the layers of one model, tracking the layout of the running activation. */
class GraphBuilder {
  readonly nodes: INode[] = [];
  readonly initializers: ITensor[] = [];
  readonly inputs: IValueInfo[] = [];
  readonly outputs: IValueInfo[] = [];
  /** Name of the tensor holding the running activation, [N, ...shape]. */
  private current: string = ONNX_NAMES.latent;
  /** Whether the running rank-4 activation is NCHW (after a convolution) rather than our NHWC. */
  private nchw = false;
  private prefix = '';
  private readonly names = new Set<string>();

  private readonly model: ParsedModel;
  private readonly weights: 'f32' | 'i8';
  /** quantize 'dynamic': dense and conv2d layers get integer ops with activations quantized at run time. */
  private readonly dynamic: boolean;

  constructor(model: ParsedModel, weights: 'f32' | 'i8', dynamic: boolean) {
    this.model = model;
    this.weights = weights;
    this.dynamic = dynamic;
  }

  build(): void {
    const { meta } = this.model.header;
    this.inputs.push(valueInfo(ONNX_NAMES.latent, [meta.latentSize], `latent vectors, float [N, ${meta.latentSize}]`));
    if (meta.conditioning) {
      const c = meta.conditioning.classes;
      this.inputs.push(valueInfo(ONNX_NAMES.label, [c], `class labels one-hot encoded, float [N, ${c}]: 1 at the class index, 0 elsewhere`));
    }
    const { graph } = this.model;
    let previous = graph.latent.name;
    for (const node of graph.nodes) {
      const { index, layer, outShape } = node;
      const inShape = node.inShapes[node.inputs.indexOf(previous)] ?? node.inShapes[0];
      if (!node.inputs.includes(previous) || node.inputs.some((v) => v !== previous && v !== graph.label?.name)) {
        throw new UnsupportedError(`node "${node.name}" (${layer.type}) reads ${node.inputs.map((v) => `"${v}"`).join(' and ')}: the ONNX export writes chains of layers (graphs with branches: not yet)`);
      }
      previous = node.name;
      this.prefix = `l${index}_${sanitize(layer.name ?? layer.type)}`;
      switch (layer.type) {
        case 'dense':
          this.dense(layer, inShape);
          this.activation(layer.activation, layer.alpha);
          break;
        case 'conv2d':
        case 'conv2dTranspose':
          this.conv(layer, inShape, outShape);
          this.activation(layer.activation, layer.alpha);
          break;
        case 'reshape':
          this.reshape(inShape, outShape);
          break;
        case 'flatten':
          this.toNhwc();
          if (inShape.length > 1) this.current = this.node('Flatten', [this.current], [attr.int('axis', 1)]);
          break;
        case 'concatenate': {
          const inputs = node.inputs[0] === graph.label?.name ? [ONNX_NAMES.label, this.current] : [this.current, ONNX_NAMES.label];
          this.current = this.node('Concat', inputs, [attr.int('axis', 1)]);
          break;
        }
        case 'activation':
          this.activation(layer.activation, layer.alpha);
          break;
      }
    }
    this.toNhwc();
    const producer = this.nodes.find((n) => n.output![0] === this.current);
    if (producer) producer.output = [ONNX_NAMES.output];
    else this.nodes.push({ name: 'output', opType: 'Identity', input: [this.current], output: [ONNX_NAMES.output] });
    const shape = meta.output.shape;
    this.outputs.push(valueInfo(ONNX_NAMES.output, shape, `decoded samples, float [N, ${shape.join(', ')}]${shape.length === 3 ? ' (NHWC)' : ''}, in [${meta.output.range.join(', ')}]`));
  }

  docString(): string {
    const { meta } = this.model.header;
    const label = meta.conditioning ? ` and "label" (float [N, ${meta.conditioning.classes}], one-hot)` : '';
    const dense = this.dynamic ? ' Dense and conv2d layers dynamically quantized (uint8 activations, int8 kernels, MatMulInteger / ConvInteger).' : '';
    return `edgevae decoder: inputs "z" (float [N, ${meta.latentSize}])${label}; output "x" (float [N, ${meta.output.shape.join(', ')}], NHWC as the edgevae runtime). Weights: ${this.weights}.${dense}`;
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
    const name = `${this.prefix}.${suffix}`;
    this.initializers.push({ name, ...tensor });
    return name;
  }

  private floats(suffix: string, dims: number[], data: Float32Array): string {
    return this.initializer(suffix, { dims, dataType: FLOAT, rawData: bytesOf(data) });
  }

  private toNhwc(): void {
    if (!this.nchw) return;
    this.current = this.node('Transpose', [this.current], [attr.ints('perm', TO_NHWC)]);
    this.nchw = false;
  }

  private toNchw(): void {
    if (this.nchw) return;
    this.current = this.node('Transpose', [this.current], [attr.ints('perm', TO_NCHW)]);
    this.nchw = true;
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

  private dense(layer: DenseLayer, inShape: number[]): void {
    this.toNhwc();
    if (this.dynamic) {
      this.dynamicallyQuantizedDense(layer);
      return;
    }
    const w = this.kernel(layer, null, 1);
    const b = this.bias(layer);
    if (inShape.length === 1) {
      this.current = this.node('Gemm', [this.current, w, b]);
    } else {
      // Over the last axis of [N, ..., K]: MatMul broadcasts the [K, units] kernel, Add the bias.
      this.current = this.node('Add', [this.node('MatMul', [this.current, w]), b]);
    }
  }

  /**
   * What onnxruntime's quantize_dynamic makes of MatMul + Add: the activation quantized to uint8 with
   * its own scale and zero point at run time, an integer matmul against the int8 kernel, and the int32
   * result scaled back to float (activation scale x the kernel's per-column scales) before the bias.
   */
  private dynamicallyQuantizedDense(layer: DenseLayer): void {
    const { q, scale, zeroPoint } = this.int8Kernel(layer, null);
    const x = this.quantizeActivations();
    const product = this.node('MatMulInteger', [x.q, q, x.zeroPoint, zeroPoint]);
    this.current = this.node('Add', [this.toFloat(product, x.scale, scale), this.bias(layer)]);
  }

  /**
   * What quantize_dynamic makes of a Conv: ConvInteger on the uint8 activation and the int8 kernel, then
   * the same scaling. onnxruntime's ConvInteger takes one zero point for the whole kernel: ours are all
   * 0, so one scalar 0 stands for every channel, and the per-channel scales apply after it, [OC, 1, 1]
   * to broadcast over NCHW, as the bias does (ConvInteger has none).
   */
  private dynamicallyQuantizedConv(layer: ConvLayer, attributes: IAttribute[]): void {
    const channels = [layer.filters, 1, 1];
    const { q, scale, zeroPoint } = this.int8Kernel(layer, KERNEL_TO_ONNX, { scaleDims: channels, scalarZeroPoint: true });
    const x = this.quantizeActivations();
    const product = this.node('ConvInteger', [x.q, q, x.zeroPoint, zeroPoint], attributes);
    const bias = Float32Array.from(tensorData(this.model, layer.bias) as Float32Array);
    this.current = this.node('Add', [this.toFloat(product, x.scale, scale), this.floats('bias', channels, bias)]);
  }

  /** DynamicQuantizeLinear of the running activation: its uint8 values, scale and zero point. */
  private quantizeActivations(): { q: string; scale: string; zeroPoint: string } {
    const q = this.node('DynamicQuantizeLinear', [this.current]);
    this.nodes[this.nodes.length - 1].output = [q, `${q}.scale`, `${q}.zero_point`];
    return { q, scale: `${q}.scale`, zeroPoint: `${q}.zero_point` };
  }

  /** An int32 product back in float: Cast, then times the activation scale x the kernel's scales. */
  private toFloat(product: string, activationScale: string, kernelScale: string): string {
    const asFloat = this.node('Cast', [product], [attr.int('to', FLOAT)]);
    return this.node('Mul', [asFloat, this.node('Mul', [activationScale, kernelScale])]);
  }

  private conv(layer: ConvLayer, inShape: number[], outShape: number[]): void {
    const g = convGeometry(layer, inShape, outShape);
    this.toNchw();
    if (g.transposed) {
      // ONNX ConvTranspose weights are [in, out, kh, kw]: output channels on axis 1. No integer variant exists.
      const inputs = [this.current, this.kernel(layer, KERNEL_TO_ONNX, 1), this.bias(layer)];
      this.current = this.node('ConvTranspose', inputs, this.convAttributes(g));
    } else if (this.dynamic) {
      this.dynamicallyQuantizedConv(layer, this.convAttributes(g));
    } else {
      // ONNX Conv weights are [out, in, kh, kw]: output channels on axis 0.
      const inputs = [this.current, this.kernel(layer, KERNEL_TO_ONNX, 0), this.bias(layer)];
      this.current = this.node('Conv', inputs, this.convAttributes(g));
    }
  }

  /** kernel_shape, strides and the pads (and output_padding) that give the layer's TensorFlow.js output size. */
  private convAttributes(g: ConvGeometry): IAttribute[] {
    const padding = onnxConvPadding(g);
    if (!padding) throw new UnsupportedError(`${this.prefix}: no ONNX ${g.transposed ? 'ConvTranspose' : 'Conv'} padding gives the ${g.OH}x${g.OW} output of this layer`);
    const attributes = [attr.ints('kernel_shape', [g.kh, g.kw]), attr.ints('strides', [g.sh, g.sw]), attr.ints('pads', padding.pads)];
    if (padding.outputPadding[0] || padding.outputPadding[1]) attributes.push(attr.ints('output_padding', padding.outputPadding));
    return attributes;
  }

  private reshape(inShape: number[], outShape: number[]): void {
    this.toNhwc();
    if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return;
    // 0 copies the batch dimension from the input.
    const shape = this.initializer('shape', { dims: [outShape.length + 1], dataType: INT64, int64Data: [0, ...outShape] });
    this.current = this.node('Reshape', [this.current, shape]);
  }

  private activation(activation: ActivationName, alpha?: number): void {
    switch (activation) {
      case 'linear':
        return;
      case 'relu':
        this.current = this.node('Relu', [this.current]);
        return;
      case 'leakyRelu':
        this.current = this.node('LeakyRelu', [this.current], [attr.float('alpha', alpha ?? 0.3)]);
        return;
      case 'sigmoid':
        this.current = this.node('Sigmoid', [this.current]);
        return;
      case 'tanh':
        this.current = this.node('Tanh', [this.current]);
        return;
    }
  }
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

