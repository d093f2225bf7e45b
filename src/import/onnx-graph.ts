/**
 * Reads an ONNX model (a serialized ModelProto) into the graph the importer walks: the nodes the output
 * depends on, in an order where every tensor is produced before it is read, with its initializers,
 * inputs and output. Everything structural is checked here, once, with a FormatError naming the node or
 * tensor: bytes that do not decode, tensors nobody produces or two nodes produce, cycles.
 */
import onnxProto from 'onnx-proto';
import { FormatError, UnsupportedError } from '../errors.ts';

const { onnx } = onnxProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type Long = { low: number; high: number; unsigned: boolean; toNumber(): number };

/** Bounds on what a graph may ask of the importer, so a corrupted file cannot make it work for long. */
export const GRAPH_LIMITS = { nodes: 10_000, initializers: 10_000, inputs: 16 } as const;

export interface OnnxNode {
  /** How messages name the node: `node "conv1" (Conv)`, or `node #3 (Conv)` when it has no name. */
  label: string;
  name: string;
  opType: string;
  /** Input tensor names; '' marks an optional input left out. */
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttributeProto>;
}

/** A graph input: its name and shape, the first axis being the batch (a number, or a symbol such as "N"). */
export interface GraphInput {
  name: string;
  dims: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  /** The ai.onnx opset the model declares. */
  opset: number;
  /** The nodes the output depends on, producers before readers. */
  nodes: OnnxNode[];
  initializers: Map<string, TensorProto>;
  /** The graph's inputs that are not initializers. */
  inputs: GraphInput[];
  output: string;
  /** The model's metadata_props. */
  metadata: Map<string, string>;
}

/** Decodes and checks an ONNX model. Throws FormatError for anything malformed. */
export function readOnnxGraph(bytes: Uint8Array): OnnxGraph {
  const model = decodeModel(bytes);
  const graph = model.graph;
  if (!graph) throw new FormatError('the ONNX model has no graph');
  const opset = declaredOpset(model.opsetImport ?? []);
  const initializers = initializersByName(graph.initializer ?? []);
  if ((graph.sparseInitializer ?? []).length > 0) throw new UnsupportedError('the ONNX graph has sparse initializers; edgevae reads dense ones only');
  const nodes = (graph.node ?? []).map(readNode);
  if (nodes.length > GRAPH_LIMITS.nodes) throw new FormatError(`the ONNX graph has ${nodes.length} nodes, over the limit of ${GRAPH_LIMITS.nodes}`);
  const inputs = graphInputs(graph.input ?? [], initializers);
  const output = graphOutput(graph.output ?? []);
  const producers = producersByTensor(nodes, initializers, inputs);
  const needed = nodesNeededFor(output, producers, initializers, inputs);
  return {
    name: graph.name || 'graph',
    opset,
    nodes: topologicalOrder(needed, producers),
    initializers,
    inputs,
    output,
    metadata: new Map((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
}

function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new FormatError('an ONNX model must be given as a Uint8Array');
  if (bytes.length === 0) throw new FormatError('the ONNX model is empty (0 bytes)');
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (err) {
    // protobufjs throws RangeError/Error for truncated or garbled wire data, and for nesting deep enough to exhaust the stack.
    throw new FormatError(`not a valid ONNX model: the protobuf does not decode (${(err as Error).message}); is the file truncated or not ONNX?`, { cause: err });
  }
}

/** An int64 field as a number: protobufjs hands out Long objects when the long package is present. */
export function int64(value: number | Long | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

function declaredOpset(imports: onnxProto.onnx.IOperatorSetIdProto[]): number {
  const standard = imports.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!standard) throw new FormatError('the ONNX model declares no ai.onnx opset (opset_import)');
  const version = int64(standard.version);
  if (!Number.isSafeInteger(version) || version < 1) throw new FormatError(`the ONNX model declares ai.onnx opset ${version}`);
  if (version < 7) throw new UnsupportedError(`the ONNX model uses ai.onnx opset ${version}; edgevae reads opset 7 and later`);
  return version;
}

function initializersByName(list: TensorProto[]): Map<string, TensorProto> {
  if (list.length > GRAPH_LIMITS.initializers) throw new FormatError(`the ONNX graph has ${list.length} initializers, over the limit of ${GRAPH_LIMITS.initializers}`);
  const byName = new Map<string, TensorProto>();
  for (const [i, tensor] of list.entries()) {
    const name = tensor.name ?? '';
    if (name === '') throw new FormatError(`initializer #${i} has no name`);
    if (byName.has(name)) throw new FormatError(`two initializers are named "${name}"`);
    byName.set(name, tensor);
  }
  return byName;
}

function readNode(node: onnxProto.onnx.INodeProto, index: number): OnnxNode {
  const opType = node.opType ?? '';
  const domain = node.domain ?? '';
  // Operators of other domains (com.microsoft, ...) are named with their domain, so they show up as unsupported.
  const qualified = domain === '' || domain === 'ai.onnx' ? opType : `${domain}.${opType}`;
  const name = node.name ?? '';
  const label = `node ${name ? JSON.stringify(name) : `#${index}`} (${qualified || 'no op_type'})`;
  if (opType === '') throw new FormatError(`${label} has no op_type`);
  const attributes = new Map<string, AttributeProto>();
  for (const attribute of node.attribute ?? []) attributes.set(attribute.name ?? '', attribute);
  const outputs = node.output ?? [];
  if (outputs.length === 0) throw new FormatError(`${label} has no outputs`);
  return { label, name: name || `#${index}`, opType: qualified, inputs: node.input ?? [], outputs, attributes };
}

function graphInputs(list: onnxProto.onnx.IValueInfoProto[], initializers: Map<string, TensorProto>): GraphInput[] {
  // Before IR version 4 initializers were listed among the inputs too; they are constants, not inputs.
  const inputs = list.filter((v) => !initializers.has(v.name ?? ''));
  if (inputs.length > GRAPH_LIMITS.inputs) throw new FormatError(`the ONNX graph has ${inputs.length} inputs, over the limit of ${GRAPH_LIMITS.inputs}`);
  const seen = new Set<string>();
  return inputs.map((v, i) => {
    const name = v.name ?? '';
    if (name === '') throw new FormatError(`graph input #${i} has no name`);
    if (seen.has(name)) throw new FormatError(`two graph inputs are named "${name}"`);
    seen.add(name);
    return { name, dims: inputDims(v, name) };
  });
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function inputDims(value: onnxProto.onnx.IValueInfoProto, name: string): (number | string)[] {
  const tensorType = value.type?.tensorType;
  if (!tensorType) throw new UnsupportedError(`graph input "${name}" is not a tensor`);
  if (tensorType.elemType !== FLOAT) {
    const type = onnx.TensorProto.DataType[tensorType.elemType ?? 0] ?? String(tensorType.elemType);
    throw new UnsupportedError(`graph input "${name}" is of type ${type}; edgevae decoders take float inputs (a one-hot label as floats too)`);
  }
  if (!tensorType.shape) throw new FormatError(`graph input "${name}" has no shape: edgevae needs its sizes to lay out the model`);
  return (tensorType.shape.dim ?? []).map((d, axis) => {
    if (d.dimParam) return d.dimParam;
    const size = int64(d.dimValue);
    // Only the batch axis may be left unknown.
    if (axis === 0 && (d.dimValue === null || d.dimValue === undefined)) return '?';
    if (!Number.isSafeInteger(size) || size < 1) throw new FormatError(`graph input "${name}" has size ${size} on axis ${axis}`);
    return size;
  });
}

function graphOutput(list: onnxProto.onnx.IValueInfoProto[]): string {
  if (list.length === 0) throw new FormatError('the ONNX graph has no outputs');
  if (list.length > 1) {
    throw new UnsupportedError(`the ONNX graph has ${list.length} outputs (${list.map((v) => `"${v.name}"`).join(', ')}); edgevae imports a decoder with one output`);
  }
  const name = list[0].name ?? '';
  if (name === '') throw new FormatError('the graph output has no name');
  return name;
}

/** Which node produces each tensor; a tensor produced twice, or both produced and given, is an error. */
function producersByTensor(nodes: OnnxNode[], initializers: Map<string, TensorProto>, inputs: GraphInput[]): Map<string, OnnxNode> {
  const inputNames = new Set(inputs.map((i) => i.name));
  const producers = new Map<string, OnnxNode>();
  for (const node of nodes) {
    for (const output of node.outputs) {
      if (output === '') continue; // an optional output left out
      const earlier = producers.get(output);
      if (earlier) throw new FormatError(`tensor "${output}" is produced twice, by ${earlier.label} and ${node.label}`);
      if (initializers.has(output) || inputNames.has(output)) {
        throw new FormatError(`${node.label} writes tensor "${output}", which is already ${initializers.has(output) ? 'an initializer' : 'a graph input'}`);
      }
      producers.set(output, node);
    }
  }
  return producers;
}

/** The nodes the output depends on, found by walking back from it; every tensor they read must exist. */
function nodesNeededFor(output: string, producers: Map<string, OnnxNode>, initializers: Map<string, TensorProto>, inputs: GraphInput[]): Set<OnnxNode> {
  const given = new Set([...initializers.keys(), ...inputs.map((i) => i.name)]);
  const needed = new Set<OnnxNode>();
  const check = (tensor: string, reader: string) => {
    if (!producers.has(tensor) && !given.has(tensor)) throw new FormatError(`${reader} reads tensor "${tensor}", which no node, initializer or graph input provides`);
  };
  check(output, 'the graph output');
  const pending = producers.has(output) ? [producers.get(output)!] : [];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (needed.has(node)) continue;
    needed.add(node);
    for (const input of node.inputs) {
      if (input === '') continue;
      check(input, node.label);
      const producer = producers.get(input);
      if (producer && !needed.has(producer)) pending.push(producer);
    }
  }
  return needed;
}

/**
 * Kahn's algorithm over the needed nodes, keeping the file's order among nodes that are ready together.
 * Nodes left over sit on or behind a cycle; the message names one cycle.
 */
function topologicalOrder(needed: Set<OnnxNode>, producers: Map<string, OnnxNode>): OnnxNode[] {
  const nodes = [...needed];
  const position = new Map(nodes.map((n, i) => [n, i]));
  const waitingOn = new Map<OnnxNode, number>();
  const readers = new Map<OnnxNode, OnnxNode[]>();
  for (const node of nodes) {
    const sources = new Set(node.inputs.map((i) => producers.get(i)).filter((p): p is OnnxNode => p !== undefined));
    waitingOn.set(node, sources.size);
    for (const source of sources) readers.set(source, [...(readers.get(source) ?? []), node]);
  }
  const ready = nodes.filter((n) => waitingOn.get(n) === 0);
  const order: OnnxNode[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const node = ready.shift()!;
    order.push(node);
    for (const reader of readers.get(node) ?? []) {
      const left = waitingOn.get(reader)! - 1;
      waitingOn.set(reader, left);
      if (left === 0) ready.push(reader);
    }
  }
  if (order.length < nodes.length) throw new FormatError(`the ONNX graph has a cycle: ${describeCycle(nodes.filter((n) => waitingOn.get(n)! > 0), producers)}`);
  return order;
}

/** Follows inputs from a node that never became ready until a node repeats: that loop is a cycle. */
function describeCycle(stuck: OnnxNode[], producers: Map<string, OnnxNode>): string {
  const isStuck = new Set(stuck);
  const path: OnnxNode[] = [];
  let node = stuck[0];
  while (!path.includes(node)) {
    path.push(node);
    node = node.inputs.map((i) => producers.get(i)).find((p): p is OnnxNode => p !== undefined && isStuck.has(p))!;
  }
  const cycle = path.slice(path.indexOf(node)).reverse();
  return [...cycle, cycle[0]].map((n) => n.label).join(' -> ');
}
