/**
 * Where the runtime keeps an ONNX tensor's values. The runtime has no transpose: convolutions write
 * NHWC, dense layers write their units in order, reshapes only relabel. So an imported activation is
 * described by its ONNX shape plus an order: entry j is the ONNX (row-major, per-sample) index of the
 * value the runtime stores at j; null when the two agree. ONNX Transpose, Reshape and Flatten change
 * only this bookkeeping; a consumer that needs another order gets it by permuting the weights of the
 * dense layer that wrote the values (see onnx.ts).
 */
import { product } from '../format/spec.ts';
import { permute } from '../convert/permute.ts';

export type Order = Int32Array | null;

function iota(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** null for the identity, so the common case stays cheap to compare and carry. */
function orNull(order: Int32Array): Order {
  for (let i = 0; i < order.length; i++) if (order[i] !== i) return order;
  return null;
}

export const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function sameOrder(a: Order, b: Order): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The order of a [c, h, w] tensor the runtime holds as [h, w, c] (what its convolutions read and write). */
export function channelsLastOrder([c, h, w]: number[]): Order {
  return orNull(permute(iota(c * h * w), [c, h, w], [1, 2, 0]));
}

/** The order after an ONNX Transpose by `perm` (per-sample axes) of a tensor of `shape` held in `order`. */
export function transposedOrder(order: Order, shape: number[], perm: number[]): Order {
  // permute(iota) lists, for each index of the transposed tensor, the index it came from.
  const source = permute(iota(product(shape)), shape, perm);
  const target = new Int32Array(source.length);
  source.forEach((from, to) => (target[from] = to));
  return orNull(order ? order.map((o) => target[o]) : target);
}

/**
 * The column permutation that makes a dense layer, whose outputs are now stored in `order`, store them
 * in `wanted`: new column j is old column columns[j].
 */
export function columnsFor(order: Order, wanted: Order, size: number): Int32Array {
  const storedAt = new Int32Array(size);
  (order ?? iota(size)).forEach((onnxIndex, j) => (storedAt[onnxIndex] = j));
  return (wanted ?? iota(size)).map((onnxIndex) => storedAt[onnxIndex]);
}

/**
 * For a dense layer over the last axis of a [rows..., k] tensor held in `order`: the ONNX row each
 * stored row holds, or null when the order mixes values of a row with other rows' (then the last axis
 * is not contiguous and a dense layer cannot run on it).
 */
export function rowsOf(order: Order, k: number): Int32Array | null {
  if (order === null) return null;
  const rows = new Int32Array(order.length / k);
  for (let r = 0; r < rows.length; r++) {
    const start = order[r * k];
    if (start % k !== 0) return null;
    for (let i = 1; i < k; i++) if (order[r * k + i] !== start + i) return null;
    rows[r] = start / k;
  }
  return rows;
}

/** The order of a dense layer's [rows..., m] output when its input rows are stored as `rows`. */
export function orderFromRows(rows: Int32Array | null, m: number): Order {
  if (rows === null) return null;
  const out = new Int32Array(rows.length * m);
  rows.forEach((row, r) => {
    for (let i = 0; i < m; i++) out[r * m + i] = row * m + i;
  });
  return orNull(out);
}

/** The order of [a, label] (or [label, a]) when `a`, of `size` values, is held in `order`. */
export function concatenatedOrder(order: Order, size: number, classes: number, labelFirst: boolean): Order {
  if (order === null) return null;
  const out = new Int32Array(size + classes);
  const [aAt, labelAt] = labelFirst ? [classes, 0] : [0, size];
  order.forEach((o, j) => (out[aAt + j] = aAt + o));
  for (let i = 0; i < classes; i++) out[labelAt + i] = labelAt + i;
  return out;
}
