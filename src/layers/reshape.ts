/** Reshape and flatten: NHWC is row-major per sample, so both only relabel the values (no op record). */
import { product, type FlattenLayer, type ReshapeLayer } from '../format/spec.ts';
import { fail, shapeOf } from '../format/validate.ts';
import type { LayerKind } from './types.ts';

const noRecord = () => {
  throw new Error('an aliasing node has no record'); // the planner never asks (storage 'alias')
};

export const reshape: LayerKind<ReshapeLayer> = {
  arity: [1, 1],
  storage: 'alias',
  parse: (raw, what) => ({ shape: shapeOf(raw.shape, `${what}.shape`, 3) }),
  infer(layer, [inShape], what) {
    if (product(layer.shape) !== product(inShape)) {
      fail(`${what} cannot reshape [${inShape.join(', ')}] (${product(inShape)} values) to [${layer.shape.join(', ')}]`);
    }
    return { shape: [...layer.shape], macs: 0 };
  },
  record: noRecord,
  reference: (_layer, [x]) => x,
};

export const flatten: LayerKind<FlattenLayer> = {
  arity: [1, 1],
  storage: 'alias',
  parse: () => ({}),
  infer: (_layer, [inShape]) => ({ shape: [product(inShape)], macs: 0 }),
  record: noRecord,
  reference: (_layer, [x]) => x,
};
