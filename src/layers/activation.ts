/** A standalone activation; the same functions also serve every kind with a fused activation. */
import { ACTIVATIONS, FUSED_ACTIVATIONS, product, type ActivationLayer, type ActivationName } from '../format/spec.ts';
import { fail, finite, oneOf } from '../format/validate.ts';
import { Act, ActivationRec, Field, FUSABLE_ACT_MAX, Op } from '../runtime/abi.ts';
import { erf } from './elementwise-reference.ts';
import type { LayerKind } from './types.ts';

export const ACTIVATION_CODES: Record<ActivationName, number> = {
  linear: Act.Linear,
  relu: Act.Relu,
  leakyRelu: Act.LeakyRelu,
  sigmoid: Act.Sigmoid,
  tanh: Act.Tanh,
  silu: Act.Silu,
  geluErf: Act.GeluErf,
  geluTanh: Act.GeluTanh,
  elu: Act.Elu,
  softplus: Act.Softplus,
  clip: Act.Clip,
};

/** The activation of a code (abi.ts Act). */
export function activationNamed(code: number): ActivationName {
  const name = (Object.keys(ACTIVATION_CODES) as ActivationName[]).find((n) => ACTIVATION_CODES[n] === code);
  if (name === undefined) throw new RangeError(`no activation has code ${code}`);
  return name;
}

/** Whether a GEMM epilogue may apply this activation (the others need an op of their own). */
export const fusable = (activation: ActivationName) => ACTIVATION_CODES[activation] <= FUSABLE_ACT_MAX;

export interface ActivationFields {
  activation: ActivationName;
  alpha?: number;
  min?: number;
  max?: number;
}

/** Reads a node's `activation` and its parameters: `alpha` for leakyRelu and elu, `min`/`max` for clip. */
export function parseActivation(l: Record<string, unknown>, what: string, allowed: readonly ActivationName[] = ACTIVATIONS): ActivationFields {
  const activation = oneOf(l.activation, `${what}.activation`, allowed);
  if (activation === 'leakyRelu' || activation === 'elu') return { activation, alpha: finite(l.alpha, `${what}.alpha`) };
  if (activation !== 'clip') return { activation };
  const bounds: ActivationFields = { activation };
  if (l.min !== undefined) bounds.min = finite(l.min, `${what}.min`);
  if (l.max !== undefined) bounds.max = finite(l.max, `${what}.max`);
  if (bounds.min !== undefined && bounds.max !== undefined && !(bounds.min <= bounds.max)) fail(`${what}: clip's min ${bounds.min} is above its max ${bounds.max}`);
  return bounds;
}

/** The activation an op applies after its own work (binary, affine, norms): linear when absent. */
export const parseOptionalActivation = (l: Record<string, unknown>, what: string) => (l.activation === undefined ? { activation: 'linear' as const } : parseActivation(l, what));

/** The activation of a dense or conv node: one its GEMM can apply. */
export const parseFusedActivation = (l: Record<string, unknown>, what: string) => parseActivation(l, what, FUSED_ACTIVATIONS);

/** f32's largest finite value: clip's bound where the node leaves one side open. */
const F32_MAX = 3.4028234663852886e38;

/** Writes a fused activation's code and parameters into a record (clip's bounds as alpha and beta). */
export function recordActivation(record: Int32Array, layer: ActivationFields): void {
  record[Field.Act] = ACTIVATION_CODES[layer.activation];
  const clip = layer.activation === 'clip';
  record[Field.Alpha] = floatBits(clip ? (layer.min ?? -F32_MAX) : (layer.alpha ?? 0));
  record[Field.Beta] = floatBits(clip ? (layer.max ?? F32_MAX) : 0);
}

const bitsView = new DataView(new ArrayBuffer(4));
/** An f32's bits as an i32 record word. */
export function floatBits(value: number): number {
  bitsView.setFloat32(0, value, true);
  return bitsView.getInt32(0, true);
}

/** An activation by its mathematical definition (ONNX's), in f64: the specification. */
export function activate(x: number, activation: ActivationName, params: Omit<ActivationFields, 'activation'> = {}): number {
  const alpha = params.alpha ?? 0;
  switch (activation) {
    case 'relu': return Math.max(x, 0);
    case 'leakyRelu': return x > 0 ? x : alpha * x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    case 'silu': return x / (1 + Math.exp(-x));
    case 'geluErf': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'geluTanh': return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'elu': return x > 0 ? x : alpha * (Math.exp(x) - 1);
    case 'softplus': return x > 30 ? x : Math.log1p(Math.exp(x));
    case 'clip': return Math.min(Math.max(x, params.min ?? -Infinity), params.max ?? Infinity);
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
  reference: (layer, [x]) => x.map((v) => activate(v, layer.activation, layer)),
};
