/**
 * Joins two values along their last axis (channels, for images). Where one of them is the label
 * input, the executor writes the one-hot in place of reading a value (the conditional decoders' join).
 */
import { product, type ConcatenateLayer } from '../format/spec.ts';
import { fail } from '../format/validate.ts';
import { ConcatChannelsRec, ConcatLabelRec, Field, Op } from '../runtime/abi.ts';
import type { LayerKind } from './types.ts';

export const concatenate: LayerKind<ConcatenateLayer> = {
  arity: [2, 2],
  storage: 'fresh',
  parse: () => ({}),
  infer(_layer, [a, b], what) {
    if (a.length !== b.length || a.slice(0, -1).some((d, i) => d !== b[i])) {
      fail(`${what} joins [${a.join(', ')}] and [${b.join(', ')}]: all but the last axis must agree`);
    }
    return { shape: [...a.slice(0, -1), a[a.length - 1] + b[b.length - 1]], macs: 0 };
  },
  record(_layer, record, node, context) {
    const labelAt = node.inputs.findIndex((v) => context.isLabel(v));
    if (labelAt >= 0) {
      const other = node.inShapes[1 - labelAt];
      if (other.length !== 1) fail(`node "${node.name}" joins the label to a [${other.join(', ')}] value; the label joins flat values`);
      record[Field.Op] = Op.ConcatLabel;
      if (labelAt === 0) record[Field.In0] = record[Field.In1]; // In0: the value the label joins
      record[ConcatLabelRec.Size] = other[0];
      record[ConcatLabelRec.Classes] = context.classes;
      record[ConcatLabelRec.LabelFirst] = labelAt === 0 ? 1 : 0;
      return;
    }
    const [a, b] = node.inShapes;
    record[Field.Op] = Op.ConcatChannels;
    record[ConcatChannelsRec.Pixels] = product(a) / a[a.length - 1];
    record[ConcatChannelsRec.CA] = a[a.length - 1];
    record[ConcatChannelsRec.CB] = b[b.length - 1];
  },
  reference(_layer, inputs, node, context) {
    const n = context.batch;
    const shapes = node.inShapes;
    const values = inputs.map((x, i) => (context.isLabel(node.inputs[i]) ? oneHot(context, n) : x));
    const widths = shapes.map((s) => s[s.length - 1]);
    const rows = (n * product(shapes[0])) / widths[0];
    const width = widths[0] + widths[1];
    const out = new Float64Array(rows * width);
    for (let r = 0; r < rows; r++) {
      out.set(values[0].subarray(r * widths[0], (r + 1) * widths[0]), r * width);
      out.set(values[1].subarray(r * widths[1], (r + 1) * widths[1]), r * width + widths[0]);
    }
    return out;
  },
};

/** The batch's labels as one-hot rows. */
export function oneHot(context: { labels: ArrayLike<number> | undefined; classes: number }, n: number): Float64Array {
  const out = new Float64Array(n * context.classes);
  for (let s = 0; s < n; s++) out[s * context.classes + context.labels![s]] = 1;
  return out;
}
