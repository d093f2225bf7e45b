// The training kernels (assembly/train.ts) in two layers:
// - each new wasm kernel on its own, in both builds, against a scalar reference written here, on
//   shapes on both sides of its blocking (4x4 transpose blocks, 8-column panels, 4-row GEMM blocks,
//   64-row tiles, 256-pixel filter-gradient chunks) and down both ways of the input gradient;
// - the 'edgevae' TensorFlow.js backend against the stock cpu backend, forward and backward (tf.grads
//   drives BatchMatMul, _FusedMatMul, Conv2D, FusedConv2D, Conv2DBackpropInput and
//   Conv2DBackpropFilter): the largest difference over the largest reference value must be <= 1e-4;
//   and the fused Adam update, which must give the cpu backend's op-by-op bits exactly.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../src/train/adam.ts';
import { ADAM_UPDATE_KERNEL, DROPOUT_MASK_KERNEL, EDGEVAE_KERNELS, instantiateTrainKernels, registerEdgevaeBackend, relaxedTrainSimdSupported, type TrainKernels, type TrainSimd } from '../src/train/edgevae-backend.ts';
import { selectBackend } from '../src/train/backend.ts';
import { Arena } from './helpers/arena.ts';
import { randomValues, seededRandom } from './helpers/numbers.ts';
import { dropoutMask } from '../src/train/seeded.ts';

const BUILDS: { simd: TrainSimd; skip: string | false }[] = [
  { simd: 'strict', skip: false },
  { simd: 'relaxed', skip: !relaxedTrainSimdSupported() && 'this engine has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' },
];

/** Fresh kernels in a fresh memory, and an arena over it (the module has no static data: start at 0). */
async function kernelsWithArena(simd: TrainSimd): Promise<{ kernels: TrainKernels; arena: Arena }> {
  const memory = new WebAssembly.Memory({ initial: 16 });
  return { kernels: await instantiateTrainKernels(memory, simd), arena: new Arena(memory, 16) };
}

/** The K x N matrix's panels as the GEMM microkernel reads them: [panel][k][8], zeros past N. */
function panelsReference(element: (k: number, n: number) => number, K: number, N: number): Float32Array {
  const panels = Math.ceil(N / 8);
  const out = new Float32Array(panels * K * 8);
  for (let p = 0; p < panels; p++) for (let k = 0; k < K; k++) for (let j = 0; j < 8; j++) {
    const n = p * 8 + j;
    out[(p * K + k) * 8 + j] = n < N ? element(k, n) : 0;
  }
  return out;
}

const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

for (const { simd, skip } of BUILDS) {
  describe(`training kernels, ${simd} build, against scalar references`, { skip }, () => {
    it('transposeF32 moves every value, on and off the 4x4 blocks', async () => {
      const { kernels, arena } = await kernelsWithArena(simd);
      for (const [rows, cols] of [[1, 1], [3, 5], [4, 4], [7, 9], [8, 12], [13, 6]]) {
        const src = Float32Array.from({ length: rows * cols }, (_, i) => i + 1);
        const dst = arena.alloc(rows * cols * 4);
        kernels.transposeF32(arena.put(src), dst, rows, cols);
        const want = Float32Array.from({ length: rows * cols }, (_, i) => src[(i % rows) * cols + Math.floor(i / rows)]);
        assert.deepEqual(arena.f32(dst, rows * cols), want, `${rows} x ${cols}`);
      }
    });

    it('packRowsF32 lays B[K, N] (rows a stride apart) out in panels, zeros past N', async () => {
      const { kernels, arena } = await kernelsWithArena(simd);
      for (const [K, N, stride] of [[1, 1, 1], [5, 13, 16], [3, 8, 8], [4, 16, 20], [7, 3, 3], [2, 17, 17]]) {
        const src = Float32Array.from({ length: K * stride }, (_, i) => i + 1);
        const dst = arena.alloc(Math.ceil(N / 8) * 8 * K * 4);
        kernels.packRowsF32(arena.put(src), dst, K, N, stride);
        assert.deepEqual(arena.f32(dst, Math.ceil(N / 8) * 8 * K), panelsReference((k, n) => src[k * stride + n], K, N), `K ${K} N ${N} stride ${stride}`);
      }
    });

    it('packColumnsF32 lays B stored transposed ([N, K]) out as the panels of B[K, N]', async () => {
      const { kernels, arena } = await kernelsWithArena(simd);
      for (const [K, N] of [[1, 1], [4, 8], [9, 8], [5, 13], [12, 16], [3, 17], [6, 3]]) {
        const src = Float32Array.from({ length: N * K }, (_, i) => i + 1);
        const dst = arena.alloc(Math.ceil(N / 8) * 8 * K * 4);
        kernels.packColumnsF32(arena.put(src), dst, K, N);
        assert.deepEqual(arena.f32(dst, Math.ceil(N / 8) * 8 * K), panelsReference((k, n) => src[n * K + k], K, N), `K ${K} N ${N}`);
      }
    });

    for (const [transposeA, transposeB] of TRANSPOSES) {
      it(`matMul (transposeA ${transposeA}, transposeB ${transposeB}) adds k in order from zero, plus the bias`, async () => {
        const { kernels, arena } = await kernelsWithArena(simd);
        for (const [M, K, N] of [[1, 1, 1], [5, 7, 13], [4, 33, 8], [70, 17, 9], [3, 64, 40]]) {
          const random = seededRandom(M * 1000 + K * 10 + N);
          const a = randomValues(M * K, random, 2);
          const b = randomValues(K * N, random, 1);
          const bias = randomValues(N, random, 1);
          const at = (m: number, k: number) => (transposeA ? a[k * M + m] : a[m * K + k]);
          const bt = (k: number, n: number) => (transposeB ? b[n * K + k] : b[k * N + n]);
          const y = arena.alloc(M * N * 4);
          const scratch = arena.alloc(kernels.matMulScratchBytes(M, K, N, transposeA ? 1 : 0));
          kernels.matMul(arena.put(a), arena.put(b), arena.put(bias), y, M, K, N, transposeA ? 1 : 0, transposeB ? 1 : 0, 0, 0, scratch);
          const got = arena.f32(y, M * N);
          for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
            let acc = 0;
            for (let k = 0; k < K; k++) acc = Math.fround(acc + Math.fround(at(m, k) * bt(k, n)));
            const want = Math.fround(acc + bias[n]);
            const g = got[m * N + n];
            // strict: bit-identical; relaxed (fused multiply-add): to rounding
            if (simd === 'strict') assert.equal(g, want, `M ${M} K ${K} N ${N} at ${m},${n}`);
            else assert.ok(Math.abs(g - want) <= 1e-5 * (1 + Math.abs(want)), `M ${M} K ${K} N ${N} at ${m},${n}: ${g} vs ${want}`);
          }
        }
      });
    }

    it('convBackpropInput, either way (transposed convolution or product and col2im scatter), is the sum over the taps that read each input', async () => {
      const { kernels, arena } = await kernelsWithArena(simd);
      const geometries = [
        { name: 'stride 1, 8 channels: transposed convolution', batch: 2, H: 7, W: 6, C: 8, kh: 3, kw: 3, sh: 1, sw: 1, padTop: 1, padLeft: 1, OC: 5 },
        { name: 'stride 2: scatter', batch: 2, H: 9, W: 7, C: 6, kh: 4, kw: 4, sh: 2, sw: 2, padTop: 1, padLeft: 1, OC: 9 },
        { name: 'one channel: scatter', batch: 3, H: 6, W: 5, C: 1, kh: 2, kw: 3, sh: 1, sw: 1, padTop: 0, padLeft: 1, OC: 4 },
        { name: 'strides 3x2, valid, kernel smaller than stride', batch: 1, H: 10, W: 9, C: 3, kh: 2, kw: 2, sh: 3, sw: 2, padTop: 0, padLeft: 0, OC: 7 },
      ];
      for (const g of geometries) {
        const OH = Math.floor((g.H + 2 * g.padTop - g.kh) / g.sh) + 1;
        const OW = Math.floor((g.W + 2 * g.padLeft - g.kw) / g.sw) + 1;
        const random = seededRandom(g.H * g.OC + g.C);
        const dy = randomValues(g.batch * OH * OW * g.OC, random, 1);
        const filter = randomValues(g.kh * g.kw * g.C * g.OC, random, 1);
        const dx = arena.alloc(g.batch * g.H * g.W * g.C * 4);
        const scratch = arena.alloc(kernels.convBackpropInputScratchBytes(g.H, g.W, g.C, OH, OW, g.OC, g.kh, g.kw));
        kernels.convBackpropInput(arena.put(dy), arena.put(filter), dx, g.batch, g.H, g.W, g.C, OH, OW, g.OC, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, scratch);
        const got = arena.f32(dx, g.batch * g.H * g.W * g.C);
        const want = new Float64Array(got.length);
        for (let b = 0; b < g.batch; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
          for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
            const iy = oy * g.sh + ky - g.padTop, ix = ox * g.sw + kx - g.padLeft;
            if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
            for (let c = 0; c < g.C; c++) for (let o = 0; o < g.OC; o++) {
              want[((b * g.H + iy) * g.W + ix) * g.C + c] += dy[((b * OH + oy) * OW + ox) * g.OC + o] * filter[((ky * g.kw + kx) * g.C + c) * g.OC + o];
            }
          }
        }
        for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `${g.name}, element ${i}: ${got[i]} vs ${want[i]}`);
      }
    });

    it('adamUpdate is the op-by-op Adam step, value for value (vector body and scalar tail)', async () => {
      const { kernels, arena } = await kernelsWithArena(simd);
      const n = 23;
      const random = seededRandom(n);
      const [w, g, m] = [randomValues(n, random, 1), randomValues(n, random, 0.1), randomValues(n, random, 0.01)];
      const v = randomValues(n, random, 0.001).map(Math.abs);
      const [beta1, beta2, epsilon, stepSize] = [0.9, 0.999, 1e-7, 0.003];
      const out = [arena.alloc(n * 4), arena.alloc(n * 4), arena.alloc(n * 4)];
      kernels.adamUpdate(arena.put(w), arena.put(g), arena.put(m), arena.put(v), out[0], out[1], out[2], n, beta1, 1 - beta1, beta2, 1 - beta2, stepSize, epsilon);
      const [gotW, gotM, gotV] = out.map((ptr) => arena.f32(ptr, n));
      const f = Math.fround;
      for (let i = 0; i < n; i++) {
        // each operation rounded to f32, in the op-by-op path's order
        const mi = f(f(m[i] * f(beta1)) + f(g[i] * f(1 - beta1)));
        const vi = f(f(v[i] * f(beta2)) + f(f(g[i] * g[i]) * f(1 - beta2)));
        const wi = f(w[i] - f(f(mi * f(stepSize)) / f(f(Math.sqrt(vi)) + f(epsilon))));
        assert.deepEqual([gotW[i], gotM[i], gotV[i]], [wi, mi, vi], `element ${i}`);
      }
    });

    it('convFilterGradient is the sum over pixels of input taps times dy, across 256-pixel chunks, skipping taps zero in four channels', async () => {
      const { kernels, arena } = await kernelsWithArena(simd);
      const geometries = [
        { batch: 3, H: 10, W: 10, C: 2, kh: 3, kw: 3, sh: 1, sw: 1, padTop: 1, padLeft: 1, OC: 5 }, // 300 pixels: two chunks
        { batch: 2, H: 9, W: 7, C: 3, kh: 4, kw: 4, sh: 2, sw: 2, padTop: 1, padLeft: 1, OC: 9 },
        { batch: 1, H: 6, W: 5, C: 1, kh: 2, kw: 3, sh: 1, sw: 2, padTop: 0, padLeft: 0, OC: 8 },
        // Blocks of four filter rows are four channels of one tap: where x is zero in all four (60% of
        // the pixels here, as after a ReLU), a block lists the rest of the pixels and the kernel skips.
        { batch: 2, H: 12, W: 12, C: 8, kh: 3, kw: 3, sh: 1, sw: 1, padTop: 1, padLeft: 1, OC: 6, zeroGroups: true }, // 288 pixels
      ];
      for (const g of geometries) {
        const OH = Math.floor((g.H + 2 * g.padTop - g.kh) / g.sh) + 1;
        const OW = Math.floor((g.W + 2 * g.padLeft - g.kw) / g.sw) + 1;
        const random = seededRandom(g.H * g.OC);
        const x = randomValues(g.batch * g.H * g.W * g.C, random, 1);
        if (g.zeroGroups) {
          for (let at = 0; at < x.length; at += 4) if (random() < 0.6) x.fill(random() < 0.1 ? -0 : 0, at, at + 4);
        }
        const dy = randomValues(g.batch * OH * OW * g.OC, random, 1);
        const Kf = g.kh * g.kw * g.C;
        const dw = arena.alloc(Kf * g.OC * 4);
        const scratch = arena.alloc(kernels.convFilterGradientScratchBytes(Kf, g.OC));
        kernels.convFilterGradient(arena.put(x), arena.put(dy), dw, g.batch, g.H, g.W, g.C, OH, OW, g.OC, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, scratch);
        const got = arena.f32(dw, Kf * g.OC);
        for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) for (let c = 0; c < g.C; c++) for (let o = 0; o < g.OC; o++) {
          let want = 0;
          for (let b = 0; b < g.batch; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
            const iy = oy * g.sh + ky - g.padTop, ix = ox * g.sw + kx - g.padLeft;
            if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
            want += x[((b * g.H + iy) * g.W + ix) * g.C + c] * dy[((b * OH + oy) * OW + ox) * g.OC + o];
          }
          const i = ((ky * g.kw + kx) * g.C + c) * g.OC + o;
          assert.ok(Math.abs(got[i] - want) <= 1e-5 * (1 + Math.abs(want)), `${JSON.stringify(g)} tap ${ky},${kx} c ${c} o ${o}: ${got[i]} vs ${want}`);
        }
      }
    });
  });
}

/** max |got - want| / max |want| over every output. */
function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Values of f and (unless `forwardOnly`) of its gradients with respect to every input, as plain arrays. */
function valueAndGrads(f: (...inputs: tf.Tensor[]) => tf.Tensor, inputs: Float32Array[], shapes: number[][], forwardOnly: boolean): Float32Array[] {
  return tf.tidy(() => {
    const tensors = inputs.map((values, i) => tf.tensor(values, shapes[i]));
    const y = f(...tensors);
    if (forwardOnly) return [Float32Array.from(y.dataSync())];
    // a random weighting of the outputs, so every output's gradient matters differently
    const weights = tf.tensor(randomValues(y.size, seededRandom(y.size), 1), y.shape);
    const grads = tf.grads((...xs: tf.Tensor[]) => f(...xs).mul(weights).sum())(tensors);
    return [y, ...grads].map((t) => Float32Array.from(t.dataSync()));
  });
}

describe("the 'edgevae' backend agrees with tfjs's cpu backend, forward and backward", () => {
  before(async () => {
    // npm test runs with relaxed SIMD available: this file checks the strict build inside
    // TensorFlow.js; the presets and trainer tests run whichever the backend picks (relaxed there).
    await registerEdgevaeBackend('strict');
    await selectBackend('cpu');
    await selectBackend('edgevae');
  });

  /** Runs `f` on cpu and on edgevae with the same random inputs and compares every result. */
  async function check(name: string, f: (...inputs: tf.Tensor[]) => tf.Tensor, shapes: number[][], forwardOnly = false) {
    const random = seededRandom(shapes.flat().reduce((a, b) => a * 31 + b, 7) >>> 0);
    const inputs = shapes.map((shape) => randomValues(shape.reduce((a, b) => a * b, 1), random, 1));
    await tf.setBackend('cpu');
    const want = valueAndGrads(f, inputs, shapes, forwardOnly);
    await tf.setBackend('edgevae');
    const got = valueAndGrads(f, inputs, shapes, forwardOnly);
    const labels = ['forward', ...shapes.map((_, i) => `gradient ${i}`)];
    for (let i = 0; i < want.length; i++) {
      const error = relativeError(got[i], want[i]);
      assert.ok(error <= 1e-4, `${name}, ${labels[i]}: relative error ${error}`);
    }
  }

  it('registers our kernels and keeps every other wasm kernel', () => {
    for (const name of EDGEVAE_KERNELS) assert.ok(tf.getKernel(name, 'edgevae'), name);
    const wasmKernels = tf.getKernelsForBackend('wasm').map((k) => k.kernelName);
    const ours = tf.getKernelsForBackend('edgevae').map((k) => k.kernelName);
    for (const name of wasmKernels) assert.ok(ours.includes(name), `${name} is missing`);
    // Conv2DBackpropFilter is new: tfjs-backend-wasm has none
    assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined);
  });

  for (const [transposeA, transposeB] of TRANSPOSES) {
    it(`MatMul, transposeA ${transposeA}, transposeB ${transposeB}`, async () => {
      for (const [M, K, N] of [[1, 1, 1], [5, 7, 13], [70, 33, 17], [100, 64, 8]]) {
        const a = transposeA ? [K, M] : [M, K];
        const b = transposeB ? [N, K] : [K, N];
        await check(`[${M}, ${K}] x [${K}, ${N}]`, (x, y) => tf.matMul(x, y, transposeA, transposeB), [a, b]);
      }
    });

    it(`batched MatMul (with a broadcast operand), transposeA ${transposeA}, transposeB ${transposeB}`, async () => {
      const [M, K, N] = [6, 9, 11];
      const a = transposeA ? [K, M] : [M, K];
      const b = transposeB ? [N, K] : [K, N];
      await check('batch 3 x batch 3', (x, y) => tf.matMul(x, y, transposeA, transposeB), [[3, ...a], [3, ...b]]);
      // forward only: tfjs's BatchMatMul gradient does not sum over a broadcast batch (on any backend)
      await check('batch 3 x batch 1', (x, y) => tf.matMul(x, y, transposeA, transposeB), [[3, ...a], [1, ...b]], true);
      await check('batch 2x2 x batch 2x2', (x, y) => tf.matMul(x, y, transposeA, transposeB), [[2, 2, ...a], [2, 2, ...b]]);
    });

    it(`_FusedMatMul with bias and each fused activation, transposeA ${transposeA}, transposeB ${transposeB}`, async () => {
      const [M, K, N] = [13, 21, 19];
      const a = transposeA ? [K, M] : [M, K];
      const b = transposeB ? [N, K] : [K, N];
      for (const activation of ['linear', 'relu', 'leakyrelu', 'sigmoid', 'elu', 'relu6'] as const) {
        await check(
          `fused ${activation}`,
          (x, y, bias) => tf.fused.matMul({ a: x, b: y, bias, activation, transposeA, transposeB, leakyreluAlpha: 0.3 }),
          [a, b, [N]],
        );
      }
      // a bias per row (broadcast from [M, 1]) is added after the product, then the activation
      await check('per-row bias, relu', (x, y, bias) => tf.fused.matMul({ a: x, b: y, bias, activation: 'relu', transposeA, transposeB }), [a, b, [M, 1]]);
    });
  }

  type Shape4 = [number, number, number, number];
  const CONVS: { name: string; x: Shape4; filter: Shape4; strides: number | [number, number]; pad: 'same' | 'valid' }[] = [
    { name: 'stride 1, same, odd size', x: [2, 9, 7, 3], filter: [3, 3, 3, 10], strides: 1, pad: 'same' },
    { name: 'stride 2, same, odd size', x: [2, 9, 7, 3], filter: [4, 4, 3, 17], strides: 2, pad: 'same' },
    { name: 'stride 2, valid', x: [1, 11, 8, 5], filter: [3, 2, 5, 8], strides: 2, pad: 'valid' },
    { name: 'strides 1x2, valid, one channel', x: [3, 6, 9, 1], filter: [2, 3, 1, 4], strides: [1, 2], pad: 'valid' },
    { name: 'the conv VAE second layer (392 pixels: two filter-gradient chunks)', x: [2, 28, 28, 4], filter: [4, 4, 4, 64], strides: 2, pad: 'same' },
  ];

  for (const c of CONVS) {
    it(`Conv2D and its gradients (Conv2DBackpropInput, Conv2DBackpropFilter): ${c.name}`, async () => {
      await check(c.name, (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), [c.x, c.filter]);
    });

    it(`conv2dTranspose (Conv2DBackpropInput forward, Conv2D and Conv2DBackpropFilter backward): ${c.name}`, async () => {
      const outShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape);
      await check(
        c.name,
        (dy, w) => tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, c.x, c.strides, c.pad),
        [outShape, c.filter],
      );
    });
  }

  it('FusedConv2D with bias and relu, leakyrelu (fused) or elu (after)', async () => {
    for (const activation of ['relu', 'leakyrelu', 'elu'] as const) {
      await check(
        `fused conv ${activation}`,
        (x, w, bias) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'same', bias, activation, leakyreluAlpha: 0.3 }),
        [[2, 9, 7, 3], [3, 3, 3, 10], [10]],
      );
    }
  });

  it("Adam's fused update gives the same bits as its op-by-op path on the cpu backend", async () => {
    const shapes = [[7, 13], [1001], [3, 3, 2, 5]];
    const random = seededRandom(11);
    const initial = shapes.map((shape) => randomValues(shape.reduce((a, b) => a * b, 1), random, 1));
    const gradients = [1, 2, 3].map(() => shapes.map((shape) => randomValues(shape.reduce((a, b) => a * b, 1), random, 0.1)));
    const trajectory = async (backend: string) => {
      await tf.setBackend(backend);
      const variables = initial.map((values, i) => tf.variable(tf.tensor(values, shapes[i])));
      const adam = new Adam(variables, { learningRate: 0.01 });
      for (const step of gradients) tf.tidy(() => adam.apply(step.map((values, i) => tf.tensor(values, shapes[i]))));
      const values = [...variables, ...adam.stateTensors()].map((t) => Float32Array.from(t.dataSync()));
      tf.dispose([...variables, ...adam.stateTensors()]);
      return values;
    };
    assert.equal(tf.getKernel(ADAM_UPDATE_KERNEL, 'cpu'), undefined, 'the cpu backend runs the op-by-op path');
    assert.deepEqual(await trajectory('edgevae'), await trajectory('cpu'));
  });

  it('Identity shares storage: a clone reads the same values, and outlives its source', async () => {
    await tf.setBackend('edgevae');
    const before = tf.memory().numBytes;
    const source = tf.tensor([1.5, -2, 3.25, 4], [2, 2]);
    const copy = tf.clone(source);
    assert.equal(copy.dataId, source.dataId, 'one buffer for both');
    source.dispose();
    assert.deepEqual(Array.from(copy.dataSync()), [1.5, -2, 3.25, 4]);
    copy.dispose();
    assert.equal(tf.memory().numBytes, before);
    const labels = tf.clone(tf.tensor(['a', 'b']));
    assert.deepEqual(labels.dataSync(), ['a', 'b']);
    labels.dispose();
  });

  it('the dropout mask kernel draws the same values as seeded.ts, tails and high seeds included', async () => {
    await tf.setBackend('edgevae');
    for (const [n, rate, seed] of [[1, 0.2, 0], [7, 0.5, 1], [1000, 0.2, 2 ** 31 + 5], [4099, 0.9, 0xffffffff], [64, 0.999, 12345]]) {
      const mask = tf.engine().runKernel(DROPOUT_MASK_KERNEL, {}, { shape: [n], rate, seed }) as tf.Tensor;
      assert.deepEqual(mask.dataSync(), dropoutMask(n, rate, seed), `n ${n}, rate ${rate}, seed ${seed}`);
      mask.dispose();
    }
  });

  it('a dilated convolution runs on the stock wasm kernel, and agrees (forward: tfjs has no gradient for dilation)', async () => {
    await check('dilation 2', (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same', 'NHWC', 2), [[1, 9, 9, 2], [3, 3, 2, 4]], true);
  });
});
