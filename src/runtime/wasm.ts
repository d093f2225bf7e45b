/**
 * The boundary to the wasm module: its exports, typed, and instantiation from whatever the platform
 * allows (a precompiled WebAssembly.Module in Cloudflare Workers, bytes elsewhere).
 *
 * The two builds' bytes are not imported here: `edgevae` (src/index.ts) registers the copies embedded
 * as base64 (src/runtime/embedded.ts), while `edgevae/core` leaves them out, so a Worker bundle
 * carries only the .wasm module it imports itself.
 */
import { InputError, RuntimeError } from '../errors.ts';
import { ABI_VERSION, RECORD_WORDS } from './abi.ts';

export interface Kernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  relaxedSimd(): number;
  relaxedDotSelfTest(): number;
  setRelaxedDot(on: number): number;
  relaxedDotEnabled(): number;
  abiVersion(): number;
  recordWords(): number;
  run(plan: number, count: number, batch: number, slots: number, labels: number, scratch: number): number;
  failedRecord(): number;
  fillNormal(dst: number, rows: number, dim: number, seedLo: number, seedHi: number, first: number, stddev: number): void;
  fillUniform(dst: number, rows: number, seedLo: number, seedHi: number, first: number): void;
  packPanelsF32(src: number, dst: number, K: number, N: number, channels: number): void;
  packPanelsF16(src: number, dst: number, K: number, N: number, channels: number): void;
  packPairsI8Panels(src: number, dst: number, K: number, N: number, channels: number): void;
  padVector(src: number, dst: number, n: number): void;
  denseScratchBytes(weights: number, K: number): number;
  convScratchBytes(weights: number, H: number, W: number, C: number, OH: number, OW: number, kh: number, kw: number): number;
  dense(weights: number, x: number, y: number, rows: number, K: number, N: number, w: number, bias: number, scale: number, scratch: number, act: number, alpha: number): number;
  conv(
    weights: number, x: number, y: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, OC: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
    w: number, bias: number, scale: number, scratch: number, act: number, alpha: number,
  ): number;
  /** conv with dilation dh, dw and groups; w from packConvKernel, bias and scale from packConvVector (assembly/kernels/conv.ts). */
  convGeneral(
    weights: number, x: number, y: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, OC: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
    dh: number, dw: number, groups: number,
    w: number, bias: number, scale: number, scratch: number, act: number, alpha: number, packing: number,
  ): number;
  convGeneralScratchBytes(
    weights: number, H: number, W: number, C: number, OH: number, OW: number, OC: number, kh: number, kw: number, groups: number,
    transposed: number, sh: number, sw: number, dh: number, dw: number, padTop: number, padLeft: number, packing: number,
  ): number;
  /**
   * Bytes packConvKernel writes. `packing` (abi.ts ConvPacking): Gemm, or ByGeometry, where the layout
   * depends on the geometry (a strided transposed conv by phases, few channels for the direct kernel).
   */
  convKernelBytes(weights: number, kh: number, kw: number, C: number, OC: number, groups: number, transposed: number, sh: number, sw: number, dh: number, dw: number, packing: number): number;
  packConvKernel(
    weights: number, src: number, dst: number, kh: number, kw: number, C: number, OC: number, groups: number, transposed: number,
    sh: number, sw: number, dh: number, dw: number, packing: number,
  ): number;
  convVectorBytes(OC: number, groups: number): number;
  packConvVector(src: number, dst: number, OC: number, groups: number): void;
  /** Whether convGeneral runs a layer of this geometry by phases (assembly/kernels/conv-phases.ts). */
  usesPhases(weights: number, C: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, groups: number, transposed: number): number;
  /** Whether convGeneral runs a conv2d of this geometry through the direct kernel for few channels (assembly/kernels/conv-direct.ts). */
  usesDirectConv(weights: number, C: number, OC: number, kh: number, kw: number, sh: number, sw: number, groups: number, transposed: number): number;
  usesWinograd(weights: number, C: number, OC: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, groups: number, transposed: number): number;
  /** convGeneral on the grouped GEMM always (depthwise layers too), with its own packing: for tests and benchmarks. */
  convGroups(
    weights: number, x: number, y: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, OC: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
    dh: number, dw: number, groups: number,
    w: number, bias: number, scale: number, scratch: number, act: number, alpha: number,
  ): number;
  convGroupsScratchBytes(weights: number, H: number, W: number, C: number, OH: number, OW: number, kh: number, kw: number, groups: number): number;
  convGroupsKernelBytes(weights: number, kh: number, kw: number, C: number, OC: number, groups: number): number;
  packConvKernelGroups(weights: number, src: number, dst: number, kh: number, kw: number, C: number, OC: number, groups: number, transposed: number): number;
  gemmF32(x: number, xStride: number, rows: number, K: number, N: number, w: number, bias: number, y: number, yStride: number, act: number, alpha: number, packed: number): void;
  gemmF32ScratchBytes(rows: number, K: number): number;
  gemmI8(q: number, qStride: number, rowScales: number, rows: number, K: number, N: number, w: number, colScale: number, bias: number, y: number, yStride: number, act: number, alpha: number, packed: number): void;
  quantizeRows(x: number, xStride: number, rows: number, K: number, q: number, scales: number): void;
  packedQuantizedRowsBytes(rows: number, K: number): number;
  widenF16(src: number, dst: number, count: number): void;
  im2col(
    x: number, dst: number, first: number, count: number, H: number, W: number, C: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
  ): void;
  im2colI16(
    x: number, sampleBytes: number, slots: number, dst: number, rowBytes: number, first: number, count: number,
    H: number, W: number, C: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
  ): void;
  im2colGeneral(
    x: number, dst: number, first: number, count: number, H: number, W: number, C: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
    dh: number, dw: number, c0: number, Cg: number,
  ): void;
  activateInPlace(ptr: number, count: number, act: number, alpha: number): void;
  concatLabel(x: number, y: number, batch: number, size: number, labels: number, classes: number, labelFirst: number): number;
  /** Nearest resize of NHWC [batch, H, W, C] to [batch, OH, OW, C]; rows: i32[OH], cols: i32[OW] source indices (src/layers/resize.ts). */
  resizeNearest(x: number, y: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, rows: number, cols: number): void;
  /** Bilinear resize; rows: OH and cols: OW entries of 16 bytes {i32 i0, i32 i1, f32 w0, f32 w1} (src/layers/resize.ts). */
  resizeBilinear(x: number, y: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, rows: number, cols: number): void;
  /** GroupNorm (InstanceNorm: groups = C) of x [batch, pixels, C] into y (may be x), then act; scratch of groupNormScratchBytes(C). */
  groupNorm(
    x: number, y: number, batch: number, pixels: number, C: number, groups: number, epsilon: number,
    gamma: number, beta: number, act: number, alpha: number, scratch: number,
  ): void;
  groupNormScratchBytes(C: number): number;
  /** LayerNorm over each of `rows` pixels' C channels of x into y (may be x), then act. */
  layerNormChannels(x: number, y: number, rows: number, C: number, epsilon: number, gamma: number, beta: number, act: number, alpha: number): void;
  /** DepthToSpace of NHWC [batch, H, W, C * block^2] to [batch, H * block, W * block, C]; mode: DepthToSpaceMode. */
  depthToSpace(x: number, y: number, batch: number, H: number, W: number, C: number, block: number, mode: number): void;
  /** y = act(x) over count floats (x === y allowed); alpha: LeakyRelu/Elu slope, Clip minimum; beta: Clip maximum. */
  activate(x: number, y: number, count: number, act: number, alpha: number, beta: number): void;
  /** y = act(a op b) over [outer, mid, inner], b at o * bOuterStride + n * bInnerStride; op: BinaryOp. */
  binary(
    op: number, a: number, b: number, y: number, outer: number, mid: number, inner: number,
    bOuterStride: number, bInnerStride: number, reversed: number, act: number, alpha: number, beta: number,
  ): void;
  /** y[r, c] = act(x[r, c] * scale[c] + shift[c]) (x === y allowed). */
  channelAffine(x: number, y: number, rows: number, C: number, scale: number, shift: number, act: number, alpha: number, beta: number): void;
  /** y[r] = [a[r, 0..CA), b[r, 0..CB)] for r < rows. */
  concatChannels(a: number, b: number, y: number, rows: number, CA: number, CB: number): void;
  /** y[s * size + i] = x[s * inSize + table[i]]; table: i32[size]. */
  gatherSamples(x: number, y: number, batch: number, inSize: number, size: number, table: number): void;
}

/** Where the wasm comes from: a compiled module (required in Workers) or its bytes. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | Uint8Array;

/**
 * Which embedded build to run. 'strict' (the default): plain SIMD, bit-identical output on every
 * engine. 'relaxed': relaxed SIMD (fused multiply-add), an error where the engine lacks it. 'auto':
 * relaxed where WebAssembly.validate accepts it, strict elsewhere.
 */
export type SimdMode = 'strict' | 'relaxed' | 'auto';

type Build = 'strict' | 'relaxed';

/** The bytes of each build, once registered by useEmbeddedWasm. */
let embedded: Record<Build, Uint8Array> | undefined;
const compiled: Partial<Record<Build, Promise<WebAssembly.Module>>> = {};

/** Registers the builds Decoder.load uses when it is given no `wasm`. */
export function useEmbeddedWasm(builds: Record<Build, Uint8Array>): void {
  embedded = builds;
}

function embeddedBytes(build: Build): Uint8Array {
  if (!embedded) {
    throw new RuntimeError("edgevae/core carries no wasm of its own: pass Decoder.load(bytes, { wasm }) a module imported from 'edgevae/wasm' (or 'edgevae/wasm-relaxed'), or use 'edgevae'");
  }
  return embedded[build];
}

/** True where this engine accepts relaxed SIMD (Chromium, workerd, Deno; Node 20 only with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(embeddedBytes('relaxed') as BufferSource);
}

function chooseBuild(mode: SimdMode): Build {
  if (mode === 'strict') return 'strict';
  if (relaxedSimdSupported()) return 'relaxed';
  if (mode === 'relaxed') throw new RuntimeError("simd: 'relaxed' was asked for, but this engine does not support relaxed SIMD (use 'auto' or 'strict'; Node 20 needs --experimental-wasm-relaxed-simd)");
  return 'strict';
}

async function compile(source: WasmSource | undefined, mode: SimdMode): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source) return WebAssembly.compile(source as BufferSource);
  const build = chooseBuild(mode);
  compiled[build] ??= WebAssembly.compile(embeddedBytes(build) as BufferSource);
  return compiled[build];
}

/**
 * The module for `source`, or the embedded build `mode` picks, with an error saying what the engine
 * may lack (`needs`) where it cannot compile it.
 */
export async function compileModule(source: WasmSource | undefined, mode: SimdMode, needs = 'WebAssembly SIMD'): Promise<WebAssembly.Module> {
  try {
    return await compile(source, mode);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError(`cannot compile the edgevae wasm module (does this engine support ${needs}?): ${(err as Error).message}`, { cause: err });
  }
}

/** A fresh instance: each decoder owns its memory. A given `source` wins over `simd`. */
export async function instantiate(source?: WasmSource, mode: SimdMode = 'strict'): Promise<Kernels> {
  if (mode !== 'strict' && mode !== 'relaxed' && mode !== 'auto') throw new InputError(`simd must be 'strict', 'relaxed' or 'auto', got ${JSON.stringify(mode)}`);
  const module = await compileModule(source, mode);
  const instance = await WebAssembly.instantiate(module, {});
  const kernels = instance.exports as unknown as Kernels;
  checkAbi(kernels);
  // int8 layers take relaxed SIMD's int8 dot product only where it reproduces the strict path bit for
  // bit on this engine (Node 20's V8 computes the instruction wrong); elsewhere they keep the strict one.
  if (kernels.relaxedSimd()) kernels.setRelaxedDot(kernels.relaxedDotSelfTest());
  return kernels;
}

/** Refuses a module built from another src/runtime/abi.ts than this host's (a stale or foreign .wasm). */
export function checkAbi(kernels: Kernels): void {
  const version = typeof kernels.abiVersion === 'function' ? kernels.abiVersion() : 1;
  const words = typeof kernels.recordWords === 'function' ? kernels.recordWords() : 24;
  if (version !== ABI_VERSION || words !== RECORD_WORDS) {
    throw new RuntimeError(
      `the wasm module speaks interface version ${version} (${words}-word records), but this edgevae speaks version ${ABI_VERSION} (${RECORD_WORDS}-word records): use the edgevae.wasm of the same edgevae version`,
    );
  }
}

/** How an instance's int8 layers multiply: the strict dot_i16x8_s, or relaxed SIMD's int8 dot product once its self-test passed. */
export type Int8Dot = 'dot_i16x8' | 'relaxed_dot_i8x16';

export function int8DotOf(kernels: Kernels): Int8Dot {
  return kernels.relaxedDotEnabled() ? 'relaxed_dot_i8x16' : 'dot_i16x8';
}

const PAGE = 65536;

/** Grows the memory to hold at least `bytes`, with a clear error when the engine refuses. */
export function ensureMemory(kernels: Kernels, bytes: number): void {
  const have = kernels.memory.buffer.byteLength;
  if (bytes <= have) return;
  const pages = Math.ceil((bytes - have) / PAGE);
  try {
    kernels.memory.grow(pages);
  } catch (err) {
    throw new RuntimeError(`cannot grow wasm memory from ${have} to ${bytes} bytes: ${(err as Error).message}`, { cause: err });
  }
}
