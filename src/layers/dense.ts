/** Fully connected over the last axis: kernel [inputs, units]. */
import { product, type DenseLayer } from '../format/spec.ts';
import { LIMITS } from '../format/spec.ts';
import { int } from '../format/validate.ts';
import { DenseRec, Field, Op } from '../runtime/abi.ts';
import { activate, parseFusedActivation, recordActivation } from './activation.ts';
import type { LayerKind } from './types.ts';
import { checkWeightShapes, parseWeightRefs, referenceWeights, rowOperands } from './weights.ts';

export const dense: LayerKind<DenseLayer> = {
  arity: [1, 1],
  storage: 'fresh',
  parse: (raw, what, context) => ({
    units: int(raw.units, `${what}.units`, 1, LIMITS.dim),
    ...parseFusedActivation(raw, what),
    ...parseWeightRefs(raw, what, context),
  }),
  infer(layer, [inShape], what, { tensors }) {
    const inDim = inShape[inShape.length - 1];
    checkWeightShapes(layer, what, tensors, [inDim, layer.units], layer.units);
    return { shape: [...inShape.slice(0, -1), layer.units], macs: (product(inShape) / inDim) * inDim * layer.units };
  },
  record(layer, record, node, context) {
    const inShape = node.inShapes[0];
    const K = inShape[inShape.length - 1];
    const N = layer.units;
    context.scratch(context.kernels.denseScratchBytes(context.weightCode, K));
    record[Field.Op] = Op.Dense;
    recordActivation(record, layer);
    record[DenseRec.Weights] = context.weightCode;
    record[DenseRec.K] = K;
    record[DenseRec.N] = N;
    record[DenseRec.Rows] = product(inShape) / K;
    record[DenseRec.Kernel] = context.kernel(layer.kernel, K, N, 0);
    record[DenseRec.Bias] = context.vector(layer.bias, N);
    record[DenseRec.Scale] = context.vector(layer.scale, N);
  },
  reference(layer, [act], node, context) {
    const inShape = node.inShapes[0];
    const K = inShape[inShape.length - 1];
    const N = layer.units;
    const w = referenceWeights(layer, context); // [K, N]
    const rows = act.length / K;
    const out = new Float64Array(rows * N);
    for (let r = 0; r < rows; r++) {
      const { x, rowScale } = rowOperands(act.subarray(r * K, (r + 1) * K), w.quantized);
      for (let j = 0; j < N; j++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += x[k] * w.values[k * N + j];
        out[r * N + j] = activate(sum * rowScale * w.scale(j) + w.bias[j], layer.activation, layer);
      }
    }
    return out;
  },
};
