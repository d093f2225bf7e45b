// One decode shared by threads (Decoder.load's `threads`, src/runtime/threads.ts): each conv2d's output
// rows split into bands, one per thread, on one shared wasm memory. The bytes must be one thread's for
// every conv geometry (bands cut at every kind of edge: padding, stride, dilation, groups, the direct
// kernel for few channels), for what runs whole on thread 0 (transposed convs, int8 convs, small
// convs, every other op), and for real PyTorch decoders; and misuse gets a clear error.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Decoder } from '../src/node/index.ts';
import { importOnnx } from '../src/import/onnx.ts';
import { InputError } from '../src/errors.ts';
import type { DType } from '../src/format/spec.ts';
import { GraphBuilder } from './helpers/graph-builder.ts';
import { sameBits } from './helpers/numbers.ts';

type Build = (g: GraphBuilder) => string;

/** Conv chains on an odd-sized image latent, so bands of 2, 3 and 5 threads end at uneven rows. */
const GEOMETRIES: Record<string, { latent: number[]; build: Build }> = {
  '3x3, pad 1, 16 → 16 channels (the direct kernel; int8: im2col GEMM)': { latent: [23, 9, 16], build: (g) => g.conv2d('c', 'z', 16, 3, { activation: 'relu' }) },
  // 23 rows: bands of 2, 3 and 5 threads rounded down to even rows, where a Winograd tile starts.
  '3x3, pad 1, 24 → 20 channels (Winograd tiles; int8: im2col GEMM)': { latent: [23, 9, 24], build: (g) => g.conv2d('c', 'z', 20, 3, { activation: 'relu' }) },
  '3x3, pads [0, 1, 1, 2], 20 → 24 channels, sigmoid (Winograd tiles)': { latent: [22, 7, 20], build: (g) => g.conv2d('c', 'z', 24, 3, { pads: [0, 1, 1, 2], activation: 'sigmoid' }) },
  '5x5, asymmetric pads [2, 1, 0, 2]': { latent: [21, 8, 6], build: (g) => g.conv2d('c', 'z', 7, 5, { pads: [2, 1, 0, 2] }) },
  'stride 2, 3x3, pad 1': { latent: [25, 11, 8], build: (g) => g.conv2d('c', 'z', 9, 3, { strides: [2, 2] }) },
  'stride 2 with no padding, k 4': { latent: [26, 10, 5], build: (g) => g.conv2d('c', 'z', 6, 4, { strides: [2, 2], pads: [0, 0, 0, 0] }) },
  'dilation 2': { latent: [22, 9, 8], build: (g) => g.conv2d('c', 'z', 5, 3, { dilations: [2, 2], pads: [2, 2, 2, 2] }) },
  'dilation 3 with asymmetric pads': { latent: [24, 9, 4], build: (g) => g.conv2d('c', 'z', 6, 3, { dilations: [3, 2], pads: [1, 2, 3, 0] }) },
  'grouped (4 groups)': { latent: [20, 7, 12], build: (g) => g.conv2d('c', 'z', 8, 3, { groups: 4, activation: 'relu' }) },
  'depthwise': { latent: [21, 10, 8], build: (g) => g.conv2d('c', 'z', 8, 3, { groups: 8, activation: 'leakyRelu', alpha: 0.1 }) },
  '1x1 (GEMM)': { latent: [19, 9, 24], build: (g) => g.conv2d('c', 'z', 10, 1) },
  'few channels, 3 → 2 (the direct kernel)': { latent: [23, 13, 3], build: (g) => g.conv2d('c', 'z', 2, 3, { activation: 'tanh' }) },
  'a chain: conv, upsample, residual add, conv to RGB': {
    latent: [12, 8, 8],
    build: (g) => {
      const up = g.add('resize', 'up', [g.conv2d('c0', 'z', 8, 3, { activation: 'relu' })], { mode: 'nearest', coordinate: 'asymmetric', nearest: 'floor', size: [24, 16] });
      const block = g.add('binary', 'skip', [g.conv2d('c1', up, 8, 3), up], { op: 'add', activation: 'relu' });
      return g.conv2d('rgb', block, 3, 3, { activation: 'sigmoid' });
    },
  },
  'transposed conv, stride 2 (runs whole on thread 0), then a conv': {
    latent: [10, 6, 8],
    build: (g) => g.conv2d('c', g.conv2dTranspose('up', 'z', 8, 4, { pads: [1, 1, 1, 1], activation: 'relu' }), 4, 3),
  },
  'too few rows to split (4 per thread at least)': { latent: [5, 5, 8], build: (g) => g.conv2d('c', 'z', 8, 3) },
};

const opened: Decoder[] = [];
after(() => Promise.all(opened.map((d) => d.close())));

async function load(bytes: Uint8Array, threads: number): Promise<Decoder> {
  const decoder = await Decoder.load(bytes, { threads });
  opened.push(decoder);
  return decoder;
}

describe('one decode shared by threads', () => {
  for (const dtype of ['f32', 'f16', 'i8'] as DType[]) {
    for (const [name, { latent, build }] of Object.entries(GEOMETRIES)) {
      // Every thread count on f32; f16 and int8 (whose convs run whole) on one, as starting threads costs time.
      const counts = dtype === 'f32' ? [2, 5] : [3];
      it(`${name}, ${dtype}: ${counts.join(' and ')} threads give one thread's bytes, batch 1 and 3`, async () => {
        const g = new GraphBuilder({ latent, dtype, seed: 7 });
        const bytes = g.write(build(g));
        const one = await load(bytes, 1);
        for (const threads of counts) {
          const shared = await load(bytes, threads);
          assert.equal(shared.info.threads, threads);
          for (const n of [1, 3]) assert.ok(sameBits(shared.sample(n, { seed: n }), one.sample(n, { seed: n })), `${threads} threads, batch ${n}`);
          await shared.close();
        }
      });
    }
  }

  const TORCH = new URL('./fixtures/torch/', import.meta.url);
  for (const fixture of ['taesd-4ch-32', 'taesd-32ch-32', 'pytorch-vae']) {
    it(`${fixture} (torch.onnx.export): 2 threads give one thread's bytes, and the profile runs`, async () => {
      const bytes = importOnnx(new Uint8Array(readFileSync(new URL(`${fixture}.onnx`, TORCH))));
      const one = await load(bytes, 1);
      const two = await load(bytes, 2);
      assert.ok(sameBits(two.sample(2, { seed: 11 }), one.sample(2, { seed: 11 })));
      const latents = one.sampleLatents(1, { seed: 5 });
      const profiled = two.profile(latents);
      assert.ok(sameBits(profiled.output, one.decode(latents)));
      assert.equal(profiled.layerMs.length, one.info.layers.length);
    });
  }

  it('a closed decoder refuses to decode, and close() twice is fine', async () => {
    const g = new GraphBuilder({ latent: [8, 8, 4] });
    const shared = await load(g.write(g.conv2d('c', 'z', 4, 3)), 2);
    await shared.close();
    await shared.close();
    assert.throws(() => shared.sample(1), (err: Error) => err instanceof InputError && /closed: its threads have ended/.test(err.message));
  });

  it('refuses a thread count out of 1..48, relaxed SIMD with threads, and a wasm of its own', async () => {
    const g = new GraphBuilder({ latent: [8, 8, 4] });
    const bytes = g.write(g.conv2d('c', 'z', 4, 3));
    for (const threads of [0, 49, 1.5, Number.NaN]) {
      await assert.rejects(Decoder.load(bytes, { threads }), /threads must be an integer in 1\.\.48/);
    }
    await assert.rejects(Decoder.load(bytes, { threads: 2, simd: 'relaxed' }), /the threads build is strict SIMD only/);
    await assert.rejects(Decoder.load(bytes, { threads: 2, wasm: new Uint8Array(8) }), /wasm and threads together/);
  });

  it("from 'edgevae' alone (no thread host registered) threads above 1 say where to get one", () => {
    const main = JSON.stringify(new URL('../src/index.ts', import.meta.url).href);
    const script = `const { Decoder } = await import(${main});
      const { GraphBuilder } = await import(${JSON.stringify(new URL('./helpers/graph-builder.ts', import.meta.url).href)});
      const g = new GraphBuilder({ latent: [4, 4, 4] });
      try { await Decoder.load(g.write(g.conv2d('c', 'z', 4, 3)), { threads: 2 }); console.log('loaded'); } catch (err) { console.log(err.message); }`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
    assert.match(out, /threads above 1 need a way to start threads: load the Decoder from 'edgevae\/node'/);
  });
});
