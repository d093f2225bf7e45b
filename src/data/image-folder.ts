/**
 * A folder of PNG and JPEG images as a training dataset, decoded once and cached.
 *
 * Layout, as torchvision's ImageFolder: a folder whose subfolders are classes (`cats/1.png`,
 * `dogs/a/2.jpg`: the label is the subfolder's index among them, sorted by name; images may sit
 * deeper inside a class), or a flat folder of images (no labels). Names starting with a dot are
 * ignored; files not ending in .png, .jpg or .jpeg are reported and ignored; the format is read
 * from a file's first bytes (image-decode.ts). Images beside class folders are refused, as is an
 * empty class.
 *
 * Every image is resized and centre-cropped to `imageSize` (default: the images' own size, when
 * all are square and equal) with `channels` 1 or 3 (default: 3 when any image has a pixel that is
 * not grey, else 1); values are byte / 255 as MNIST's. An image that cannot be decoded is named and
 * skipped, and the skips counted; with `strict` the first one is an error.
 *
 * The decoded images are cached in `<cache>/images/` as one file (magic EVIM, a JSON header, u8
 * labels, u8 pixels [count, size, size, channels]) named by the folder's content key (a SHA-256 of
 * every image's path, size and modification time in nanoseconds) and the options that shape the
 * pixels. It is written to a temporary name, synced and renamed, so a reader finds a whole file or
 * none; a file that does not read back whole is rebuilt. A changed, added or removed image changes
 * the key, and so decodes the folder again.
 *
 * The test split is seeded and stratified: from each class (the whole folder when flat)
 * round(n x testSplit) images, at least one and never all, picked by a permutation seeded from
 * `splitSeed` and the class.
 *
 * Node-only: training-side code.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.ts';
import { hashSeed, permutation } from '../train/seeded.ts';
import { defaultCacheDir, type Dataset, type Split } from './datasets.ts';
import { decodeImage, hasColour, IMAGE_EXTENSIONS, resizeAndCrop, toGrey } from './image-decode.ts';

export interface ImageFolderOptions {
  /** Side of the square images trained on; default: the images' own (all square and equal). */
  imageSize?: number;
  /** 1 (grey) or 3 (RGB); default: 3 when any image has colour, else 1. */
  channels?: 1 | 3;
  /** Share of each class held out as the test split, in (0, 1). Default 0.1. */
  testSplit?: number;
  /** Seeds the test split's draw. Default 0. */
  splitSeed?: number;
  /** An image that cannot be decoded is an error instead of skipped. */
  strict?: boolean;
  /** The edgevae cache root; the decoded images go to `<cacheDir>/images`. Default: the user's cache folder. */
  cacheDir?: string;
  /** The environment the default cache folder comes from. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The content key the folder must have (a resumed run's); an error when it changed. */
  expectKey?: string;
  log?: (message: string) => void;
  /** Called after each file while decoding (not when the cache is read). */
  onProgress?: (done: number, total: number) => void;
}

/** A file left out while decoding, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ImageFolderDataset extends Dataset {
  /** The folder's content key (hex): changes when an image is added, removed or modified. */
  key: string;
  /** The cache file the images were read from or written to. */
  cacheFile: string;
  layout: 'classes' | 'flat';
  imageSize: number;
  channels: 1 | 3;
  skipped: SkippedFile[];
}

/** Limits on what a folder may ask for. */
export const IMAGE_FOLDER_LIMITS = {
  minImageSize: 4,
  maxImageSize: 512,
  /** Labels are bytes (Split.labels). */
  maxClasses: 256,
  /** Values held in memory as f32 (count x size x size x channels). */
  maxValues: 2 ** 31 - 1,
} as const;

export const DEFAULT_TEST_SPLIT = 0.1;

/** The cache's file format version; part of each cache file's name, so a change rebuilds. */
const CACHE_VERSION = 1;
const CACHE_MAGIC = 0x4d495645; // "EVIM" little-endian

interface Listing {
  root: string;
  layout: 'classes' | 'flat';
  classes: string[];
  /** Image files, relative to root with '/' separators, in label then name order. */
  files: { path: string; label: number; size: number; mtimeNs: bigint }[];
  /** Files ignored for their extension, relative. */
  ignored: string[];
}

const isHidden = (name: string) => name.startsWith('.');
const isImageName = (name: string) => IMAGE_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const toPosix = (path: string) => path.split(sep).join('/');

/** The entries of `dir` (following links), split into folders and files, hidden ones left out, sorted by name. */
async function entries(dir: string): Promise<{ folders: string[]; files: string[] }> {
  const folders: string[] = [];
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (isHidden(entry.name)) continue;
    let [folder, file] = [entry.isDirectory(), entry.isFile()];
    if (entry.isSymbolicLink()) {
      const target = await stat(join(dir, entry.name)).catch(() => undefined); // undefined: a dangling link
      [folder, file] = [target?.isDirectory() ?? false, target?.isFile() ?? false];
    }
    if (folder) folders.push(entry.name);
    else if (file) files.push(entry.name);
  }
  return { folders: folders.sort(byName), files: files.sort(byName) };
}

/** Every file under `dir`, recursively, relative to `root`. */
async function filesUnder(root: string, dir: string): Promise<string[]> {
  const { folders, files } = await entries(dir);
  const out = files.map((f) => toPosix(relative(root, join(dir, f))));
  for (const folder of folders) out.push(...(await filesUnder(root, join(dir, folder))));
  return out;
}

const listSome = (names: string[], max = 5) => names.slice(0, max).join(', ') + (names.length > max ? ` and ${names.length - max} more` : '');

/** Reads the folder's layout and its image files with their sizes and modification times. */
export async function scanImageFolder(path: string): Promise<Listing> {
  const root = resolve(path);
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new InputError(`${root}: no such folder (give a folder of PNG or JPEG images, or mnist or fashion-mnist)`);
  }
  if (!info.isDirectory()) throw new InputError(`${root} is a file, not a folder of images`);
  const top = await entries(root);
  const layout = top.folders.length > 0 ? 'classes' : 'flat';
  const topImages = top.files.filter(isImageName);
  const ignored = top.files.filter((f) => !isImageName(f));
  const files: Listing['files'] = [];
  const add = async (relativePath: string, label: number) => {
    const s = await stat(join(root, relativePath), { bigint: true });
    files.push({ path: relativePath, label, size: Number(s.size), mtimeNs: s.mtimeNs });
  };
  if (layout === 'classes') {
    if (topImages.length > 0) {
      throw new InputError(
        `${root} holds images (${listSome(topImages)}) beside class folders (${listSome(top.folders)}): put every image in its class's folder, or remove the folders for an unlabelled set`,
      );
    }
    if (top.folders.length > IMAGE_FOLDER_LIMITS.maxClasses) throw new InputError(`${root} has ${top.folders.length} class folders; at most ${IMAGE_FOLDER_LIMITS.maxClasses} are supported`);
    for (const [label, name] of top.folders.entries()) {
      const all = await filesUnder(root, join(root, name));
      const images = all.filter(isImageName);
      ignored.push(...all.filter((f) => !isImageName(f)));
      if (images.length === 0) {
        const others = all.length > 0 ? ` (only ${listSome(all)})` : '';
        throw new InputError(`class folder ${join(root, name)} holds no PNG or JPEG images${others}: add images to it or remove it`);
      }
      for (const image of images) await add(image, label);
    }
  } else {
    for (const image of topImages) await add(image, 0);
  }
  if (files.length === 0) {
    const others = ignored.length > 0 ? `: its ${ignored.length} files are not .png, .jpg or .jpeg (${listSome(ignored)})` : ': it is empty';
    throw new InputError(`${root} holds no PNG or JPEG images${others}`);
  }
  return { root, layout, classes: layout === 'classes' ? top.folders : [], files, ignored };
}

/** The folder's content key: a SHA-256 (128 bits, hex) of every image's path, label, size and modification time. */
export function contentKey(listing: Listing): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ layout: listing.layout, classes: listing.classes }));
  for (const f of listing.files) hash.update(`\n${f.path}\t${f.size}\t${f.mtimeNs}`);
  return hash.digest('hex').slice(0, 32);
}

/** What the cache holds for one folder and one choice of size and channels. */
interface Decoded {
  imageSize: number;
  channels: 1 | 3;
  layout: 'classes' | 'flat';
  classes: string[];
  count: number;
  labels: Uint8Array;
  /** count x imageSize x imageSize x channels bytes. */
  pixels: Uint8Array;
  skipped: SkippedFile[];
}

/**
 * Loads an image folder (see the module comment): from the cache when it holds this folder's
 * contents, else decoded (and cached), then split into train and test.
 */
export async function loadImageFolder(path: string, options: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const log = options.log ?? (() => {});
  const testSplit = options.testSplit ?? DEFAULT_TEST_SPLIT;
  if (!(testSplit > 0 && testSplit < 1)) throw new InputError(`the test split must be a share in (0, 1), got ${testSplit}`);
  checkImageSize(options.imageSize);
  if (options.channels !== undefined && options.channels !== 1 && options.channels !== 3) throw new InputError(`channels must be 1 or 3, got ${options.channels}`);

  const listing = await scanImageFolder(path);
  const key = contentKey(listing);
  if (options.expectKey !== undefined && key !== options.expectKey) {
    throw new InputError(
      `${listing.root} changed since this run started (its contents' key was ${options.expectKey}, now ${key}: images were added, removed or modified); resuming on other images would not continue the run exactly. Restore the folder, or start a new run`,
    );
  }
  if (listing.ignored.length > 0) log(`images: ignored ${listing.ignored.length} files that are not .png, .jpg or .jpeg: ${listSome(listing.ignored)}`);

  const cacheRoot = join(options.cacheDir !== undefined ? resolve(options.cacheDir) : defaultCacheDir(options.env ?? process.env), 'images');
  const cacheFile = join(cacheRoot, `${key}-v${CACHE_VERSION}-${options.imageSize ?? 'native'}-${options.channels ?? 'auto'}.evim`);
  let decoded = await readCache(cacheFile, key, log);
  if (decoded) {
    log(`images: ${listing.root}: ${describe(decoded)}, from the cache ${cacheFile}`);
  } else {
    log(`images: decoding ${listing.files.length} files in ${listing.root} (once: they are cached in ${cacheFile})`);
    decoded = await decodeListing(listing, options);
    await writeCache(cacheFile, key, decoded, log);
    log(`images: ${describe(decoded)}`);
  }
  if (decoded.skipped.length > 0) {
    if (options.strict) {
      const first = decoded.skipped[0];
      throw new InputError(`${join(listing.root, first.file)}: ${first.reason} (--strict: every image must decode)`);
    }
    log(`images: skipped ${decoded.skipped.length} unreadable files (--strict makes them an error): ${decoded.skipped.slice(0, 10).map((s) => `${s.file}: ${s.reason}`).join('; ')}${decoded.skipped.length > 10 ? `; and ${decoded.skipped.length - 10} more` : ''}`);
  }
  const { train, test } = splitDecoded(decoded, listing.root, testSplit, options.splitSeed ?? 0);
  return {
    name: listing.root,
    source: listing.root,
    classes: decoded.classes,
    train,
    test,
    key,
    cacheFile,
    layout: decoded.layout,
    imageSize: decoded.imageSize,
    channels: decoded.channels,
    skipped: decoded.skipped,
  };
}

export function checkImageSize(size: number | undefined): void {
  const { minImageSize: lo, maxImageSize: hi } = IMAGE_FOLDER_LIMITS;
  if (size !== undefined && !(Number.isInteger(size) && size >= lo && size <= hi)) throw new InputError(`the image size must be an integer in ${lo}..${hi}, got ${size}`);
}

function describe(d: Decoded): string {
  const labels = d.layout === 'classes' ? `${d.classes.length} classes` : 'no labels (a flat folder)';
  return `${d.count} images of ${d.imageSize}x${d.imageSize}x${d.channels}, ${labels}`;
}

/** Decodes every file of the listing, resized and cropped, as RGB first (then grey if asked or all grey). */
async function decodeListing(listing: Listing, options: ImageFolderOptions): Promise<Decoded> {
  const total = listing.files.length;
  let size = options.imageSize;
  let sizeFrom: string | undefined; // the image the size was taken from, when not given
  const rgbImages: Uint8Array[] = [];
  const labels: number[] = [];
  const skipped: SkippedFile[] = [];
  let colour = false;
  for (const [done, file] of listing.files.entries()) {
    const path = join(listing.root, file.path);
    let image;
    try {
      image = decodeImage(new Uint8Array(await readFile(path)));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (options.strict) throw new InputError(`${path}: ${reason} (--strict: every image must decode)`);
      skipped.push({ file: file.path, reason });
      options.onProgress?.(done + 1, total);
      continue;
    }
    if (options.imageSize === undefined) {
      if (size === undefined) {
        if (image.width !== image.height) {
          throw new InputError(`${path} is ${image.width}x${image.height}, not square: give --image-size N to resize and centre-crop every image to N x N`);
        }
        size = image.width;
        sizeFrom = file.path;
        checkSideWithoutResize(size, path);
      } else if (image.width !== size || image.height !== size) {
        throw new InputError(
          `images differ in size: ${path} is ${image.width}x${image.height} but ${join(listing.root, sizeFrom!)} is ${size}x${size}; give --image-size N to resize and centre-crop every image to N x N`,
        );
      }
    }
    const rgb = resizeAndCrop(image, size!);
    colour ||= hasColour(rgb);
    rgbImages.push(rgb);
    labels.push(file.label);
    options.onProgress?.(done + 1, total);
  }
  if (rgbImages.length === 0) {
    throw new InputError(`no image in ${listing.root} could be decoded (${skipped.length} tried): ${skipped.slice(0, 5).map((s) => `${s.file}: ${s.reason}`).join('; ')}`);
  }
  if (listing.layout === 'classes') {
    const present = new Set(labels);
    const lost = listing.classes.filter((_, label) => !present.has(label));
    if (lost.length > 0) throw new InputError(`class folder ${join(listing.root, lost[0])} has no image that decodes (all skipped as unreadable): fix or remove them`);
  }
  const channels = options.channels ?? (colour ? 3 : 1);
  const perImage = size! * size! * channels;
  if (rgbImages.length * perImage > IMAGE_FOLDER_LIMITS.maxValues) {
    throw new InputError(`${rgbImages.length} images of ${size}x${size}x${channels} are ${rgbImages.length * perImage} values, more than ${IMAGE_FOLDER_LIMITS.maxValues} held in memory: use a smaller --image-size or fewer images`);
  }
  const pixels = new Uint8Array(rgbImages.length * perImage);
  rgbImages.forEach((rgb, i) => pixels.set(channels === 3 ? rgb : toGrey(rgb), i * perImage));
  return { imageSize: size!, channels, layout: listing.layout, classes: listing.classes, count: rgbImages.length, labels: Uint8Array.from(labels), pixels, skipped };
}

function checkSideWithoutResize(size: number, path: string): void {
  const { minImageSize: lo, maxImageSize: hi } = IMAGE_FOLDER_LIMITS;
  if (size < lo || size > hi) throw new InputError(`${path} is ${size}x${size}; images are trained at ${lo}..${hi} px: give --image-size N to resize them`);
}

const BYTE_TO_UNIT = (() => {
  const lut = new Float32Array(256);
  for (let b = 0; b < 256; b++) lut[b] = b / 255;
  return lut;
})();

/** The seeded, stratified train/test split (see the module comment). */
function splitDecoded(d: Decoded, root: string, testSplit: number, splitSeed: number): { train: Split; test: Split } {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < d.count; i++) {
    const group = groups.get(d.labels[i]);
    if (group) group.push(i);
    else groups.set(d.labels[i], [i]);
  }
  const isTest = new Uint8Array(d.count);
  for (const [label, members] of groups) {
    if (members.length < 2) {
      const what = d.layout === 'classes' ? `class ${d.classes[label]}` : root;
      throw new InputError(`too few images: ${what} has ${members.length} image that decodes, and needs at least 2 (one for training, one for the test split)`);
    }
    const take = Math.min(members.length - 1, Math.max(1, Math.round(members.length * testSplit)));
    const order = permutation(members.length, hashSeed(splitSeed, label));
    for (let k = 0; k < take; k++) isTest[members[order[k]]] = 1;
  }
  const pick = (test: boolean): Split => {
    const indices: number[] = [];
    for (let i = 0; i < d.count; i++) if ((isTest[i] === 1) === test) indices.push(i);
    const perImage = d.imageSize * d.imageSize * d.channels;
    const images = new Float32Array(indices.length * perImage);
    const labels = new Uint8Array(indices.length);
    indices.forEach((index, k) => {
      const src = d.pixels.subarray(index * perImage, (index + 1) * perImage);
      for (let j = 0; j < perImage; j++) images[k * perImage + j] = BYTE_TO_UNIT[src[j]];
      labels[k] = d.labels[index];
    });
    return { images, labels, count: indices.length, rows: d.imageSize, cols: d.imageSize, channels: d.channels };
  };
  return { train: pick(false), test: pick(true) };
}

// ---- the cache file --------------------------------------------------------------------------

interface CacheHeader {
  key: string;
  imageSize: number;
  channels: 1 | 3;
  layout: 'classes' | 'flat';
  classes: string[];
  count: number;
  skipped: SkippedFile[];
}

/** The decoded folder from its cache file; undefined when there is none, or it does not read back whole (it is then rebuilt). */
async function readCache(file: string, key: string, log: (message: string) => void): Promise<Decoded | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    return undefined;
  }
  const bad = (why: string) => {
    log(`images: the cache file ${file} is unusable (${why}); decoding the folder again`);
    return undefined;
  };
  if (bytes.length < 12) return bad('too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== CACHE_MAGIC) return bad('not an edgevae image cache');
  if (view.getUint32(4, true) !== CACHE_VERSION) return bad(`version ${view.getUint32(4, true)}`);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) return bad('truncated header');
  let header: CacheHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength))) as CacheHeader;
  } catch {
    return bad('its header is not JSON');
  }
  if (header.key !== key) return bad('it belongs to other contents');
  const labelsAt = align4(12 + headerLength);
  const pixelsAt = align4(labelsAt + header.count);
  const pixelCount = header.count * header.imageSize * header.imageSize * header.channels;
  if (bytes.length !== pixelsAt + pixelCount) return bad(`${bytes.length} bytes where its header says ${pixelsAt + pixelCount}`);
  return { ...header, labels: bytes.slice(labelsAt, labelsAt + header.count), pixels: bytes.subarray(pixelsAt) };
}

const align4 = (n: number) => (n + 3) & ~3;

/** Writes the cache file through a temporary file, synced, then renamed; a failure leaves nothing and only warns. */
async function writeCache(file: string, key: string, d: Decoded, log: (message: string) => void): Promise<void> {
  const header: CacheHeader = { key, imageSize: d.imageSize, channels: d.channels, layout: d.layout, classes: d.classes, count: d.count, skipped: d.skipped };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const labelsAt = align4(12 + json.length);
  const pixelsAt = align4(labelsAt + d.count);
  const head = new Uint8Array(pixelsAt);
  const view = new DataView(head.buffer);
  view.setUint32(0, CACHE_MAGIC, true);
  view.setUint32(4, CACHE_VERSION, true);
  view.setUint32(8, json.length, true);
  head.set(json, 12);
  head.set(d.labels, labelsAt);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await mkdir(join(file, '..'), { recursive: true });
    const handle = await open(temp, 'w');
    try {
      await handle.write(head);
      await handle.write(d.pixels);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => {});
    log(`images: warning: could not write the cache file ${file} (${(err as Error).message}); the folder will be decoded again next time`);
  }
}
