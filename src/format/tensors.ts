/** Typed views of a model file's stored tensors. */
import { DTYPE_BYTES, product, type TensorSpec } from './spec.ts';

/** A typed view of one tensor's data (copied when the file's buffer is not aligned for the dtype). */
export function tensorData(model: { header: { tensors: TensorSpec[] }; bytes: Uint8Array }, index: number): Float32Array | Uint16Array | Int8Array {
  const t = model.header.tensors[index];
  const length = product(t.shape);
  const start = model.bytes.byteOffset + t.offset;
  const byteLength = length * DTYPE_BYTES[t.dtype];
  const aligned = start % DTYPE_BYTES[t.dtype] === 0;
  const buffer = aligned ? model.bytes.buffer : model.bytes.slice(t.offset, t.offset + byteLength).buffer;
  const offset = aligned ? start : 0;
  if (t.dtype === 'f32') return new Float32Array(buffer, offset, length);
  if (t.dtype === 'f16') return new Uint16Array(buffer, offset, length);
  return new Int8Array(buffer, offset, length);
}
