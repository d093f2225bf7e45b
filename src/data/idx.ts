/**
 * Reader for IDX files, the format of the original MNIST distribution (and Fashion-MNIST, which
 * copies it): a big-endian header `00 00 <type> <ndims>`, then one big-endian u32 per dimension,
 * then the values. Only the two layouts MNIST uses are accepted:
 *   0x00000803: u8 images [count, rows, cols]
 *   0x00000801: u8 labels [count]
 * Files may be gzip-compressed (recognised by the 1f 8b magic, whatever their name) or raw.
 * Every problem is an InputError whose message starts with the file it is about.
 *
 * Node-only (node:zlib, node:fs): this is training-side code, not part of the edge runtime.
 */
import { readFile } from 'node:fs/promises';
import { gunzip, gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { InputError } from '../errors.ts';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** Limits past which a header is taken to be garbage rather than data. */
export const IDX_LIMITS = {
  /** Largest item count in one file (MNIST has 60,000). */
  maxCount: 10_000_000,
  /** Largest image side (MNIST's is 28). */
  maxSide: 4096,
  /** Largest decoded file, in bytes (MNIST's largest is 47 MB). */
  maxBytes: 1 << 30,
} as const;

export interface IdxImages {
  kind: 'images';
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols bytes, row-major, one image after another. */
  pixels: Uint8Array;
}

export interface IdxLabels {
  kind: 'labels';
  count: number;
  labels: Uint8Array;
}

export type IdxFile = IdxImages | IdxLabels;

const gunzipAsync = promisify(gunzip);

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function gunzipError(file: string, err: unknown): InputError {
  const reason = err instanceof RangeError || (err as { code?: string })?.code === 'ERR_BUFFER_TOO_LARGE'
    ? `decompresses to more than ${IDX_LIMITS.maxBytes} bytes`
    : `is not a valid gzip stream (${(err as Error)?.message ?? String(err)}); the file is probably truncated or corrupted`;
  return new InputError(`${file}: ${reason}`, { cause: err });
}

/** Returns the bytes as they are, or gunzipped if they start with the gzip magic. */
export function maybeGunzipSync(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: IDX_LIMITS.maxBytes });
  } catch (err) {
    throw gunzipError(file, err);
  }
}

/** Async form of {@link maybeGunzipSync} (decompresses on the libuv thread pool). */
export async function maybeGunzip(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzipAsync(bytes, { maxOutputLength: IDX_LIMITS.maxBytes });
  } catch (err) {
    throw gunzipError(file, err);
  }
}

const hex8 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

function describeMagic(magic: number): string {
  if (magic === IDX_IMAGES_MAGIC) return 'an IDX image file (magic 0x00000803)';
  if (magic === IDX_LABELS_MAGIC) return 'an IDX label file (magic 0x00000801)';
  if (magic >>> 16 === 0) return `an IDX file of a kind not supported here (magic ${hex8(magic)}; only u8 images 0x00000803 and u8 labels 0x00000801 are)`;
  return `not an IDX file (magic ${hex8(magic)})`;
}

/**
 * Parses decompressed IDX bytes. `file` names the source in error messages. Labels must be at most
 * `maxLabel` (9 for the ten MNIST classes).
 */
export function parseIdx(bytes: Uint8Array, file: string, maxLabel = 9): IdxFile {
  if (bytes.length < 8) {
    throw new InputError(`${file}: truncated: ${bytes.length} bytes is shorter than an IDX header (at least 8 bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IDX_IMAGES_MAGIC && magic !== IDX_LABELS_MAGIC) {
    throw new InputError(`${file}: wrong magic: ${describeMagic(magic)}`);
  }
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new InputError(`${file}: truncated: ${bytes.length} bytes is shorter than its ${headerBytes}-byte IDX header`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const [count, rows = 1, cols = 1] = dims;
  if (count > IDX_LIMITS.maxCount) {
    throw new InputError(`${file}: absurd dimensions: header says ${count} items (more than ${IDX_LIMITS.maxCount})`);
  }
  if (ndims === 3 && (rows < 1 || cols < 1 || rows > IDX_LIMITS.maxSide || cols > IDX_LIMITS.maxSide)) {
    throw new InputError(`${file}: absurd dimensions: header says images of ${rows}x${cols} (each side must be 1..${IDX_LIMITS.maxSide})`);
  }
  const expected = count * rows * cols;
  if (expected > IDX_LIMITS.maxBytes) {
    throw new InputError(`${file}: absurd dimensions: ${count}x${rows}x${cols} is ${expected} bytes (more than ${IDX_LIMITS.maxBytes})`);
  }
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    const what = ndims === 3 ? `${count} images of ${rows}x${cols} (${expected} bytes)` : `${count} labels (${expected} bytes)`;
    const problem = actual < expected ? 'truncated' : 'too long';
    throw new InputError(`${file}: ${problem}: header says ${what} but ${actual} bytes follow the header`);
  }
  const body = bytes.subarray(headerBytes);
  if (ndims === 3) return { kind: 'images', count, rows, cols, pixels: body };
  for (let i = 0; i < body.length; i++) {
    if (body[i]! > maxLabel) {
      throw new InputError(`${file}: label ${i} is ${body[i]}, but labels must be 0..${maxLabel}`);
    }
  }
  return { kind: 'labels', count, labels: body };
}

/** Parses IDX bytes (gzip or raw) that must be an image file. */
export function parseIdxImages(bytes: Uint8Array, file: string): IdxImages {
  const idx = parseIdx(maybeGunzipSync(bytes, file), file);
  if (idx.kind !== 'images') throw new InputError(`${file}: wrong magic: expected an IDX image file (0x00000803) but found ${describeMagic(IDX_LABELS_MAGIC)}`);
  return idx;
}

/** Parses IDX bytes (gzip or raw) that must be a label file. */
export function parseIdxLabels(bytes: Uint8Array, file: string, maxLabel = 9): IdxLabels {
  const idx = parseIdx(maybeGunzipSync(bytes, file), file, maxLabel);
  if (idx.kind !== 'labels') throw new InputError(`${file}: wrong magic: expected an IDX label file (0x00000801) but found ${describeMagic(IDX_IMAGES_MAGIC)}`);
  return idx;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new InputError(`${path}: cannot be read (${(err as Error).message})`, { cause: err });
  }
}

/** Reads an IDX image file from disk (gzip or raw). */
export async function readIdxImages(path: string): Promise<IdxImages> {
  const idx = parseIdx(await maybeGunzip(await readBytes(path), path), path);
  if (idx.kind !== 'images') throw new InputError(`${path}: wrong magic: expected an IDX image file (0x00000803) but found ${describeMagic(IDX_LABELS_MAGIC)}`);
  return idx;
}

/** Reads an IDX label file from disk (gzip or raw). */
export async function readIdxLabels(path: string, maxLabel = 9): Promise<IdxLabels> {
  const idx = parseIdx(await maybeGunzip(await readBytes(path), path), path, maxLabel);
  if (idx.kind !== 'labels') throw new InputError(`${path}: wrong magic: expected an IDX label file (0x00000801) but found ${describeMagic(IDX_IMAGES_MAGIC)}`);
  return idx;
}

/** Checks that an image file and a label file describe the same number of examples. */
export function checkPair(images: IdxImages, labels: IdxLabels, imagesFile: string, labelsFile: string): void {
  if (images.count !== labels.count) {
    throw new InputError(`${imagesFile} has ${images.count} images but ${labelsFile} has ${labels.count} labels; they must be equal`);
  }
}
