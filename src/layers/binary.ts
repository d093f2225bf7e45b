/**
 * Add, sub, mul and div between two values, or a value and a constant tensor: residual connections,
 * TAESD's tanh(x / 3) * 3, a learned per-channel scale. The second operand broadcasts against the
 * first when it has its shape, one value per channel (the last axis), or one value; a node whose
 * first operand is the smaller one is computed reversed (b op a), so the kernel always walks the
 * larger one.
 */
import { product, type BinaryLayer } from '../format/spec.ts';
import { fail, oneOf } from '../format/validate.ts';
import { BinaryOp, BinaryRec, Field, Op } from '../runtime/abi.ts';
import { activate, parseOptionalActivation, recordActivation } from './activation.ts';
import type { GraphNode, LayerKind } from './types.ts';
import { parseVectorRef } from './weights.ts';

const OPS: Record<BinaryLayer['op'], BinaryOp> = { add: BinaryOp.Add, sub: BinaryOp.Sub, mul: BinaryOp.Mul, div: BinaryOp.Div };

/** How the smaller operand repeats over the larger one, per sample. */
type Broadcast = 'same' | 'channel' | 'scalar';

function broadcastOf(full: number[], other: number[], what: string): Broadcast {
  const trimmed = (shape: number[]) => shape.slice(shape.findIndex((d) => d !== 1) < 0 ? shape.length : shape.findIndex((d) => d !== 1));
  const size = product(other);
  if (size === 1) return 'scalar';
  const [f, o] = [trimmed(full), trimmed(other)];
  if (f.length === o.length && f.every((d, i) => d === o[i])) return 'same';
  if (o.length === 1 && o[0] === full[full.length - 1]) return 'channel';
  return fail(`${what}: an operand of shape [${other.join(', ')}] does not broadcast to [${full.join(', ')}] (it must have that shape, one value per channel, or one value)`);
}

/** The operands in the kernel's order: `full` the larger (the output's shape), with where each comes from. */
function operands(layer: BinaryLayer, node: Pick<GraphNode, 'inShapes'>, constantShape?: number[]) {
  if (layer.constant !== undefined) return { full: node.inShapes[0], other: constantShape!, reversed: !!layer.constantFirst };
  const reversed = product(node.inShapes[1]) > product(node.inShapes[0]);
  const [full, other] = reversed ? [node.inShapes[1], node.inShapes[0]] : node.inShapes;
  return { full, other, reversed };
}

export const binary: LayerKind<BinaryLayer> = {
  arity: [1, 2],
  storage: 'inPlace',
  inPlaceInput(node) {
    const layer = node.layer as BinaryLayer;
    if (layer.constant !== undefined) return 0;
    return product(node.inShapes[1]) > product(node.inShapes[0]) ? 1 : 0;
  },
  parse(raw, what, context) {
    const op = oneOf(raw.op, `${what}.op`, ['add', 'sub', 'mul', 'div'] as const);
    const activation = parseOptionalActivation(raw, what);
    if (raw.constant === undefined) {
      if (raw.constantFirst !== undefined) fail(`${what}.constantFirst goes with a constant`);
      return { op, ...activation };
    }
    const constant = parseVectorRef(raw.constant, `${what}.constant`, context);
    if (raw.constantFirst !== undefined && typeof raw.constantFirst !== 'boolean') fail(`${what}.constantFirst must be true or false`);
    return { op, constant, ...(raw.constantFirst ? { constantFirst: true } : {}), ...activation };
  },
  infer(layer, inShapes, what, { tensors }) {
    const withConstant = layer.constant !== undefined;
    if (inShapes.length !== (withConstant ? 1 : 2)) fail(`${what} needs ${withConstant ? 'one input and a constant' : 'two inputs'}`);
    const { full, other } = operands(layer, { inShapes }, withConstant ? tensors[layer.constant!].shape : undefined);
    if (withConstant && product(other) > product(full)) fail(`${what}: its constant [${other.join(', ')}] is larger than its input [${full.join(', ')}]`);
    broadcastOf(full, other, what);
    return { shape: [...full], macs: 0 };
  },
  record(layer, record, node, context) {
    const constantShape = layer.constant === undefined ? undefined : context.tensors[layer.constant].shape;
    const { full, other, reversed } = operands(layer, node, constantShape);
    const broadcast = broadcastOf(full, other, `node "${node.name}"`);
    const size = product(full);
    const channels = full[full.length - 1];
    const perSample = layer.constant === undefined; // a value differs per sample; a constant does not
    record[Field.Op] = Op.Binary;
    recordActivation(record, layer);
    record[BinaryRec.BinaryOp] = OPS[layer.op];
    record[BinaryRec.Reversed] = reversed ? 1 : 0;
    if (reversed && perSample) [record[Field.In0], record[Field.In1]] = [record[Field.In1], record[Field.In0]];
    record[BinaryRec.OuterPerSample] = 1;
    record[BinaryRec.Mid] = broadcast === 'channel' ? size / channels : 1;
    record[BinaryRec.Inner] = broadcast === 'channel' ? channels : size;
    record[BinaryRec.BOuterStride] = !perSample ? 0 : broadcast === 'same' ? size : broadcast === 'channel' ? channels : 1;
    record[BinaryRec.BInnerStride] = broadcast === 'scalar' ? 0 : 1;
    record[BinaryRec.Constant] = layer.constant === undefined ? 0 : context.f32Tensor(layer.constant);
  },
  reference(layer, inputs, node, context) {
    const constant = layer.constant === undefined ? undefined : Float64Array.from(context.tensor(layer.constant) as Float32Array);
    const constantShape = layer.constant === undefined ? undefined : context.tensors[layer.constant].shape;
    const { full, other, reversed } = operands(layer, node, constantShape);
    const broadcast = broadcastOf(full, other, `node "${node.name}"`);
    const values = constant === undefined ? inputs : layer.constantFirst ? [constant, inputs[0]] : [inputs[0], constant];
    const [a, b] = reversed ? [values[1], values[0]] : values;
    const size = product(full);
    const channels = full[full.length - 1];
    const out = new Float64Array(context.batch * size);
    for (let i = 0; i < out.length; i++) {
      const sample = Math.floor(i / size);
      const within = broadcast === 'same' ? i % size : broadcast === 'channel' ? i % channels : 0;
      const bv = b[(constant === undefined ? sample * product(other) : 0) + within];
      const [x, y] = reversed ? [bv, a[i]] : [a[i], bv];
      out[i] = activate(apply(layer.op, x, y), layer.activation, layer);
    }
    return out;
  },
};

function apply(op: BinaryLayer['op'], a: number, b: number): number {
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return a / b;
  }
}
