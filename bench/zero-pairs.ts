/**
 * How many of the (k, k+1) activation pairs each weighted layer reads are zero, alone and in all four
 * rows of a block of four: what the int8 kernel can skip (docs/KERNELS.md, "Blocks of four skip the
 * pairs zero in all four rows"). Activations come from the reference decoder on draws of z ~ N(0, I);
 * a conv layer's rows are its im2col rows (one per output pixel, zero on taps that read nothing), a
 * dense layer's are the samples, in the order the runtime blocks them.
 *
 *   npm run bench:zero-pairs -- --model conv-vae --samples 64
 *
 * Slow (the reference decoder is scalar): about a minute for conv-vae at 64 samples.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { Decoder } from '../src/index.ts';
import { convGeometry, readModel, type GraphNode } from '../src/format/read.ts';
import { product } from '../src/format/spec.ts';
import { referenceValues } from '../src/runtime/reference.ts';
import { integer } from '../src/cli/options.ts';
import { shippedModel } from '../src/node/files.ts';

const program: Command = new Command('npm run bench:zero-pairs --')
  .description('share of zero activation pairs per weighted layer, alone and in blocks of four rows')
  .option('--model <name>', 'a shipped model name or a FILE.evae path', 'conv-vae')
  .option('--samples <n>', 'draws of z (a multiple of 4 keeps every row in a block)', integer(4, 1024), 64)
  .option('--seed <n>', 'seed of the draws', integer(0, 2 ** 31 - 1), 1)
  .parse();
const { model: name, samples, seed } = program.opts<{ model: string; samples: number; seed: number }>();

const path = name.endsWith('.evae') ? name : shippedModel(name);
const bytes = new Uint8Array(readFileSync(path));
const model = readModel(bytes);
const decoder = await Decoder.load(bytes);
const latents = decoder.sampleLatents(samples, { seed });
const classes = model.header.meta.conditioning?.classes;
const labels = classes ? Array.from({ length: samples }, (_, i) => i % classes) : undefined;

/** The rows a weighted step's GEMM reads, from its input activations (all samples). */
function gemmRows(step: GraphNode, input: Float64Array): Float64Array[] {
  const { layer } = step;
  if (layer.type === 'dense') {
    const K = step.inShapes[0][step.inShapes[0].length - 1];
    return Array.from({ length: input.length / K }, (_, r) => input.subarray(r * K, (r + 1) * K));
  }
  if (layer.type !== 'conv2d' && layer.type !== 'conv2dTranspose') return [];
  const g = convGeometry(layer, step.inShapes[0], step.outShape);
  const sampleSize = product(step.inShapes[0]);
  const K = g.kh * g.kw * g.C;
  const rows: Float64Array[] = [];
  for (let s = 0; s < samples; s++) {
    const x = input.subarray(s * sampleSize, (s + 1) * sampleSize);
    for (let oy = 0; oy < g.OH; oy++) for (let ox = 0; ox < g.OW; ox++) {
      const row = new Float64Array(K);
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
        const [iy, ix] = g.transposed ? [(oy + g.padTop - ky) / g.sh, (ox + g.padLeft - kx) / g.sw] : [oy * g.sh + ky - g.padTop, ox * g.sw + kx - g.padLeft];
        if (!Number.isInteger(iy) || !Number.isInteger(ix) || iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
        row.set(x.subarray((iy * g.W + ix) * g.C, (iy * g.W + ix + 1) * g.C), (ky * g.kw + kx) * g.C);
      }
      rows.push(row);
    }
  }
  return rows;
}

const zeroPair = (row: Float64Array, k: number) => row[k] === 0 && (k + 1 >= row.length || row[k + 1] === 0);

const values = referenceValues(model, latents, labels);
for (const [s, step] of model.graph.nodes.entries()) {
  if (step.layer.type !== 'dense' && step.layer.type !== 'conv2d' && step.layer.type !== 'conv2dTranspose') continue;
  // The activations entering node s, as the reference decoder computes them.
  const input = values.get(step.inputs[0])!;
  const rows = gemmRows(step, input);
  const K = rows[0].length, pairs = Math.ceil(K / 2);
  let alone = 0, inBlocks = 0;
  for (const row of rows) for (let k = 0; k < K; k += 2) if (zeroPair(row, k)) alone++;
  const blocks = Math.floor(rows.length / 4);
  for (let b = 0; b < blocks; b++) {
    for (let k = 0; k < K; k += 2) if (rows.slice(4 * b, 4 * b + 4).every((row) => zeroPair(row, k))) inBlocks++;
  }
  const percent = (count: number, of: number) => `${((100 * count) / of).toFixed(1)}%`;
  console.log(`layer ${s} ${step.layer.type}, ${K} inputs, ${rows.length} rows: zero pairs ${percent(alone, rows.length * pairs)} of a row's, ${percent(inBlocks, blocks * pairs)} in all four rows of a block`);
}
