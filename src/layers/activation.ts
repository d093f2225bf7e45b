/** A standalone activation; the same functions also serve every kind with a fused activation. */
import { ACTIVATIONS, product, type ActivationLayer, type ActivationName } from '../format/spec.ts';
import { finite, oneOf } from '../format/validate.ts';
import { Act, ActivationRec, Field, FUSABLE_ACT_MAX, Op } from '../runtime/abi.ts';
import type { LayerKind } from './types.ts';

export const ACTIVATION_CODES: Record<ActivationName, number> = {
  linear: Act.Linear,
  relu: Act.Relu,
  leakyRelu: Act.LeakyRelu,
  sigmoid: Act.Sigmoid,
  tanh: Act.Tanh,
};

/** Whether a GEMM epilogue may apply this activation (the others need an op of their own). */
export const fusable = (activation: ActivationName) => ACTIVATION_CODES[activation] <= FUSABLE_ACT_MAX;

/** Reads a node's `activation` (and `alpha` for leakyRelu). */
export function parseActivation(l: Record<string, unknown>, what: string): { activation: ActivationName; alpha?: number } {
  const activation = oneOf(l.activation, `${what}.activation`, ACTIVATIONS);
  if (activation === 'leakyRelu') return { activation, alpha: finite(l.alpha, `${what}.alpha`) };
  return { activation };
}

/** Writes a fused activation's code and parameter into a record. */
export function recordActivation(record: Int32Array, layer: { activation: ActivationName; alpha?: number }): void {
  record[Field.Act] = ACTIVATION_CODES[layer.activation];
  record[Field.Alpha] = floatBits(layer.alpha ?? 0);
}

const bitsView = new DataView(new ArrayBuffer(4));
/** An f32's bits as an i32 record word. */
export function floatBits(value: number): number {
  bitsView.setFloat32(0, value, true);
  return bitsView.getInt32(0, true);
}

export function activate(x: number, activation: ActivationName, alpha = 0): number {
  switch (activation) {
    case 'relu': return Math.max(x, 0);
    case 'leakyRelu': return x > 0 ? x : alpha * x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    default: return x;
  }
}

export const activation: LayerKind<ActivationLayer> = {
  arity: [1, 1],
  storage: 'inPlace',
  parse: (raw, what) => parseActivation(raw, what),
  infer: (_layer, [shape]) => ({ shape, macs: 0 }),
  record(layer, record, node) {
    record[Field.Op] = Op.Activation;
    record[ActivationRec.Size] = product(node.inShapes[0]);
    recordActivation(record, layer);
  },
  reference: (layer, [x]) => x.map((v) => activate(v, layer.activation, layer.alpha)),
};
