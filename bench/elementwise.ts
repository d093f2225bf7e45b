// Time per call of the element-wise kernels on a million values (median of 15 after 5 warm-up calls):
//   node --experimental-wasm-relaxed-simd --import tsx bench/elementwise.ts
// Each activation loop and each op loop is compiled once per code (assembly/kernels/activation-extra.ts,
// binary.ts), so relu and clip run at memory speed and the rest are bound by their arithmetic.
import '../src/runtime/embedded.ts';
import { instantiate } from '../src/runtime/wasm.ts';
import { Act, BinaryOp } from '../src/runtime/abi.ts';

const k = await instantiate();
const N = 1 << 20;
const base = Math.ceil(k.heapBase() / 16) * 16;
const need = base + 4 * N * 4;
if (need > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / 65536));
const [a, b, y, t] = [0, 1, 2, 3].map((i) => base + i * N * 4);
const values = new Float32Array(k.memory.buffer, a, 3 * N);
for (let i = 0; i < values.length; i++) values[i] = (Math.random() * 2 - 1) * 8;
const table = new Int32Array(k.memory.buffer, t, N);
const [C, H, W] = [16, 256, 256];
for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) table[(h * W + w) * C + c] = (c * H + h) * W + w;

function time(name: string, run: () => void): void {
  for (let i = 0; i < 5; i++) run();
  const ms: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  ms.sort((p, q) => p - q);
  console.log(`${name.padEnd(36)} ${ms[7].toFixed(2).padStart(7)} ms`);
}

for (const act of [Act.Relu, Act.Clip, Act.LeakyRelu, Act.Sigmoid, Act.Tanh, Act.Silu, Act.GeluErf, Act.GeluTanh, Act.Elu, Act.Softplus]) {
  time(`activate ${Act[act]}`, () => k.activate(a, y, N, act, 0.5, 1));
}
time('binary add, same shape', () => k.binary(BinaryOp.Add, a, b, y, 1, 1, N, 0, 1, 0, Act.Linear, 0, 0));
time('binary add, same shape, relu', () => k.binary(BinaryOp.Add, a, b, y, 1, 1, N, 0, 1, 0, Act.Relu, 0, 0));
time('binary add, in place', () => k.binary(BinaryOp.Add, a, b, a, 1, 1, N, 0, 1, 0, Act.Linear, 0, 0));
time('binary mul, per channel (C 64)', () => k.binary(BinaryOp.Mul, a, b, y, 1, N / 64, 64, 0, 1, 0, Act.Linear, 0, 0));
time('binary add, per channel (C 3)', () => k.binary(BinaryOp.Add, a, b, y, 1, Math.floor(N / 3), 3, 0, 1, 0, Act.Linear, 0, 0));
time('binary div, scalar', () => k.binary(BinaryOp.Div, a, b, y, 1, 1, N, 0, 0, 0, Act.Linear, 0, 0));
time('channelAffine (C 64)', () => k.channelAffine(a, y, N / 64, 64, b, t, Act.Linear, 0, 0));
time('channelAffine (C 3)', () => k.channelAffine(a, y, Math.floor(N / 3), 3, b, t, Act.Linear, 0, 0));
time('gatherSamples, NCHW -> NHWC', () => k.gatherSamples(a, y, 1, N, N, t));
time('concatChannels, 32 + 32', () => k.concatChannels(a, b, y, N / 64, 32, 32));
time('concatChannels, 3 + 1', () => k.concatChannels(a, b, y, N / 4, 3, 1));
