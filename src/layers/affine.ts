/** y = x * multiplier[c] + offset[c] per channel: a BatchNorm with no linear op before it to fold into. */
import { product, type AffineLayer } from '../format/spec.ts';
import { AffineRec, Field, Op } from '../runtime/abi.ts';
import { activate, parseOptionalActivation, recordActivation } from './activation.ts';
import type { LayerKind } from './types.ts';
import { expectShape, parseVectorRef } from './weights.ts';

export const affine: LayerKind<AffineLayer> = {
  arity: [1, 1],
  storage: 'inPlace',
  parse: (raw, what, context) => ({
    multiplier: parseVectorRef(raw.multiplier, `${what}.multiplier`, context),
    offset: parseVectorRef(raw.offset, `${what}.offset`, context),
    ...parseOptionalActivation(raw, what),
  }),
  infer(layer, [shape], what, { tensors }) {
    const C = shape[shape.length - 1];
    expectShape(tensors[layer.multiplier], [C], `${what}.multiplier`);
    expectShape(tensors[layer.offset], [C], `${what}.offset`);
    return { shape, macs: 0 };
  },
  record(layer, record, node, context) {
    const shape = node.inShapes[0];
    const C = shape[shape.length - 1];
    record[Field.Op] = Op.Affine;
    recordActivation(record, layer);
    record[AffineRec.Rows] = product(shape) / C;
    record[AffineRec.C] = C;
    record[AffineRec.ScaleVector] = context.f32Tensor(layer.multiplier);
    record[AffineRec.ShiftVector] = context.f32Tensor(layer.offset);
  },
  reference(layer, [x], node, context) {
    const shape = node.inShapes[0];
    const C = shape[shape.length - 1];
    const [m, o] = [context.tensor(layer.multiplier), context.tensor(layer.offset)] as Float32Array[];
    return x.map((v, i) => activate(v * m[i % C] + o[i % C], layer.activation, layer));
  },
};
