/** Writes the compact model format. The inverse of read.ts; it re-reads what it wrote as a self-check. */
import { FormatError } from '../errors.ts';
import { chainToGraph } from './chain.ts';
import { fileCrc, readModel } from './read.ts';
import {
  DTYPE_BYTES,
  FORMAT_MAJOR,
  FORMAT_MINOR,
  FRAME_BYTES,
  MAGIC,
  TENSOR_ALIGN,
  product,
  type DType,
  type GraphInputSpec,
  type LayerSpec,
  type ModelHeader,
  type NodeSpec,
  type ModelMeta,
  type TensorSpec,
} from './spec.ts';

export interface TensorInput {
  dtype: DType;
  shape: number[];
  data: Float32Array | Uint16Array | Int8Array;
}

/** A chain of layers to write (read as the graph it describes, chain.ts): layers refer to tensors by their index. */
export interface ChainDraft {
  meta: ModelMeta;
  layers: LayerSpec[];
  tensors: TensorInput[];
}

/** A graph to write: nodes refer to values by name and to tensors by their index. */
export interface GraphDraft {
  meta: ModelMeta;
  inputs: GraphInputSpec[];
  nodes: NodeSpec[];
  output: string;
  tensors: TensorInput[];
}

export type ModelDraft = ChainDraft | GraphDraft;

/** The header JSON of a draft, tensors aside: always format 2. */
function graphHeader(draft: ModelDraft): Omit<ModelHeader, 'tensors'> {
  if ('nodes' in draft) return { meta: draft.meta, inputs: draft.inputs, nodes: draft.nodes, output: draft.output };
  const { inputs, nodes, output } = chainToGraph({ meta: draft.meta, layers: draft.layers, tensors: [] }) as unknown as ModelHeader;
  return { meta: draft.meta, inputs, nodes, output };
}

const alignUp = (n: number) => Math.ceil(n / TENSOR_ALIGN) * TENSOR_ALIGN;

export function writeModel(draft: ModelDraft): Uint8Array {
  for (const [i, t] of draft.tensors.entries()) {
    if (t.data.length !== product(t.shape)) throw new FormatError(`tensor ${i} has ${t.data.length} values, but its shape [${t.shape}] holds ${product(t.shape)}`);
  }
  const encoder = new TextEncoder();
  const header = graphHeader(draft);
  // Tensor offsets depend on the JSON's length, which depends on the offsets: iterate to a fixed point.
  let dataStart = alignUp(FRAME_BYTES + 2);
  let json: Uint8Array;
  let specs: TensorSpec[];
  for (;;) {
    let offset = dataStart;
    specs = draft.tensors.map(({ dtype, shape, data }) => {
      const spec = { dtype, shape, offset };
      offset = alignUp(offset + data.byteLength);
      return spec;
    });
    json = encoder.encode(JSON.stringify({ ...header, tensors: specs }));
    const needed = alignUp(FRAME_BYTES + json.length);
    if (needed === dataStart) break;
    dataStart = needed;
  }
  const last = specs[specs.length - 1];
  const fileLength = last ? alignUp(last.offset + product(last.shape) * DTYPE_BYTES[last.dtype]) : dataStart;
  const bytes = new Uint8Array(fileLength);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(4, FORMAT_MAJOR, true);
  // The lowest minor version that holds what the file uses: a file using nothing newer stays 2.0, byte for byte as before.
  view.setUint16(6, draft.meta.priorStddev === undefined ? 0 : FORMAT_MINOR, true);
  view.setUint32(8, fileLength, true);
  view.setUint32(16, FRAME_BYTES, true);
  view.setUint32(20, json.length, true);
  view.setUint32(24, dataStart, true);
  view.setUint32(28, fileLength - dataStart, true);
  bytes.set(json, FRAME_BYTES);
  draft.tensors.forEach((t, i) => bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), specs[i].offset));
  view.setUint32(12, fileCrc(bytes), true);
  readModel(bytes); // a writer bug must not produce a file the runtime would refuse
  return bytes;
}
