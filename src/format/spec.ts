/**
 * The compact model format (docs/FORMAT.md): the types of its JSON header and the constants of its
 * binary frame. The writer (write.ts) and the reader (read.ts) share everything defined here.
 */

/** "EVAE" as the first four bytes of the file. */
export const MAGIC = Uint8Array.of(0x45, 0x56, 0x41, 0x45);
/** Major version: a reader refuses any other. Minor versions only add optional header fields. */
export const FORMAT_MAJOR = 1;
export const FORMAT_MINOR = 1;
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
  macsPerSample: 2 ** 31, // multiply-adds to decode one sample
  kernelSize: 64,
  stride: 16,
  classes: 1 << 16,
  latent: 1 << 16,
  priorComponents: 256,
  priorValues: 1 << 16, // numbers in a prior's means and factors together
} as const;

export type DType = 'f32' | 'f16' | 'i8';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'i8'];
export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, i8: 1 };

export type ActivationName = 'linear' | 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh';
export const ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'leakyRelu', 'sigmoid', 'tanh'];

/** A stored tensor. `offset` is in bytes from the start of the file; row-major, little-endian. */
export interface TensorSpec {
  dtype: DType;
  shape: number[];
  offset: number;
}

interface Fused {
  activation: ActivationName;
  /** Negative slope, only for leakyRelu. */
  alpha?: number;
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
  padding: 'same' | 'valid';
}

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

/** Joins the one-hot class label to a flat activation, before it (`labelFirst`) or after it. */
export interface ConcatenateLayer {
  type: 'concatenate';
  labelFirst: boolean;
}

export interface ActivationLayer extends Fused {
  type: 'activation';
}

export type LayerSpec = (DenseLayer | ConvLayer | ReshapeLayer | FlattenLayer | ConcatenateLayer | ActivationLayer) & {
  /** The layer's name in the model it was exported from, for messages. */
  name?: string;
};

export interface ModelMeta {
  /** Length of the latent vector z, the decoder's input. */
  latentSize: number;
  /** Present for conditional decoders: how many classes, and the index of the layer where the one-hot joins. */
  conditioning: { classes: number; joinsAt: number } | null;
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

export interface ModelHeader {
  meta: ModelMeta;
  layers: LayerSpec[];
  tensors: TensorSpec[];
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
