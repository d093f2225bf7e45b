// The model format: round trips, f16 conversion, and every way a file can be wrong, each of which
// must give a FormatError that says what is wrong.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError } from '../src/errors.ts';
import { fromF16Bits, toF16Bits } from '../src/format/f16.ts';
import { fileCrc, readModel, tensorData } from '../src/format/read.ts';
import { buildModel } from './helpers/random-models.ts';
import { reframe, smallConvPlan } from './helpers/corrupt.ts';

describe('f16', () => {
  it('round-trips every f16 bit pattern exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const value = fromF16Bits(h);
      if (Number.isNaN(value)) assert.ok(Number.isNaN(fromF16Bits(toF16Bits(value))));
      else assert.equal(toF16Bits(value), h, `pattern 0x${h.toString(16)} (${value})`);
    }
  });

  it('rounds to nearest, ties to even, and saturates to infinity', () => {
    assert.equal(fromF16Bits(toF16Bits(1 + 2 ** -11)), 1, 'tie rounds down to even');
    assert.equal(fromF16Bits(toF16Bits(1 + 3 * 2 ** -11)), 1 + 2 ** -9, 'tie rounds up to even');
    assert.equal(fromF16Bits(toF16Bits(70000)), Infinity);
    assert.equal(fromF16Bits(toF16Bits(2 ** -25 + 2 ** -30)), 2 ** -24, 'smallest subnormal');
  });
});

describe('reading a model file', () => {
  const bytes = buildModel(smallConvPlan('f16'));

  it('round-trips header and tensors', () => {
    const model = readModel(bytes);
    assert.equal(model.header.meta.dtype, 'f16');
    assert.deepEqual(model.graph.nodes.at(-1)!.outShape, [8, 8, 2]);
    for (const t of model.header.tensors) assert.equal(t.offset % 16, 0, 'tensors are 16-byte aligned');
    assert.ok(tensorData(model, 0).length > 0);
  });

  const expectFormatError = (file: Uint8Array, pattern: RegExp) =>
    assert.throws(() => readModel(file), (err: unknown) => err instanceof FormatError && pattern.test(err.message), `expected FormatError matching ${pattern}`);

  it('names a wrong magic, version, length and checksum', () => {
    const wrongMagic = bytes.slice();
    wrongMagic[0] = 0x50;
    expectFormatError(wrongMagic, /not an edgevae model/);
    const wrongVersion = bytes.slice();
    wrongVersion[4] = 9;
    expectFormatError(wrongVersion, /unsupported format version 9/);
    expectFormatError(bytes.subarray(0, bytes.length - 5), /truncated/);
    expectFormatError(bytes.subarray(0, 10), /too short/);
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expectFormatError(longer, /trailing garbage/);
    const flipped = bytes.slice();
    flipped[bytes.length - 1] ^= 0x10;
    expectFormatError(flipped, /checksum mismatch/);
  });

  it('rejects truncation at every offset', () => {
    for (let end = 0; end < bytes.length; end++) {
      assert.throws(() => readModel(bytes.subarray(0, end)), FormatError, `truncated to ${end} bytes`);
    }
  });

  it('rejects absurd and inconsistent headers with a message naming the field', () => {
    const cases: [string, (h: any) => void, RegExp][] = [
      ['2^31 units', (h) => (h.nodes[0].units = 2 ** 31), /layers\[0\]\.units must be an integer/],
      ['zero units', (h) => (h.nodes[0].units = 0), /layers\[0\]\.units/],
      ['negative dimension', (h) => (h.tensors[0].shape[0] = -4), /tensors\[0\]\.shape\[0\]/],
      ['overflowing reshape', (h) => (h.nodes[2].shape = [65536, 65536, 1]), /cannot reshape/],
      ['kernel shape not chaining', (h) => (h.nodes[1].units = 7), /layers\[1\].*kernel has shape/],
      ['conv on a flat input', (h) => (h.nodes.splice(2, 1), (h.nodes[2].inputs = ['layers[1]'])), /needs an \[h, w, c\] input/],
      ['tensor past the end', (h) => (h.tensors[0].offset += 1 << 20), /runs past the end|must be an integer/],
      ['misaligned tensor', (h) => (h.tensors[0].offset += 4), /not aligned/],
      ['unknown layer', (h) => (h.nodes[0].type = 'upsample'), /layers\[0\]\.type must be one of/],
      ['unknown activation', (h) => (h.nodes[0].activation = 'softmax'), /activation must be one of/],
      ['wrong output shape', (h) => (h.meta.output.shape = [28, 28, 1]), /meta\.output\.shape/],
      ['label without conditioning', (h) => h.inputs.push({ name: 'label', kind: 'label', classes: 3 }), /meta\.conditioning says no label/],
      ['missing nodes', (h) => (h.nodes = []), /header\.nodes/],
      ['a dangling input', (h) => (h.nodes[1].inputs = ['nowhere']), /reads "nowhere", which no node or graph input defines/],
      ['a cycle', (h) => (h.nodes[1].inputs = ['layers[3]']), /reads "layers\[3\]", which a later node writes/],
      ['a name used twice', (h) => (h.nodes[1].name = 'layers[0]'), /name is used twice/],
      ['a node nobody reads', (h) => (h.output = 'layers[3]'), /layers\[4\] \(conv2d\) is never read/],
      ['an output that is no node', (h) => (h.output = 'z'), /header\.output must name a node/],
      ['two inputs to a dense', (h) => (h.nodes[1].inputs = ['layers[0]', 'z']), /inputs must be an array of 1 value names/],
      ['a latent of the wrong size', (h) => (h.inputs[0].shape = [4]), /meta\.latentSize is 3/],
      ['i8 scale on f16 weights', (h) => (h.nodes[0].scale = 0), /scale is only allowed/],
      ['kernel referring to a missing tensor', (h) => (h.nodes[0].kernel = 999), /layers\[0\]\.kernel must be an integer/],
    ];
    for (const [what, mutate, pattern] of cases) {
      const header = structuredClone(readModel(bytes).header) as any;
      mutate(header);
      const file = reframe(bytes, header);
      assert.throws(() => readModel(file), (err: unknown) => err instanceof FormatError && pattern.test(err.message), `${what}: expected ${pattern}`);
    }
  });

  it('reframe() itself keeps a valid file valid', () => {
    const file = reframe(bytes, readModel(bytes).header);
    assert.equal(new DataView(file.buffer).getUint32(12, true), fileCrc(file));
    assert.doesNotThrow(() => readModel(file));
  });
});
