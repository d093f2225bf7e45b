/**
 * Group and layer normalization on NHWC values: scalar references in f64, straight from the
 * definitions, that the kernels (assembly/kernels/norm.ts) are held against within a tolerance (the
 * kernels normalize in f32). groupNormReference covers InstanceNorm (groups = C) and GroupNorm;
 * layerNormChannelsReference is PyTorch's nn.LayerNorm(C) on channels-last values.
 */
import { FUSED_ACTIVATIONS, LIMITS, product, type GroupNormLayer, type LayerNormLayer } from '../format/spec.ts';
import { fail, finite, int } from '../format/validate.ts';
import { Field, NormKind, NormRec, Op } from '../runtime/abi.ts';
import { ACTIVATION_CODES, activate, activationNamed, floatBits, parseActivation, recordActivation } from './activation.ts';
import type { LayerKind, ParseContext, PlanContext } from './types.ts';
import { expectShape, parseVectorRef } from './weights.ts';

/** The activations the norm kernels fuse (Act codes 0..4), in f64. */
function activateReference(v: number, act: number, alpha: number): number {
  return activate(v, activationNamed(act), { alpha });
}

/**
 * x [batch, pixels, C]; per sample and group g (channels [g*C/G, (g+1)*C/G)): mean and biased
 * variance over pixels x C/G values, y = act((x - mean) / sqrt(var + epsilon) * gamma[c] + beta[c]).
 */
export function groupNormReference(
  x: Float32Array, batch: number, pixels: number, C: number, groups: number, epsilon: number,
  gamma: Float32Array, beta: Float32Array, act = 0, alpha = 0,
): Float64Array {
  if (C % groups !== 0) throw new RangeError(`groups ${groups} do not divide C ${C}`);
  const per = C / groups;
  const y = new Float64Array(x.length);
  for (let s = 0; s < batch; s++) {
    for (let g = 0; g < groups; g++) {
      const indices: number[] = [];
      for (let p = 0; p < pixels; p++) for (let c = g * per; c < (g + 1) * per; c++) indices.push((s * pixels + p) * C + c);
      let sum = 0;
      for (const i of indices) sum += x[i];
      const mean = sum / indices.length;
      let sq = 0;
      for (const i of indices) sq += (x[i] - mean) ** 2;
      const std = Math.sqrt(sq / indices.length + Math.fround(epsilon));
      for (const i of indices) {
        const c = i % C;
        y[i] = activateReference(((x[i] - mean) / std) * gamma[c] + beta[c], act, alpha);
      }
    }
  }
  return y;
}

/** x [rows, C]; per row, y = act((x - mean) / sqrt(var + epsilon) * gamma[c] + beta[c]) over its C values. */
export function layerNormChannelsReference(
  x: Float32Array, rows: number, C: number, epsilon: number, gamma: Float32Array, beta: Float32Array, act = 0, alpha = 0,
): Float64Array {
  return groupNormReference(x, rows, 1, C, 1, epsilon, gamma, beta, act, alpha);
}

// ---- the groupNorm and layerNorm nodes ----

function parseNorm(raw: Record<string, unknown>, what: string, context: ParseContext) {
  const epsilon = finite(raw.epsilon, `${what}.epsilon`);
  if (!(epsilon >= 0 && epsilon <= 1)) fail(`${what}.epsilon must be in 0..1, got ${epsilon}`);
  const activation = raw.activation === undefined ? { activation: 'linear' as const } : parseActivation(raw, what, FUSED_ACTIVATIONS);
  return { epsilon, gamma: parseVectorRef(raw.gamma, `${what}.gamma`, context), beta: parseVectorRef(raw.beta, `${what}.beta`, context), ...activation };
}

function inferNorm(layer: GroupNormLayer | LayerNormLayer, [shape]: number[][], what: string, { tensors }: ParseContext) {
  const C = shape[shape.length - 1];
  expectShape(tensors[layer.gamma], [C], `${what}.gamma`);
  expectShape(tensors[layer.beta], [C], `${what}.beta`);
  return { shape, macs: 0 };
}

/** GroupNorm (InstanceNorm: groups = channels) over each sample's pixels and a group of channels. */
export const groupNorm: LayerKind<GroupNormLayer> = {
  arity: [1, 1],
  storage: 'inPlace',
  parse: (raw, what, context) => ({ groups: int(raw.groups, `${what}.groups`, 1, LIMITS.dim), ...parseNorm(raw, what, context) }),
  infer(layer, inShapes, what, context) {
    const C = inShapes[0][inShapes[0].length - 1];
    if (C % layer.groups !== 0) fail(`${what}: ${C} channels do not split into ${layer.groups} groups`);
    return inferNorm(layer, inShapes, what, context);
  },
  record(layer, record, node, context) {
    const shape = node.inShapes[0];
    context.scratch(context.kernels.groupNormScratchBytes(shape[shape.length - 1]));
    recordNorm(record, layer, NormKind.Group, layer.groups, shape, context);
  },
  reference(layer, [x], node, context) {
    const shape = node.inShapes[0];
    const C = shape[shape.length - 1];
    const [gamma, beta] = [context.tensor(layer.gamma), context.tensor(layer.beta)] as Float32Array[];
    return groupNormReference(Float32Array.from(x), context.batch, product(shape) / C, C, layer.groups, layer.epsilon, gamma, beta, recordCode(layer), layer.alpha ?? 0);
  },
};

/** LayerNorm over each pixel's channels (PyTorch's nn.LayerNorm(C) on channels-last values). */
export const layerNorm: LayerKind<LayerNormLayer> = {
  arity: [1, 1],
  storage: 'inPlace',
  parse: (raw, what, context) => parseNorm(raw, what, context),
  infer: inferNorm,
  record: (layer, record, node, context) => recordNorm(record, layer, NormKind.Layer, 1, node.inShapes[0], context),
  reference(layer, [x], node, context) {
    const shape = node.inShapes[0];
    const C = shape[shape.length - 1];
    const [gamma, beta] = [context.tensor(layer.gamma), context.tensor(layer.beta)] as Float32Array[];
    return layerNormChannelsReference(Float32Array.from(x), (context.batch * product(shape)) / C, C, layer.epsilon, gamma, beta, recordCode(layer), layer.alpha ?? 0);
  },
};

/** A norm's record: statistics over pixels x a group of channels (Group) or each pixel's channels (Layer). */
function recordNorm(record: Int32Array, layer: GroupNormLayer | LayerNormLayer, kind: NormKind, groups: number, shape: number[], context: PlanContext): void {
  const C = shape[shape.length - 1];
  record[Field.Op] = Op.Norm;
  recordActivation(record, layer);
  record[NormRec.Kind] = kind;
  record[NormRec.Pixels] = product(shape) / C;
  record[NormRec.C] = C;
  record[NormRec.Groups] = groups;
  record[NormRec.Epsilon] = floatBits(layer.epsilon);
  record[NormRec.Gamma] = context.f32Tensor(layer.gamma);
  record[NormRec.BetaVector] = context.f32Tensor(layer.beta);
}

const recordCode = (layer: { activation: GroupNormLayer['activation'] }) => ACTIVATION_CODES[layer.activation];
