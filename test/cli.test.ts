// Acceptance: the CLI's info, sample, traverse and export commands work on files exported in the
// tests and write valid PNGs; bad flags and bad files give one clear line, not a stack trace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decode } from 'fast-png';
import { exportModel, saveModel } from '../src/export/index.ts';
import { conditionalDecoder, tinyConvDecoder } from './fixtures/models.ts';
import { edgevae } from './helpers/cli.ts';


describe('edgevae CLI', () => {
  let dir: string;
  let conditional: string;
  let convModel: string;

  before(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'edgevae-cli-'));
    conditional = join(dir, 'conditional.evae');
    writeFileSync(conditional, exportModel(conditionalDecoder(3), { dtype: 'i8', meta: { output: { shape: [28, 28, 1] }, preset: 'test' } }));
    const conv = tinyConvDecoder(4);
    await saveModel(conv, join(dir, 'tfjs-conv'));
    convModel = join(dir, 'tfjs-conv', 'model.json');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('info describes the model', () => {
    const { code, stdout } = edgevae('info', conditional);
    assert.equal(code, 0);
    assert.match(stdout, /latent:\s+8 \+ one-hot label of 10 classes/);
    assert.match(stdout, /output:\s+\[28, 28, 1\] in \[0, 1\]/);
    assert.match(stdout, /weights:\s+i8/);
    const json = JSON.parse(edgevae('info', conditional, '--json').stdout);
    assert.equal(json.latentSize, 8);
    assert.ok(json.memory.batch64 > json.memory.batch1);
  });

  it('sample writes a valid PNG grid, the same for the same seed', () => {
    const out = join(dir, 'grid.png');
    const first = edgevae('sample', '--model', conditional, '--n', '64', '--seed', '1', '--label', '3', '--out', out);
    assert.equal(first.code, 0, first.stderr);
    const png = decode(readFileSync(out));
    assert.equal(png.width, 8 * 29 + 1);
    assert.equal(png.height, 8 * 29 + 1);
    const again = join(dir, 'again.png');
    assert.equal(edgevae('sample', '--model', conditional, '--n', '64', '--seed', '1', '--label', '3', '--out', again).code, 0);
    assert.deepEqual(readFileSync(again), readFileSync(out));
    const other = join(dir, 'other.png');
    assert.equal(edgevae('sample', '--model', conditional, '--n', '64', '--seed', '2', '--label', '3', '--out', other).code, 0);
    assert.notDeepEqual(readFileSync(other), readFileSync(out));
  });

  it('traverse writes one image per step in a row', () => {
    const out = join(dir, 'walk.png');
    const { code, stderr } = edgevae('traverse', '--model', conditional, '--dim', '7', '--from', '-2.5', '--to', '2.5', '--steps', '50', '--label', '1', '--out', out);
    assert.equal(code, 0, stderr);
    const png = decode(readFileSync(out));
    assert.equal(png.width, 50 * 29 + 1);
    assert.equal(png.height, 29 + 1);
  });

  it('export converts a saved TensorFlow.js model, which then samples', () => {
    const file = join(dir, 'conv.evae');
    const exported = edgevae('export', convModel, '--dtype', 'int8', '--out', file);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /i8 weights/);
    const out = join(dir, 'conv.png');
    assert.equal(edgevae('sample', '--model', file, '--n', '9', '--out', out).code, 0);
    assert.equal(decode(readFileSync(out)).width, 3 * 19 + 1);
  });

  it('export --format onnx converts an edgevae file that onnxruntime loads', async () => {
    const out = join(dir, 'conditional.onnx');
    const result = edgevae('export', conditional, '--format', 'onnx', '--out', out);
    assert.equal(result.code, 0, result.stderr);
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(readFileSync(out));
    assert.deepEqual([...session.inputNames].sort(), ['label', 'z']);
    assert.deepEqual([...session.outputNames], ['x']);
    const refused = edgevae('export', conditional, '--out', join(dir, 'again.evae'));
    assert.match(refused.stderr, /already an edgevae model file: add --format onnx/);
  });

  it('bad flags and files give a clear one-line error', () => {
    const cases: [string[], RegExp][] = [
      [['sample', '--model', join(dir, 'missing.evae'), '--out', join(dir, 'x.png')], /model file .*missing\.evae does not exist/],
      [['sample', '--model', conditional, '--n', 'lots', '--out', join(dir, 'x.png')], /expected an integer in 1\.\.4096, got "lots"/],
      [['sample', '--model', conditional, '--n', '0', '--out', join(dir, 'x.png')], /expected an integer in 1\.\.4096/],
      [['sample', '--model', conditional, '--label', '12', '--out', join(dir, 'x.png')], /label must be an integer in 0\.\.9, got 12/],
      [['sample', '--model', conditional, '--out', join(dir, 'x.jpg')], /must be a \.png file/],
      [['sample', '--model', convModel, '--out', join(dir, 'x.png')], /not an edgevae model/],
      [['traverse', '--model', conditional, '--dim', '8', '--out', join(dir, 'x.png')], /dim must be an integer in 0\.\.7, got 8/],
      [['export', join(dir, 'nothing.json'), '--out', join(dir, 'x.evae')], /nothing\.json/],
    ];
    for (const [args, pattern] of cases) {
      const { code, stderr } = edgevae(...args);
      assert.notEqual(code, 0, `${args.join(' ')} should fail`);
      assert.match(stderr, pattern, `${args.join(' ')}`);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    }
    assert.ok(!existsSync(join(dir, 'x.png')), 'no output written on failure');
  });
});
