// Version 1 files under the graph runtime: the shipped models written as version 1 (cvae, conv-vae) and
// the version-1 fixtures (among them the 3-epoch aae shipped until issue 24's full run replaced it with
// a version 2.1 file), as stored and converted to each weight dtype, decode to the bytes they decoded
// to before format 2 (the digests below were taken with commit df4fa5e's runtime, the last chain
// executor, by the same calls).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Decoder } from '../src/index.ts';
import { convertDtype } from '../src/export/convert-dtype.ts';

/** File and dtype -> SHA-256 of sample(67, seed 42) and of decode() of fixed latents, strict SIMD. */
const BEFORE_FORMAT_2: Record<string, string> = {
  'models/cvae.evae as stored': 'a02c44fbfbdc68d396580213b8b5174e2e0a87d28a2867d905e312372e0d3246 b14a979f3fa3c4559cd73e8bbd2fde2062f4443188a6469449cb4c6728ba8eb2',
  'models/cvae.evae f32': '77f753105272d3ad1b35e1012f8fa30558b4f4bfb69cb8d9accfcaca1b87d8ac b50c9727fd9d2ae1163874257e59ca2b5f5d97cd518b966358531ac11099461d',
  'models/cvae.evae f16': 'ad05e43ac0d7a58875102dfcd12789f798de91a7dc5b0f949f386a2ea8c111fe fcc47c4903b293221955d18fa04c5bb5a80afea339e089bc6686df07c30ded27',
  'models/cvae.evae i8': 'a02c44fbfbdc68d396580213b8b5174e2e0a87d28a2867d905e312372e0d3246 b14a979f3fa3c4559cd73e8bbd2fde2062f4443188a6469449cb4c6728ba8eb2',
  'test/fixtures/aae-epoch3-v1.evae as stored': '601f71e955a199eb22bddf32670884e2e367211a4cd7383e2aeda332f5dbfab6 05c33bc8f818cdb340b97c2f7495922b4d7cff0c74acf8800e2fcb89deb66455',
  'test/fixtures/aae-epoch3-v1.evae f32': '11910300643382ca27d73926ae2309ef56b37bc72e39ebaae24b6db622d277f9 288f34be0ee847d3a28c0626005abb8dbfbda0e6e5dee0aa3ddd2e3649221ff6',
  'test/fixtures/aae-epoch3-v1.evae f16': '5ca6791e30a41e045049e41cabc44b191ba9d36d09e87905bee08c090bbd4be9 0582bd440411090536623477f4d57faf5bc64780855f333ee6aad82ff585444d',
  'test/fixtures/aae-epoch3-v1.evae i8': '601f71e955a199eb22bddf32670884e2e367211a4cd7383e2aeda332f5dbfab6 05c33bc8f818cdb340b97c2f7495922b4d7cff0c74acf8800e2fcb89deb66455',
  'packages/models/conv-vae.evae as stored': 'eab9265a6e176f1a27d2405003c8eb0dd38c86d92418dd8b07fa1eef74aae78d bb699b426b2382ababe2f278f6495bc3802b60e93fc1784c6f5cbcb632858093',
  'packages/models/conv-vae.evae f32': 'c580a1ad9ab07ca25af22da2dc6eb32d47b3fb47e49c7f1f07c38af86351f0b2 dc140bb8e9ddbeb6bc31541d6f01471c11c0cf39799508358100a462e24c7aeb',
  'packages/models/conv-vae.evae f16': '85819b49f6d4771a569c67246c36fdf418f73a8f43e86c4cb5ce1a6a3dcf6705 be8e5483d53bab8ab33de0cc6ef86942dcf3a9cd39fb387b538b51a7be06e5dd',
  'packages/models/conv-vae.evae i8': 'eab9265a6e176f1a27d2405003c8eb0dd38c86d92418dd8b07fa1eef74aae78d bb699b426b2382ababe2f278f6495bc3802b60e93fc1784c6f5cbcb632858093',
  'test/fixtures/cvae-f32.evae as stored': 'd8698669926b46f3bdee232356540cf82457ec2ae6c27fc08fd3779c66ec12e5 f71425579d8b11782e48aa811ed1759856e2cb0ff24695c00d629347f5a981e5',
  'test/fixtures/cvae-f32.evae f32': 'd8698669926b46f3bdee232356540cf82457ec2ae6c27fc08fd3779c66ec12e5 f71425579d8b11782e48aa811ed1759856e2cb0ff24695c00d629347f5a981e5',
  'test/fixtures/cvae-f32.evae f16': '0eeaf59da5602fee7d5fee6929b4278d5b97de62f4c1a434d8377f33868d91a0 ef5d5c937f7ba08b1af5675afc4e89777c47b7b146fb8d2b1280b93dcaac109a',
  'test/fixtures/cvae-f32.evae i8': 'a02c44fbfbdc68d396580213b8b5174e2e0a87d28a2867d905e312372e0d3246 b14a979f3fa3c4559cd73e8bbd2fde2062f4443188a6469449cb4c6728ba8eb2',
  'packages/models/judge/mnist.evae as stored': '832e9ae2c83ddf6c27722cbdd891b77023bb5dd0edac0a61ff5349f7711eed8b e417c43ca91b62b7e06386a73d9d411ca98704d13e1cb24c42d452598f80f9ff',
  'packages/models/judge/mnist.evae f32': '832e9ae2c83ddf6c27722cbdd891b77023bb5dd0edac0a61ff5349f7711eed8b e417c43ca91b62b7e06386a73d9d411ca98704d13e1cb24c42d452598f80f9ff',
  'packages/models/judge/mnist.evae f16': '832e9ae2c83ddf6c27722cbdd891b77023bb5dd0edac0a61ff5349f7711eed8b e417c43ca91b62b7e06386a73d9d411ca98704d13e1cb24c42d452598f80f9ff',
  'packages/models/judge/mnist.evae i8': '7eca1d25f226c5dbba373d5b2b9ed1e31cc84365e52643d44183dd1ee66cd413 7d9094fcdc1a82ed1c986ab154327a67dfb91227122e78a128261e7462bc56b4',
};

const sha256 = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

describe('version 1 files decode bit-identically to the chain runtime (df4fa5e)', () => {
  for (const [key, digests] of Object.entries(BEFORE_FORMAT_2)) {
    const [file, ...rest] = key.split(' ');
    const dtype = rest.join(' ');
    it(key, async () => {
      const bytes = new Uint8Array(readFileSync(new URL(`../${file}`, import.meta.url)));
      const decoder = await Decoder.load(dtype === 'as stored' ? bytes : convertDtype(bytes, dtype as 'f32' | 'f16' | 'i8'));
      // 67 samples cross the kernels' 4-row blocks and 64-row tiles; the latents are fixed numbers, not a stream.
      const latents = Float32Array.from({ length: 5 * decoder.info.latentSize }, (_, i) => Math.sin(i * 1.7) * 2);
      const labels = decoder.info.classes ? [0, 1, 2, 3, 4].map((i) => i % decoder.info.classes) : undefined;
      assert.equal(`${sha256(decoder.sample(67, { seed: 42 }))} ${sha256(decoder.decode(latents, labels))}`, digests);
    });
  }
});
