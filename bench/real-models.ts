/**
 * The models of `npm run bench:real` (bench/real.ts), each as every contender needs it: our f32 file,
 * the ONNX model onnxruntime runs, and how to feed that ONNX model and read its output.
 *
 * - PyTorch architectures at full size (DCGAN, PyTorch-VAE, TAESD at 8x8 and 32x32 latents): the ONNX
 *   files `scripts/torch-fixtures.py --bench` writes (torch.onnx.export, seeded random weights),
 *   imported with our importer (src/import/onnx.ts); onnxruntime runs torch's own ONNX. The same
 *   builder reads the small committed fixtures (test/fixtures/torch), which the tests use.
 * - TensorFlow.js models (the README example, examples/node/make-decoder.mjs; the seed decoders of
 *   bench/models.ts): exported to our format from TensorFlow.js; onnxruntime runs our ONNX export of
 *   that file (src/export/onnx.ts), tfjs-backend-wasm the same file rebuilt as a LayersModel.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UnsupportedError } from '../src/errors.ts';
import { exportModel } from '../src/export/index.ts';
import { exportOnnx } from '../src/export/onnx.ts';
import { importOnnx } from '../src/import/onnx.ts';
import { readModel } from '../src/format/read.ts';
import { product } from '../src/format/spec.ts';
import { toChannelsFirst, toChannelsLast } from '../src/runtime/layout.ts';
import { selectBackend } from '../src/train/backend.ts';
import { seedModels } from './models.ts';

/** Where `scripts/torch-fixtures.py --bench` writes the full-size models (git-ignored: tens of MB). */
export const REAL_MODELS_DIR = 'bench/real-models';
/** The command that makes them. */
export const MAKE_REAL_MODELS = `/usr/bin/python3 scripts/torch-fixtures.py --bench ${REAL_MODELS_DIR}`;

export interface RealModel {
  name: string;
  description: string;
  /** Where the architecture comes from: a PyTorch export, or a TensorFlow.js model (which tfjs-backend-wasm can run too). */
  source: 'torch' | 'tfjs';
  /** Our f32 file; undefined where edgevae refuses the model (`refused` says why). */
  f32?: Uint8Array;
  refused?: string;
  /** The ONNX model onnxruntime runs. */
  onnx: Uint8Array;
  /** The ONNX model's input names. */
  onnxInputs: { latent: string; label?: string };
  /** The ONNX model's output name. */
  onnxOutput: string;
  /** Whether the ONNX model takes its image latent channels-first (torch's NCHW); ours are channels-last. */
  onnxNchw: boolean;
  /** Whether the ONNX model gives its image channels-first (torch's NCHW, whatever its latent); ours are channels-last. */
  onnxOutputNchw: boolean;
  /** Per-sample shapes as our runtime holds them (channels-last). */
  latentShape: number[];
  outputShape: number[];
  range: [number, number];
  /** Classes of a conditional model's one-hot label, 0 otherwise. */
  classes: number;
  macsPerSample: number;
  /** How macsPerSample was found where it is not our reader's count (a model edgevae refuses). */
  macsNote?: string;
  /** torch's own output on fixed inputs (the fixture's .bin): [latents as ours hold them, output channels-last]. */
  torchCheck?: { batch: number; latents: Float32Array; output: Float32Array };
  /** Batch sizes timed. */
  batches: number[];
}

interface Manifest {
  description: string;
  inputs: { name: string; shape: number[]; kind: 'latent' | 'label'; offset: number; count: number }[];
  outputs: { name: string; shape: number[]; offset: number; count: number }[];
  range: [number, number];
}

/** [n, c, h, w] -> per-sample [h, w, c]; a 2-D shape stays as it is. */
const channelsLast = (shape: number[]) => (shape.length === 4 ? [shape[2], shape[3], shape[1]] : shape.slice(1));

/**
 * A PyTorch export: `dir/name.onnx` with its manifest and torch's outputs (`name.json`, `name.bin`,
 * as scripts/torch-fixtures.py writes them), imported as f32. A model our format refuses keeps its
 * ONNX side (onnxruntime still runs it) with the reason in `refused`; `macsOf` then gives its
 * multiply-adds, with a note saying how.
 */
export function torchModel(dir: string, name: string, batches: number[], macsOf?: { macs: number; note: string }): RealModel {
  const onnx = new Uint8Array(readFileSync(join(dir, `${name}.onnx`)));
  const manifest = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Manifest;
  const latent = manifest.inputs.find((i) => i.kind === 'latent')!;
  const label = manifest.inputs.find((i) => i.kind === 'label');
  const [output] = manifest.outputs;
  const onnxNchw = latent.shape.length === 4;
  const latentShape = channelsLast(latent.shape);
  const outputShape = channelsLast(output.shape);
  let f32: Uint8Array | undefined;
  let refused: string | undefined;
  try {
    f32 = importOnnx(onnx, { dtype: 'f32', ...(label ? { latentInput: latent.name, labelInput: label.name } : {}) });
  } catch (err) {
    if (!(err instanceof UnsupportedError)) throw err;
    refused = err.message;
  }
  const macsPerSample = f32 ? readModel(f32).macsPerSample : macsOf?.macs;
  if (macsPerSample === undefined) throw new Error(`${name}: edgevae refuses it (${refused}) and no multiply-add count was given`);
  const bin = readFileSync(join(dir, `${name}.bin`));
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const batch = latent.shape[0];
  const latents = floats.slice(latent.offset, latent.offset + latent.count);
  const torchOutput = floats.slice(output.offset, output.offset + output.count);
  return {
    name,
    description: manifest.description,
    source: 'torch',
    ...(f32 ? { f32 } : { refused }),
    onnx,
    onnxInputs: { latent: latent.name, ...(label ? { label: label.name } : {}) },
    onnxOutput: output.name,
    onnxNchw,
    onnxOutputNchw: output.shape.length === 4,
    latentShape,
    outputShape,
    range: manifest.range,
    classes: label ? label.shape[1] : 0,
    macsPerSample,
    ...(f32 ? {} : { macsNote: macsOf?.note }),
    // Labels (conditional torch models) are left out of this check: none of the full-size models has one.
    ...(label ? {} : {
      torchCheck: {
        batch,
        latents: onnxNchw ? toChannelsLast(latents, latentShape) : latents,
        output: output.shape.length === 4 ? toChannelsLast(torchOutput, outputShape) : torchOutput,
      },
    }),
    batches,
  };
}

/** A TensorFlow.js model already in our format: onnxruntime runs our ONNX export of it. */
export function tfjsModel(name: string, description: string, f32: Uint8Array, batches: number[]): RealModel {
  const parsed = readModel(f32);
  const { meta } = parsed.header;
  return {
    name,
    description,
    source: 'tfjs',
    f32,
    onnx: exportOnnx(f32),
    onnxInputs: { latent: 'z', ...(meta.conditioning ? { label: 'label' } : {}) },
    onnxOutput: 'x',
    onnxNchw: false,
    // Our ONNX export gives the output in our layout (src/export/onnx.ts).
    onnxOutputNchw: false,
    latentShape: [...parsed.graph.latent.shape],
    outputShape: [...meta.output.shape],
    range: [...meta.output.range],
    classes: meta.conditioning?.classes ?? 0,
    macsPerSample: parsed.macsPerSample,
    batches,
  };
}

/** examples/node/make-decoder.mjs's decoder (dense 8 -> 49, 7x7x1, transposed convs of 16 and 1), with seeded random weights. */
export async function readmeExample(batches: number[]): Promise<RealModel> {
  await selectBackend('cpu');
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.05, seed: seed + 100 }) });
  const decoder = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 49, activation: 'relu', ...init(1) }),
      tf.layers.reshape({ targetShape: [7, 7, 1] }),
      tf.layers.conv2dTranspose({ filters: 16, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', ...init(2) }),
      tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'sigmoid', ...init(3) }),
    ],
  });
  const f32 = exportModel(decoder, { dtype: 'f32' });
  decoder.dispose();
  return tfjsModel('readme-example', "the README's TensorFlow.js example (examples/node/make-decoder.mjs): dense 8 → 49 (ReLU), 7x7x1, 4x4 stride-2 transposed convs of 16 (ReLU) and 1 (sigmoid), 28x28x1; seeded random weights", f32, batches);
}

/** The full-size PyTorch models, by name, with the batches each is timed at. */
export const TORCH_MODELS: { name: string; batches: number[] }[] = [
  { name: 'dcgan-full', batches: [1, 16] },
  { name: 'pytorch-vae-full', batches: [1, 16] },
  { name: 'taesd-full-8', batches: [1] },
  { name: 'taesd-full-32', batches: [1] },
];

/** The names of the full-size models missing from `dir`. */
export function missingTorchModels(dir = REAL_MODELS_DIR, names = TORCH_MODELS.map((m) => m.name)): string[] {
  return names.filter((name) => !['onnx', 'json', 'bin'].every((ext) => existsSync(join(dir, `${name}.${ext}`))));
}

/** Every model of the benchmark, or those named in `only`. */
export async function realModels(only?: string[], dir = REAL_MODELS_DIR): Promise<RealModel[]> {
  const wanted = (name: string) => !only || only.includes(name);
  const models: RealModel[] = [];
  for (const { name, batches } of TORCH_MODELS.filter((m) => wanted(m.name))) {
    // TAESD at a 32x32 latent is TAESD at 8x8 on 16 times the pixels: every layer is a convolution
    // (or a pointwise op) whose output has 16 times the pixels, so 16 times the multiply-adds.
    const macsOf = name === 'taesd-full-32' ? taesd32Macs(dir) : undefined;
    models.push(torchModel(dir, name, batches, macsOf));
  }
  if (wanted('readme-example')) models.push(await readmeExample([1, 64, 256]));
  for (const seed of await seedModels()) {
    if (wanted(seed.name)) models.push(tfjsModel(seed.name, seed.description, seed.f32, [1, 64]));
  }
  return models;
}

function taesd32Macs(dir: string): { macs: number; note: string } | undefined {
  if (missingTorchModels(dir, ['taesd-full-8']).length) return undefined;
  const macs8 = readModel(importOnnx(new Uint8Array(readFileSync(join(dir, 'taesd-full-8.onnx'))), { dtype: 'f32' })).macsPerSample;
  return { macs: 16 * macs8, note: `16 x taesd-full-8's ${macs8.toLocaleString('en-US')}: every layer has 16 times the output pixels` };
}

/** One batch's inputs, in every form a contender takes them: ours (channels-last) and the ONNX model's. */
export interface RealInputs {
  batch: number;
  /** batch x latent values, as our runtime holds them. */
  latents: Float32Array;
  labels?: Int32Array;
  /** The latents as the ONNX model takes them (channels-first for a torch image latent). */
  onnxLatents: Float32Array;
  oneHot?: Float32Array;
}

/** Seeded N(0, 1) latents (a small xorshift and Box-Muller, the same for every contender) and labels cycling through the classes. */
export function realInputs(model: RealModel, batch: number, seed = 1): RealInputs {
  const size = product(model.latentShape);
  const latents = new Float32Array(batch * size);
  let state = (seed * 2654435761) >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < latents.length; i++) latents[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return inputsOf(model, latents);
}

/** Given latents (as ours hold them) in every form a contender takes them, with labels cycling through the classes. */
export function inputsOf(model: RealModel, latents: Float32Array): RealInputs {
  const batch = latents.length / product(model.latentShape);
  const onnxLatents = model.onnxNchw ? toChannelsFirst(latents, model.latentShape) : latents;
  if (!model.classes) return { batch, latents, onnxLatents };
  const labels = Int32Array.from({ length: batch }, (_, i) => i % model.classes);
  const oneHot = new Float32Array(batch * model.classes);
  labels.forEach((label, i) => (oneHot[i * model.classes + label] = 1));
  return { batch, latents, labels, onnxLatents, oneHot };
}

/** An ONNX model's output as our runtime lays it out (channels-last), for comparison; never in a timed call. */
export function asOurs(model: RealModel, onnxOutput: Float32Array): Float32Array {
  return model.onnxOutputNchw ? toChannelsLast(onnxOutput, model.outputShape) : onnxOutput;
}
