/**
 * What crosses the wasm boundary, defined once for both languages: this file is valid TypeScript and
 * valid AssemblyScript (no imports, no types beyond enums and integer constants). The executor
 * (assembly/executor.ts) and the kernels import it as '../src/runtime/abi'; the host
 * (src/runtime/plan.ts, decoder.ts) imports it as './abi.ts'. The module exports ABI_VERSION and the
 * host refuses a module built from another version (src/runtime/wasm.ts), so a stale .wasm cannot
 * misread the records.
 */

/** Bump on any change below that alters the meaning of a record word, a code or a status. */
export const ABI_VERSION = 2;

/** i32 words per op record. */
export const RECORD_WORDS = 32;

/** Op codes: word Field.Op of every record. */
export enum Op {
  Dense = 1,
  Conv = 2,
  Activation = 3,
  ConcatLabel = 4,
  Binary = 5,
  Resize = 6,
  Norm = 7,
  ConcatChannels = 8,
  DepthToSpace = 9,
  Gather = 10,
  Affine = 11,
}

/** What `run` returns when it cannot finish; the host turns each into a RuntimeError naming the node. */
export enum Status {
  Ok = 0,
  BadOpcode = -1,
  BadLabel = -2,
  BadWeights = -3,
  /** Another thread of a shared decode trapped (src/runtime/threads.ts): this one stopped waiting for it. */
  ThreadFailed = -4,
}

/** How a weighted op's kernel is stored. */
export enum Weights {
  F32 = 0,
  F16 = 1,
  I8 = 2,
}

/**
 * Activation codes. Linear..Tanh may be fused into the GEMM epilogues; the rest run only in the
 * standalone activation kernel (a call in the epilogue slows the microkernel: see activation.ts).
 * Clip takes its bounds from alpha (min) and beta (max); Elu and LeakyRelu their slope from alpha.
 */
export enum Act {
  Linear = 0,
  Relu = 1,
  LeakyRelu = 2,
  Sigmoid = 3,
  Tanh = 4,
  Silu = 5,
  GeluErf = 6,
  GeluTanh = 7,
  Elu = 8,
  Softplus = 9,
  Clip = 10,
}

/** The highest activation code a GEMM epilogue may apply (the rest need a standalone op). */
export const FUSABLE_ACT_MAX = 4;

/** Element-wise ops between two values: y = a op b, or b op a when the record says reversed. */
export enum BinaryOp {
  Add = 0,
  Sub = 1,
  Mul = 2,
  Div = 3,
}

/** Normalizations: statistics over (pixels x a group of channels), or over each pixel's channels. */
export enum NormKind {
  Group = 0,
  Layer = 1,
}

/** ONNX DepthToSpace modes; PyTorch's PixelShuffle is CRD. */
export enum DepthToSpaceMode {
  DCR = 0,
  CRD = 1,
}

/**
 * Record words every op has. Slots are indices into the slot table the host passes to `run`
 * (one address per slot, laid out for the batch); -1 where an op has no such operand.
 */
export enum Field {
  Op = 0,
  Act = 1,
  /** f32 bits: LeakyRelu/Elu slope, Clip's minimum. */
  Alpha = 2,
  /** f32 bits: Clip's maximum. */
  Beta = 3,
  In0 = 4,
  In1 = 5,
  Out = 6,
  /** First op-specific word. */
  Args = 8,
}

/** Dense: y[rows, N] = act(x[rows, K] W + bias). */
export enum DenseRec {
  Weights = 8,
  K = 9,
  N = 10,
  /** Rows per sample. */
  Rows = 11,
  Kernel = 12,
  Bias = 13,
  Scale = 14,
}

/** Conv2d and conv2dTranspose on NHWC values; padding after is implied by OH/OW. */
export enum ConvRec {
  Weights = 8,
  H = 9,
  W = 10,
  C = 11,
  OH = 12,
  OW = 13,
  OC = 14,
  KH = 15,
  KW = 16,
  SH = 17,
  SW = 18,
  PadTop = 19,
  PadLeft = 20,
  Transposed = 21,
  Kernel = 22,
  Bias = 23,
  Scale = 24,
  DilationH = 25,
  DilationW = 26,
  Groups = 27,
  /** How Kernel was packed (ConvPacking); 0 in records from hosts that predate the word. */
  Packing = 28,
}

/**
 * How a conv's kernel is packed, which decides the path convGeneral takes. Gemm: the layout every
 * module understands (the depthwise kernel's, or panels for the im2col GEMM); a module given a record
 * without the word (a host that predates it, which packs so) takes that path. ByGeometry: packed by
 * packConvKernel for the layer's strides and dilation, which may pick transposed-conv phases
 * (assembly/kernels/conv-phases.ts) or the direct kernel for few channels (conv-direct.ts).
 */
export enum ConvPacking {
  Gemm = 0,
  ByGeometry = 1,
}

/** A standalone activation over Size values per sample. */
export enum ActivationRec {
  Size = 8,
}

/** Joins the one-hot label to a flat value: Size features, Classes label values. */
export enum ConcatLabelRec {
  Size = 8,
  Classes = 9,
  LabelFirst = 10,
}

/**
 * y = act(a op b) over [outer, mid, inner] (outer counts samples where b differs per sample); b is
 * read at b[o * BOuterStride + n * BInnerStride] from the slot In1, or from Constant when it is
 * nonzero (an address of packed constants).
 */
export enum BinaryRec {
  BinaryOp = 8,
  Reversed = 9,
  /** Per-sample sizes: the kernel runs `outer` = batch x OuterPerSample. */
  OuterPerSample = 10,
  Mid = 11,
  Inner = 12,
  BOuterStride = 13,
  BInnerStride = 14,
  Constant = 15,
}

/** Resize of [H, W, C] to [OH, OW, C] through per-axis tables of source indices and weights (see resize.ts). */
export enum ResizeRec {
  H = 8,
  W = 9,
  C = 10,
  OH = 11,
  OW = 12,
  /** 0: nearest (tables of indices), 1: bilinear (tables of index pairs and weights). */
  Linear = 13,
  RowTable = 14,
  ColumnTable = 15,
}

/** Group or layer normalization with a per-channel affine. */
export enum NormRec {
  Kind = 8,
  Pixels = 9,
  C = 10,
  Groups = 11,
  /** f32 bits. */
  Epsilon = 12,
  Gamma = 13,
  BetaVector = 14,
}

/** Channels of two NHWC values side by side: [pixels, CA] and [pixels, CB] to [pixels, CA + CB]. */
export enum ConcatChannelsRec {
  Pixels = 8,
  CA = 9,
  CB = 10,
}

/** DepthToSpace / PixelShuffle on NHWC: [H, W, C * block^2] to [H * block, W * block, C]. */
export enum DepthToSpaceRec {
  H = 8,
  W = 9,
  C = 10,
  Block = 11,
  Mode = 12,
}

/** y[s, i] = x[s, table[i]] for i < Size (InSize values per input sample): layout changes, transposes. */
export enum GatherRec {
  InSize = 8,
  Size = 9,
  Table = 10,
}

/** y = act(x * scale[c] + shift[c]) over [rows, C]: a BatchNorm that follows nothing it folds into. */
export enum AffineRec {
  Rows = 8,
  C = 9,
  ScaleVector = 10,
  ShiftVector = 11,
}

/**
 * Bytes per entry of a linear resize table (ResizeRec.RowTable/ColumnTable when Linear = 1):
 * {i32 i0, i32 i1, f32 w0, f32 w1}, w0 = 1 - w1; a nearest table holds one i32 per entry.
 * See src/layers/resize.ts (resizeTables) and assembly/kernels/resize.ts.
 */
export const RESIZE_LINEAR_ENTRY_BYTES = 16;

/**
 * The words (i32) of the block through which threads share one decode (src/runtime/threads.ts,
 * assembly/executor-threads.ts). The barrier's: Arrived, Generation, FailedRecord. The host's: Job,
 * the generation of the job the helper threads run (Stop ends them), and the job's arguments; each
 * thread's status at Status + thread.
 */
export enum ThreadSync {
  Arrived = 0,
  Generation = 1,
  FailedRecord = 2,
  Job = 3,
  Plan = 4,
  Count = 5,
  Batch = 6,
  Slots = 7,
  Labels = 8,
  Scratch = 9,
  ScratchStride = 10,
  Threads = 11,
  /** Set by a helper thread that trapped: the barrier stops waiting, every thread returns ThreadFailed. */
  Broken = 12,
  Status = 16,
  Words = 64,
}

/** The Job word's value that ends the helper threads. */
export const THREAD_STOP = -1;
/** Most threads one decode is shared by: one status word each after Status. */
export const MAX_THREADS = 48;
