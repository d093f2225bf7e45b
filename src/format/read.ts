/**
 * Reads and validates a model file. Everything a decoder will trust later (tensor bounds, a graph
 * whose values are defined before they are read, shapes that fit each node, sizes within LIMITS) is
 * checked here, once, so the executor never sees an inconsistent model. Format 1 files (a chain of
 * layers) are read as the graph they describe (chain.ts).
 */
import { FormatError } from '../errors.ts';
import { LAYER_TYPES, kindOf } from '../layers/index.ts';
import type { Graph, GraphNode, ParseContext } from '../layers/types.ts';
import { planSlots, type SlotPlan } from '../runtime/slots.ts';
import { chainToGraph } from './chain.ts';
import { crc32 } from './crc32.ts';
import {
  DTYPE_BYTES,
  DTYPES,
  FORMAT_MAJOR,
  FORMAT_MAJOR_CHAIN,
  FRAME_BYTES,
  LIMITS,
  MAGIC,
  TENSOR_ALIGN,
  product,
  triangleSize,
  type GraphInputSpec,
  type LayerSpec,
  type MixturePrior,
  type ModelHeader,
  type ModelMeta,
  type NodeSpec,
  type TensorSpec,
} from './spec.ts';
import { checkDepth, fail, finite, int, isObject, oneOf, sameShape, shapeOf, shown } from './validate.ts';

export { tensorData } from './tensors.ts';
export { convGeometry, convOutputLength, convPadBefore, type ConvGeometry } from '../layers/conv.ts';
export type { Graph, GraphNode } from '../layers/types.ts';

export interface ParsedModel {
  /** The header as format 2 has it (a format 1 file's chain converted). */
  header: ModelHeader;
  graph: Graph;
  /** Where each value lives while decoding: slots planned from each value's last use. */
  slots: SlotPlan;
  /** The whole file; tensors are views into it. */
  bytes: Uint8Array;
  /** Largest per-sample value, in elements, over the inputs and every node's output. */
  maxElements: number;
  macsPerSample: number;
}

/** Parses a model file. Throws FormatError, naming what is wrong, for anything malformed. */
export function readModel(input: Uint8Array | ArrayBuffer): ParsedModel {
  if (!(input instanceof Uint8Array) && !(input instanceof ArrayBuffer)) fail('a model must be given as a Uint8Array or ArrayBuffer');
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const header = readHeader(bytes);
  const { graph, maxElements, macsPerSample } = inferGraph(header);
  const slots = planSlots(graph);
  if (slots.elementsPerSample * 4 > LIMITS.liveBytesPerSample) {
    fail(`the model needs ${slots.elementsPerSample * 4} bytes per sample for the values live at once, over the limit of ${LIMITS.liveBytesPerSample}`);
  }
  return { header, graph, slots, bytes, maxElements, macsPerSample };
}

function readHeader(bytes: Uint8Array): ModelHeader {
  if (bytes.length < FRAME_BYTES) fail(`file is ${bytes.length} bytes, too short for the ${FRAME_BYTES}-byte frame`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) fail('not an edgevae model: the file does not start with "EVAE"');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = view.getUint16(4, true);
  const minor = view.getUint16(6, true);
  if (major !== FORMAT_MAJOR && major !== FORMAT_MAJOR_CHAIN) {
    fail(`unsupported format version ${major}.${minor}: this edgevae reads versions ${FORMAT_MAJOR_CHAIN}.x and ${FORMAT_MAJOR}.x`);
  }
  const declaredLength = view.getUint32(8, true);
  if (declaredLength !== bytes.length) {
    fail(
      declaredLength > bytes.length
        ? `file is truncated: the header says ${declaredLength} bytes, but there are ${bytes.length}`
        : `file has ${bytes.length - declaredLength} bytes of trailing garbage after the declared ${declaredLength}`,
    );
  }
  const storedCrc = view.getUint32(12, true);
  const actualCrc = fileCrc(bytes);
  if (storedCrc !== actualCrc) {
    fail(`checksum mismatch: the file says CRC32 ${hex(storedCrc)} but its contents give ${hex(actualCrc)} (corrupted?)`);
  }
  const jsonOffset = view.getUint32(16, true);
  const jsonLength = view.getUint32(20, true);
  if (jsonOffset !== FRAME_BYTES) fail(`header JSON must start at byte ${FRAME_BYTES}, not ${jsonOffset}`);
  if (jsonLength > LIMITS.headerBytes) fail(`header JSON of ${jsonLength} bytes exceeds the ${LIMITS.headerBytes}-byte limit`);
  if (jsonOffset + jsonLength > bytes.length) fail('header JSON runs past the end of the file');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(jsonOffset, jsonOffset + jsonLength)));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  const dataOffset = view.getUint32(24, true);
  const dataLength = view.getUint32(28, true);
  const expectedDataOffset = Math.ceil((jsonOffset + jsonLength) / TENSOR_ALIGN) * TENSOR_ALIGN;
  if (dataOffset !== expectedDataOffset || dataOffset + dataLength !== bytes.length) {
    fail(`the data section (${dataLength} bytes at ${dataOffset}) does not follow the header and end with the file`);
  }
  return checkHeader(major === FORMAT_MAJOR_CHAIN ? chainToGraph(json) : json, dataOffset, bytes.length);
}

/** CRC32 of the file with the CRC field (bytes 12..15) counted as zeros. */
export function fileCrc(bytes: Uint8Array): number {
  let crc = crc32(bytes.subarray(0, 12));
  crc = crc32(new Uint8Array(4), crc);
  return crc32(bytes.subarray(16), crc);
}

const hex = (n: number) => '0x' + n.toString(16).padStart(8, '0');

// ---- structural checks on the JSON ----

function checkHeader(json: unknown, dataStart: number, fileLength: number): ModelHeader {
  if (!isObject(json)) fail('header JSON must be an object');
  const h = json as Record<string, unknown>;
  if (!Array.isArray(h.tensors) || h.tensors.length > LIMITS.tensors) fail(`header.tensors must be an array of at most ${LIMITS.tensors}`);
  if (!Array.isArray(h.nodes) || h.nodes.length < 1 || h.nodes.length > LIMITS.nodes) fail(`header.nodes must be an array of 1..${LIMITS.nodes} nodes`);
  const tensors = (h.tensors as unknown[]).map((t, i) => checkTensor(t, i, dataStart, fileLength));
  const meta = checkMeta(h.meta);
  const inputs = checkInputs(h.inputs, meta);
  const label = inputs.find((i) => i.kind === 'label') ?? null;
  const context: ParseContext = { tensors, dtype: meta.dtype, meta, graph: { label: label as Graph['label'] } };
  const names = new Set(inputs.map((i) => i.name));
  const nodes = (h.nodes as unknown[]).map((n, i) => checkNode(n, i, context, names));
  if (typeof h.output !== 'string' || !nodes.some((n) => n.name === h.output)) fail(`header.output must name a node, got ${shown(h.output)}`);
  return { meta, inputs, nodes, output: h.output as string, tensors };
}

function checkTensor(v: unknown, i: number, dataStart: number, fileLength: number): TensorSpec {
  const what = `tensors[${i}]`;
  if (!isObject(v)) fail(`${what} must be an object`);
  const t = v as Record<string, unknown>;
  const dtype = oneOf(t.dtype, `${what}.dtype`, DTYPES);
  const shape = shapeOf(t.shape, `${what}.shape`);
  const offset = int(t.offset, `${what}.offset`, 0, fileLength);
  if (offset % TENSOR_ALIGN !== 0) fail(`${what}.offset ${offset} is not aligned to ${TENSOR_ALIGN} bytes`);
  if (offset < dataStart) fail(`${what}.offset ${offset} overlaps the header (which ends at ${dataStart})`);
  const byteLength = product(shape) * DTYPE_BYTES[dtype];
  if (offset + byteLength > fileLength) {
    fail(`${what} (${dtype} [${shape.join(', ')}], ${byteLength} bytes at ${offset}) runs past the end of the ${fileLength}-byte file`);
  }
  return { dtype, shape, offset };
}

/** The graph inputs: one latent (a vector or an [h, w, c] image) and, for a conditional decoder, one label. */
function checkInputs(v: unknown, meta: ModelMeta): GraphInputSpec[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > 2) fail('header.inputs must be an array of 1 or 2 inputs (the latent, and optionally the label)');
  const inputs = (v as unknown[]).map((input, i): GraphInputSpec => {
    const what = `inputs[${i}]`;
    if (!isObject(input)) fail(`${what} must be an object`);
    const raw = input as Record<string, unknown>;
    const name = checkName(raw.name, `${what}.name`);
    const kind = oneOf(raw.kind, `${what}.kind`, ['latent', 'label'] as const);
    if (kind === 'label') return { name, kind, classes: int(raw.classes, `${what}.classes`, 1, LIMITS.classes) };
    const shape = shapeOf(raw.shape, `${what}.shape`, 3);
    const layout = raw.layout === undefined ? {} : { layout: oneOf(raw.layout, `${what}.layout`, ['NCHW', 'NHWC'] as const) };
    return { name, kind, shape, ...layout };
  });
  const latents = inputs.filter((i) => i.kind === 'latent');
  const labels = inputs.filter((i) => i.kind === 'label');
  if (latents.length !== 1) fail(`header.inputs must hold exactly one latent input, it holds ${latents.length}`);
  if (inputs.length === 2 && inputs[0].name === inputs[1].name) fail(`header.inputs name "${inputs[0].name}" twice`);
  const latent = latents[0] as Extract<GraphInputSpec, { kind: 'latent' }>;
  if (product(latent.shape) !== meta.latentSize) fail(`the latent input has shape [${latent.shape.join(', ')}], but meta.latentSize is ${meta.latentSize}`);
  const classes = labels.length ? (labels[0] as { classes: number }).classes : null;
  if (classes !== (meta.conditioning?.classes ?? null)) {
    fail(`meta.conditioning says ${meta.conditioning ? `${meta.conditioning.classes} classes` : 'no label'}, but header.inputs ${classes === null ? 'has no label input' : `has a label of ${classes} classes`}`);
  }
  return inputs;
}

function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length < 1 || v.length > LIMITS.nameLength) fail(`${what} must be a string of 1..${LIMITS.nameLength} characters`);
  return v as string;
}

/** Format 1's nodes are named by their position, which is how its messages name them. */
const CHAIN_NAME = /^layers\[\d+\]$/;
const describe = (name: string) => (CHAIN_NAME.test(name) ? name : `node "${name}"`);

/** A node's name, type and inputs, then its own fields through its kind. `defined`: the names in use so far. */
function checkNode(v: unknown, i: number, context: ParseContext, defined: Set<string>): NodeSpec {
  if (!isObject(v)) fail(`nodes[${i}] must be an object`);
  const n = v as Record<string, unknown>;
  const name = checkName(n.name, `nodes[${i}].name`);
  const what = describe(name);
  if (defined.has(name)) fail(`${what}: the name is used twice (node and value names must be unique)`);
  defined.add(name);
  const type = oneOf(n.type, `${what}.type`, LAYER_TYPES);
  const kind = kindOf({ type } as LayerSpec);
  const [least, most] = kind.arity;
  if (!Array.isArray(n.inputs) || n.inputs.length < least || n.inputs.length > most) {
    fail(`${what}.inputs must be an array of ${least === most ? least : `${least}..${most}`} value names`);
  }
  const inputs = (n.inputs as unknown[]).map((input, j) => checkName(input, `${what}.inputs[${j}]`));
  const displayName = typeof n.displayName === 'string' ? { displayName: n.displayName } : {};
  return { type, name, inputs, ...displayName, ...kind.parse(n, what, context) } as NodeSpec;
}

/** Infers every value's shape in node order: each input must be defined before it is read (no cycles, nothing dangling). */
function inferGraph(header: ModelHeader): { graph: Graph; maxElements: number; macsPerSample: number } {
  const { meta, tensors } = header;
  const latent = header.inputs.find((i) => i.kind === 'latent') as Graph['latent'];
  const label = (header.inputs.find((i) => i.kind === 'label') ?? null) as Graph['label'];
  const context: ParseContext = { tensors, dtype: meta.dtype, meta, graph: { label } };
  const shapes = new Map<string, number[]>([[latent.name, latent.shape]]);
  if (label) shapes.set(label.name, [label.classes]);
  const readers = new Map<string, number>();
  let maxElements = meta.latentSize;
  let macsPerSample = 0;
  const nodes: GraphNode[] = header.nodes.map((layer, index) => {
    const what = `${describe(layer.name)} (${layer.type}${layer.displayName ? ` "${layer.displayName}"` : ''})`;
    const inShapes = layer.inputs.map((input) => {
      const shape = shapes.get(input);
      if (!shape) {
        const later = header.nodes.findIndex((n) => n.name === input);
        fail(later >= index ? `${what} reads "${input}", which a later node writes: nodes must come after the values they read (a cycle?)` : `${what} reads "${input}", which no node or graph input defines`);
      }
      if (label && input === label.name && layer.type !== 'concatenate') fail(`${what} reads the label input "${input}"; only a concatenate may read it`);
      if (label && input === label.name && layer.inputs.filter((v) => v === label.name).length > 1) fail(`${what} joins the label input "${input}" to itself`);
      readers.set(input, (readers.get(input) ?? 0) + 1);
      return shape!;
    });
    const { shape, macs } = kindOf(layer).infer(layer, inShapes, what, context);
    const elements = product(shape);
    if (elements > LIMITS.elementsPerSample) fail(`${what} outputs ${elements} values per sample, over the limit of ${LIMITS.elementsPerSample}`);
    maxElements = Math.max(maxElements, elements);
    macsPerSample += macs;
    if (macsPerSample > LIMITS.macsPerSample) fail(`the model needs over ${LIMITS.macsPerSample} multiply-adds per sample (at ${what})`);
    shapes.set(layer.name, shape);
    return { index, name: layer.name, layer, inputs: layer.inputs, inShapes, outShape: shape, macs };
  });
  for (const node of nodes) {
    if (node.name !== header.output && !readers.has(node.name)) fail(`${describe(node.name)} (${node.layer.type}) is never read and is not the output`);
  }
  if (label && !readers.has(label.name)) fail(`the label input "${label.name}" is never read`);
  if (!readers.has(latent.name)) fail(`the latent input "${latent.name}" is never read`);
  const shape = shapes.get(header.output)!;
  const out = meta.output.shape;
  if (!sameShape(out, shape)) fail(`the graph produces [${shape.join(', ')}] per sample, but meta.output.shape is [${out.join(', ')}]`);
  return { graph: { latent, label, nodes, output: header.output, shapes }, maxElements, macsPerSample };
}
/** Checks a header's meta object (also used on the copy our ONNX exporter keeps in its metadata). */
export function checkMeta(v: unknown): ModelMeta {
  if (!isObject(v)) fail('header.meta must be an object');
  const m = v as Record<string, unknown>;
  const latentSize = int(m.latentSize, 'meta.latentSize', 1, LIMITS.latent);
  let conditioning: ModelMeta['conditioning'] = null;
  if (m.conditioning !== null && m.conditioning !== undefined) {
    if (!isObject(m.conditioning)) fail('meta.conditioning must be an object or null');
    const c = m.conditioning as Record<string, unknown>;
    conditioning = {
      classes: int(c.classes, 'meta.conditioning.classes', 1, LIMITS.classes),
      ...(c.joinsAt === undefined ? {} : { joinsAt: int(c.joinsAt, 'meta.conditioning.joinsAt', 0, LIMITS.layers) }),
    };
  }
  if (!isObject(m.output)) fail('meta.output must be an object');
  const o = m.output as Record<string, unknown>;
  const shape = shapeOf(o.shape, 'meta.output.shape', 3);
  if (!Array.isArray(o.range) || o.range.length !== 2) fail('meta.output.range must be [low, high]');
  const range: [number, number] = [finite((o.range as unknown[])[0], 'meta.output.range[0]'), finite((o.range as unknown[])[1], 'meta.output.range[1]')];
  if (!(range[0] < range[1])) fail(`meta.output.range [${range}] must have low < high`);
  const dtype = oneOf(m.dtype, 'meta.dtype', DTYPES);
  for (const key of ['preset', 'dataset', 'producer'] as const) {
    if (m[key] !== undefined && typeof m[key] !== 'string') fail(`meta.${key} must be a string`);
  }
  if (m.metrics !== undefined) {
    if (!isObject(m.metrics)) fail('meta.metrics must be an object of numbers');
    for (const [k, val] of Object.entries(m.metrics as object)) finite(val, `meta.metrics.${k}`);
  }
  if (m.inputs !== undefined) checkInputNames(m.inputs);
  if (m.source !== undefined) checkSource(m.source);
  if (m.prior !== undefined) checkPrior(m.prior, latentSize);
  if (m.priorStddev !== undefined && !(finite(m.priorStddev, 'meta.priorStddev') > 0 && (m.priorStddev as number) <= LIMITS.priorStddev)) {
    fail(`meta.priorStddev must be a number in (0, ${LIMITS.priorStddev}], got ${m.priorStddev}`);
  }
  // Free-form fields are kept and handed back (info.meta, GET /info): bounded, so they stay printable.
  checkDepth(m, 'header.meta', 16);
  return { ...m, latentSize, conditioning, output: { shape, range }, dtype } as ModelMeta;
}

function checkInputNames(v: unknown) {
  const inputs = v as Record<string, unknown>;
  if (!isObject(v) || typeof inputs.latent !== 'string' || (inputs.label !== undefined && typeof inputs.label !== 'string')) {
    fail('meta.inputs must be { "latent": name, "label"?: name } with string names');
  }
}

function checkSource(v: unknown) {
  if (!isObject(v)) fail('meta.source must be an object');
  const source = v as Record<string, unknown>;
  oneOf(source.format, 'meta.source.format', ['onnx'] as const);
  const output = source.output as Record<string, unknown>;
  if (!isObject(output) || typeof output.name !== 'string') fail('meta.source.output must be { "name": string, "shape": [...] }');
  shapeOf(output.shape, 'meta.source.output.shape', 3);
  if (source.layout !== undefined) oneOf(source.layout, 'meta.source.layout', ['NCHW', 'NHWC'] as const);
}

/** A mixture prior: sizes that match the latent, weights that form a distribution, factors with a positive diagonal. */
export function checkPrior(v: unknown, latentSize: number): MixturePrior {
  if (!isObject(v)) fail('meta.prior must be an object');
  const p = v as Record<string, unknown>;
  oneOf(p.type, 'meta.prior.type', ['gaussianMixture'] as const);
  const { weights, means, choleskyFactors } = p;
  if (!Array.isArray(weights) || weights.length < 1 || weights.length > LIMITS.priorComponents) {
    fail(`meta.prior.weights must be an array of 1..${LIMITS.priorComponents} weights`);
  }
  const k = (weights as unknown[]).length;
  const triangle = triangleSize(latentSize);
  if (k * (latentSize + triangle) > LIMITS.priorValues) {
    fail(`meta.prior has ${k} components of ${latentSize} + ${triangle} values: more than ${LIMITS.priorValues} in all`);
  }
  let total = 0;
  (weights as unknown[]).forEach((w, i) => {
    if (finite(w, `meta.prior.weights[${i}]`) <= 0) fail(`meta.prior.weights[${i}] must be > 0, got ${w}`);
    total += w as number;
  });
  if (Math.abs(total - 1) > 1e-6) fail(`meta.prior.weights must sum to 1, they sum to ${total}`);
  const rows = (v: unknown, what: string, length: number) => {
    if (!Array.isArray(v) || v.length !== k) fail(`${what} must be an array of ${k} rows, one per component`);
    (v as unknown[]).forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== length) fail(`${what}[${i}] must be an array of ${length} numbers`);
      (row as unknown[]).forEach((x, j) => finite(x, `${what}[${i}][${j}]`));
    });
    return v as number[][];
  };
  rows(means, 'meta.prior.means', latentSize);
  rows(choleskyFactors, 'meta.prior.choleskyFactors', triangle).forEach((factor, i) => {
    for (let d = 0; d < latentSize; d++) {
      const diagonal = factor[triangleSize(d + 1) - 1];
      if (!(diagonal > 0)) fail(`meta.prior.choleskyFactors[${i}] has diagonal entry ${d} = ${diagonal}; it must be > 0`);
    }
  });
  return v as unknown as MixturePrior;
}

