/** A wasm build read from disk for the build comparisons (bench/builds.ts, bench/train-builds.ts). */
import { readFileSync } from 'node:fs';

/** The module's bytes; throws an Error naming the path when it cannot be read or this engine refuses it. */
export function readWasm(path: string): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (!WebAssembly.validate(bytes)) throw new Error(`${path} is not a WebAssembly module this engine accepts`);
  return bytes;
}
