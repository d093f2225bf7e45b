// Run by test/cross-platform.test.ts under Deno: prints the SHA-256 of the samples a shipped model
// draws for a seed, with the strict build, so the Node side can compare bytes across engines. Uses
// node: built-ins (Deno provides them), so it type-checks with the rest of the tests.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { Decoder } from '../../src/index.ts';

const [modelPath, n, seed] = process.argv.slice(2);
const decoder = await Decoder.load(await readFile(modelPath), { simd: 'strict' });
const samples = decoder.sample(Number(n), { seed: Number(seed) });
console.log(createHash('sha256').update(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)).digest('hex'));
