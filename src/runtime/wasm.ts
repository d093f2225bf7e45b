/**
 * The boundary to the wasm module: its exports, typed, and instantiation from whatever the platform
 * allows (a precompiled WebAssembly.Module in Cloudflare Workers, bytes elsewhere).
 */
import { RuntimeError } from '../errors.ts';
import { WASM_BASE64 } from './wasm-inline.ts';

export interface Kernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  run(plan: number, count: number, batch: number, bufA: number, bufB: number, labels: number): number;
  fillNormal(dst: number, rows: number, dim: number, seedLo: number, seedHi: number, first: number, stddev: number): void;
  packDenseF32(src: number, dst: number, K: number, N: number): void;
  packDenseI8(src: number, dst: number, K: number, N: number): void;
  packConvF32(src: number, dst: number, taps: number, C: number, OC: number, transposed: number): void;
  packConvI8(src: number, dst: number, taps: number, C: number, OC: number, transposed: number): void;
  padVector(src: number, dst: number, n: number): void;
  denseF32(x: number, y: number, rows: number, K: number, N: number, w: number, bias: number, act: number, alpha: number): void;
  denseI8(x: number, y: number, rows: number, K: number, N: number, w: number, bias: number, scale: number, act: number, alpha: number): void;
  activateInPlace(ptr: number, count: number, act: number, alpha: number): void;
  concatLabel(x: number, y: number, batch: number, size: number, labels: number, classes: number, labelFirst: number): number;
  RECORD_WORDS: WebAssembly.Global;
}

/** Where the wasm comes from: a compiled module (required in Workers) or its bytes. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | Uint8Array;

let embedded: WebAssembly.Module | undefined;

function embeddedBytes(): Uint8Array {
  const text = atob(WASM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

async function compile(source?: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source) return WebAssembly.compile(source as BufferSource);
  embedded ??= await WebAssembly.compile(embeddedBytes() as BufferSource);
  return embedded;
}

/** A fresh instance: each decoder owns its memory. */
export async function instantiate(source?: WasmSource): Promise<Kernels> {
  let module: WebAssembly.Module;
  try {
    module = await compile(source);
  } catch (err) {
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
