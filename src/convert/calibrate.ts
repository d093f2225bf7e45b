/**
 * int8 weights calibrated on the model's own inputs: the f32 model decodes latents drawn from its
 * prior (the inputs it will see), each weighted node's input statistics H = sum x x^T are gathered on
 * the way, and every kernel is rounded with GPTQ (gptq.ts) instead of to nearest. Same file format,
 * same scales, same runtime: only the levels differ, chosen to cancel each other's error on real inputs.
 *
 * What a row of H is, per kind (k indexes one output channel's weights):
 * - dense: k is the input feature; each sample (or each pixel, for a dense layer over an image's
 *   channels) is one observation x.
 * - conv2d: k = (ky, kx, ci) over the group's input channels; each output pixel is one observation,
 *   x being the input values its taps read (zero where a tap falls in the padding).
 * - conv2dTranspose: an output pixel reads only the taps of its phase ((oy + padTop) mod sh, and the
 *   same along x), so H splits into one block per phase and each block is rounded on its own: a
 *   stride-2 4x4 kernel is four independent 2x2 problems, not one 16-tap one.
 * Observations are subsampled to about `maxObservations` per block (seeded), which bounds the time
 * spent in JavaScript on large images; H's estimate needs a few times K of them, not millions.
 */
import { InputError } from '../errors.ts';
import { quantizeInt8PerChannel } from '../format/int8.ts';
import { readModel, type ParsedModel } from '../format/read.ts';
import { outputChannelAxis, type ConvLayer, type DenseLayer } from '../format/spec.ts';
import { convGeometry, type ConvNodeGeometry } from '../layers/conv.ts';
import { kernelIndex, sourceCoordinate } from '../layers/conv-reference.ts';
import type { GraphNode } from '../layers/types.ts';
// The converter runs the model it quantizes, so it needs the runtime's wasm registered (the core carries none).
import '../runtime/embedded.ts';
import { Decoder } from '../runtime/decoder.ts';
import { kernelValues } from '../runtime/reference.ts';
import { hashSeed, seededRandom } from '../train/seeded.ts';
import { gptqRound } from './gptq.ts';

export interface CalibrationOptions {
  /**
   * Latents decoded to gather statistics. Default: as many as fit in about 8 G multiply-adds, 32 to
   * 256. Many different latents matter more than many pixels of a few: on the TAESD-style decoder at a
   * 32x32 latent, 16 latents left 2.7e-2 of output error, 48 left 2.3e-2.
   */
  samples?: number;
  /** Seed of the calibration latents (and labels) and of the subsampling. Default 0. */
  seed?: number;
  /** Observations kept per statistics block over all the samples. Default 16384. */
  maxObservations?: number;
}

/** A weighted node's kernel as int8 levels in the stored layout, with one scale per output channel. */
export interface CalibratedKernel {
  q: Int8Array;
  scales: Float32Array;
}

const MAC_BUDGET = 8e9;
const DEFAULT_OBSERVATIONS = 16384;

/** The int8 kernels of every weighted node of an f32 (or f16) model, by node name. */
export async function calibrateInt8(model: Uint8Array | ParsedModel, options: CalibrationOptions = {}): Promise<Map<string, CalibratedKernel>> {
  const parsed = model instanceof Uint8Array ? readModel(model) : model;
  if (parsed.header.meta.dtype === 'i8') throw new InputError('calibration needs the f32 or f16 model: an int8 file has lost the weights it would round');
  const samples = options.samples ?? Math.max(32, Math.min(256, Math.floor(MAC_BUDGET / Math.max(1, parsed.macsPerSample))));
  if (!Number.isInteger(samples) || samples < 1) throw new InputError(`calibration samples must be a positive integer, got ${samples}`);
  const seed = options.seed ?? 0;
  const stats = new Map<string, Statistics>();
  for (const node of parsed.graph.nodes) {
    const layer = node.layer;
    if (layer.type === 'dense' || layer.type === 'conv2d' || layer.type === 'conv2dTranspose') {
      stats.set(node.name, new Statistics(parsed, node, samples, options.maxObservations, hashSeed(seed, node.index)));
    }
  }
  const decoder = await Decoder.load(parsed.bytes, { maxBatch: Math.min(samples, 64) });
  const latents = decoder.sampleLatents(samples, { seed });
  const classes = parsed.graph.label?.classes ?? 0;
  const random = seededRandom(hashSeed(seed, 1));
  const labels = classes ? Array.from({ length: samples }, () => Math.floor(random() * classes)) : undefined;
  decoder.inspect(latents, labels, (node, batch, input) => stats.get(node.name)?.observe(input(node.inputs[0]), batch));
  return new Map([...stats].map(([name, s]) => [name, s.round()]));
}

/** One weighted node's statistics: H per (group, phase) block, accumulated batch by batch. */
class Statistics {
  private readonly blocks: Block[];
  private readonly random: () => number;

  constructor(private readonly model: ParsedModel, private readonly node: GraphNode, samples: number, maxObservations: number | undefined, seed: number) {
    this.random = seededRandom(seed);
    this.blocks = blocksOf(node);
    for (const block of this.blocks) block.perSample = (maxObservations ?? DEFAULT_OBSERVATIONS) / samples;
  }

  observe(input: Float32Array, batch: number) {
    const layer = this.node.layer as DenseLayer | ConvLayer;
    if (layer.type === 'dense') return this.observeDense(input, batch);
    const g = convGeometry(layer, this.node.inShapes[0], this.node.outShape);
    const { OH, OW, sh, sw, padTop, padLeft, transposed } = g;
    // A transposed conv's output pixels split by phase, each phase a grid of every sh-th row from its first.
    const [py, px] = transposed ? [sh, sw] : [1, 1];
    for (let phase = 0; phase < py * px; phase++) {
      const oy0 = ((Math.floor(phase / px) - padTop) % py + py) % py;
      const ox0 = ((phase % px - padLeft) % px + px) % px;
      const rows = Math.ceil((OH - oy0) / py), columns = Math.ceil((OW - ox0) / px);
      const available = batch * rows * columns;
      for (let group = 0; group < g.groups; group++) {
        const block = this.blocks[group * py * px + phase];
        // Every step-th pixel of the phase from a seeded offset: the block's share for this many samples.
        const step = Math.max(1, Math.floor(available / (block.perSample * batch)));
        for (let p = Math.floor(this.random() * step); p < available; p += step) {
          const n = Math.floor(p / (rows * columns)), rest = p % (rows * columns);
          convObservation(g, input, n, oy0 + Math.floor(rest / columns) * py, ox0 + (rest % columns) * px, block);
          block.add();
        }
      }
    }
  }

  private observeDense(input: Float32Array, batch: number) {
    const block = this.blocks[0];
    const rows = input.length / block.K;
    const step = Math.max(1, Math.floor(rows / (block.perSample * batch)));
    for (let r = Math.floor(this.random() * step); r < rows; r += step) {
      block.x.set(input.subarray(r * block.K, (r + 1) * block.K));
      block.add();
    }
  }

  round(): CalibratedKernel {
    const layer = this.node.layer as DenseLayer | ConvLayer;
    const values = kernelValues(this.model, layer);
    // The scales (and the levels of any weight no block covers) are plain rounding's; GPTQ re-picks the levels.
    const { q, scales } = quantizeInt8PerChannel(values, this.model.header.tensors[layer.kernel].shape, outputChannelAxis(layer.type));
    for (const block of this.blocks) {
      const blockScales = Float32Array.from(block.rows, (oc) => scales[oc]);
      for (const { indices, h } of block.statistics()) {
        const index = (r: number, j: number) => block.kernelIndex(block.rows[r], indices[j]);
        gptqRound(block.rows.length, indices.length, h, blockScales, (r, j) => values[index(r, j)], (r, j, level) => { q[index(r, j)] = level; });
      }
    }
    return { q, scales };
  }
}

/** One statistics block: the output channels (rows) it rounds, its K inputs, where each sits in the kernel, and H. */
class Block {
  readonly h: Float64Array;
  readonly x: Float64Array;
  private readonly nonzero: Int32Array;
  /** Observations to keep per calibration sample. */
  perSample = 0;

  constructor(readonly rows: number[], readonly K: number, readonly kernelIndex: (oc: number, j: number) => number, readonly taps: [number, number][]) {
    this.h = new Float64Array(K * K);
    this.x = new Float64Array(K);
    this.nonzero = new Int32Array(K);
  }

  /**
   * H += x x^T over x's non-zero entries, upper triangle only (mirrored by `statistics`): after a
   * ReLU about half of x is zero, and a transposed conv's or a padded edge's taps more, so this is
   * several times less work than the dense outer product.
   */
  add() {
    const { x, h, K, nonzero } = this;
    let count = 0;
    for (let i = 0; i < K; i++) if (x[i] !== 0) nonzero[count++] = i;
    for (let a = 0; a < count; a++) {
      const i = nonzero[a];
      const xi = x[i];
      const row = i * K;
      for (let b = a; b < count; b++) {
        const j = nonzero[b];
        h[row + j] += xi * x[j];
      }
    }
  }

  /** H, whole (the lower triangle filled from the upper), split into the independent blocks it holds. */
  statistics(): { indices: number[]; h: Float64Array }[] {
    const { h, K } = this;
    for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) h[j * K + i] = h[i * K + j];
    return independentBlocks(h, K);
  }
}

/**
 * H's connected components: inputs never seen non-zero together have nothing to compensate each other
 * with, so each component is rounded on its own (K^3 work becomes the sum of the parts'). A transposed
 * conv from a 1 x 1 input, where each output pixel reads one tap, splits into one block per tap.
 */
function independentBlocks(h: Float64Array, K: number): { indices: number[]; h: Float64Array }[] {
  const parent = Int32Array.from({ length: K }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) if (h[i * K + j] !== 0) parent[find(j)] = find(i);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < K; i++) {
    const root = find(i);
    if (!groups.has(root)) groups.set(root, []);
    groups.get(root)!.push(i);
  }
  if (groups.size === 1) return [{ indices: [...groups.values()][0], h }];
  return [...groups.values()].map((indices) => {
    const k = indices.length;
    const part = new Float64Array(k * k);
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) part[a * k + b] = h[indices[a] * K + indices[b]];
    return { indices, h: part };
  });
}

function blocksOf(node: GraphNode): Block[] {
  const layer = node.layer as DenseLayer | ConvLayer;
  if (layer.type === 'dense') {
    // A dense layer reads the last axis: once per sample for a vector, once per pixel for an image.
    const K = node.inShapes[0][node.inShapes[0].length - 1];
    const units = layer.units;
    return [new Block(range(units), K, (oc, j) => j * units + oc, [])];
  }
  const g = convGeometry(layer, node.inShapes[0], node.outShape);
  const Cg = g.C / g.groups, OCg = g.OC / g.groups;
  const phases: [number, number][] = g.transposed ? range(g.sh * g.sw).map((p) => [Math.floor(p / g.sw), p % g.sw]) : [[-1, -1]];
  const blocks: Block[] = [];
  for (let group = 0; group < g.groups; group++) {
    for (const [py, px] of phases) {
      // The taps this phase reads: for a transposed conv, those with ky*dh = py (mod sh); all of them otherwise.
      const taps: [number, number][] = [];
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
        if (py < 0 || ((ky * g.dh) % g.sh === py && (kx * g.dw) % g.sw === px)) taps.push([ky, kx]);
      }
      const shape = { ...g, batch: 1 };
      blocks.push(new Block(range(OCg).map((o) => group * OCg + o), taps.length * Cg,
        (oc, j) => kernelIndex(shape, taps[Math.floor(j / Cg)][0], taps[Math.floor(j / Cg)][1], group * Cg + (j % Cg), oc), taps));
    }
  }
  return blocks;
}

/** Fills block.x with what output pixel (oy, ox) of sample n reads through the block's taps and channels. */
function convObservation(g: ConvNodeGeometry, input: Float32Array, n: number, oy: number, ox: number, block: Block) {
  const { H, W, C, sh, sw, dh, dw, padTop, padLeft, transposed } = g;
  const Cg = block.K / block.taps.length;
  const c0 = (block.rows[0] / (g.OC / g.groups)) * Cg;
  const x = block.x;
  block.taps.forEach(([ky, kx], t) => {
    const iy = sourceCoordinate(oy, ky, sh, dh, padTop, H, transposed);
    const ix = sourceCoordinate(ox, kx, sw, dw, padLeft, W, transposed);
    const at = t * Cg;
    if (iy < 0 || ix < 0) {
      x.fill(0, at, at + Cg);
      return;
    }
    const base = ((n * H + iy) * W + ix) * C + c0;
    for (let c = 0; c < Cg; c++) x[at + c] = input[base + c];
  });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
