/**
 * The depthwise conv kernel (assembly/kernels/conv-depthwise.ts) against the grouped GEMM it replaces
 * for groups = C = OC (convGroups), on one layer shape, each weight type, after checking both give the
 * same bits. The two take turns (median of the rounds), so a busy shared core slows both alike.
 *
 *   npm run build:wasm && npm run build:embed
 *   node --experimental-wasm-relaxed-simd --import tsx bench/conv-depthwise.ts [H W C k batch]
 *
 * Defaults: a 64x64x32 input, 3x3 kernel, stride 1, "same" padding, batch 1.
 */
import '../src/runtime/embedded.ts';
import { instantiate, relaxedSimdSupported, type Kernels } from '../src/runtime/wasm.ts';
import { encodeF16 } from '../src/format/f16.ts';
import { Arena } from '../test/helpers/arena.ts';
import { randomValues, sameBits, seededRandom } from '../test/helpers/numbers.ts';

const [H, W, C, k, batch] = (process.argv.slice(2).length ? process.argv.slice(2) : ['64', '64', '32', '3', '1']).map(Number);
const pad = (k - 1) >> 1;
const ROUNDS = 15;

type Entry = 'general' | 'groups';

function setUp(kernels: Kernels, entry: Entry, code: number) {
  const random = seededRandom(1);
  const arena = new Arena(kernels.memory, kernels.heapBase());
  const x = arena.put(randomValues(batch * H * W * C, random, 2));
  const f32 = randomValues(k * k * C, random, 1);
  const stored = code === 0 ? f32 : code === 1 ? encodeF16(f32) : Int8Array.from(f32, (v) => Math.round(v * 127));
  const src = arena.put(stored);
  const kernelBytes = entry === 'general' ? kernels.convKernelBytes(code, k, k, C, C, C, 0, 1, 1, 1, 1, 1) : kernels.convGroupsKernelBytes(code, k, k, C, C, C);
  const w = arena.alloc(kernelBytes);
  if (entry === 'general') kernels.packConvKernel(code, src, w, k, k, C, C, C, 0, 1, 1, 1, 1, 1);
  else kernels.packConvKernelGroups(code, src, w, k, k, C, C, C, 0);
  const vector = (values: Float32Array) => {
    const at = arena.alloc(kernels.convVectorBytes(C, C));
    kernels.packConvVector(arena.put(values), at, C, C);
    return at;
  };
  const bias = vector(randomValues(C, random, 1));
  const scale = vector(Float32Array.from({ length: C }, () => 0.01));
  const scratch = arena.alloc(entry === 'general' ? kernels.convGeneralScratchBytes(code, H, W, C, H, W, C, k, k, C, 0, 1, 1, 1, 1, pad, pad, 1) : kernels.convGroupsScratchBytes(code, H, W, C, H, W, k, k, C));
  const y = arena.alloc(batch * H * W * C * 4);
  return {
    run: () => entry === 'general'
      ? kernels.convGeneral(code, x, y, batch, H, W, C, H, W, C, k, k, 1, 1, pad, pad, 0, 1, 1, C, w, bias, scale, scratch, 1, 0, 1)
      : kernels.convGroups(code, x, y, batch, H, W, C, H, W, C, k, k, 1, 1, pad, pad, 0, 1, 1, C, w, bias, scale, scratch, 1, 0),
    output: () => arena.f32(y, batch * H * W * C),
    kernelBytes,
  };
}

function timeOnce(run: () => number, reps: number): number {
  const start = performance.now();
  for (let i = 0; i < reps; i++) run();
  return (performance.now() - start) / reps;
}

const median = (values: number[]) => values.slice().sort((a, b) => a - b)[values.length >> 1];

console.log(`depthwise conv ${batch}x${H}x${W}x${C}, ${k}x${k} kernel, stride 1, pad ${pad}: ms per conv (median of ${ROUNDS} rounds, in turns)`);
for (const build of ['strict', 'relaxed'] as const) {
  if (build === 'relaxed' && !relaxedSimdSupported()) continue;
  for (const [name, code] of [['f32', 0], ['f16', 1], ['i8', 2]] as const) {
    // Each entry in its own instance, so one's memory layout does not move the other's.
    const direct = setUp(await instantiate(undefined, build), 'general', code);
    const gemm = setUp(await instantiate(undefined, build), 'groups', code);
    direct.run();
    gemm.run();
    const same = sameBits(direct.output(), gemm.output());
    // About 50 ms of each per round.
    const reps = Math.max(1, Math.round(50 / Math.max(timeOnce(direct.run, 3), timeOnce(gemm.run, 3))));
    const a: number[] = [], b: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      a.push(timeOnce(direct.run, reps));
      b.push(timeOnce(gemm.run, reps));
    }
    const [ta, tb] = [median(a), median(b)];
    console.log(
      `${build.padEnd(7)} ${name}: depthwise ${ta.toFixed(3)} ms, grouped GEMM ${tb.toFixed(3)} ms: ${(tb / ta).toFixed(1)}x; ` +
        `same bits: ${same}; packed kernel ${direct.kernelBytes} vs ${gemm.kernelBytes} bytes`,
    );
  }
}
