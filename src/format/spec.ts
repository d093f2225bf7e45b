/**
 * The compact model format (docs/FORMAT.md): the types of its JSON header and the constants of its
 * binary frame. The writer (write.ts) and the reader (read.ts) share everything defined here.
 */

/** "EVAE" as the first four bytes of the file. */
export const MAGIC = Uint8Array.of(0x45, 0x56, 0x41, 0x45);
/**
 * Major version written: 2, a graph of named values. A reader also takes 1.x files (a chain of
 * layers), converting them to the one-input-per-node graph they describe. Minor versions only add
 * optional header fields.
 */
export const FORMAT_MAJOR = 2;
/** The newest minor version this edgevae writes: 2.1 added meta.priorStddev (a file without it is written as 2.0). */
export const FORMAT_MINOR = 1;
/** The older major version a reader still takes. */
export const FORMAT_MAJOR_CHAIN = 1;
/** Fixed binary frame before the JSON header. */
export const FRAME_BYTES = 32;
/** Every tensor starts at a file offset that is a multiple of this, so SIMD loads can be aligned. */
export const TENSOR_ALIGN = 16;

/** Limits a reader enforces, so a corrupted or hostile file cannot ask for absurd work or memory. */
export const LIMITS = {
  headerBytes: 1 << 20,
  layers: 256,
  tensors: 1024,
  dim: 1 << 24,
  elementsPerSample: 1 << 24, // largest activation of one sample, in floats (64 MiB)
  macsPerSample: 2 ** 40, // multiply-adds to decode one sample (a 256 x 256 TAESD-style decode is 17.7 G; 2^40 is 60 times that)
  kernelSize: 64,
  stride: 16,
  classes: 1 << 16,
  latent: 1 << 16,
  priorComponents: 256,
  priorValues: 1 << 16, // numbers in a prior's means and factors together
  priorStddev: 1000, // largest meta.priorStddev
  resizeFactor: 64, // largest factor between a resize's input and output sizes, either way
  nodes: 1024,
  nameLength: 256,
  /** Bytes of wasm memory the values of one sample may need at their peak (all live values together). */
  liveBytesPerSample: 1 << 28,
} as const;

export type DType = 'f32' | 'f16' | 'i8';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'i8'];
export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, i8: 1 };

/**
 * Activations. The first five may be fused into a dense or conv node (format 1 has only these); the
 * others run as activation nodes or fused into a binary, affine or norm node. leakyRelu and elu take
 * `alpha`; clip takes `min` and `max` (absent: unbounded on that side).
 */
export type ActivationName = 'linear' | 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh' | 'silu' | 'geluErf' | 'geluTanh' | 'elu' | 'softplus' | 'clip';
export const ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'leakyRelu', 'sigmoid', 'tanh', 'silu', 'geluErf', 'geluTanh', 'elu', 'softplus', 'clip'];
/** The activations a dense or conv node may carry (its GEMM's epilogue applies them). */
export const FUSED_ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'leakyRelu', 'sigmoid', 'tanh'];

/** A stored tensor. `offset` is in bytes from the start of the file; row-major, little-endian. */
export interface TensorSpec {
  dtype: DType;
  shape: number[];
  offset: number;
}

interface Fused {
  activation: ActivationName;
  /** Negative slope of leakyRelu, or elu's alpha. */
  alpha?: number;
  /** clip's bounds. */
  min?: number;
  max?: number;
}

interface Weighted extends Fused {
  /** Tensor index of the kernel, in TensorFlow.js layout (see each layer). */
  kernel: number;
  /** Tensor index of the f32 bias, one per output channel (zeros when the source had none). */
  bias: number;
  /** Tensor index of the f32 per-output-channel scales; present exactly when the kernel is i8. */
  scale?: number;
}

/** Fully connected over the last axis. Kernel [inputs, units]. */
export interface DenseLayer extends Weighted {
  type: 'dense';
  units: number;
}

/** 2-D convolution on NHWC activations. conv2d kernel [kh, kw, in, filters]; conv2dTranspose [kh, kw, filters, in]. */
export interface ConvLayer extends Weighted {
  type: 'conv2d' | 'conv2dTranspose';
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  /** TensorFlow.js 'same' or 'valid', or 'explicit' with `pads` (format 2). */
  padding: 'same' | 'valid' | 'explicit';
  /**
   * With 'explicit' padding: [top, left, bottom, right]. For conv2dTranspose, as PyTorch's padding:
   * rows and columns cropped from the full transposed output.
   */
  pads?: [number, number, number, number];
  /** conv2dTranspose with explicit padding: rows and columns added after (PyTorch's output_padding). */
  outputPadding?: [number, number];
  /** Spacing between kernel taps (1: dense kernel). */
  dilations?: [number, number];
  /** Channel groups: each group of C/groups inputs feeds filters/groups outputs; conv2d kernel [kh, kw, C/groups, filters]. */
  groups?: number;
}

/**
 * The node fields that hold tensor indices. Weighted kinds have kernel, bias and (int8) scale; the
 * other f32 tensors (a norm's gamma and beta, a constant operand) are always f32 whatever the file's
 * weight dtype.
 */
export const TENSOR_FIELDS = ['kernel', 'bias', 'scale', 'gamma', 'beta', 'constant', 'multiplier', 'offset'] as const;

/** The layer types that carry a kernel. */
export type WeightedType = (DenseLayer | ConvLayer)['type'];

/**
 * The kernel axis that indexes output channels: where per-channel int8 scales (and, at export,
 * BatchNormalization) apply. Dense [inputs, units]: 1; conv2d [kh, kw, in, filters]: 3;
 * conv2dTranspose [kh, kw, filters, in]: 2.
 */
export function outputChannelAxis(type: WeightedType): number {
  return type === 'dense' ? 1 : type === 'conv2d' ? 3 : 2;
}

/** Reinterprets each sample's activation with a new shape of the same size (NHWC order). */
export interface ReshapeLayer {
  type: 'reshape';
  shape: number[];
}

export interface FlattenLayer {
  type: 'flatten';
}

/**
 * Joins two values along the last axis. Format 1: joins the one-hot class label to the flat activation,
 * before it (`labelFirst`) or after it; format 2 says which by the order of the node's inputs.
 */
export interface ConcatenateLayer {
  type: 'concatenate';
  labelFirst?: boolean;
}

export interface ActivationLayer extends Fused {
  type: 'activation';
}

/**
 * a op b element-wise: b is the node's second input, or the f32 tensor `constant` (then the node has
 * one input; with `constantFirst`, constant op a). b broadcasts against a when it has a's shape, one
 * value per channel (the last axis), or one value.
 */
export interface BinaryLayer extends Fused {
  type: 'binary';
  op: 'add' | 'sub' | 'mul' | 'div';
  constant?: number;
  constantFirst?: boolean;
}

/** Resize of [h, w, c] to [size[0], size[1], c] by ONNX Resize's rules (src/layers/resize.ts). */
export interface ResizeLayer {
  type: 'resize';
  mode: 'nearest' | 'linear';
  coordinate: 'asymmetric' | 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'tf_half_pixel_for_nn';
  /** For nearest: how a fractional source coordinate rounds. */
  nearest?: 'floor' | 'ceil' | 'round_prefer_floor' | 'round_prefer_ceil';
  size: [number, number];
  /** The scale factors the source gave, where it gave scales (they set the coordinates, not the size). */
  scales?: [number, number];
}

/** GroupNorm over [pixels, c] per sample (InstanceNorm: groups = c), then gamma, beta per channel. */
export interface GroupNormLayer extends Fused {
  type: 'groupNorm';
  groups: number;
  epsilon: number;
  gamma: number;
  beta: number;
}

/** LayerNorm over the last axis (channels) of each pixel, then gamma, beta per channel. */
export interface LayerNormLayer extends Fused {
  type: 'layerNorm';
  epsilon: number;
  gamma: number;
  beta: number;
}

/** y = x * multiplier[c] + offset[c] per channel (a BatchNorm with nothing to fold into). */
export interface AffineLayer extends Fused {
  type: 'affine';
  multiplier: number;
  offset: number;
}

/** DepthToSpace / PixelShuffle: [h, w, c * b * b] to [h * b, w * b, c]; mode as ONNX's (PixelShuffle is CRD). */
export interface DepthToSpaceLayer {
  type: 'depthToSpace';
  blockSize: number;
  mode: 'DCR' | 'CRD';
}

/** Permutes the axes of each sample's value (a latent's layout change, a channels-first flatten). */
export interface TransposeLayer {
  type: 'transpose';
  perm: number[];
}

export type LayerSpec = (
  | DenseLayer
  | ConvLayer
  | ReshapeLayer
  | FlattenLayer
  | ConcatenateLayer
  | ActivationLayer
  | BinaryLayer
  | ResizeLayer
  | GroupNormLayer
  | LayerNormLayer
  | AffineLayer
  | DepthToSpaceLayer
  | TransposeLayer
) & {
  /** The layer's name: in format 1, its name in the model it was exported from; in format 2, the node's (and its value's) name. */
  name?: string;
  /** Format 2: the name the layer had in the source model, where the node's name differs. */
  displayName?: string;
};

export interface ModelMeta {
  /** Length of the latent vector z, the decoder's input. */
  latentSize: number;
  /** Present for conditional decoders: how many classes, and (format 1) the index of the layer where the one-hot joins. */
  conditioning: { classes: number; joinsAt?: number } | null;
  /** Per-sample output shape ([h, w, c] for images) and the range the values lie in. */
  output: { shape: number[]; range: [number, number] };
  /** The weight dtype chosen at export (biases and scales are always f32). */
  dtype: DType;
  preset?: string;
  dataset?: string;
  metrics?: Record<string, number>;
  /** Who wrote the file, e.g. "edgevae 0.1.0". */
  producer?: string;
  /** The names of the source model's inputs that became the latent and the one-hot label. */
  inputs?: { latent: string; label?: string };
  /** For a model imported from ONNX: that graph's output, and the layout its image axes were in (the file's are NHWC). */
  source?: ImportSource;
  /** A latent prior fitted after training; sample() draws from it instead of N(0, I) (minor version 1). */
  prior?: MixturePrior;
  /**
   * The standard deviation s of the Gaussian prior N(0, s^2 I) the latent was trained against, where it
   * is not 1 (the adversarial autoencoders': 2). sample() draws from it by default (minor version 1).
   */
  priorStddev?: number;
  /** Free-form extra fields are kept and ignored. */
  [extra: string]: unknown;
}

export interface ImportSource {
  format: 'onnx';
  /** The graph output's name and per-sample shape, as the ONNX graph has them. */
  output: { name: string; shape: number[] };
  /** For an image output: 'NCHW' when the graph's [c, h, w] became the file's [h, w, c]; 'NHWC' when they agree. */
  layout?: 'NCHW' | 'NHWC';
}

/**
 * A mixture of Gaussians with full covariances over the latent space, fitted to the training set's
 * codes after training: the distribution the decoder saw, where N(0, I) leaves gaps between digits.
 */
export interface MixturePrior {
  type: 'gaussianMixture';
  /** One weight per component, each > 0, summing to 1. */
  weights: number[];
  /** Each component's mean: latentSize values. */
  means: number[][];
  /**
   * Each component's covariance as its lower-triangular Cholesky factor L (covariance L Lᵀ), row by
   * row: L[0][0], L[1][0], L[1][1], L[2][0], ...: latentSize (latentSize + 1) / 2 values, with a
   * positive diagonal. A draw is mean + L eps, eps ~ N(0, I).
   */
  choleskyFactors: number[][];
}

/** Values in a packed lower triangle of an n x n matrix. */
export function triangleSize(n: number): number {
  return (n * (n + 1)) / 2;
}

/** A version-1 header: a chain of layers from the latent to the output. */
export interface ChainHeader {
  meta: ModelMeta;
  layers: LayerSpec[];
  tensors: TensorSpec[];
}

/** A graph input: the latent (a vector [D] or an image [h, w, c]) or the one-hot class label. */
export type GraphInputSpec =
  | {
      name: string;
      kind: 'latent';
      /** Per-sample shape as the runtime holds it (images channels-last). */
      shape: number[];
      /** For an image latent: the layout the source model used ('NCHW' for PyTorch's [c, h, w]). */
      layout?: 'NCHW' | 'NHWC';
    }
  | { name: string; kind: 'label'; classes: number };

/** A node: a layer with a unique name (the name of the value it writes) and the values it reads. */
export type NodeSpec = LayerSpec & { name: string; inputs: string[] };

/** A version-2 header: named values, nodes in topological order, one output. */
export interface ModelHeader {
  meta: ModelMeta;
  inputs: GraphInputSpec[];
  nodes: NodeSpec[];
  /** The value the decoder returns. */
  output: string;
  tensors: TensorSpec[];
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
