/**
 * The `edgevae-train/export` entry (the training package's; in a clone, packages/train): turn a trained TensorFlow.js decoder into an edgevae model file, and load
 * or save TensorFlow.js layers models on disk (Node only, for the latter two); import ONNX decoders
 * (e.g. from PyTorch) into the same format.
 */
export { exportModel, type ExportOptions, type ExportMeta } from './export-model.ts';
export { loadSavedModel, saveModel } from './load-saved.ts';
export { quantizeInt8PerChannel, dequantizeInt8PerChannel, type Int8Quantized } from '../format/int8.ts';
export { outputChannelAxis, type WeightedType } from '../format/spec.ts';
export type { ModelMeta, DType, ActivationName, LayerSpec } from '../format/spec.ts';
export { EdgeVaeError, FormatError, InputError, UnsupportedError } from '../errors.ts';
export { VERSION } from '../version.ts';
export { convertDtype, quantizeCalibrated } from './convert-dtype.ts';
export type { CalibrationOptions } from '../convert/calibrate.ts';
export { toLayersModel, TFJS_INPUT_NAMES } from './tfjs-model.ts';
export { exportOnnx, ONNX_OPSETS, ONNX_NAMES, type OnnxExportOptions } from './onnx.ts';
export { importOnnx, SUPPORTED_OPERATORS, type OnnxImportOptions, type OutputLayout } from '../import/onnx.ts';
import type { BackendChoice, SelectedBackend } from '../train/backend.ts';
export type { BackendChoice, SelectedBackend };

/**
 * Picks and initialises a TensorFlow.js backend as `edgevae train --backend` does ('auto' takes the
 * fastest present and says which through `log`): for scripts that build or train a model before
 * exporting it. Unlike tf.setBackend('cpu') it does not print tfjs's "install tfjs-node" banner.
 * Loaded on first use, so importing this entry does not load the training backends.
 */
export async function selectBackend(choice: BackendChoice, log?: (message: string) => void): Promise<SelectedBackend> {
  const backend = await import('../train/backend.ts');
  return backend.selectBackend(choice, log);
}
