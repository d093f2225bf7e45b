// Samples from an edgevae model file in Node and writes the pixels of a grid.
// Run: node examples/node/sample.mjs my-decoder.evae
import { readFile } from 'node:fs/promises';
import { Decoder, toImageGrid } from 'edgevae';

const decoder = await Decoder.load(await readFile(process.argv[2] ?? 'my-decoder.evae'));
console.log(decoder.info.latentSize, 'latent dims ->', decoder.info.outputShape);
const pixels = decoder.sample(16, { seed: 1 }); // Float32Array of 16 x 784 values in [0, 1]
const grid = toImageGrid(pixels, { shape: decoder.info.outputShape, range: decoder.info.range, columns: 4 });
console.log(`${pixels.length} values; a ${grid.width}x${grid.height} RGBA grid`);
