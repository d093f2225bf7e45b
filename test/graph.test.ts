// Format-2 graphs: every layer kind through the wasm executor against the reference decoder, graphs
// that branch and join, slot planning (memory = the peak live set), and the reader's graph checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder } from '../src/index.ts';
import { FormatError, RuntimeError } from '../src/errors.ts';
import { readModel } from '../src/format/read.ts';
import { referenceDecode } from '../src/runtime/reference.ts';
import { planSlots } from '../src/runtime/slots.ts';
import { GraphBuilder } from './helpers/graph-builder.ts';
import { sameBits } from './helpers/numbers.ts';
import { GRAPHS } from './helpers/graph-cases.ts';
import { maxAbsDiff, randomValues, seededRandom } from './helpers/numbers.ts';

const TOLERANCE = { f32: 2e-5, f16: 2e-5, i8: 1e-4 } as const;

/** Decodes a few batches in wasm and in the reference; returns the largest difference relative to the output's spread. */
async function compare(bytes: Uint8Array, batches = [1, 3, 5]): Promise<number> {
  const decoder = await Decoder.load(bytes);
  const model = readModel(bytes);
  const random = seededRandom(5);
  let worst = 0;
  for (const n of batches) {
    const latents = randomValues(n * decoder.info.latentSize, random, 1.5);
    const labels = decoder.info.classes ? Array.from({ length: n }, (_, i) => i % decoder.info.classes) : undefined;
    const got = decoder.decode(latents, labels);
    const want = referenceDecode(model, latents, labels);
    let spread = 0;
    for (const v of want) spread = Math.max(spread, Math.abs(v));
    worst = Math.max(worst, maxAbsDiff(got, want) / Math.max(spread, 1));
  }
  return worst;
}

describe('graph kinds: wasm executor vs the reference decoder', () => {
  for (const [name, build] of Object.entries(GRAPHS)) {
    for (const dtype of ['f32', 'f16', 'i8'] as const) {
      if (dtype === 'i8' && name === 'grouped transposed conv') continue; // int8 refused: its output channels span two kernel axes
      it(`${name} (${dtype})`, async () => {
        const g = new GraphBuilder({ latent: [4, 4, 8], dtype, seed: 3 });
        const diff = await compare(g.write(build(g)));
        assert.ok(diff <= TOLERANCE[dtype], `relative difference ${diff}`);
      });
    }
  }
});

describe('graphs that branch and join', () => {
  it('a residual block needs a third slot only while the skip value waits, and the add writes in place', () => {
    const g = new GraphBuilder({ latent: [4, 4, 8] });
    const inner = g.conv2d('c2', g.conv2d('c1', 'z', 8, 3, { activation: 'relu' }), 8, 3);
    const skip = g.add('binary', 'skip', [inner, 'z'], { op: 'add', activation: 'relu' });
    const plan = planSlots(readModel(g.write(g.conv2d('out', skip, 3, 3, { activation: 'sigmoid' }))).graph);
    assert.equal(plan.slotElements.length, 3, 'z waits for the add while c1 and c2 ping-pong');
    assert.equal(plan.slotOf.get('skip'), plan.slotOf.get('c2'), 'the add writes over c2, which nothing reads later');
  });

  it('a concatenate of the label reads it from the labels, never from a slot', async () => {
    const g = new GraphBuilder({ latent: [6], classes: 4 });
    const joined = g.add('concatenate', 'join', ['label', 'z'], {});
    const bytes = g.write(g.dense('out', joined, 5, 'sigmoid'));
    assert.ok((await compare(bytes)) <= TOLERANCE.f32);
    assert.equal(readModel(bytes).slots.slotOf.has('label'), false);
  });

  it('a chain needs two slots, the peak of two values', () => {
    const g = new GraphBuilder({ latent: [16] });
    const h = g.dense('h', 'z', 64, 'relu');
    const o = g.dense('o', h, 48, 'sigmoid');
    const plan = planSlots(readModel(g.write(o)).graph);
    assert.equal(plan.slotElements.length, 2);
    assert.deepEqual([...plan.slotElements].sort((x, y) => x - y), [48, 64]);
  });

  it('the decoder reports the memory the planned slots need, and refuses a batch over maxMemory', async () => {
    const g = new GraphBuilder({ latent: [4, 4, 8] });
    const bytes = g.write(g.add('resize', 'up', [g.conv2d('c', 'z', 8, 3)], { mode: 'nearest', coordinate: 'asymmetric', size: [64, 64] }));
    const decoder = await Decoder.load(bytes);
    const small = decoder.memoryFor(1);
    const large = decoder.memoryFor(64);
    // Per sample: the resize's output (64 x 64 x 8) and its input's slot, in f32.
    assert.ok(large - small >= 63 * 64 * 64 * 8 * 4, `${large - small}`);
    const tight = await Decoder.load(bytes, { maxMemory: small + 1024 * 1024 });
    assert.throws(() => tight.sample(64), RuntimeError);
  });
});

describe('f16 weights: widened at load, or kept half-size with keepF16', () => {
  // Every weighted path: dense on a vector and over pixels, the im2col GEMM, the direct kernel for few
  // channels, depthwise, grouped, a strided transposed conv (by phases). 62 channels (not whole fours)
  // keep the 3x3 convs off Winograd's tiles, which only the widened kernels take (the next case).
  const build = (channels = 62) => {
    const g = new GraphBuilder({ latent: [6, 5, 8], dtype: 'f16', seed: 9 });
    // Wide convs: the kernels outweigh the biases and padding, for the memory check.
    const wide = g.conv2d('wide', g.conv2d('widest', g.conv2d('in', 'z', channels, 3), channels, 3, { activation: 'relu' }), 16, 3, { activation: 'relu' });
    const few = g.conv2d('few', g.conv2d('depthwise', wide, 16, 3, { groups: 16 }), 3, 3);
    const grouped = g.conv2d('grouped', g.conv2d('mix', few, 8, 1), 8, 3, { groups: 4 });
    const up = g.conv2dTranspose('up', grouped, 6, 4, { pads: [1, 1, 1, 1] });
    return g.write(g.dense('pixels', up, 5, 'tanh'));
  };

  it('give the same bytes either way, batch 1 and 5; kept, the packed weights take about half the wasm memory', async () => {
    const bytes = build();
    const widened = await Decoder.load(bytes);
    const kept = await Decoder.load(bytes, { keepF16: true });
    for (const n of [1, 5]) assert.ok(sameBits(widened.sample(n, { seed: n }), kept.sample(n, { seed: n })), `batch ${n}`);
    assert.ok(kept.info.wasmWeightBytes < 0.6 * widened.info.wasmWeightBytes, `${kept.info.wasmWeightBytes} against ${widened.info.wasmWeightBytes}`);
    assert.equal(widened.info.dtype, 'f16');
  });

  it('widened, 3x3 convs of 64 channels run by Winograd tiles; kept, by the im2col GEMM: the same within rounding', async () => {
    const bytes = build(64);
    const widened = (await Decoder.load(bytes)).sample(5, { seed: 5 });
    const kept = (await Decoder.load(bytes, { keepF16: true })).sample(5, { seed: 5 });
    assert.ok(!sameBits(widened, kept), 'Winograd rounds differently');
    const spread = Math.max(...kept) - Math.min(...kept);
    assert.ok(maxAbsDiff(widened, kept) <= 1e-5 * spread, `${maxAbsDiff(widened, kept)} of a spread of ${spread}`);
  });

  it('refuse a keepF16 that is not a boolean', async () => {
    await assert.rejects(Decoder.load(build(), { keepF16: 'yes' as never }), /keepF16 must be true or false, got "yes"/);
  });
});

describe('the graph reader', () => {
  it('refuses a resize past its factor limit, naming the node', () => {
    const g = new GraphBuilder({ latent: [4, 4, 8] });
    assert.throws(() => g.write(g.add('resize', 'huge', ['z'], { mode: 'nearest', coordinate: 'asymmetric', size: [4096, 4] })), (err: unknown) => err instanceof FormatError && /node "huge".*factor of 64/.test((err as Error).message));
  });

  it('refuses a groupNorm whose groups do not divide the channels', () => {
    const g = new GraphBuilder({ latent: [4, 4, 8] });
    assert.throws(() => g.add('groupNorm', 'gn', ['z'], { groups: 3, epsilon: 1e-5, gamma: g.f32([8]), beta: g.f32([8]), activation: 'linear' }), /do not split into 3 groups/);
  });
});

describe('the wasm interface', () => {
  it('a module built from another src/runtime/abi.ts is refused, saying which versions meet', async () => {
    // (module (func (export "abiVersion") (result i32) i32.const 1)): what a stale edgevae.wasm would answer.
    const stale = Uint8Array.of(
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
      0x03, 0x02, 0x01, 0x00,
      0x07, 0x0e, 0x01, 0x0a, ...new TextEncoder().encode('abiVersion'), 0x00, 0x00,
      0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x01, 0x0b,
    );
    const g = new GraphBuilder({ latent: [4] });
    const bytes = g.write(g.dense('out', 'z', 3, 'sigmoid'));
    await assert.rejects(Decoder.load(bytes, { wasm: stale }), (err: unknown) => err instanceof RuntimeError && /interface version 1 .* this edgevae speaks version 2/.test((err as Error).message));
  });
});
