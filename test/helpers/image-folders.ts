/**
 * Image folders made from real MNIST and Fashion-MNIST images for the tests: PNG or JPEG, grey or
 * colourised RGB, in class subfolders (named after the classes) or flat.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { imageValues, type Split } from '../../src/data/datasets.ts';

export interface FolderOptions {
  /** Images taken from the split: the first `perClass` of each of `classes` (flat: the first `perClass` of any of them). */
  perClass: number;
  /** Labels taken (default 0..9). */
  classes?: number[];
  format: 'png' | 'jpeg';
  /** Colourise each image: a colour for the ink (by image index) on a dark tinted background. */
  rgb?: boolean;
  /** Class subfolders (default) or one flat folder. */
  layout?: 'classes' | 'flat';
  /** Names of the class folders, by label (default: the label's digits). */
  names?: readonly string[];
}

/** Ink colours, taken in turn by image index (not by class, so colour does not give the class away), and the background they are mixed with. */
const INK = [[255, 80, 40], [60, 200, 90], [70, 110, 255], [250, 210, 40], [200, 60, 220], [40, 220, 230], [255, 150, 180], [150, 90, 40], [240, 240, 240], [120, 255, 120]];
const BACKGROUND = [20, 10, 40];

/** The RGBA pixels of image `index` of a (grey, 28x28) split, grey or colourised. */
export function imageRgba(split: Split, index: number, rgb: boolean): Uint8Array {
  const size = imageValues(split);
  const out = new Uint8Array(size * 4);
  const ink = INK[index % INK.length];
  for (let p = 0; p < size; p++) {
    const v = split.images[index * size + p];
    for (let c = 0; c < 3; c++) out[p * 4 + c] = rgb ? Math.round(BACKGROUND[c] * (1 - v) + ink[c] * v) : Math.round(v * 255);
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** Encodes RGBA pixels as a PNG (grey or RGB, 8 bits) or a JPEG (quality 92). */
export function encodeImage(rgba: Uint8Array, width: number, height: number, format: 'png' | 'jpeg', rgb: boolean): Uint8Array {
  if (format === 'jpeg') return new Uint8Array(jpeg.encode({ width, height, data: rgba }, 92).data);
  const channels = rgb ? 3 : 1;
  const data = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < channels; c++) data[p * channels + c] = rgba[p * 4 + c];
  return encodePng({ width, height, data, channels, depth: 8 });
}

/** Writes a folder of images from `split`, each named after its index in the split. */
export function writeImageFolder(dir: string, split: Split, options: FolderOptions): void {
  const classes = options.classes ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const taken = new Map<number, number>(classes.map((c) => [c, 0]));
  const extension = options.format === 'png' ? 'png' : 'jpg';
  mkdirSync(dir, { recursive: true });
  let written = 0;
  const wanted = options.layout === 'flat' ? options.perClass : options.perClass * classes.length;
  const flat = options.layout === 'flat';
  for (let i = 0; i < split.count && written < wanted; i++) {
    const label = split.labels[i];
    if (!taken.has(label) || (!flat && taken.get(label)! >= options.perClass)) continue;
    taken.set(label, taken.get(label)! + 1);
    const folder = flat ? dir : join(dir, options.names?.[label] ?? String(label));
    mkdirSync(folder, { recursive: true });
    const bytes = encodeImage(imageRgba(split, i, options.rgb ?? false), split.cols, split.rows, options.format, options.rgb ?? false);
    writeFileSync(join(folder, `${String(i).padStart(5, '0')}.${extension}`), bytes);
    written++;
  }
}
