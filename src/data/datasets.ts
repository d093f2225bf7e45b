/**
 * MNIST and Fashion-MNIST for training: finds the four IDX files of a dataset, downloading them
 * into the user's cache when nothing local has them, and decodes them into float images in [0, 1].
 *
 * Where the files come from, first match wins:
 *   1. `options.dir` (the CLI's `--data DIR`). Given but incomplete: an error, never a fallback.
 *   2. The environment: `EDGEVAE_MNIST_DIR` / `EDGEVAE_FASHION_MNIST_DIR` (set but incomplete: an
 *      error), then `EDGEVAE_DATA_DIR/<name>` (skipped if that folder does not exist, an error if it
 *      exists but is incomplete).
 *   3. The cache: `<cacheDir>/<name>`, where cacheDir defaults to `$XDG_CACHE_HOME/edgevae`,
 *      `~/.cache/edgevae`, or `%LOCALAPPDATA%\edgevae` on Windows.
 *   4. System folders: Debian's `/usr/share/datasets/fashion-mnist` (package dataset-fashion-mnist)
 *      for Fashion-MNIST.
 *   5. Unless `download: false`: the public mirrors, into the cache. Each file is written to
 *      `<file>.partial` and renamed only once its md5 matches the published checksum; a failed,
 *      truncated or corrupted transfer leaves nothing behind. Nothing is ever written outside the
 *      cache folder.
 * Each file may be raw (`train-images-idx3-ubyte`) or gzip-compressed (`...-ubyte.gz`); when both
 * exist the raw one is read. Checksums are checked on download only: local folders are trusted
 * (and Debian's copies are recompressed, so their .gz md5s differ from the published ones).
 *
 * Node-only (node:fs, fetch): training-side code.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { checkPair, readIdxImages, readIdxLabels, type IdxImages, type IdxLabels } from './idx.ts';

export type DatasetName = 'mnist' | 'fashion-mnist';

export interface Split {
  /** count x rows*cols*channels values, row-major and channels-last, each byte / 255 so in [0, 1]. */
  images: Float32Array;
  /** A class index per image (0 for all in an unlabelled set). */
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
  /** 1 (grey) or 3 (RGB). */
  channels: number;
}

/** Values per image of a split. */
export const imageValues = (split: Split) => split.rows * split.cols * split.channels;

export interface Dataset {
  /** 'mnist', 'fashion-mnist', or an image folder's path. */
  name: string;
  train: Split;
  test: Split;
  /** The folder the files were read from. */
  source: string;
  /** Class names by label; empty for an unlabelled set. */
  classes: string[];
}

/** Fashion-MNIST's ten classes, by label (zalandoresearch/fashion-mnist's README). */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export interface LoadDatasetOptions {
  /** Read exactly this folder (the CLI's `--data DIR`); an error if it lacks a file. */
  dir?: string;
  /** Where `dir` came from, for messages. Default: 'given as the data folder'. */
  dirOrigin?: string;
  /** The edgevae cache root; files go to `<cacheDir>/<name>`. Default: the user's cache folder. */
  cacheDir?: string;
  /** Set to false to never touch the network. Default true. */
  download?: boolean;
  /** Mirror base URLs to try in order, replacing the dataset's standard ones. */
  mirrors?: string[];
  /** The fetch to download with. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Told which source was used and how a download goes. Default: silent. */
  log?: (msg: string) => void;
  /** The environment to read EDGEVAE_* and the cache location from. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** A download that receives no data for this long is abandoned. Default 60 000 ms. */
  idleTimeoutMs?: number;
  /** The folders OS packages fill, replacing the dataset's own (tests: a machine without them). */
  systemDirs?: readonly string[];
}

/** The four files of a dataset, without the optional `.gz`. */
export const DATASET_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

type FileKey = keyof typeof DATASET_FILES;
const FILE_KEYS = Object.keys(DATASET_FILES) as FileKey[];

export interface DatasetInfo {
  /** The variable naming a folder that holds this dataset. */
  envVar: string;
  /** Base URLs of the standard public mirrors, tried in order; each serves `<file>.gz`. */
  mirrors: readonly string[];
  /** Published md5 of each `<file>.gz`, checked on download. */
  md5: Readonly<Record<FileKey, string>>;
  /** Folders where an OS package may have installed the files. */
  systemDirs: readonly string[];
  /** The Debian package that installs the files into the first of `systemDirs`. */
  debianPackage?: string;
}

export const DATASETS: Readonly<Record<DatasetName, DatasetInfo>> = {
  mnist: {
    envVar: 'EDGEVAE_MNIST_DIR',
    mirrors: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'https://storage.googleapis.com/cvdf-datasets/mnist/'],
    md5: {
      trainImages: 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      trainLabels: 'd53e105ee54ea40749a09fcbcd1e9432',
      testImages: '9fb629c4189551a2d022fa330f9573f3',
      testLabels: 'ec29112dd5afa0611ce80d1b7f02629c',
    },
    systemDirs: [],
  },
  'fashion-mnist': {
    envVar: 'EDGEVAE_FASHION_MNIST_DIR',
    mirrors: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
    md5: {
      trainImages: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      trainLabels: '25c81989df183df01b3e8a0aad5dffbe',
      testImages: 'bef4ecab320f06d8554ea6380940ec79',
      testLabels: 'bb300cfdad3c16e7a12a480ee83cd310',
    },
    systemDirs: ['/usr/share/datasets/fashion-mnist'],
    debianPackage: 'dataset-fashion-mnist',
  },
};

/** The edgevae cache root for this user: `$XDG_CACHE_HOME/edgevae`, `~/.cache/edgevae`, or `%LOCALAPPDATA%\edgevae`. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA || join(homedir(), 'AppData', 'Local');
    return join(local, 'edgevae');
  }
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, 'edgevae');
  return join(env.HOME || homedir(), '.cache', 'edgevae');
}

interface Found {
  dir: string;
  paths: Partial<Record<FileKey, string>>;
  missing: FileKey[];
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Looks for each file, raw first, then `.gz`. */
async function findFiles(dir: string): Promise<Found> {
  const found: Found = { dir, paths: {}, missing: [] };
  for (const key of FILE_KEYS) {
    const raw = join(dir, DATASET_FILES[key]);
    if (await isFile(raw)) found.paths[key] = raw;
    else if (await isFile(raw + '.gz')) found.paths[key] = raw + '.gz';
    else found.missing.push(key);
  }
  return found;
}

/** How to get a dataset, for the messages of a lookup that failed. */
export function howToGet(name: DatasetName): string {
  const info = DATASETS[name];
  const files = FILE_KEYS.map((k) => DATASET_FILES[k] + '.gz').join(', ');
  const debian = info.debianPackage ? `install it with \`apt-get install ${info.debianPackage}\` (Debian and Ubuntu; it goes to ${info.systemDirs[0]}, which edgevae reads), or ` : '';
  return `To get ${name}: ${debian}let edgevae download it into its cache (this needs the network, and neither --data nor ${info.envVar}), or put ${files} in a folder and give it as --data DIR (or set ${info.envVar} to it)`;
}

const missingList = (found: Found) => found.missing.map((k) => DATASET_FILES[k] + '[.gz]').join(', ');

function describeFolder(found: Found, exists: boolean): string {
  if (!exists) return `${found.dir}: no such folder`;
  return `${found.dir}: missing ${missingList(found)}`;
}

/** Uses the folder or throws, for sources the user named explicitly. */
async function requireFolder(name: DatasetName, dir: string, origin: string): Promise<Found> {
  const found = await findFiles(dir);
  if (found.missing.length > 0) {
    const exists = await isDir(dir);
    throw new InputError(`${name}: the folder ${origin} cannot be used: ${describeFolder(found, exists)}. ${howToGet(name)}`);
  }
  return found;
}

const BYTE_TO_UNIT = (() => {
  const lut = new Float32Array(256);
  for (let b = 0; b < 256; b++) lut[b] = b / 255;
  return lut;
})();

function toSplit(images: IdxImages, labels: IdxLabels): Split {
  const out = new Float32Array(images.pixels.length);
  const px = images.pixels;
  for (let i = 0; i < px.length; i++) out[i] = BYTE_TO_UNIT[px[i]!]!;
  return { images: out, labels: labels.labels, count: images.count, rows: images.rows, cols: images.cols, channels: 1 };
}

async function readFound(name: DatasetName, found: Found): Promise<Dataset> {
  const p = found.paths as Record<FileKey, string>;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdxImages(p.trainImages),
    readIdxLabels(p.trainLabels),
    readIdxImages(p.testImages),
    readIdxLabels(p.testLabels),
  ]);
  checkPair(trainImages, trainLabels, p.trainImages, p.trainLabels);
  checkPair(testImages, testLabels, p.testImages, p.testLabels);
  if (trainImages.rows !== testImages.rows || trainImages.cols !== testImages.cols) {
    throw new InputError(
      `${name}: ${p.trainImages} holds ${trainImages.rows}x${trainImages.cols} images but ${p.testImages} holds ${testImages.rows}x${testImages.cols}; train and test must match`,
    );
  }
  const classes = name === 'fashion-mnist' ? FASHION_MNIST_CLASSES : Array.from({ length: 10 }, (_, d) => String(d));
  return { name, train: toSplit(trainImages, trainLabels), test: toSplit(testImages, testLabels), source: found.dir, classes };
}

/** An error's message with its causes, e.g. "terminated (other side closed)". */
function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg && !parts.includes(msg)) parts.push(msg);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.length === 0 ? 'unknown error' : parts[0] + parts.slice(1).map((m) => ` (${m})`).join('');
}

interface DownloadContext {
  name: DatasetName;
  /** The local places looked in first, each with why it did not do, for the message of a failed download. */
  tried: string[];
  fetch: typeof fetch;
  log: (msg: string) => void;
  idleTimeoutMs: number;
}

/** Downloads one URL to `dest` through `dest.partial`, keeping it only if its md5 is `md5`. */
async function downloadOne(ctx: DownloadContext, url: string, dest: string, md5: string): Promise<void> {
  const file = basename(dest);
  const partial = dest + '.partial';
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`no data received for ${ctx.idleTimeoutMs} ms`)), ctx.idleTimeoutMs);
  };
  let fh: FileHandle | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let received = 0;
  let total: number | undefined;
  try {
    arm();
    const res = await ctx.fetch(url, { signal: controller.signal, redirect: 'follow' });
    if (!res.ok) throw new Error(`HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`);
    if (!res.body) throw new Error('the response has no body');
    const length = res.headers.get('content-length');
    if (length !== null && /^\d+$/.test(length.trim())) total = Number(length);
    ctx.log(`${ctx.name}: downloading ${url}${total !== undefined ? ` (${total} bytes)` : ''}`);
    fh = await open(partial, 'w');
    const hash = createHash('md5');
    reader = res.body.getReader();
    let nextReport = 0.1;
    let nextReportBytes = 4 << 20;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        const of = total !== undefined ? ` of ${total}` : '';
        throw new Error(`transfer broke off after ${received}${of} bytes: ${describeError(err)}`, { cause: err });
      }
      if (chunk.done) break;
      arm();
      hash.update(chunk.value);
      await fh.write(chunk.value);
      received += chunk.value.length;
      if (total !== undefined && total > 0) {
        if (received / total >= nextReport && received < total) {
          ctx.log(`${ctx.name}: ${file} ${received} / ${total} bytes (${Math.floor((100 * received) / total)}%)`);
          while (nextReport <= received / total) nextReport += 0.1;
        }
      } else if (received >= nextReportBytes) {
        ctx.log(`${ctx.name}: ${file} ${received} bytes`);
        nextReportBytes += 4 << 20;
      }
    }
    reader = undefined;
    await fh.close();
    fh = undefined;
    if (total !== undefined && received !== total) {
      throw new Error(`truncated transfer: received ${received} bytes but Content-Length said ${total}`);
    }
    const digest = hash.digest('hex');
    if (digest !== md5) throw new Error(`md5 mismatch: got ${digest}, expected the published ${md5} (${received} bytes received)`);
    await rename(partial, dest);
    ctx.log(`${ctx.name}: ${file} ${received} / ${total ?? received} bytes (100%), md5 ok`);
  } catch (err) {
    await reader?.cancel().catch(() => {});
    await fh?.close().catch(() => {});
    await rm(partial, { force: true });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Downloads `<file>.gz` into `dir`, trying each mirror in order. */
async function downloadFile(ctx: DownloadContext, mirrors: readonly string[], dir: string, key: FileKey, md5: string): Promise<void> {
  const file = DATASET_FILES[key] + '.gz';
  const dest = join(dir, file);
  const failures: string[] = [];
  for (let i = 0; i < mirrors.length; i++) {
    const base = mirrors[i]!.endsWith('/') ? mirrors[i]! : mirrors[i]! + '/';
    let url: string;
    try {
      url = new URL(file, base).href;
    } catch {
      failures.push(`${mirrors[i]}: not a valid URL`);
      continue;
    }
    try {
      await downloadOne(ctx, url, dest, md5);
      return;
    } catch (err) {
      const msg = describeError(err);
      failures.push(`${url}: ${msg}`);
      const next = i + 1 < mirrors.length ? '; trying the next mirror' : '';
      ctx.log(`${ctx.name}: ${file} from ${url} failed: ${msg}${next}`);
    }
  }
  throw new InputError(
    `${ctx.name}: could not download ${file} (nothing was kept): ${failures.join('; ')}. Not found locally either: looked in ${ctx.tried.join('; ')}. ${howToGet(ctx.name)}`,
  );
}

/**
 * Loads MNIST or Fashion-MNIST, from the first source that has it (see the module comment), and
 * decodes it. Throws InputError naming the folder, file or mirror when that fails.
 */
export async function loadDataset(name: DatasetName, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const info = Object.hasOwn(DATASETS, name) ? DATASETS[name] : undefined;
  if (!info) {
    throw new InputError(`unknown dataset ${JSON.stringify(name)}: expected one of ${Object.keys(DATASETS).join(', ')}`);
  }
  const log = options.log ?? (() => {});
  const env = options.env ?? process.env;

  // 1. An explicit folder: that folder or an error.
  if (options.dir !== undefined) {
    const dir = resolve(options.dir);
    const origin = options.dirOrigin ?? 'given as the data folder';
    const found = await requireFolder(name, dir, `${dir} (${origin})`);
    log(`${name}: reading ${dir} (${origin})`);
    return readFound(name, found);
  }

  // 2. The environment.
  const specific = env[info.envVar];
  if (specific) {
    const dir = resolve(specific);
    const found = await requireFolder(name, dir, `${dir} (from ${info.envVar})`);
    log(`${name}: reading ${dir} (from ${info.envVar})`);
    return readFound(name, found);
  }
  const tried: string[] = [];
  const general = env.EDGEVAE_DATA_DIR;
  if (general) {
    const dir = join(resolve(general), name);
    if (await isDir(dir)) {
      const found = await requireFolder(name, dir, `${dir} (from EDGEVAE_DATA_DIR)`);
      log(`${name}: reading ${dir} (from EDGEVAE_DATA_DIR)`);
      return readFound(name, found);
    }
    tried.push(`${dir} (from EDGEVAE_DATA_DIR): no such folder`);
  }

  // 3. The cache.
  const cacheRoot = options.cacheDir !== undefined ? resolve(options.cacheDir) : defaultCacheDir(env);
  const cache = join(cacheRoot, name);
  const cached = await findFiles(cache);
  if (cached.missing.length === 0) {
    log(`${name}: reading ${cache} (cache)`);
    return readFound(name, cached);
  }
  const cacheExists = await isDir(cache);
  tried.push(`${describeFolder(cached, cacheExists)} (cache)`);

  // 4. Folders an OS package fills.
  for (const dir of options.systemDirs ?? info.systemDirs) {
    const found = await findFiles(dir);
    if (found.missing.length === 0) {
      log(`${name}: reading ${dir} (system package)`);
      return readFound(name, found);
    }
    tried.push(`${describeFolder(found, await isDir(dir))} (system package)`);
  }

  // 5. Download what the cache lacks.
  const hint = `give a folder with --data DIR or set ${info.envVar}`;
  if (options.download === false) {
    throw new InputError(`${name}: not found and downloading is turned off; looked in ${tried.join('; ')}. ${howToGet(name)}`);
  }
  const mirrors = options.mirrors ?? info.mirrors;
  if (mirrors.length === 0) throw new InputError(`${name}: not found locally (${tried.join('; ')}) and no mirrors were given to download from`);
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new InputError(`${name}: not found locally and no fetch is available to download it; ${hint}`);
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  if (!(idleTimeoutMs > 0)) throw new InputError(`idleTimeoutMs must be a positive number of milliseconds, got ${idleTimeoutMs}`);

  log(`${name}: not found locally; downloading ${cached.missing.map((k) => DATASET_FILES[k] + '.gz').join(', ')} into ${cache}`);
  try {
    await mkdir(cache, { recursive: true });
  } catch (err) {
    throw new InputError(`${name}: cannot create the cache folder ${cache} (${describeError(err)}); ${hint}`, { cause: err });
  }
  const ctx: DownloadContext = { name, tried, fetch: fetchFn, log, idleTimeoutMs };
  for (const key of cached.missing) await downloadFile(ctx, mirrors, cache, key, info.md5[key]);

  const found = await findFiles(cache);
  if (found.missing.length > 0) throw new InputError(`${name}: after downloading, ${describeFolder(found, true)}`);
  log(`${name}: reading ${cache} (cache, just downloaded)`);
  return readFound(name, found);
}
