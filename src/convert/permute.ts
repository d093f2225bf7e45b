/** Axis permutation of row-major tensors, shared by the converters. */
import { product } from '../format/spec.ts';

/** A row-major tensor with its axes permuted: result axis i is source axis perm[i]. */
export function permute<T extends Float32Array | Float64Array | Int32Array | Int8Array>(data: T, shape: number[], perm: number[]): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const srcStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    srcStrides[i] = s;
    s *= shape[i];
  }
  // Stride in the source of each result axis.
  const strides = perm.map((p) => srcStrides[p]);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const index = new Array<number>(rank).fill(0);
  const total = product(shape);
  let src = 0;
  for (let i = 0; i < total; i++) {
    out[i] = data[src];
    // Advance the result's multi-index (last axis fastest) and the source offset with it.
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      src += strides[axis];
      if (index[axis] < outShape[axis]) break;
      src -= strides[axis] * outShape[axis];
      index[axis] = 0;
    }
  }
  return out;
}
