/**
 * Node-only loading and saving of TensorFlow.js layers models as `model.json` plus weight shards, the
 * layout `model.save('file://...')` and the tfjs converter produce. This works without tfjs-node,
 * whose file:// handler is the only one TensorFlow.js ships for the file system.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';

type ModelJSON = tf.io.ModelJSON;
type WeightsManifestEntry = tf.io.WeightsManifestEntry;
type WeightsManifestGroup = tf.io.WeightsManifestConfig[number];

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

/**
 * Loads a layers model from its `model.json` (or a directory holding one). Shard paths in the weights
 * manifest are relative to the model.json. Throws InputError for a missing or unreadable file, invalid
 * JSON, a missing shard, or shards whose size disagrees with the manifest.
 */
export async function loadSavedModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const jsonPath = await resolveModelJson(modelJsonPath);
  const modelJson = parseModelJson(await readOrExplain(jsonPath, 'model file'), jsonPath);
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, (manifest) => readWeights(manifest, dirname(jsonPath)));
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new InputError(`${jsonPath} does not describe a loadable layers model: ${(err as Error).message}`, { cause: err });
  }
}

async function resolveModelJson(path: string): Promise<string> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read model ${path}: ${explainFsError(err)}`, { cause: err });
  });
  return info.isDirectory() ? join(path, MODEL_JSON) : path;
}

async function readOrExplain(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read ${what} ${path}: ${explainFsError(err as NodeJS.ErrnoException)}`, { cause: err });
  }
}

function explainFsError(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'EISDIR') return 'it is a directory';
  return err.message;
}

function parseModelJson(bytes: Uint8Array, path: string): ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new InputError(`${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${path} must hold a JSON object`);
  const model = json as Record<string, unknown>;
  if (model.format === 'graph-model') {
    throw new InputError(`${path} is a graph model (converted from a SavedModel); edgevae needs a layers model`);
  }
  if (typeof model.modelTopology !== 'object' || model.modelTopology === null) throw new InputError(`${path} has no modelTopology`);
  checkManifest(model.weightsManifest, path);
  return json as ModelJSON;
}

function checkManifest(manifest: unknown, path: string) {
  if (!Array.isArray(manifest)) throw new InputError(`${path} has no weightsManifest array`);
  for (const [i, group] of manifest.entries()) {
    const ok =
      typeof group === 'object' &&
      group !== null &&
      Array.isArray(group.paths) &&
      group.paths.every((p: unknown) => typeof p === 'string' && p.length > 0) &&
      Array.isArray(group.weights);
    if (!ok) throw new InputError(`${path}: weightsManifest[${i}] must have "paths" (file names) and "weights" (specs)`);
  }
}

/** Reads every group's shards in manifest order; the concatenation is what tfjs decodes against the specs. */
async function readWeights(manifest: tf.io.WeightsManifestConfig, dir: string): Promise<[WeightsManifestEntry[], ArrayBuffer]> {
  const specs: WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const [i, group] of manifest.entries()) {
    const shards = await Promise.all(group.paths.map((p) => readOrExplain(resolve(dir, p), `weight shard (listed in weightsManifest[${i}])`)));
    checkGroupSize(group, shards, i, dir);
    specs.push(...group.weights);
    chunks.push(...shards);
  }
  return [specs, concat(chunks)];
}

/** Bytes per element as stored, for dtypes of fixed size (a quantized weight stores its quantized dtype). */
const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function checkGroupSize(group: WeightsManifestGroup, shards: Uint8Array[], index: number, dir: string) {
  let expected = 0;
  for (const weight of group.weights) {
    const storedDtype = weight.quantization?.dtype ?? weight.dtype;
    const bytes = STORED_BYTES[storedDtype];
    if (bytes === undefined) return; // e.g. strings, whose size is data-dependent: let tfjs decode and judge
    expected += (weight.shape ?? []).reduce((a, b) => a * b, 1) * bytes;
  }
  const actual = shards.reduce((sum, s) => sum + s.byteLength, 0);
  if (actual !== expected) {
    const files = group.paths.map((p) => resolve(dir, p)).join(', ');
    throw new InputError(
      `weightsManifest[${index}] describes ${expected} bytes of weights, but its shard file(s) ${files} hold ${actual} bytes (truncated or from another model?)`,
    );
  }
}

function concat(chunks: Uint8Array[]): ArrayBuffer {
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out.buffer;
}

/**
 * Saves a model as `dir/model.json` + `dir/weights.bin`. Both are written to temporary names first and
 * renamed into place, so an interrupted save never leaves a half-written file under the real name.
 * weights.bin is renamed first: model.json is the file readers open, so it goes last.
 */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`cannot create directory ${dir}: ${explainFsError(err)}`, { cause: err });
  });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
      const modelJson: ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeAtomically([
        [join(dir, WEIGHTS_BIN), weightData],
        [join(dir, MODEL_JSON), JSON.stringify(modelJson)],
      ]);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/** Writes every file under a temporary name, then renames them into place in order. */
async function writeAtomically(files: [path: string, data: Uint8Array | string][]) {
  const suffix = `.tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const temps = files.map(([path]) => path + suffix);
  try {
    await Promise.all(files.map(([, data], i) => writeFile(temps[i], data)));
    for (const [i, [path]] of files.entries()) await rename(temps[i], path);
  } catch (err) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    throw new InputError(`cannot save model to ${dirname(files[0][0])}: ${explainFsError(err as NodeJS.ErrnoException)}`, { cause: err });
  }
}
