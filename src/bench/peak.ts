/**
 * This machine's wasm SIMD arithmetic peak on one core, measured in the benchmark's own process: the
 * ceiling the decoders' GFLOP/s are compared with.
 *
 * The microbenchmark is a wasm function written here byte by byte (no compiler between us and the
 * instructions): a loop over K independent accumulators, each updated from its own value.
 * - 'mul-add': acc = acc * m + a with f32x4.mul then f32x4.add, the strict SIMD build's arithmetic;
 *   4 lanes x 2 flops per update. m and a keep every accumulator at a fixed point near 1, far from
 *   denormals and overflow.
 * - 'fma': the same with f32x4.relaxed_madd (relaxed SIMD), a fused multiply-add where the CPU has one.
 * - 'dot-i16': acc = i32x4.add(i32x4.dot_i16x8_s(acc, m), a), the strict int8 kernels' arithmetic:
 *   8 multiply-adds, 16 integer operations per update.
 * - 'relaxed-dot-i8': acc = i32x4.relaxed_dot_i8x16_i7x16_add_s(acc, m, a), relaxed SIMD's int8 dot
 *   product: 16 multiply-adds, 32 operations per update (m's bytes stay in 0..127, where the
 *   instruction's result is defined the same on every CPU).
 * The relaxed kinds are measured only when the engine validates relaxed SIMD (Node 20 needs
 * --experimental-wasm-relaxed-simd). Integer accumulators simply wrap. The chains are independent, so
 * with enough of them the loop is limited by the arithmetic ports rather than by latency: we try
 * several K and keep the fastest. Each update reads its own accumulator, so the engine cannot merge
 * updates or hoist them out of the loop.
 */

export type PeakKind = 'mul-add' | 'fma' | 'dot-i16' | 'relaxed-dot-i8';

/** Arithmetic operations per accumulator update (a multiply-add counts two, float or integer). */
const OPS_PER_UPDATE: Record<PeakKind, number> = { 'mul-add': 8, fma: 8, 'dot-i16': 16, 'relaxed-dot-i8': 32 };
const isRelaxed = (kind: PeakKind) => kind === 'fma' || kind === 'relaxed-dot-i8';
const isInteger = (kind: PeakKind) => kind === 'dot-i16' || kind === 'relaxed-dot-i8';

export interface PeakResult {
  kind: PeakKind;
  /** The best rate over the accumulator counts tried, in billions of operations per second (a
   * multiply-add counts two): GFLOP/s for the float kinds, integer GOP/s for the dot products. */
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
const SIMD = {
  v128Const: 0x0c,
  i32x4ExtractLane: 0x1b,
  i32x4Eq: 0x37,
  i32x4AllTrue: 0xa3,
  f32x4ExtractLane: 0x1f,
  i32x4Add: 0xae,
  i32x4DotI16x8S: 0xba,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  f32x4RelaxedMadd: 0x105,
  i32x4RelaxedDotI8x16I7x16AddS: 0x113,
} as const;

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
const v128Const = (lanes: Float32Array | Int32Array | Int16Array | Int8Array) => [...simdOp(SIMD.v128Const), ...new Uint8Array(lanes.buffer)];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];

/** The constants m and a, and accumulator k's starting value, of each kind (see the top of the file). */
function constants(kind: PeakKind) {
  if (kind === 'dot-i16') return { m: Int16Array.of(3, 3, 3, 3, 3, 3, 3, 3), a: Int32Array.of(1, 1, 1, 1), start: (k: number) => Int32Array.of(k + 1, k + 2, k + 3, k + 4) };
  if (kind === 'relaxed-dot-i8') return { m: new Int8Array(16).fill(3), a: Int32Array.of(1, 1, 1, 1), start: (k: number) => Int32Array.of(k + 1, k + 2, k + 3, k + 4) };
  return { m: new Float32Array(4).fill(0.999), a: new Float32Array(4).fill(0.001), start: (k: number) => new Float32Array(4).fill(1 + k / 64) };
}

/** The instructions of one update of accumulator local `acc` (locals M and A hold m and a). */
function updateOf(kind: PeakKind, acc: number, M: number, A: number): number[] {
  const get = (local: number) => [OP.localGet, local];
  switch (kind) {
    case 'mul-add': return [...get(acc), ...get(M), ...simdOp(SIMD.f32x4Mul), ...get(A), ...simdOp(SIMD.f32x4Add), OP.localSet, acc];
    case 'fma': return [...get(acc), ...get(M), ...get(A), ...simdOp(SIMD.f32x4RelaxedMadd), OP.localSet, acc];
    case 'dot-i16': return [...get(acc), ...get(M), ...simdOp(SIMD.i32x4DotI16x8S), ...get(A), ...simdOp(SIMD.i32x4Add), OP.localSet, acc];
    case 'relaxed-dot-i8': return [...get(acc), ...get(M), ...get(A), ...simdOp(SIMD.i32x4RelaxedDotI8x16I7x16AddS), OP.localSet, acc];
  }
}

/**
 * The module: one exported function `run(iterations: i32)`, returning lane 0 of the accumulators' sum
 * (f32 for the float kinds, i32 for the integer ones), so the work cannot be optimized away. Locals:
 * 0 the counter, 1 m, 2 a, 3.. the accumulators.
 */
export function peakModule(kind: PeakKind, accumulators: number): Uint8Array<ArrayBuffer> {
  // Local indices are written as single bytes below.
  if (!Number.isInteger(accumulators) || accumulators < 1 || accumulators > 100) throw new RangeError(`accumulators must be 1..100, got ${accumulators}`);
  const M = 1;
  const A = 2;
  const acc = (k: number) => 3 + k;
  const { m, a, start } = constants(kind);
  const add = simdOp(isInteger(kind) ? SIMD.i32x4Add : SIMD.f32x4Add);
  const body: number[] = [
    ...v128Const(m), OP.localSet, M,
    ...v128Const(a), OP.localSet, A,
    ...Array.from({ length: accumulators }, (_, k) => [...v128Const(start(k)), OP.localSet, acc(k)]).flat(),
    OP.block, OP.voidBlock, OP.loop, OP.voidBlock,
    ...Array.from({ length: UNROLL * accumulators }, (_, i) => updateOf(kind, acc(i % accumulators), M, A)).flat(),
    OP.localGet, 0, OP.i32Const, 1, OP.i32Sub, OP.localTee, 0, OP.brIf, 0,
    OP.end, OP.end,
    OP.localGet, acc(0),
    ...Array.from({ length: accumulators - 1 }, (_, k) => [OP.localGet, acc(k + 1), ...add]).flat(),
    ...simdOp(isInteger(kind) ? SIMD.i32x4ExtractLane : SIMD.f32x4ExtractLane), 0,
    OP.end,
  ];
  return moduleOf(isInteger(kind) ? OP.i32 : OP.f32, [OP.i32], body, accumulators + 2);
}

/** A module of one exported function `run(params) -> result` with `v128Locals` v128 locals after its parameters. */
function moduleOf(result: number, params: number[], body: number[], v128Locals = 0): Uint8Array<ArrayBuffer> {
  const locals = v128Locals ? vector([[...uleb(v128Locals), OP.v128]]) : vector([]);
  const code = [...locals, ...body];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([[0x60, ...vector(params.map((p) => [p])), 1, result]])), // type 0: (params) -> result
    ...section(3, vector([[0]])), // function 0 has type 0
    ...section(7, vector([[...uleb(3), ...new TextEncoder().encode('run'), 0x00, 0]])), // export "run"
    ...section(10, vector([[...uleb(code.length), ...code]])),
  ]);
}

/** Whether this engine accepts relaxed SIMD (the fma microbenchmark validates only where it does). */
export function relaxedSimdAvailable(): boolean {
  return WebAssembly.validate(peakModule('fma', 1));
}

/**
 * Whether this engine's i32x4.relaxed_dot_i8x16_i7x16_add_s gives the proposal's answer on operands
 * where every engine must agree: bytes 1 times 1, four per lane, plus the addend (100, 200, 300, 400)
 * is (104, 204, 304, 404). Node 20.20's V8 11.3 returned (8, 8, 8, 8) on the 2026-11-22 host (the dot
 * doubled, the addend dropped), Deno 2.9.5's V8 15.0 the right answer. False where relaxed SIMD is off.
 */
export async function relaxedDotMatchesSpec(): Promise<boolean> {
  if (!relaxedSimdAvailable()) return false;
  const ones = new Int8Array(16).fill(1);
  const body = [
    ...v128Const(ones), ...v128Const(ones), ...v128Const(Int32Array.of(100, 200, 300, 400)), ...simdOp(SIMD.i32x4RelaxedDotI8x16I7x16AddS),
    ...v128Const(Int32Array.of(104, 204, 304, 404)), ...simdOp(SIMD.i32x4Eq), ...simdOp(SIMD.i32x4AllTrue),
    OP.end,
  ];
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(moduleOf(OP.i32, [], body)));
  return (instance.exports.run as () => number)() === 1;
}

/** One compiled instance of the microbenchmark: each call of `run` does `flopsPerCall` flops. */
export async function peakKernel(kind: PeakKind, accumulators: number): Promise<{ run: () => void; flopsPerCall: number }> {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(peakModule(kind, accumulators)));
  const run = instance.exports.run as (iterations: number) => number;
  return { run: () => void run(ITERATIONS), flopsPerCall: ITERATIONS * UNROLL * accumulators * OPS_PER_UPDATE[kind] };
}

/** Measures one kind of peak; null when the engine cannot run it (a relaxed kind, relaxed SIMD off). */
export async function measurePeak(kind: PeakKind, options: PeakOptions = {}): Promise<PeakResult | null> {
  const { accumulators = [8, 10, 12, 14, 16], warmUpSeconds = 0.3, repetitions = 15 } = options;
  if (isRelaxed(kind) && !relaxedSimdAvailable()) return null;
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
