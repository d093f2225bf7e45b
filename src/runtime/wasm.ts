/**
 * The boundary to the wasm module: its exports, typed, and instantiation from whatever the platform
 * allows (a precompiled WebAssembly.Module in Cloudflare Workers, bytes elsewhere).
 */
import { InputError, RuntimeError } from '../errors.ts';
import { WASM_BASE64, WASM_RELAXED_BASE64 } from './wasm-inline.ts';

export interface Kernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  relaxedSimd(): number;
  run(plan: number, count: number, batch: number, bufA: number, bufB: number, labels: number, scratch: number): number;
  fillNormal(dst: number, rows: number, dim: number, seedLo: number, seedHi: number, first: number, stddev: number): void;
  packPanelsF32(src: number, dst: number, K: number, N: number, channels: number): void;
  packPanelsF16(src: number, dst: number, K: number, N: number, channels: number): void;
  packPairsI8Panels(src: number, dst: number, K: number, N: number, channels: number): void;
  padVector(src: number, dst: number, n: number): void;
  denseScratchBytes(weights: number, K: number): number;
  convScratchBytes(weights: number, K: number): number;
  dense(weights: number, x: number, y: number, rows: number, K: number, N: number, w: number, bias: number, scale: number, scratch: number, act: number, alpha: number): number;
  conv(
    weights: number, x: number, y: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, OC: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
    w: number, bias: number, scale: number, scratch: number, act: number, alpha: number,
  ): number;
  gemmF32(x: number, xStride: number, rows: number, K: number, N: number, w: number, bias: number, y: number, yStride: number, act: number, alpha: number): void;
  gemmI8(q: number, qStride: number, rowScales: number, rows: number, K: number, N: number, w: number, colScale: number, bias: number, y: number, yStride: number, act: number, alpha: number): void;
  quantizeRows(x: number, xStride: number, rows: number, K: number, q: number, scales: number): void;
  widenF16(src: number, dst: number, count: number): void;
  im2col(
    x: number, dst: number, first: number, count: number, H: number, W: number, C: number, OH: number, OW: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, transposed: number,
  ): void;
  activateInPlace(ptr: number, count: number, act: number, alpha: number): void;
  concatLabel(x: number, y: number, batch: number, size: number, labels: number, classes: number, labelFirst: number): number;
  RECORD_WORDS: WebAssembly.Global;
}

/** Where the wasm comes from: a compiled module (required in Workers) or its bytes. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | Uint8Array;

/**
 * Which embedded build to run. 'strict' (the default): plain SIMD, bit-identical output on every
 * engine. 'relaxed': relaxed SIMD (fused multiply-add), an error where the engine lacks it. 'auto':
 * relaxed where WebAssembly.validate accepts it, strict elsewhere.
 */
export type SimdMode = 'strict' | 'relaxed' | 'auto';

const compiled: Partial<Record<'strict' | 'relaxed', Promise<WebAssembly.Module>>> = {};
const bytesOf: Partial<Record<'strict' | 'relaxed', Uint8Array>> = {};

function embeddedBytes(build: 'strict' | 'relaxed'): Uint8Array {
  const cached = bytesOf[build];
  if (cached) return cached;
  const text = atob(build === 'strict' ? WASM_BASE64 : WASM_RELAXED_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return (bytesOf[build] = bytes);
}

/** True where this engine accepts relaxed SIMD (Chromium and workerd today; Node 20 with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(embeddedBytes('relaxed') as BufferSource);
}

function chooseBuild(mode: SimdMode): 'strict' | 'relaxed' {
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

/** A fresh instance: each decoder owns its memory. A given `source` wins over `simd`. */
export async function instantiate(source?: WasmSource, mode: SimdMode = 'strict'): Promise<Kernels> {
  if (mode !== 'strict' && mode !== 'relaxed' && mode !== 'auto') throw new InputError(`simd must be 'strict', 'relaxed' or 'auto', got ${JSON.stringify(mode)}`);
  let module: WebAssembly.Module;
  try {
    module = await compile(source, mode);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError(`cannot compile the edgevae wasm module (does this engine support WebAssembly SIMD?): ${(err as Error).message}`, { cause: err });
  }
  const instance = await WebAssembly.instantiate(module, {});
  return instance.exports as unknown as Kernels;
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
