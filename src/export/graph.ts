/**
 * Reads a TensorFlow.js model's graph: its layer calls in topological order, each with the values it
 * reads and writes, from one latent input (flat, or an image [h, w, c]) to one output, and the flat
 * one-hot label input, where there is one, which only Concatenate layers read.
 */
import type * as tf from '@tensorflow/tfjs';
import { InputError, UnsupportedError } from '../errors.ts';
import { LABEL_NAME, checkInputNames, type InputNames, type ModelInput } from '../convert/inputs.ts';

export type { ModelInput } from '../convert/inputs.ts';

export type Layer = tf.LayersModel['layers'][number];
type SymbolicTensor = tf.SymbolicTensor;

/** One call of a layer: the values it reads and the one it writes, with their per-sample shapes (batch axis dropped). */
export interface GraphLink {
  layer: Layer;
  className: string;
  /** The value this call writes: the layer's name, or `name_k` for the k-th call of a layer called more than once. */
  name: string;
  inputs: string[];
  inShapes: number[][];
  outShape: number[];
}

export interface KerasGraph {
  /** The latent input, with its per-sample shape: [n], or an image [h, w, c]. */
  latent: ModelInput & { shape: number[] };
  /** The one-hot label input, or null for an unconditional decoder. */
  label: ModelInput | null;
  /** Every layer call between the inputs and the output, each after the calls it reads. */
  links: GraphLink[];
  /** The value the model outputs (an input's name when the model computes nothing). */
  output: string;
  /** The model's output shape per sample. */
  outShape: number[];
}

const GRAPH_RULE = 'edgevae exports a graph of layers from one latent input (flat or [h, w, c]) to one output, which a flat one-hot label input may join through Concatenate layers';

/**
 * Walks the graph backwards from the output, depth first, so each call is listed after the calls it
 * reads (a topological order; for a chain, the chain's own order).
 */
export function readGraph(model: tf.LayersModel, names: InputNames = {}): KerasGraph {
  const { inputs, output } = modelEnds(model);
  const keyOf = (t: SymbolicTensor) => `${t.sourceLayer.name}\u0000${t.nodeIndex}\u0000${t.tensorIndex}`;
  const visited = new Map<string, SymbolicTensor>();
  const order: SymbolicTensor[] = [];
  const stack: { tensor: SymbolicTensor; expanded: boolean }[] = [{ tensor: output, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    const key = keyOf(top.tensor);
    if (top.expanded) {
      if (!visited.has(key)) {
        visited.set(key, top.tensor);
        order.push(top.tensor);
      }
      continue;
    }
    if (visited.has(key)) continue;
    stack.push({ tensor: top.tensor, expanded: true });
    if (!isInputLayer(top.tensor.sourceLayer)) {
      const operands = inboundTensors(top.tensor);
      for (let i = operands.length - 1; i >= 0; i--) if (!visited.has(keyOf(operands[i]))) stack.push({ tensor: operands[i], expanded: false });
    }
  }
  const unused = inputs.filter((t) => !visited.has(keyOf(t)));
  if (unused.length > 0) throw new UnsupportedError(`input "${unused[0].sourceLayer.name}" does not reach the output: ${GRAPH_RULE}`);

  // Value names: the layer's name, numbered by call where a (shared) layer is called more than once.
  const calls = new Map<Layer, number>();
  for (const t of order) calls.set(t.sourceLayer, (calls.get(t.sourceLayer) ?? 0) + 1);
  const valueNames = new Map<string, string>();
  for (const t of order) {
    const layer = t.sourceLayer;
    if (t.tensorIndex !== 0) throw new UnsupportedError(`layer "${layer.name}" (${layer.getClassName()}) has several outputs; edgevae reads layers of one output`);
    valueNames.set(keyOf(t), calls.get(layer)! > 1 ? `${layer.name}_${t.nodeIndex}` : layer.name);
  }
  const links: GraphLink[] = [];
  for (const t of order) {
    const layer = t.sourceLayer;
    if (isInputLayer(layer)) continue;
    const operands = inboundTensors(t);
    links.push({
      layer,
      className: layer.getClassName(),
      name: valueNames.get(keyOf(t))!,
      inputs: operands.map((o) => valueNames.get(keyOf(o))!),
      inShapes: operands.map((o) => perSample(o.shape, layer)),
      outShape: perSample(t.shape, layer),
    });
  }
  const { latent, label } = splitInputs(inputs, links, names);
  return { latent, label, links, output: valueNames.get(keyOf(output))!, outShape: perSample(output.shape, output.sourceLayer) };
}

/**
 * Which input is the latent and which the one-hot label: as the caller names them, else the one that
 * only Concatenate layers read (by its name, when both are).
 */
function splitInputs(inputs: SymbolicTensor[], links: GraphLink[], names: InputNames): { latent: KerasGraph['latent']; label: ModelInput | null } {
  const inputNames = inputs.map((t) => t.sourceLayer.name);
  checkInputNames(inputNames, names);
  const readers = (name: string) => links.filter((l) => l.inputs.includes(name));
  const flat = (name: string) => inputs.find((t) => t.sourceLayer.name === name)!.shape.length === 2;
  const onlyJoined = (name: string) => flat(name) && readers(name).length > 0 && readers(name).every((l) => l.className === 'Concatenate');
  let labelName: string | undefined = names.labelInput ?? (names.latentInput !== undefined ? inputNames.find((n) => n !== names.latentInput) : undefined);
  if (labelName !== undefined && !onlyJoined(labelName)) {
    throw new InputError(`labelInput "${labelName}" was given, but the model has no Concatenate joining a label input of that name (only Concatenate layers may read the label)`);
  }
  if (labelName === undefined && inputs.length === 2) {
    const candidates = inputNames.filter(onlyJoined);
    if (candidates.length === 0) {
      throw new UnsupportedError(`model inputs "${inputNames[0]}" and "${inputNames[1]}" are both read by layers other than Concatenate: ${GRAPH_RULE}`);
    }
    if (candidates.length === 1) labelName = candidates[0];
    else {
      const named = candidates.filter((n) => LABEL_NAME.test(n));
      if (named.length !== 1) {
        throw new InputError(
          `cannot tell which of the inputs ${candidates.map((n) => `"${n}"`).join(' and ')} is the one-hot label: pass options.labelInput (or options.latentInput) with its name`,
        );
      }
      labelName = named[0];
    }
  }
  const latentTensor = inputs.find((t) => t.sourceLayer.name !== labelName)!;
  const labelTensor = inputs.find((t) => t.sourceLayer.name === labelName);
  if (names.latentInput !== undefined && latentTensor.sourceLayer.name !== names.latentInput) {
    throw new InputError(`latentInput "${names.latentInput}" was given, but the model's latent input is "${latentTensor.sourceLayer.name}"`);
  }
  const latentShape = latentTensor.shape.slice(1) as number[];
  return { latent: { ...describeInput(latentTensor), shape: latentShape }, label: labelTensor ? describeInput(labelTensor) : null };
}

/** The model's input tensors (1 or 2, each flat) and its single output tensor. */
function modelEnds(model: tf.LayersModel): { inputs: SymbolicTensor[]; output: SymbolicTensor } {
  const inputs = model.inputs;
  const outputs = model.outputs;
  if (!inputs || !outputs || inputs.length === 0 || outputs.length === 0) {
    throw new InputError(`model "${model.name}" is not built: give its first layer an inputShape (or build it) before exporting`);
  }
  if (outputs.length !== 1) throw new UnsupportedError(`model "${model.name}" has ${outputs.length} outputs: ${GRAPH_RULE}`);
  if (inputs.length > 2) throw new UnsupportedError(`model "${model.name}" has ${inputs.length} inputs: ${GRAPH_RULE}`);
  for (const input of inputs) describeInput(input); // throws for an input that is neither flat nor an image
  return { inputs, output: outputs[0] };
}

/** An input's name and size: flat [null, n], or an image [null, h, w, c] (a latent only: the label is flat). */
function describeInput(input: SymbolicTensor): ModelInput {
  const shape = input.shape;
  const dims = shape.slice(1);
  if ((dims.length !== 1 && dims.length !== 3) || !dims.every((d) => typeof d === 'number' && d >= 1)) {
    throw new UnsupportedError(`input "${input.sourceLayer.name}" has shape ${formatShape(shape)}; edgevae needs inputs of shape [null, n] or a latent image [null, h, w, c]`);
  }
  return { name: input.sourceLayer.name, size: (dims as number[]).reduce((a, b) => a * b, 1) };
}

/** "[null, 4, 4, 1]": unknown dimensions spelled out (a plain join would print them as nothing). */
const formatShape = (shape: (number | null)[]) => `[${shape.map(String).join(', ')}]`;

const isInputLayer = (layer: Layer) => layer.getClassName() === 'InputLayer';

/** The tensors that were fed to the call of `tensor.sourceLayer` that produced `tensor`. */
function inboundTensors(tensor: SymbolicTensor): SymbolicTensor[] {
  const node = tensor.sourceLayer.inboundNodes[tensor.nodeIndex];
  if (!node) throw new InputError(`layer "${tensor.sourceLayer.name}" has no record of the call that produced "${tensor.name}"`);
  return node.inputTensors;
}

/** A shape without its batch axis; every remaining dimension must be known to size the runtime's buffers. */
function perSample(shape: (number | null)[], layer: Layer): number[] {
  const dims = shape.slice(1);
  if (dims.some((d) => typeof d !== 'number')) {
    throw new UnsupportedError(`layer "${layer.name}" (${layer.getClassName()}) has a shape with unknown dimensions ${formatShape(shape)}`);
  }
  return dims as number[];
}
