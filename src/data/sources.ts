/**
 * Which images a run trains on, asked for by name (`mnist`, `fashion-mnist`) or as a folder path,
 * and recorded in the run's config.json as a `DataSpec`, so that `--resume`, `export
 * --prior-components` and `evaluate --run` find the same images with nothing more on the command
 * line: the IDX folder that was read, or the image folder with its content key and the options that
 * shape its pixels.
 */
import { existsSync } from 'node:fs';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.ts';
import { DATASETS, loadDataset, type Dataset, type DatasetName } from './datasets.ts';
import { DEFAULT_TEST_SPLIT, loadImageFolder } from './image-folder.ts';

/** A run's data, as config.json records it. */
export type DataSpec =
  | {
      kind: 'idx';
      name: DatasetName;
      /** The folder the IDX files were read from (absolute). */
      dir: string;
      /** `dir` relative to the run folder ('/'-separated), tried when `dir` is gone (runs from before this have none). */
      relative?: string;
    }
  | {
      kind: 'folder';
      /** The image folder (absolute). */
      path: string;
      /** `path` relative to the run folder ('/'-separated), tried when `path` is gone (runs from before this have none). */
      relative?: string;
      /** Its content key when the run started (image-folder.ts): resuming on changed images is refused. */
      key: string;
      /** The options as given (absent: the images' own size, channels by colour). */
      imageSize?: number;
      channels?: 1 | 3;
      testSplit: number;
      splitSeed: number;
      strict?: boolean;
    };

/** What the command line asks for. */
export interface DataRequest {
  /** 'mnist' (default), 'fashion-mnist' or the path of an image folder. */
  dataset?: string;
  /** The IDX folder of mnist or fashion-mnist. */
  data?: string;
  imageSize?: number;
  channels?: 1 | 3;
  testSplit?: number;
  strict?: boolean;
}

export interface LoadDataOptions {
  log?: (message: string) => void;
  /** Progress of decoding an image folder (not called when its cache is read). */
  onProgress?: (done: number, total: number) => void;
  /** The edgevae cache root (tests); default: the user's. */
  cacheDir?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface LoadedData {
  dataset: Dataset;
  spec: DataSpec;
  /** The short name a run records as its dataset: mnist, fashion-mnist, or the folder's name. */
  label: string;
}

const isIdxName = (value: string): value is DatasetName => Object.hasOwn(DATASETS, value);

/** Loads what the command line asks for, refusing options that do not apply to it. */
export async function loadRequestedData(request: DataRequest, options: LoadDataOptions = {}): Promise<LoadedData> {
  const dataset = request.dataset ?? 'mnist';
  if (isIdxName(dataset)) {
    const folderOnly = [
      request.imageSize !== undefined && '--image-size',
      request.channels !== undefined && '--channels',
      request.testSplit !== undefined && '--test-split',
      request.strict && '--strict',
    ].filter(Boolean);
    if (folderOnly.length > 0) {
      throw new InputError(`${folderOnly.join(', ')} ${folderOnly.length === 1 ? 'applies' : 'apply'} to image folders; ${dataset} is 28x28 greyscale with its own test split (to read a folder named ${dataset}, write ./${dataset})`);
    }
    const loaded = await loadDataset(dataset, { dir: request.data, log: options.log, cacheDir: options.cacheDir, env: options.env });
    return { dataset: loaded, spec: { kind: 'idx', name: dataset, dir: loaded.source }, label: dataset };
  }
  if (request.data !== undefined) {
    throw new InputError(`--data names the folder of MNIST's or Fashion-MNIST's IDX files; an image folder is given as --dataset PATH alone`);
  }
  const testSplit = request.testSplit ?? DEFAULT_TEST_SPLIT;
  const loaded = await loadImageFolder(dataset, { imageSize: request.imageSize, channels: request.channels, testSplit, strict: request.strict, ...options });
  const spec: DataSpec = {
    kind: 'folder',
    path: loaded.source,
    key: loaded.key,
    ...(request.imageSize !== undefined ? { imageSize: request.imageSize } : {}),
    ...(request.channels !== undefined ? { channels: request.channels } : {}),
    testSplit,
    splitSeed: 0,
    ...(request.strict ? { strict: true } : {}),
  };
  return { dataset: loaded, spec, label: basename(loaded.source) };
}

/** `spec` with its folder's place relative to the run folder `runDir` recorded too, for when both move together. */
export function withRunRelativePath(spec: DataSpec, runDir: string): DataSpec {
  const place = relative(resolve(runDir), spec.kind === 'idx' ? spec.dir : spec.path);
  if (place === '' || isAbsolute(place)) return spec; // another drive (Windows): no relative way there
  return { ...spec, relative: place.split(sep).join('/') };
}

/** Where a run's recorded data may be found instead, when it moved. */
export interface DataOverrides {
  /** An IDX run's folder. */
  data?: string;
  /** An image-folder run's folder (its contents must be the same). */
  dataset?: string;
  /** The run folder, which the recorded folder's relative place is resolved from. */
  runDir?: string;
}

/**
 * The recorded folder `recorded` where it still is; else, when the run recorded its place relative to
 * the run folder (`relative`) and it is there (the run and its data moved together), that one;
 * else undefined.
 */
function recordedFolder(recorded: string, relativePlace: string | undefined, runDir: string | undefined): { path: string; origin: string } | undefined {
  if (existsSync(recorded)) return { path: recorded, origin: 'recorded in the run' };
  if (relativePlace === undefined || runDir === undefined) return undefined;
  const beside = resolve(runDir, relativePlace);
  return existsSync(beside) ? { path: beside, origin: `recorded in the run as ${recorded}, found at ${relativePlace} from the moved run folder` } : undefined;
}

/** Why the recorded folder was not found, and how to give its new place. */
function goneMessage(what: string, recorded: string, relativePlace: string | undefined, runDir: string | undefined, option: string): string {
  const beside = relativePlace !== undefined && runDir !== undefined ? `, nor at ${resolve(runDir, relativePlace)} (its place relative to the run folder)` : '';
  return `the run's ${what} ${recorded} is gone${beside}; if it moved, give its new place with ${option}`;
}

/**
 * Loads a run's data from what it recorded (`spec`); runs from before the record name only their
 * dataset (`name`), found as a new run would find it. A recorded folder that is gone is looked for
 * at its place relative to the run folder (`overrides.runDir`), when the run recorded one.
 */
export async function loadRecordedData(spec: DataSpec | undefined, name: string, overrides: DataOverrides = {}, options: LoadDataOptions = {}): Promise<Dataset> {
  if (!spec) {
    if (!isIdxName(name)) throw new InputError(`the run's dataset ${JSON.stringify(name)} is not one edgevae knows (${Object.keys(DATASETS).join(', ')})`);
    if (overrides.dataset !== undefined && overrides.dataset !== name) throw new InputError(`this run trained on ${name}; --dataset cannot change that`);
    return loadDataset(name, { dir: overrides.data, log: options.log, cacheDir: options.cacheDir, env: options.env });
  }
  if (spec.kind === 'idx') {
    if (overrides.dataset !== undefined && overrides.dataset !== spec.name) throw new InputError(`this run trained on ${spec.name}; --dataset cannot change that (--data DIR gives its folder if it moved)`);
    if (overrides.data !== undefined) return loadDataset(spec.name, { dir: overrides.data, dirOrigin: 'given as the data folder', log: options.log, cacheDir: options.cacheDir, env: options.env });
    const found = recordedFolder(spec.dir, spec.relative, overrides.runDir);
    if (!found) throw new InputError(goneMessage(`${spec.name} folder`, spec.dir, spec.relative, overrides.runDir, '--data DIR'));
    return loadDataset(spec.name, { dir: found.path, dirOrigin: `${found.origin}; give --data DIR if it moved`, log: options.log, cacheDir: options.cacheDir, env: options.env });
  }
  if (overrides.data !== undefined) throw new InputError(`this run trained on the image folder ${spec.path}; if it moved, give its new place as --dataset PATH (not --data)`);
  let path = overrides.dataset;
  if (path === undefined) {
    const found = recordedFolder(spec.path, spec.relative, overrides.runDir);
    if (!found) throw new InputError(goneMessage('image folder', spec.path, spec.relative, overrides.runDir, '--dataset PATH'));
    if (found.path !== spec.path) options.log?.(`images: the run's folder ${spec.path} is gone; reading ${found.path}, where it sits relative to the moved run folder`);
    path = found.path;
  }
  return loadImageFolder(path, {
    imageSize: spec.imageSize,
    channels: spec.channels,
    testSplit: spec.testSplit,
    splitSeed: spec.splitSeed,
    strict: spec.strict,
    expectKey: spec.key,
    ...options,
  });
}
