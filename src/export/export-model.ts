/**
 * Exports a trained TensorFlow.js decoder to edgevae's compact format: reads its graph, plans the
 * format's nodes (folding and fusing on the way), then encodes it (src/convert/encode.ts). A model
 * that plans to a chain of the kinds format 1 had is written as a chain draft (as it always was, with
 * `meta.conditioning.joinsAt`); any other graph as a graph.
 */
import type * as tf from '@tensorflow/tfjs';
import { writeDecoder, writeGraphDecoder, type ExportOptions, type PlannedNode } from '../convert/encode.ts';
import type { PlannedLayer, WeightlessSpec, WeightedSpec } from '../convert/planned.ts';
import { readGraph, type KerasGraph } from './graph.ts';
import { planGraph } from './plan.ts';

export type { ExportMeta, ExportOptions } from '../convert/encode.ts';

/**
 * Exports `model` (a decoder: latent vector or latent image [h, w, c] in, sample out) as an edgevae model file.
 * Throws UnsupportedError, naming the layer, for a layer, activation or graph shape edgevae cannot run;
 * InputError for bad options, an ambiguous label input, or weights that are not finite (or too large for f16).
 */
export function exportModel(model: tf.LayersModel, options: ExportOptions = {}): Uint8Array {
  const graph = readGraph(model, { labelInput: options.labelInput, latentInput: options.latentInput });
  const { nodes, output } = planGraph(graph);
  const name = `model "${model.name}"`;
  const chain = graph.latent.shape.length === 1 ? asChain(graph, nodes, output) : null;
  if (chain) return writeDecoder({ name, latent: graph.latent, label: graph.label, plan: chain, outShape: graph.outShape }, options);
  return writeGraphDecoder({ name, latent: graph.latent, label: graph.label, nodes, output, outShape: graph.outShape }, options);
}

/** The kinds of format 1's chain, without tensors other than kernel and bias. */
const CHAIN_KINDS = new Set(['dense', 'conv2d', 'conv2dTranspose', 'reshape', 'flatten', 'concatenate', 'activation']);

/** The nodes as a chain of layers, when each reads the one before it (a concatenate: that and the label), else null. */
function asChain(graph: KerasGraph, nodes: PlannedNode[], output: string): PlannedLayer[] | null {
  let previous = graph.latent.name;
  const label = graph.label?.name;
  const plan: PlannedLayer[] = [];
  for (const node of nodes) {
    const { spec } = node;
    if (!CHAIN_KINDS.has(spec.type) || node.tensors || 'groups' in spec || 'dilations' in spec) return null;
    if (spec.type === 'concatenate') {
      const [a, b] = node.inputs;
      if (node.inputs.length !== 2 || label === undefined || !((a === label && b === previous) || (a === previous && b === label))) return null;
      plan.push({ name: node.name, spec: { type: 'concatenate', labelFirst: a === label } });
    } else {
      if (node.inputs.length !== 1 || node.inputs[0] !== previous) return null;
      plan.push(node.weights ? { name: node.name, spec: spec as unknown as WeightedSpec, weights: node.weights } : { name: node.name, spec: spec as unknown as WeightlessSpec });
    }
    previous = node.name;
  }
  return previous === output ? plan : null;
}
