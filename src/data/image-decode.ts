/**
 * Decoding one image file for training: PNG (through fast-png, the package's PNG encoder too) or
 * JPEG (through jpeg-js), both pure JavaScript, recognised by their first bytes whatever the file is
 * called; then resizing and centre-cropping to a square.
 *
 * - Every image becomes 8-bit RGB. Greyscale is copied to the three channels; a palette is looked
 *   up; 16-bit samples keep their high byte (rounded); alpha is composited onto black (a transparent
 *   pixel is black, as MNIST's background is).
 * - Resize and crop, as torchvision's `Resize(N)` then `CenterCrop(N)`: the shorter side is scaled to
 *   N (the longer one to floor(N x long / short)) with an antialiased bilinear filter (a triangle
 *   filter widened by the reduction factor when shrinking, so every source pixel counts: PIL's and
 *   torchvision's `BILINEAR` with antialiasing), and the middle N x N is kept (for an odd margin, the
 *   extra pixel is cut at the bottom or right). An image already N x N is copied as it is.
 * - Greyscale from RGB is ITU-R BT.601 luma, (299 R + 587 G + 114 B) / 1000 rounded, which leaves a
 *   grey pixel (R = G = B) unchanged.
 *
 * Errors are plain `ImageDecodeError`s saying what is wrong with the bytes; the folder loader names
 * the file and decides whether to skip it.
 */
import { decode as decodePng, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';

/** What is wrong with one file's bytes (no file name: the caller adds it). */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

/** An image as 8-bit RGB, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** The largest image decoded, in pixels (a 100-megapixel photo; jpeg-js's own default limit). */
export const MAX_IMAGE_PIXELS = 100_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** 'png' or 'jpeg' from the file's first bytes, or undefined for anything else. */
export function imageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** File extensions taken as images when scanning a folder (the content decides the format). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** Decodes PNG or JPEG bytes to 8-bit RGB. Throws ImageDecodeError saying what is wrong. */
export function decodeImage(bytes: Uint8Array): RgbImage {
  const format = imageFormat(bytes);
  if (format === 'png') return decodePngRgb(bytes);
  if (format === 'jpeg') return decodeJpegRgb(bytes);
  if (bytes.length === 0) throw new ImageDecodeError('empty file');
  throw new ImageDecodeError('neither a PNG nor a JPEG (its first bytes are neither signature)');
}

const IEND = [0x49, 0x45, 0x4e, 0x44];

/** True when `pattern` occurs in the last `window` bytes. */
function endsWithin(bytes: Uint8Array, pattern: readonly number[], window: number): boolean {
  for (let at = bytes.length - pattern.length; at >= Math.max(0, bytes.length - window); at--) {
    if (pattern.every((b, i) => bytes[at + i] === b)) return true;
  }
  return false;
}

function decodePngRgb(bytes: Uint8Array): RgbImage {
  // fast-png's own messages for a cut file ("Offset is outside the bounds of the DataView") say
  // nothing of the cause; a PNG ends with its IEND chunk, so check for it first.
  if (!endsWithin(bytes, IEND, 64)) throw new ImageDecodeError('truncated PNG: it ends before its IEND chunk');
  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(bytes, { checkCrc: true });
  } catch (err) {
    throw new ImageDecodeError(`corrupt PNG (${(err as Error).message.trim().replace(/:$/, '')})`, { cause: err });
  }
  const { width, height } = png;
  checkPixels(width, height);
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  if (png.palette) {
    const entries = convertIndexedToRgb(png);
    const c = png.palette[0].length; // 3, or 4 with a tRNS chunk
    for (let i = 0; i < n; i++) writePixel(rgb, i, entries[i * c], entries[i * c + 1], entries[i * c + 2], c === 4 ? entries[i * c + 3] : 255);
    return { width, height, rgb };
  }
  const c = png.channels;
  const samples = png.depth === 16 ? to8Bit(png.data as Uint16Array) : png.depth < 8 ? unpackGrey(png.data as Uint8Array, width, height, png.depth) : (png.data as Uint8Array);
  for (let i = 0; i < n; i++) {
    const s = i * c;
    if (c === 1) writePixel(rgb, i, samples[s], samples[s], samples[s], 255);
    else if (c === 2) writePixel(rgb, i, samples[s], samples[s], samples[s], samples[s + 1]);
    else writePixel(rgb, i, samples[s], samples[s + 1], samples[s + 2], c === 4 ? samples[s + 3] : 255);
  }
  return { width, height, rgb };
}

/** 16-bit samples to 8 bits, rounded (65535 → 255). */
function to8Bit(data: Uint16Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(data[i] / 257);
  return out;
}

/** Greyscale rows packed at 1, 2 or 4 bits per sample (each row starts on a byte) to one byte per pixel, scaled to 0..255. */
function unpackGrey(data: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const max = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)];
      const value = (byte >> (8 - depth - (bit & 7))) & max;
      out[y * width + x] = Math.round((value * 255) / max);
    }
  }
  return out;
}

/** Pixel i as RGB, composited onto black by its alpha. */
function writePixel(rgb: Uint8Array, i: number, r: number, g: number, b: number, a: number): void {
  if (a === 255) {
    rgb[i * 3] = r;
    rgb[i * 3 + 1] = g;
    rgb[i * 3 + 2] = b;
  } else {
    rgb[i * 3] = Math.round((r * a) / 255);
    rgb[i * 3 + 1] = Math.round((g * a) / 255);
    rgb[i * 3 + 2] = Math.round((b * a) / 255);
  }
}

const EOI = [0xff, 0xd9];

function decodeJpegRgb(bytes: Uint8Array): RgbImage {
  // jpeg-js reports a cut file as "marker was not found"; a JPEG ends with its EOI marker (some
  // cameras append a few bytes after it).
  if (!endsWithin(bytes, EOI, 1024)) throw new ImageDecodeError('truncated JPEG: it ends before its end-of-image marker');
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 1024,
    });
  } catch (err) {
    throw new ImageDecodeError(`corrupt JPEG (${(err as Error).message})`, { cause: err });
  }
  checkPixels(image.width, image.height);
  return { width: image.width, height: image.height, rgb: image.data };
}

function checkPixels(width: number, height: number): void {
  if (!(width >= 1 && height >= 1)) throw new ImageDecodeError(`empty image (${width}x${height})`);
  if (width * height > MAX_IMAGE_PIXELS) throw new ImageDecodeError(`${width}x${height} is more than ${MAX_IMAGE_PIXELS / 1e6} megapixels`);
}

/** One axis of a resampling: for each output index, the first source index and its weights. */
interface AxisWeights {
  first: Int32Array;
  count: Int32Array;
  /** Weights per output, `stride` slots each (the first `count[o]` used), summing to 1. */
  weights: Float64Array;
  stride: number;
}

/**
 * Weights of a triangle filter resampling `inSize` source pixels to `scaledSize`, for the outputs
 * `offset` .. `offset + outSize - 1` of the scaled axis (the crop window).
 */
function axisWeights(inSize: number, scaledSize: number, offset: number, outSize: number): AxisWeights {
  const scale = inSize / scaledSize;
  const support = Math.max(scale, 1); // the filter's half-width in source pixels
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let o = 0; o < outSize; o++) {
    const centre = (offset + o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    let total = 0;
    let n = 0;
    for (let i = lo; i < hi && n < stride; i++, n++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      weights[o * stride + n] = w;
      total += w;
    }
    for (let k = 0; k < n; k++) weights[o * stride + k] /= total;
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, stride };
}

/** The scaled size of each side when the shorter is scaled to `size`: [width, height]. */
export function scaledSides(width: number, height: number, size: number): [number, number] {
  if (width <= height) return [size, Math.max(size, Math.floor((size * height) / width))];
  return [Math.max(size, Math.floor((size * width) / height)), size];
}

/**
 * The image's shorter side scaled to `size` (antialiased bilinear) and the middle size x size kept,
 * as RGB bytes (see the module comment).
 */
export function resizeAndCrop(image: RgbImage, size: number): Uint8Array {
  const { width, height, rgb } = image;
  if (width === size && height === size) return rgb;
  const [scaledW, scaledH] = scaledSides(width, height, size);
  const xs = axisWeights(width, scaledW, Math.floor((scaledW - size) / 2), size);
  const ys = axisWeights(height, scaledH, Math.floor((scaledH - size) / 2), size);
  // Rows first (every source row, the output's columns), then columns.
  const rows = new Float64Array(height * size * 3);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < size; o++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < xs.count[o]; k++) {
        const w = xs.weights[o * xs.stride + k];
        const s = (y * width + xs.first[o] + k) * 3;
        r += w * rgb[s];
        g += w * rgb[s + 1];
        b += w * rgb[s + 2];
      }
      const d = (y * size + o) * 3;
      rows[d] = r;
      rows[d + 1] = g;
      rows[d + 2] = b;
    }
  }
  const out = new Uint8Array(size * size * 3);
  for (let o = 0; o < size; o++) {
    for (let x = 0; x < size; x++) {
      for (let ch = 0; ch < 3; ch++) {
        let v = 0;
        for (let k = 0; k < ys.count[o]; k++) v += ys.weights[o * ys.stride + k] * rows[((ys.first[o] + k) * size + x) * 3 + ch];
        out[(o * size + x) * 3 + ch] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return out;
}

/** True when some pixel of the RGB bytes is not grey (R, G and B not all equal). */
export function hasColour(rgb: Uint8Array): boolean {
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] !== rgb[i + 1] || rgb[i + 1] !== rgb[i + 2]) return true;
  return false;
}

/** RGB bytes to one byte per pixel: BT.601 luma, exact for grey pixels. */
export function toGrey(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor((299 * rgb[i * 3] + 587 * rgb[i * 3 + 1] + 114 * rgb[i * 3 + 2] + 500) / 1000);
  return out;
}
