/** Typed access to a node's attributes, with the ONNX defaults, and a FormatError naming the node for a wrong type. */
import onnxProto from 'onnx-proto';
import { FormatError } from '../errors.ts';
import { int64, type OnnxNode, type TensorProto } from './onnx-graph.ts';

const A = onnxProto.onnx.AttributeProto.AttributeType;

function typed(node: OnnxNode, name: string, type: number, what: string) {
  const attribute = node.attributes.get(name);
  if (attribute === undefined) return undefined;
  if (attribute.type !== type) throw new FormatError(`${node.label}: attribute "${name}" must be ${what}`);
  return attribute;
}

export function intAttribute(node: OnnxNode, name: string, fallback: number): number {
  const attribute = typed(node, name, A.INT, 'an integer');
  return attribute === undefined ? fallback : int64(attribute.i);
}

export function intsAttribute(node: OnnxNode, name: string): number[] | undefined {
  return typed(node, name, A.INTS, 'a list of integers')?.ints?.map(int64) ?? undefined;
}

export function floatAttribute(node: OnnxNode, name: string, fallback: number): number {
  const attribute = typed(node, name, A.FLOAT, 'a float');
  return attribute === undefined ? fallback : (attribute.f ?? 0);
}

export function floatsAttribute(node: OnnxNode, name: string): number[] | undefined {
  return typed(node, name, A.FLOATS, 'a list of floats')?.floats ?? undefined;
}

export function stringAttribute(node: OnnxNode, name: string, fallback: string): string {
  const attribute = typed(node, name, A.STRING, 'a string');
  return attribute === undefined ? fallback : new TextDecoder().decode(attribute.s ?? new Uint8Array());
}

export function tensorAttribute(node: OnnxNode, name: string): TensorProto | undefined {
  return typed(node, name, A.TENSOR, 'a tensor')?.t ?? undefined;
}
