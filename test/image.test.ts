// Image output: toImageGrid's layout (padding, background, empty cells, alpha) and encodePng, which
// writes greyscale PNGs for grey grids and RGBA otherwise, the same pixels either way, and the same
// bytes fast-png 8's encoder wrote before it was replaced (src/runtime/png.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from 'fast-png';
import { toImageGrid } from '../src/runtime/image.ts';
import { encodePng } from '../src/runtime/png.ts';

const pixel = (grid: { width: number; data: Uint8ClampedArray }, x: number, y: number) => [...grid.data.subarray((y * grid.width + x) * 4, (y * grid.width + x) * 4 + 4)];

describe('toImageGrid', () => {
  it('lays images out in rows with padding, the background opaque around them and in empty cells', () => {
    // Three 2x2 grey images in 2 columns: the fourth cell stays background.
    const samples = Float32Array.from({ length: 12 }, (_, i) => i / 11);
    const grid = toImageGrid(samples, { shape: [2, 2, 1], columns: 2, padding: 1, background: 7 });
    assert.deepEqual([grid.width, grid.height], [7, 7]);
    assert.deepEqual(pixel(grid, 0, 0), [7, 7, 7, 255]);
    assert.deepEqual(pixel(grid, 1, 1), [0, 0, 0, 255]); // image 0, value 0
    assert.deepEqual(pixel(grid, 5, 2), [Math.round((7 / 11) * 255), Math.round((7 / 11) * 255), Math.round((7 / 11) * 255), 255]); // image 1, pixel (1, 1)
    assert.deepEqual(pixel(grid, 4, 4), [7, 7, 7, 255]); // the empty fourth cell
  });

  it('keeps colour channels, and alpha only where the images have one', () => {
    const rgb = toImageGrid(Float32Array.from([1, 0, 0.5]), { shape: [1, 1, 3], padding: 0 });
    assert.deepEqual(pixel(rgb, 0, 0), [255, 0, 128, 255]);
    const rgba = toImageGrid(Float32Array.from([0, 1, 0, 0.2]), { shape: [1, 1, 4], padding: 0 });
    assert.deepEqual(pixel(rgba, 0, 0), [0, 255, 0, 51]);
  });
});

describe('toImageGrid with a range from the file', () => {
  it('maps [-1, 1] to 0..255 per channel, for RGB and grey images alike', () => {
    const rgb = toImageGrid(Float32Array.from([-1, 0, 1, 0.5, -0.5, -2]), { shape: [1, 2, 3], range: [-1, 1], padding: 0 });
    assert.deepEqual([rgb.width, rgb.height], [2, 1]);
    assert.deepEqual(pixel(rgb, 0, 0), [0, 128, 255, 255]);
    assert.deepEqual(pixel(rgb, 1, 0), [191, 64, 0, 255], 'values out of range clamp');
    const grey = toImageGrid(Float32Array.from([-1, 0, 1, 3]), { shape: [2, 2, 1], range: [-1, 1], padding: 0 });
    assert.deepEqual([0, 1, 2, 3].map((i) => pixel(grey, i % 2, Math.floor(i / 2))), [[0, 0, 0, 255], [128, 128, 128, 255], [255, 255, 255, 255], [255, 255, 255, 255]]);
  });

  it('lays out RGB images pixel for pixel, channels-last, each in its cell', () => {
    // Two 2x2 RGB images: sample k, pixel p, channel ch holds (k * 12 + p * 3 + ch) / 23.
    const samples = Float32Array.from({ length: 24 }, (_, i) => i / 23);
    const grid = toImageGrid(samples, { shape: [2, 2, 3], padding: 1, columns: 2 });
    assert.deepEqual([grid.width, grid.height], [7, 4]);
    for (let k = 0; k < 2; k++) for (let p = 0; p < 4; p++) {
      const [x, y] = [1 + k * 3 + (p % 2), 1 + Math.floor(p / 2)];
      assert.deepEqual(pixel(grid, x, y), [0, 1, 2].map((ch) => Math.round(((k * 12 + p * 3 + ch) / 23) * 255)).concat(255), `image ${k}, pixel ${p}`);
    }
  });
});

describe('encodePng', () => {
  it('writes a grey grid as a greyscale PNG of the same pixels', () => {
    const grid = toImageGrid(Float32Array.from({ length: 2 * 16 }, (_, i) => (i % 16) / 15), { shape: [4, 4, 1] });
    const png = decode(encodePng(grid));
    assert.deepEqual([png.width, png.height, png.channels], [grid.width, grid.height, 1]);
    assert.deepEqual([...png.data], [...grid.data].filter((_, i) => i % 4 === 0));
  });

  it('writes colour or transparency as RGBA', () => {
    for (const [values, shape] of [[[1, 0, 0.5], [1, 1, 3]], [[0.5, 0.5, 0.5, 0.5], [1, 1, 4]]] as const) {
      const grid = toImageGrid(Float32Array.from(values), { shape, padding: 0 });
      const png = decode(encodePng(grid));
      assert.equal(png.channels, 4);
      assert.deepEqual([...png.data], [...grid.data]);
    }
  });

  it('writes the bytes fast-png 8 wrote (unfiltered rows, zlib level 3), grey and RGBA, with the sizes at the edges', () => {
    let state = 7;
    const byte = () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24);
    for (const [width, height, grey] of [[1, 1, true], [1, 1, false], [59, 59, true], [30, 7, false], [3, 100, true], [250, 250, false]] as const) {
      const data = new Uint8ClampedArray(width * height * 4);
      for (let p = 0; p < width * height; p++) {
        const v = byte() < 128 ? 0 : byte();
        data.set(grey ? [v, v, v, 255] : [v, byte(), v, byte()], p * 4);
      }
      const expected = grey
        ? encode({ width, height, data: Uint8Array.from({ length: width * height }, (_, p) => data[p * 4]), channels: 1, depth: 8 })
        : encode({ width, height, data: new Uint8Array(data.buffer), channels: 4, depth: 8 });
      assert.deepEqual(encodePng({ width, height, data }), expected, `${width}x${height} ${grey ? 'grey' : 'RGBA'}`);
    }
  });

  it('refuses a grid whose size and pixels disagree', () => {
    assert.throws(() => encodePng({ width: 2, height: 2, data: new Uint8ClampedArray(12) }), /2x2 RGBA pixels are 16 bytes, got 12/);
    assert.throws(() => encodePng({ width: 0, height: 2, data: new Uint8ClampedArray(0) }), /positive integer width and height, got 0x2/);
  });
});
