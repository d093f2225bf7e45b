/**
 * Permutes the axes of each sample's value: a latent given channels-first, a channels-first flatten
 * before a dense layer. The executor gathers through a table of source indices made at load time.
 */
import { product, type TransposeLayer } from '../format/spec.ts';
import { fail, int } from '../format/validate.ts';
import { Field, GatherRec, Op } from '../runtime/abi.ts';
import type { LayerKind } from './types.ts';

/** For each output index (row-major over the permuted shape), the input index it reads. */
export function transposeTable(shape: number[], perm: number[]): Int32Array {
  const out = perm.map((p) => shape[p]);
  const strides = shape.map((_, i) => product(shape.slice(i + 1)));
  const table = new Int32Array(product(shape));
  const index = new Array(out.length).fill(0);
  for (let i = 0; i < table.length; i++) {
    let source = 0;
    for (let a = 0; a < out.length; a++) source += index[a] * strides[perm[a]];
    table[i] = source;
    for (let a = out.length - 1; a >= 0; a--) {
      if (++index[a] < out[a]) break;
      index[a] = 0;
    }
  }
  return table;
}

export const transpose: LayerKind<TransposeLayer> = {
  arity: [1, 1],
  storage: 'fresh',
  parse(raw, what) {
    if (!Array.isArray(raw.perm) || raw.perm.length < 1 || raw.perm.length > 3) fail(`${what}.perm must be an array of 1..3 axes`);
    const perm = (raw.perm as unknown[]).map((p, i) => int(p, `${what}.perm[${i}]`, 0, 2));
    if (new Set(perm).size !== perm.length || perm.some((p) => p >= perm.length)) fail(`${what}.perm [${perm.join(', ')}] is not a permutation of 0..${perm.length - 1}`);
    return { perm };
  },
  infer(layer, [shape], what) {
    if (shape.length !== layer.perm.length) fail(`${what} permutes ${layer.perm.length} axes of a [${shape.join(', ')}] value`);
    return { shape: layer.perm.map((p) => shape[p]), macs: 0 };
  },
  record(layer, record, node, context) {
    const shape = node.inShapes[0];
    record[Field.Op] = Op.Gather;
    record[GatherRec.InSize] = product(shape);
    record[GatherRec.Size] = product(shape);
    record[GatherRec.Table] = context.table(transposeTable(shape, layer.perm));
  },
  reference(layer, [x], node, context) {
    const table = transposeTable(node.inShapes[0], layer.perm);
    const size = table.length;
    const out = new Float64Array(context.batch * size);
    for (let s = 0; s < context.batch; s++) for (let i = 0; i < size; i++) out[s * size + i] = x[s * size + table[i]];
    return out;
  },
};
