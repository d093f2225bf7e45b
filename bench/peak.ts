/**
 * This machine's wasm SIMD arithmetic peak on one core, measured in the benchmark's own process: the
 * ceiling the decoders' GFLOP/s are compared with.
 *
 * The microbenchmark is a wasm function written here byte by byte (no compiler between us and the
 * instructions): a loop over K independent f32x4 accumulators, each updated as acc = acc * m + a.
 * - 'mul-add': f32x4.mul then f32x4.add, the strict SIMD build's arithmetic;
 * - 'fma': f32x4.relaxed_madd (relaxed SIMD), a fused multiply-add where the CPU has one; measured
 *   only when the engine validates relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd).
 * Each update is 4 lanes x 2 flops. The chains are independent, so with enough of them the loop is
 * limited by the arithmetic ports rather than by latency: we try several K and keep the fastest.
 * m and a keep every accumulator at a fixed point near 1, far from denormals and overflow.
 */

export type PeakKind = 'mul-add' | 'fma';

export interface PeakResult {
  kind: PeakKind;
  /** The best GFLOP/s over the accumulator counts tried. */
  gflops: number;
  /** Accumulator count of the best figure. */
  accumulators: number;
  /** GFLOP/s per accumulator count. */
  byAccumulators: Record<number, number>;
}

export interface PeakOptions {
  accumulators?: number[];
  /** Seconds of warm-up per variant, so V8 has optimized the loop (it starts wasm in a baseline tier). */
  warmUpSeconds?: number;
  /** Timed repetitions per variant; the fastest counts. */
  repetitions?: number;
}

/** Each loop iteration updates every accumulator this many times, to make the loop counter's cost small. */
const UNROLL = 4;
const FLOPS_PER_UPDATE = 8;
/** Iterations per timed call: about 10 ms at 30 GFLOP/s with 12 accumulators. */
const ITERATIONS = 1 << 16;

// Opcodes (WebAssembly core spec and the SIMD / relaxed SIMD proposals).
const OP = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i32Sub: 0x6b,
  simd: 0xfd,
  i32: 0x7f,
  f32: 0x7d,
  v128: 0x7b,
  voidBlock: 0x40,
} as const;
const SIMD = { v128Const: 0x0c, f32x4ExtractLane: 0x1f, f32x4Add: 0xe4, f32x4Mul: 0xe6, f32x4RelaxedMadd: 0x105 } as const;

/** Unsigned LEB128, the encoding of every integer immediate and size in a wasm binary. */
function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

const simdOp = (code: number) => [OP.simd, ...uleb(code)];
const f32x4Const = (value: number) => [...simdOp(SIMD.v128Const), ...new Uint8Array(Float32Array.of(value, value, value, value).buffer)];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];

/**
 * The module: one exported function `run(iterations: i32) -> f32`. Locals: 0 the counter, 1 m, 2 a,
 * 3.. the accumulators. Returns a lane of their sum, so the work cannot be optimized away.
 */
export function peakModule(kind: PeakKind, accumulators: number): Uint8Array<ArrayBuffer> {
  // Local indices are written as single bytes below.
  if (!Number.isInteger(accumulators) || accumulators < 1 || accumulators > 100) throw new RangeError(`accumulators must be 1..100, got ${accumulators}`);
  const M = 1;
  const A = 2;
  const acc = (k: number) => 3 + k;
  const update = (k: number) =>
    kind === 'fma'
      ? [OP.localGet, acc(k), OP.localGet, M, OP.localGet, A, ...simdOp(SIMD.f32x4RelaxedMadd), OP.localSet, acc(k)]
      : [OP.localGet, acc(k), OP.localGet, M, ...simdOp(SIMD.f32x4Mul), OP.localGet, A, ...simdOp(SIMD.f32x4Add), OP.localSet, acc(k)];
  const body: number[] = [
    ...f32x4Const(0.999), OP.localSet, M,
    ...f32x4Const(0.001), OP.localSet, A,
    ...Array.from({ length: accumulators }, (_, k) => [...f32x4Const(1 + k / 64), OP.localSet, acc(k)]).flat(),
    OP.block, OP.voidBlock, OP.loop, OP.voidBlock,
    ...Array.from({ length: UNROLL * accumulators }, (_, i) => update(i % accumulators)).flat(),
    OP.localGet, 0, OP.i32Const, 1, OP.i32Sub, OP.localTee, 0, OP.brIf, 0,
    OP.end, OP.end,
    OP.localGet, acc(0),
    ...Array.from({ length: accumulators - 1 }, (_, k) => [OP.localGet, acc(k + 1), ...simdOp(SIMD.f32x4Add)]).flat(),
    ...simdOp(SIMD.f32x4ExtractLane), 0,
    OP.end,
  ];
  const locals = vector([[...uleb(accumulators + 2), OP.v128]]);
  const code = [...locals, ...body];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([[0x60, 1, OP.i32, 1, OP.f32]])), // type: (i32) -> f32
    ...section(3, vector([[0]])), // function 0 has type 0
    ...section(7, vector([[...uleb(3), ...new TextEncoder().encode('run'), 0x00, 0]])), // export "run"
    ...section(10, vector([[...uleb(code.length), ...code]])),
  ]);
}

/** Whether this engine accepts relaxed SIMD (the fma microbenchmark validates only where it does). */
export function relaxedSimdAvailable(): boolean {
  return WebAssembly.validate(peakModule('fma', 1));
}

/** One compiled instance of the microbenchmark: each call of `run` does `flopsPerCall` flops. */
export async function peakKernel(kind: PeakKind, accumulators: number): Promise<{ run: () => void; flopsPerCall: number }> {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(peakModule(kind, accumulators)));
  const run = instance.exports.run as (iterations: number) => number;
  return { run: () => void run(ITERATIONS), flopsPerCall: ITERATIONS * UNROLL * accumulators * FLOPS_PER_UPDATE };
}

/** Measures one kind of peak; null when the engine cannot run it (relaxed SIMD off). */
export async function measurePeak(kind: PeakKind, options: PeakOptions = {}): Promise<PeakResult | null> {
  const { accumulators = [8, 10, 12, 14, 16], warmUpSeconds = 0.3, repetitions = 15 } = options;
  if (kind === 'fma' && !relaxedSimdAvailable()) return null;
  const byAccumulators: Record<number, number> = {};
  for (const k of accumulators) {
    const { run, flopsPerCall } = await peakKernel(kind, k);
    const warmUpEnd = performance.now() + warmUpSeconds * 1000;
    while (performance.now() < warmUpEnd) run();
    let best = Infinity;
    for (let r = 0; r < repetitions; r++) {
      const start = performance.now();
      run();
      best = Math.min(best, performance.now() - start);
    }
    byAccumulators[k] = flopsPerCall / (best * 1e6);
  }
  const [accumulatorsOfBest, gflops] = Object.entries(byAccumulators).reduce((a, b) => (b[1] > a[1] ? b : a));
  return { kind, gflops, accumulators: Number(accumulatorsOfBest), byAccumulators };
}
