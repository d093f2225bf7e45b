/**
 * The reference decoder: a plain, scalar forward pass over a parsed model's graph, written for
 * clarity, not speed. Each node is computed by its kind's `reference` (src/layers/), which is the
 * specification the wasm executor is tested against (and the place to read what each layer does).
 * Kernels are read as f32 values; arithmetic is in f64.
 */
import { tensorData, type ParsedModel } from '../format/read.ts';
import type { ConvLayer, DenseLayer } from '../format/spec.ts';
import { kindOf } from '../layers/index.ts';
import type { ReferenceContext } from '../layers/types.ts';
import { kernelValues as storedKernelValues } from '../layers/weights.ts';

export { activate } from '../layers/activation.ts';
export { ACTIVATION_Q_MAX, quantizeActivations } from '../layers/weights.ts';

/**
 * A weighted layer's kernel as f32 values in the format's layout, whatever dtype the file stores it
 * in: f32 copied, f16 widened, i8 dequantized as q * scale of its output channel.
 */
export function kernelValues(model: ParsedModel, layer: DenseLayer | ConvLayer): Float32Array {
  return storedKernelValues(model, layer, (index) => tensorData(model, index));
}

/** Decodes `latents` (n x latentSize) with optional labels; returns n x outputSize values. */
export function referenceDecode(model: ParsedModel, latents: Float32Array, labels?: ArrayLike<number>): Float64Array {
  return referenceValues(model, latents, labels).get(model.graph.output)!;
}

/** Every value of the graph (inputs and each node's output, batch x per-sample values) for these latents. */
export function referenceValues(model: ParsedModel, latents: Float32Array, labels?: ArrayLike<number>): Map<string, Float64Array> {
  const { graph } = model;
  const batch = latents.length / model.header.meta.latentSize;
  const context: ReferenceContext = {
    batch,
    labels,
    classes: graph.label?.classes ?? 0,
    tensor: (index) => tensorData(model, index),
    tensors: model.header.tensors,
    isLabel: (value) => value === graph.label?.name,
  };
  const values = new Map<string, Float64Array>([[graph.latent.name, Float64Array.from(latents)]]);
  if (graph.label) values.set(graph.label.name, new Float64Array(0)); // the concatenate makes the one-hot
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((name) => values.get(name)!);
    values.set(node.name, kindOf(node.layer).reference(node.layer, inputs, node, context));
  }
  return values;
}
