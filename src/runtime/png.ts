/** PNG output (CLI, training runs, the Worker), through fast-png: pure JavaScript, so it runs in Node, workerd, Deno and browsers alike. */
import { encode } from 'fast-png';
import type { ImageGrid } from './image.ts';

/**
 * Encodes a grid as a PNG: greyscale when every pixel is an opaque grey (MNIST-like decoders), which
 * hands the compressor a quarter of the bytes (on a 64-digit grid here, 2.5x faster and 40% smaller
 * than RGBA; it matters where CPU time per request is billed or capped), RGBA otherwise.
 */
export function encodePng(grid: ImageGrid): Uint8Array {
  const { width, height, data } = grid;
  const grey = greyChannel(data);
  if (grey) return encode({ width, height, data: grey, channels: 1, depth: 8 });
  return encode({ width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), channels: 4, depth: 8 });
}

/** The grey level of each pixel, or undefined as soon as one pixel has colour or transparency. */
function greyChannel(rgba: Uint8ClampedArray): Uint8Array | undefined {
  const grey = new Uint8Array(rgba.length / 4);
  for (let p = 0, i = 0; i < rgba.length; p++, i += 4) {
    const v = rgba[i];
    if (rgba[i + 1] !== v || rgba[i + 2] !== v || rgba[i + 3] !== 255) return undefined;
    grey[p] = v;
  }
  return grey;
}
