/**
 * What a layer kind is to edgevae: one object per kind (src/layers/<kind>.ts) that parses and checks
 * its fields, infers its output shape and multiply-adds, writes the executor's record for it, and
 * computes it in plain scalar code (the specification the wasm kernels are tested against). The
 * registry (index.ts) maps every type name to its kind; a type without one does not compile.
 */
import type { DType, GraphInputSpec, LayerSpec, ModelMeta, NodeSpec, TensorSpec } from '../format/spec.ts';

/** A node of a parsed graph, with the per-sample shapes flowing in and out of it. */
export interface GraphNode {
  index: number;
  /** The node's name, which is also the name of the value it writes. */
  name: string;
  layer: NodeSpec;
  inputs: string[];
  inShapes: number[][];
  outShape: number[];
  /** Multiply-adds per sample. */
  macs: number;
}

/** A model's graph once read: its inputs, nodes in topological order and output value. */
export interface Graph {
  latent: Extract<GraphInputSpec, { kind: 'latent' }>;
  label: Extract<GraphInputSpec, { kind: 'label' }> | null;
  nodes: GraphNode[];
  output: string;
  /** Per-sample shape of every value, graph inputs included. */
  shapes: Map<string, number[]>;
}

/** What a kind's parse and infer see besides the node itself. */
export interface ParseContext {
  tensors: TensorSpec[];
  /** The file's weight dtype. */
  dtype: DType;
  meta: ModelMeta;
  graph: { label: Graph['label'] };
}

export interface Inferred {
  shape: number[];
  macs: number;
}

/** What a kind's record function may ask of the planner (src/runtime/plan.ts). */
export interface PlanContext {
  /** The weight code of the file's dtype (abi.ts Weights). */
  weightCode: number;
  /** Packs a kernel tensor, seen as a K x N matrix, into panels; returns its address. `channels`: C of a conv2dTranspose. */
  kernel(tensor: number, K: number, N: number, channels: number): number;
  /**
   * Packs a conv kernel tensor for convGeneral with `packing` (abi.ts ConvPacking: per group, or by the
   * geometry: depthwise, by phases, for the direct kernel); returns its address.
   */
  convKernel(tensor: number, geometry: import('./conv.ts').ConvNodeGeometry, packing: number): number;
  /** Places a conv's bias or scale tensor as convGeneral reads it (0 for none); returns its address. */
  convVector(tensor: number | undefined, OC: number, groups: number): number;
  /** Places an f32 vector tensor zero-padded to whole panels of 8 (0 for none); returns its address. */
  vector(tensor: number | undefined, n: number): number;
  /** Places a table computed at load time (resize indices, a permutation); returns its address. */
  table(values: Int32Array | Float32Array | Uint8Array): number;
  /** Places an f32 tensor's values as stored (a constant operand, a norm's gamma); returns its address. */
  f32Tensor(tensor: number): number;
  /** The model's tensors, for their shapes. */
  tensors: TensorSpec[];
  /** Asks for at least this much shared scratch while the op runs. */
  scratch(bytes: number): void;
  /** The wasm module's own sizing functions. */
  kernels: import('../runtime/wasm.ts').Kernels;
  /** Classes of the label input (0 without one). */
  classes: number;
  /** Whether an input value is the label input (read from the labels area, not a slot). */
  isLabel(value: string): boolean;
}

/** What a kind's reference sees: the model's tensors as f32 values, and the batch's labels. */
export interface ReferenceContext {
  batch: number;
  labels: ArrayLike<number> | undefined;
  classes: number;
  /** A tensor's values as stored (f32, f16 bits, or int8). */
  tensor(index: number): Float32Array | Uint16Array | Int8Array;
  tensors: TensorSpec[];
  /** Whether an input value is the label input. */
  isLabel(value: string): boolean;
}

export interface LayerKind<L extends LayerSpec> {
  /** How many inputs a node of this kind reads: [least, most]. */
  arity: readonly [number, number];
  /** Checks the kind's own fields (node name, type and inputs are checked by the reader). */
  parse(raw: Record<string, unknown>, what: string, context: ParseContext): Omit<L, 'type' | 'name'>;
  /** The output shape and multiply-adds per sample for these input shapes, or a FormatError naming the node. */
  infer(layer: L, inShapes: number[][], what: string, context: ParseContext): Inferred;
  /**
   * How the output is stored: 'alias' shares the input's memory (a reshape moves no data); 'inPlace'
   * may overwrite its first input when nothing reads that input later; 'fresh' needs memory of its own.
   */
  storage: 'alias' | 'inPlace' | 'fresh';
  /** For 'inPlace': which input the output may overwrite (default 0); -1 where none may. */
  inPlaceInput?(node: GraphNode): number;
  /** Fills the op record (abi.ts) for a node; In0/In1/Out slots are filled by the planner. */
  record(layer: L, record: Int32Array, node: GraphNode, context: PlanContext): void;
  /** Plain scalar computation of the node for a batch: the specification. Inputs and output are batch x per-sample values. */
  reference(layer: L, inputs: Float64Array[], node: GraphNode, context: ReferenceContext): Float64Array;
}
