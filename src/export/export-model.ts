/**
 * Exports a trained TensorFlow.js decoder to edgevae's compact format: reads its graph as a chain,
 * plans the format's layers (folding and fusing on the way), then encodes it (src/convert/encode.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { writeDecoder, type ExportOptions } from '../convert/encode.ts';
import { readChain } from './graph.ts';
import { planLayers } from './plan.ts';

export type { ExportMeta, ExportOptions } from '../convert/encode.ts';

/**
 * Exports `model` (a decoder: latent vector in, sample out) as an edgevae model file.
 * Throws UnsupportedError, naming the layer, for a layer, activation or graph shape edgevae cannot run;
 * InputError for bad options, an ambiguous label input, or weights that are not finite (or too large for f16).
 */
export function exportModel(model: tf.LayersModel, options: ExportOptions = {}): Uint8Array {
  const chain = readChain(model, { labelInput: options.labelInput, latentInput: options.latentInput });
  return writeDecoder({ name: `model "${model.name}"`, latent: chain.latent, label: chain.label, plan: planLayers(chain), outShape: chain.outShape }, options);
}

