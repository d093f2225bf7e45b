/** Turning a batch of decoded samples into pictures: an RGBA grid, ready for a canvas or a PNG. */
import { InputError } from '../errors.ts';

export interface ImageGrid {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row-major: what ImageData and PNG encoders take. */
  data: Uint8ClampedArray;
}

export interface GridOptions {
  /** Per-sample shape [h, w, c] (c = 1 grey, 3 RGB, 4 RGBA) or [h*w] for square greyscale images. */
  shape: readonly number[];
  /** The range the values lie in, mapped to 0..255 (default [0, 1]). */
  range?: readonly [number, number];
  /** Images per row (default: ceil(sqrt(n))). */
  columns?: number;
  /** Pixels of background between and around images (default 1). */
  padding?: number;
  /** Grey level of the padding, 0..255 (default 0). */
  background?: number;
}

/** Per-sample image geometry from an output shape. */
export function imageShape(shape: readonly number[]): { h: number; w: number; c: number } {
  if (shape.length === 3 && [1, 3, 4].includes(shape[2])) return { h: shape[0], w: shape[1], c: shape[2] };
  if (shape.length === 2) return { h: shape[0], w: shape[1], c: 1 };
  if (shape.length === 1 && Number.isInteger(Math.sqrt(shape[0]))) return { h: Math.sqrt(shape[0]), w: Math.sqrt(shape[0]), c: 1 };
  throw new InputError(`output shape [${shape.join(', ')}] is not an image: expected [h, w, 1|3|4], [h, w] or a square [h*w]`);
}

/** Lays out `samples` (n images, n x h x w x c floats) as a grid of `columns` images per row. */
export function toImageGrid(samples: Float32Array, options: GridOptions): ImageGrid {
  const { h, w, c } = imageShape(options.shape);
  const size = h * w * c;
  if (samples.length % size !== 0) throw new InputError(`${samples.length} values is not a whole number of ${h}x${w}x${c} images`);
  const n = samples.length / size;
  const asked = options.columns ?? Math.max(1, Math.ceil(Math.sqrt(n)));
  if (!Number.isInteger(asked) || asked < 1) throw new InputError(`columns must be a positive integer, got ${asked}`);
  // A row never holds more cells than there are images: 1000 columns of 4 samples would be mostly padding.
  const columns = Math.min(asked, Math.max(n, 1));
  const rows = Math.max(1, Math.ceil(n / columns));
  const pad = options.padding ?? 1;
  const [lo, hi] = options.range ?? [0, 1];
  const width = columns * (w + pad) + pad;
  const height = rows * (h + pad) + pad;
  const data = new Uint8ClampedArray(width * height * 4);
  // Background everywhere, opaque; the images overwrite their own pixels below. (Filling pixel by
  // pixel with data.set([...]) made an array per pixel and took 4x as long.)
  data.fill(options.background ?? 0);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  const toByte = (v: number) => ((v - lo) / (hi - lo)) * 255; // Uint8ClampedArray rounds and clamps
  for (let k = 0; k < n; k++) {
    const x0 = pad + (k % columns) * (w + pad);
    const y0 = pad + Math.floor(k / columns) * (h + pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = k * size + (y * w + x) * c;
        const dst = ((y0 + y) * width + x0 + x) * 4;
        if (c === 1) {
          const v = toByte(samples[src]);
          data[dst] = data[dst + 1] = data[dst + 2] = v;
        } else {
          data[dst] = toByte(samples[src]);
          data[dst + 1] = toByte(samples[src + 1]);
          data[dst + 2] = toByte(samples[src + 2]);
          if (c === 4) data[dst + 3] = toByte(samples[src + 3]);
        }
      }
    }
  }
  return { width, height, data };
}
