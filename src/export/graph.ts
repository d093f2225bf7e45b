/**
 * Reads a TensorFlow.js model's graph as the one shape edgevae can run: a chain of layers from a flat
 * latent input to one output, which a flat one-hot label input may join once, through a Concatenate.
 */
import type * as tf from '@tensorflow/tfjs';
import { InputError, UnsupportedError } from '../errors.ts';
import { LABEL_NAME, checkInputNames, type InputNames, type ModelInput } from '../convert/inputs.ts';

export type { ModelInput } from '../convert/inputs.ts';

export type Layer = tf.LayersModel['layers'][number];
type SymbolicTensor = tf.SymbolicTensor;


/** A layer of the chain with the per-sample shapes it reads and writes (batch axis dropped). */
export interface ChainLink {
  layer: Layer;
  className: string;
  inShape: number[];
  outShape: number[];
}

export interface Chain {
  latent: ModelInput;
  /** The one-hot label input and how it joins the chain, or null for an unconditional decoder. */
  label: (ModelInput & { concatenate: Layer; labelFirst: boolean }) | null;
  /** Every layer from the latent input to the output, in execution order, InputLayers excluded. */
  links: ChainLink[];
  /** The model's output shape per sample. */
  outShape: number[];
}

const CHAIN_RULE =
  'edgevae exports a chain of layers from one latent input to one output, which a one-hot label input may join once through a Concatenate';

/**
 * Walks the graph backwards from the output. Every layer of a single-output model lies on some path to
 * that output, so a backward walk that only ever meets single-input layers (plus the one label join)
 * has seen the whole model: any branch or skip connection shows up as a second input somewhere.
 */
export function readChain(model: tf.LayersModel, names: InputNames = {}): Chain {
  const { inputs, output } = modelEnds(model);
  const labelInput = labelInputName(inputs, names);
  const links: ChainLink[] = [];
  let label: Chain['label'] = null;
  let labelTensor: SymbolicTensor | null = null;
  let tensor = output;
  while (!isInputLayer(tensor.sourceLayer)) {
    const layer = tensor.sourceLayer;
    const operands = inboundTensors(tensor);
    let next: SymbolicTensor;
    if (operands.length === 1) {
      next = operands[0];
    } else if (layer.getClassName() === 'Concatenate' && operands.length === 2 && label === null) {
      const join = splitLabelJoin(layer, operands, inputs, labelInput);
      label = join.label;
      labelTensor = join.labelTensor;
      next = join.chainOperand;
    } else {
      const why = layer.getClassName() === 'Concatenate' && label !== null ? 'is a second join on the chain' : `merges ${operands.length} branches`;
      throw new UnsupportedError(`layer "${layer.name}" (${layer.getClassName()}) ${why}: ${CHAIN_RULE}`);
    }
    links.push({ layer, className: layer.getClassName(), inShape: perSample(next.shape, layer), outShape: perSample(tensor.shape, layer) });
    tensor = next;
  }
  links.reverse();
  if (label && labelTensor === tensor) {
    // e.g. concatenate([z, dense(z)]): the "label" is the latent input again, so this is a skip connection.
    throw new UnsupportedError(`layer "${label.concatenate.name}" (Concatenate) merges two branches that both start at input "${label.name}": ${CHAIN_RULE}`);
  }
  const latent = describeInput(tensor);
  const unused = inputs.filter((t) => t !== tensor && t !== labelTensor);
  if (unused.length > 0) {
    throw new UnsupportedError(`input "${unused[0].sourceLayer.name}" does not reach the output along the chain: ${CHAIN_RULE}`);
  }
  if (labelInput !== undefined && label === null) {
    throw new InputError(`labelInput "${labelInput}" was given, but the model has no Concatenate joining a label input`);
  }
  if (names.latentInput !== undefined && latent.name !== names.latentInput) {
    throw new InputError(`latentInput "${names.latentInput}" was given, but the chain of layers starts at input "${latent.name}"`);
  }
  return { latent, label, links, outShape: perSample(output.shape, output.sourceLayer) };
}


/** The label input's name from the caller's choice: named directly, or as the input that is not the latent. */
function labelInputName(inputs: SymbolicTensor[], { latentInput, labelInput }: InputNames): string | undefined {
  const names = inputs.map((t) => t.sourceLayer.name);
  checkInputNames(names, { latentInput, labelInput });
  if (labelInput !== undefined || latentInput === undefined) return labelInput;
  return names.find((name) => name !== latentInput);
}


/** The model's input tensors (1 or 2, each flat) and its single output tensor. */
function modelEnds(model: tf.LayersModel): { inputs: SymbolicTensor[]; output: SymbolicTensor } {
  const inputs = model.inputs;
  const outputs = model.outputs;
  if (!inputs || !outputs || inputs.length === 0 || outputs.length === 0) {
    throw new InputError(`model "${model.name}" is not built: give its first layer an inputShape (or build it) before exporting`);
  }
  if (outputs.length !== 1) throw new UnsupportedError(`model "${model.name}" has ${outputs.length} outputs: ${CHAIN_RULE}`);
  if (inputs.length > 2) throw new UnsupportedError(`model "${model.name}" has ${inputs.length} inputs: ${CHAIN_RULE}`);
  for (const input of inputs) describeInput(input); // throws for an input that is not flat
  return { inputs, output: outputs[0] };
}

function describeInput(input: SymbolicTensor): ModelInput {
  const shape = input.shape;
  const size = shape[1];
  if (shape.length !== 2 || typeof size !== 'number' || size < 1) {
    throw new UnsupportedError(`input "${input.sourceLayer.name}" has shape ${formatShape(shape)}; edgevae needs flat inputs of shape [null, n]`);
  }
  return { name: input.sourceLayer.name, size };
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

/**
 * Decides which operand of the Concatenate is the one-hot label, which must be a model input fed to it
 * directly; the other operand continues the chain towards the latent input.
 */
function splitLabelJoin(
  concatenate: Layer,
  operands: SymbolicTensor[],
  inputs: SymbolicTensor[],
  labelInput: string | undefined,
): { label: NonNullable<Chain['label']>; labelTensor: SymbolicTensor; chainOperand: SymbolicTensor } {
  checkConcatenateAxis(concatenate, operands);
  const labelIndex = labelOperandIndex(concatenate, operands, inputs, labelInput);
  const labelTensor = operands[labelIndex];
  const chainOperand = operands[1 - labelIndex];
  if (chainOperand.shape.length !== 2) {
    throw new UnsupportedError(
      `layer "${concatenate.name}" (Concatenate) joins the label to an activation of shape ${formatShape(chainOperand.shape)}; ` +
        'the label can only join a flat activation (add a Flatten before it)',
    );
  }
  return {
    label: { ...describeInput(labelTensor), concatenate, labelFirst: labelIndex === 0 },
    labelTensor,
    chainOperand,
  };
}

function checkConcatenateAxis(concatenate: Layer, operands: SymbolicTensor[]) {
  const axis = concatenate.getConfig().axis;
  const rank = operands[0].shape.length;
  if (axis !== -1 && axis !== rank - 1) {
    throw new UnsupportedError(`layer "${concatenate.name}" (Concatenate) joins along axis ${axis}; edgevae joins the label along the last axis only`);
  }
}


function labelOperandIndex(concatenate: Layer, operands: SymbolicTensor[], inputs: SymbolicTensor[], labelInput: string | undefined): number {
  const direct = operands.map((t) => inputs.includes(t));
  if (labelInput !== undefined) {
    const index = operands.findIndex((t, i) => direct[i] && t.sourceLayer.name === labelInput);
    if (index < 0) {
      throw new UnsupportedError(`the label input "${labelInput}" must feed layer "${concatenate.name}" (Concatenate) directly: ${CHAIN_RULE}`);
    }
    return index;
  }
  if (direct[0] !== direct[1]) return direct[0] ? 0 : 1;
  if (!direct[0]) {
    throw new UnsupportedError(`layer "${concatenate.name}" (Concatenate) merges two branches, neither of which is a model input: ${CHAIN_RULE}`);
  }
  const named = operands.map((t) => LABEL_NAME.test(t.sourceLayer.name));
  if (named[0] !== named[1]) return named[0] ? 0 : 1;
  throw new InputError(
    `cannot tell which of the inputs ${operands.map((t) => `"${t.sourceLayer.name}"`).join(' and ')} is the one-hot label: ` +
      'pass options.labelInput (or options.latentInput) with its name',
  );
}
