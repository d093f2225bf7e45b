// Acceptance: the CLI's info, sample, traverse and export commands work on files exported in the
// tests and write valid PNGs; bad flags and bad files give one clear line, not a stack trace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decode } from 'fast-png';
import { exportModel, saveModel } from '../src/export/index.ts';
import { conditionalDecoder, tinyConvDecoder } from './fixtures/models.ts';
import { CLI, edgevae, edgevaeWithNodeFlags } from './helpers/cli.ts';
import { defaultJudge } from '../src/node/files.ts';
import { MNIST_DIR, MNIST_SKIP } from './helpers/mnist.ts';
import { GRAPH_PLANS, buildGraphModel } from './helpers/random-models.ts';
import { Decoder, toChannelsFirst, toImageGrid } from '../src/index.ts';

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

  it('evaluate refuses the digit judge for a model that does not draw 28x28 greyscale images, pointing to evaluate --run', () => {
    for (const shape of [[32, 32, 3], [28, 28, 3], [64, 64, 1]]) {
      const values = shape[0] * shape[1] * shape[2];
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: values, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: values }) })] });
      const file = join(dir, `rgb-${shape.join('x')}.evae`);
      writeFileSync(file, exportModel(model, { dtype: 'f32', meta: { output: { shape } } }));
      model.dispose();
      const refused = edgevae('evaluate', '--model', file);
      assert.equal(refused.code, 1, refused.stdout);
      assert.equal(refused.stderr, `edgevae: the judge reads 28x28 greyscale digits, and this model draws [${shape.join(', ')}]; score a training run on its test split instead: npx edgevae evaluate --run RUN_DIR\n`);
      assert.equal(refused.stdout, '', 'nothing measured');
      // A judge given explicitly must read as many values as the model draws.
      const mismatched = edgevae('evaluate', '--model', file, '--judge', defaultJudge());
      assert.equal(mismatched.code, 1);
      assert.equal(mismatched.stderr, `edgevae: the judge reads 784 values, but the model outputs ${values}\n`);
    }
  });

  it('info describes the model', () => {
    const { code, stdout } = edgevae('info', conditional);
    assert.equal(code, 0);
    assert.match(stdout, /latent:\s+8 \+ one-hot label of 10 classes/);
    assert.match(stdout, /output:\s+\[28, 28, 1\] in \[0, 1\]/);
    assert.match(stdout, /weights:\s+i8/);
    assert.match(stdout, /latent shape: a vector of 8/);
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

  it('a grid is never wider than its images: --columns 1000 with --n 4 is one row of 4', () => {
    const out = join(dir, 'wide.png');
    const { code, stderr } = edgevae('sample', '--model', conditional, '--n', '4', '--columns', '1000', '--out', out);
    assert.equal(code, 0, stderr);
    const png = decode(readFileSync(out));
    const narrow = join(dir, 'four.png');
    assert.equal(edgevae('sample', '--model', conditional, '--n', '4', '--columns', '4', '--out', narrow).code, 0);
    assert.deepEqual([png.width, png.height], [decode(readFileSync(narrow)).width, decode(readFileSync(narrow)).height]);
  });

  it('a start that fails leaves no run folder, --resume of a run that never trained is refused, and --threads over the cores warns', () => {
    const runs = join(dir, 'runs-failed');
    const failed = edgevae('train', '--preset', 'ae', '--backend', 'cpu', '--threads', '64', '--data', join(dir, 'no-such-data'), '--runs', runs);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stdout, /warning: --threads 64 is more than this machine's \d+ cores/);
    assert.match(failed.stderr, /no-such-data/);
    assert.ok(!existsSync(join(runs, 'ae')), 'no run folder left by the failed start');
    const empty = join(dir, 'runs-empty');
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, 'config.json'), JSON.stringify({ preset: 'ae', dataset: 'mnist', config: { epochs: 1, batchSize: 100, seed: 1 } }));
    const resumed = edgevae('train', '--resume', empty, '--backend', 'cpu');
    assert.notEqual(resumed.code, 0);
    assert.match(resumed.stderr, /has no checkpoint: it never trained a step \(its start failed\?\)\. Start a new run with --preset ae/);
  });

  const mnist = MNIST_DIR;
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`train stops on ${signal} as on Ctrl-C: a checkpoint, the resume command, exit ${code}`, { skip: MNIST_SKIP }, async () => {
      const runs = join(dir, `runs-${signal}`);
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'train', '--preset', 'ae', '--backend', 'cpu', '--epochs', '50', '--data', mnist!, '--runs', runs], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.setEncoding('utf8');
      const training = new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: string) => {
          stdout += chunk;
          if (stdout.includes('training ae')) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (exit) => resolve(exit)));
      await training;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill(signal);
      assert.equal(await exited, code, stdout);
      assert.match(stdout, /stopped at step \d+ \(epoch 1 of 50, \d+ of its 600 batches done\); checkpoint saved\. Continue with: npx edgevae train --resume /);
    });
  }

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
    assert.match(refused.stderr, /already an edgevae model: write it as ONNX \(--out FILE\.onnx\)/);
    // The format follows the extension; a contradiction or neither is refused; shipped names are sources too.
    const byExtension = join(dir, 'by-extension.onnx');
    assert.equal(edgevae('export', conditional, '--out', byExtension).code, 0);
    assert.deepEqual([...(await ort.InferenceSession.create(readFileSync(byExtension))).outputNames], ['x']);
    assert.match(edgevae('export', conditional, '--format', 'evae', '--out', join(dir, 'x.onnx')).stderr, /--format evae writes an edgevae file, but --out .*x\.onnx ends in \.onnx: make them agree/);
    assert.match(edgevae('export', conditional, '--out', join(dir, 'x.bin')).stderr, /ends in neither \.evae nor \.onnx: name it so, or give --format evae\|onnx/);
    const shipped = join(dir, 'aae.onnx');
    assert.equal(edgevae('export', 'aae', '--out', shipped).code, 0);
    assert.deepEqual([...(await ort.InferenceSession.create(readFileSync(shipped))).inputNames], ['z']);
    assert.ok(!existsSync(join(dir, 'x.onnx')) && !existsSync(join(dir, 'x.bin')));
    const dynamic = join(dir, 'conditional-dynamic.onnx');
    const quantized = edgevae('export', conditional, '--format', 'onnx', '--quantize', 'dynamic', '--out', dynamic);
    assert.equal(quantized.code, 0, quantized.stderr);
    assert.match(quantized.stdout, /dense and conv2d layers dynamically quantized to int8/);
    const dynamicSession = await ort.InferenceSession.create(readFileSync(dynamic));
    assert.deepEqual([...dynamicSession.outputNames], ['x']);
    assert.match(edgevae('export', conditional, '--quantize', 'dynamic', '--out', join(dir, 'x.evae')).stderr, /--quantize applies to ONNX output: add --format onnx/);
    assert.match(edgevae('export', conditional, '--format', 'onnx', '--quantize', 'static', '--out', join(dir, 'x.onnx')).stderr, /Allowed choices are none, dynamic/);
  });

  it('bad flags and files give a clear one-line error', () => {
    const cases: [string[], RegExp][] = [
      [['sample', '--model', join(dir, 'missing.evae'), '--out', join(dir, 'x.png')], /model file .*missing\.evae does not exist/],
      [['sample', '--model', conditional, '--n', 'lots', '--out', join(dir, 'x.png')], /expected an integer in 1\.\.4096, got "lots"/],
      [['sample', '--model', conditional, '--n', '0', '--out', join(dir, 'x.png')], /expected an integer in 1\.\.4096/],
      [['sample', '--model', conditional, '--label', '12', '--out', join(dir, 'x.png')], /label 12 is not a class of this model: it has 10 classes, 0\.\.9/],
      [['sample', '--model', conditional, '--label', '70000', '--out', join(dir, 'x.png')], /label 70000 is not a class of this model: it has 10 classes, 0\.\.9/],
      [['sample', '--model', conditional, '--label', '-1', '--out', join(dir, 'x.png')], /expected a class: an integer >= 0 \(the model says how many it has\), got "-1"/],
      [['traverse', '--model', conditional, '--dim', '0', '--label', '10', '--out', join(dir, 'x.png')], /label 10 is not a class of this model: it has 10 classes, 0\.\.9/],
      [['traverse', '--model', 'aae', '--dim', '0', '--label', '3', '--out', join(dir, 'x.png')], /this decoder is not conditional: it takes no labels/],
      [['sample', '--model', 'aae', '--label', '3', '--out', join(dir, 'x.png')], /this decoder is not conditional: it takes no labels/],
      [['sample', '--model', conditional, '--out', join(dir, 'x.jpg')], /must be a \.png file/],
      [['sample', '--model', convModel, '--out', join(dir, 'x.png')], /model\.json is not an edgevae model file; convert it first: npx edgevae import .*model\.json --out model\.evae/],
      [['sample', '--model', join(dir, 'tfjs-conv'), '--out', join(dir, 'x.png')], /model file .*tfjs-conv is a folder; give the file itself/],
      [['traverse', '--model', conditional, '--dim', '8', '--out', join(dir, 'x.png')], /dim must be an integer in 0\.\.7, got 8/],
      [['export', join(dir, 'nothing.json'), '--out', join(dir, 'x.evae')], /nothing\.json/],
      [['train', '--preset', 'ae', '--lr', '-1', '--runs', join(dir, 'runs')], /expected a positive number, got "-1"/],
      [['train', '--preset', 'ae', '--final-lr', '0.5', '--backend', 'cpu', '--runs', join(dir, 'runs')], /final learning rate must be a number from 0 to the learning rate \(0\.01\), got 0\.5/],
      [['train', '--resume', join(dir, 'runs'), '--seed', '2', '--backend', 'cpu'], /drop --seed \(only --epochs, --steps, --lr, --final-lr, --backend and --threads may change, and --data or --dataset give the run.s data folder if it moved\)/],
      [['train', '--preset', 'ae', '--threads', '0', '--runs', join(dir, 'runs')], /expected an integer in 1\.\.64, got "0"/],
      [['train', '--preset', 'ae', '--threads', 'two', '--runs', join(dir, 'runs')], /expected an integer in 1\.\.64, got "two"/],
      [['train', '--preset', 'ae', '--threads', '8', '--batch-size', '4', '--backend', 'cpu', '--runs', join(dir, 'runs')], /--threads 8 is more than the batch size 4: each thread trains on a share of the batch/],
    ];
    for (const [args, pattern] of cases) {
      const { code, stderr } = edgevae(...args);
      assert.notEqual(code, 0, `${args.join(' ')} should fail`);
      assert.match(stderr, pattern, `${args.join(' ')}`);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    }
    assert.ok(!existsSync(join(dir, 'x.png')), 'no output written on failure');
    assert.ok(!existsSync(join(dir, 'runs')), 'no run folder made for a refused configuration');
  });

  describe('bench', () => {
    it('prints samples/s and latency percentiles per dtype and batch, beside tfjs-backend-wasm', () => {
      const { code, stdout, stderr } = edgevae('bench', '--model', conditional, '--batch', '4,1', '--dtype', 'f32,int8', '--seconds', '0.2');
      assert.equal(code, 0, stderr);
      assert.match(stdout, /i8 weights, 537088 multiply-adds per sample/);
      assert.match(stdout, /contender\s+batch\s+samples\/s\s+GFLOP\/s\s+p50 ms\s+p90 ms\s+p99 ms\s+calls\s+vs tfjs-wasm/);
      for (const contender of ['edgevae f32 strict', 'edgevae int8 strict', '@tensorflow/tfjs-backend-wasm f32']) {
        for (const batch of [1, 4]) assert.match(stdout, new RegExp(`^${contender}\\s+${batch}\\s+[\\d,]+\\s+[\\d.]+\\s+[\\d.]+\\s+[\\d.]+\\s+[\\d.]+\\s+\\d+`, 'm'), `${contender} at batch ${batch}`);
      }
      // Batches run smallest first; our rows carry the ratio to tfjs-backend-wasm at the same batch.
      assert.ok(stdout.search(/^edgevae f32 strict\s+1\s/m) < stdout.search(/^edgevae f32 strict\s+4\s/m));
      assert.match(stdout, /^edgevae int8 strict\s+4\s.*\d+\.\d\dx$/m);
    });

    it('--json gives every figure, with percentiles in order', () => {
      const { code, stdout, stderr } = edgevae('bench', '--model', conditional, '--batch', '2', '--seconds', '0.2', '--no-tfjs', '--json');
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout);
      assert.equal(report.simd, 'strict');
      assert.deepEqual(report.tfjs, { measured: false, reason: 'skipped (--no-tfjs)' });
      assert.equal(report.stopped, false);
      assert.deepEqual(report.results.map((r: { contender: string; batch: number }) => [r.contender, r.batch]), [['edgevae int8 strict', 2]]);
      const [{ samplesPerSecond, gflops, latency }] = report.results;
      assert.ok(samplesPerSecond > 0 && latency.calls >= 3);
      assert.ok(Math.abs(gflops - (2 * 537088 * samplesPerSecond) / 1e9) < 1e-9);
      assert.ok(latency.minMs <= latency.p50Ms && latency.p50Ms <= latency.p90Ms && latency.p90Ms <= latency.p99Ms);
      // Throughput is the batch over the mean call time.
      assert.ok(Math.abs(samplesPerSecond - (2 * 1000) / latency.meanMs) / samplesPerSecond < 1e-9);
    });

    it('--threads adds our runtime on a worker pool, and with each decode shared, beside the single thread', () => {
      const { code, stdout, stderr } = edgevae('bench', '--model', conditional, '--batch', '8', '--seconds', '0.2', '--no-tfjs', '--json', '--threads', '2');
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout);
      assert.deepEqual(report.results.map((r: { contender: string }) => r.contender), ['edgevae int8 strict', 'edgevae int8 strict x2 threads', 'edgevae int8 strict, one decode on 2 threads']);
      assert.ok(report.results.every((r: { samplesPerSecond: number }) => r.samplesPerSecond > 0));
    });

    it('runs the relaxed SIMD build where the engine has it, and says so where it does not', () => {
      const relaxed = edgevaeWithNodeFlags(['--experimental-wasm-relaxed-simd'], 'bench', '--model', conditional, '--batch', '1', '--seconds', '0.1', '--no-tfjs', '--simd', 'relaxed');
      assert.equal(relaxed.code, 0, relaxed.stderr);
      assert.match(relaxed.stdout, /edgevae: relaxed SIMD build; int8 layers on (dot_i16x8|relaxed_dot_i8x16)/);
      if (process.versions.node.startsWith('20.')) assert.match(relaxed.stdout, /int8 layers on dot_i16x8/, "Node 20's V8 computes the relaxed int8 dot wrong: its self-test keeps int8 on the strict path");
      assert.match(relaxed.stdout, /^edgevae int8 relaxed\s+1\s/m);
      if (process.versions.node.startsWith('20.')) {
        // Node 20 validates relaxed SIMD only behind its flag.
        const refused = edgevae('bench', '--model', conditional, '--seconds', '0.1', '--simd', 'relaxed');
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /--simd relaxed: this engine does not support relaxed SIMD \(Node 20 needs --experimental-wasm-relaxed-simd/);
        const auto = edgevae('bench', '--model', conditional, '--batch', '1', '--seconds', '0.1', '--no-tfjs');
        assert.match(auto.stdout, /edgevae: strict SIMD build \(relaxed not available/);
      }
    });

    it('Ctrl-C stops between calls and prints what was measured', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'bench', '--model', conditional, '--batch', '1,64', '--seconds', '60', '--no-tfjs'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.setEncoding('utf8');
      const measuring = new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: string) => {
          stdout += chunk;
          if (stdout.includes('measuring')) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await measuring;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill('SIGINT');
      assert.equal(await exited, 130);
      assert.match(stdout, /^edgevae int8 strict\s+1\s/m);
      assert.doesNotMatch(stdout, /^edgevae int8 strict\s+64\s/m);
      assert.match(stdout, /stopped by Ctrl-C after 1 of 2 measurements/);
    });

    it('refuses bad flags with a clear one-line error', () => {
      const cases: [string[], RegExp][] = [
        [['--batch', '0'], /expected batch sizes as a comma-separated list of integers in 1\.\.4096, got "0"/],
        [['--batch', '1,x'], /integers in 1\.\.4096, got "1,x"/],
        [['--batch', '1,,2'], /got "1,,2"/],
        [['--batch', '5000'], /got "5000"/],
        [['--batch', '64,1,64'], /batch size 64 is listed twice in "64,1,64"/],
        [['--seconds', '0'], /expected seconds in \(0, 600\], got "0"/],
        [['--seconds', 'soon'], /expected seconds in \(0, 600\], got "soon"/],
        [['--seconds', '601'], /got "601"/],
        [['--dtype', 'f64'], /expected weight dtypes from f32, f16, int8 \(comma-separated\), got "f64"/],
        [['--simd', 'fast'], /Allowed choices are auto, strict, relaxed/],
        [['--threads', '0'], /expected an integer in 1\.\.48, got "0"/],
        [['--threads', 'two'], /expected an integer in 1\.\.48, got "two"/],
        [['--model', join(dir, 'missing.evae')], /model file .*missing\.evae does not exist/],
        [['--model', convModel], /not an edgevae model/],
      ];
      for (const [flags, pattern] of cases) {
        const args = ['bench', ...(flags.includes('--model') ? [] : ['--model', conditional]), ...flags];
        const { code, stderr } = edgevae(...args);
        assert.notEqual(code, 0, `${args.join(' ')} should fail`);
        assert.match(stderr, pattern, args.join(' '));
        assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      }
    });
  });
});

describe('edgevae CLI on RGB graph models', () => {
  let dir: string;
  /** An [8, 8, 3] decoder in [-1, 1] from a [4, 4, 8] image latent recorded as NCHW; and one in [0, 1] from a flat latent. */
  let imageLatent: string;
  let flatLatent: string;
  let decoder: Decoder;
  const pngPixels = (file: string) => {
    const png = decode(readFileSync(file));
    return { width: png.width, height: png.height, channels: png.channels, data: Uint8ClampedArray.from(png.data) };
  };
  const gridOf = (samples: Float32Array, columns?: number) => toImageGrid(samples, { shape: decoder.info.outputShape, range: decoder.info.range, columns });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgevae-cli-rgb-'));
    imageLatent = join(dir, 'image-latent.evae');
    flatLatent = join(dir, 'flat-latent.evae');
    writeFileSync(imageLatent, buildGraphModel({ ...GRAPH_PLANS['rgb from an image latent'], seed: 3 }));
    writeFileSync(flatLatent, buildGraphModel({ ...GRAPH_PLANS['rgb from a flat latent'], seed: 3 }));
    decoder = await Decoder.load(readFileSync(imageLatent));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('info gives the latent shape and layout, and each node with the values it reads', () => {
    const { code, stdout, stderr } = edgevae('info', imageLatent);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /latent:\s+128\n/);
    assert.match(stdout, /latent shape: \[4, 4, 8\] image, held channels-last; the source model's layout: NCHW/);
    assert.match(stdout, /output:\s+\[8, 8, 3\] in \[-1, 1\]/);
    assert.match(stdout, /nodes:\n\s+0 conv2dTranspose\s+up <- z -> \[8, 8, 6\]\n\s+1 conv2d\s+rgb <- up -> \[8, 8, 3\]/);
    const json = JSON.parse(edgevae('info', imageLatent, '--json').stdout);
    assert.deepEqual([json.latentShape, json.latentLayout, json.range], [[4, 4, 8], 'NCHW', [-1, 1]]);
    assert.deepEqual(json.layers.map((l: { name: string; inputs: string[] }) => [l.name, l.inputs]), [['up', ['z']], ['rgb', ['up']]]);
  });

  it('sample writes a colour PNG, scaled from the file\'s range, the pixels Node\'s Decoder gives', () => {
    const out = join(dir, 'rgb.png');
    const { code, stderr } = edgevae('sample', '--model', imageLatent, '--n', '6', '--seed', '9', '--out', out);
    assert.equal(code, 0, stderr);
    const png = pngPixels(out);
    assert.equal(png.channels, 4, 'colour: RGBA, not greyscale');
    const grid = gridOf(decoder.sample(6, { seed: 9 }));
    assert.deepEqual([png.width, png.height, png.data], [grid.width, grid.height, grid.data]);
    const coloured = grid.data.some((v, i) => i % 4 === 0 && (v !== grid.data[i + 1] || v !== grid.data[i + 2]));
    assert.ok(coloured, 'some pixel has channels that differ');
  });

  it('traverse walks a coordinate of the flattened image latent', () => {
    const out = join(dir, 'walk.png');
    const { code, stderr } = edgevae('traverse', '--model', imageLatent, '--dim', '127', '--steps', '4', '--seed', '2', '--out', out);
    assert.equal(code, 0, stderr);
    const grid = gridOf(decoder.traverse({ dim: 127, from: -2.5, to: 2.5, steps: 4, seed: 2 }), 4);
    assert.deepEqual(pngPixels(out).data, grid.data);
    assert.match(edgevae('traverse', '--model', imageLatent, '--dim', '128', '--out', out).stderr, /dim must be an integer in 0\.\.127, got 128/);
  });

  it('decode takes JSON latents channels-last, or channels-first with --layout NCHW: the same image', () => {
    const held = decoder.sampleLatents(3, { seed: 4 });
    const rows = (values: Float32Array) => Array.from({ length: 3 }, (_, i) => Array.from(values.subarray(i * 128, (i + 1) * 128)));
    writeFileSync(join(dir, 'nhwc.json'), JSON.stringify(rows(held)));
    writeFileSync(join(dir, 'nchw.json'), JSON.stringify(Array.from(toChannelsFirst(held, [4, 4, 8]))));
    const [nhwc, nchw] = [join(dir, 'nhwc.png'), join(dir, 'nchw.png')];
    const first = edgevae('decode', '--model', imageLatent, '--latents', join(dir, 'nhwc.json'), '--out', nhwc);
    assert.equal(first.code, 0, first.stderr);
    const second = edgevae('decode', '--model', imageLatent, '--latents', join(dir, 'nchw.json'), '--layout', 'NCHW', '--out', nchw);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(pngPixels(nhwc).data, gridOf(decoder.decode(held)).data);
    assert.deepEqual(readFileSync(nchw), readFileSync(nhwc));
  });

  it('decode refuses bad latents and layouts with one clear line', () => {
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const out = join(dir, 'refused.png');
    const cases: [string[], RegExp][] = [
      [['--model', imageLatent, '--latents', file('short.json', '[[1, 2, 3]]')], /short\.json: row 0 must be an array of 128 numbers \(the model's latent size\)/],
      [['--model', imageLatent, '--latents', file('flat.json', '[1, 2, 3]')], /holds 3 numbers: not a whole number of 128-value latents/],
      [['--model', imageLatent, '--latents', file('text.json', JSON.stringify([Array(128).fill('x')]))], /text\.json: \[0\]\[0\] must be a finite number, got "x"/],
      [['--model', imageLatent, '--latents', file('broken.json', '[[1,')], /broken\.json is not valid JSON/],
      [['--model', imageLatent, '--latents', file('object.json', '{"latents": []}')], /must hold an array of rows of 128 numbers/],
      [['--model', imageLatent, '--latents', join(dir, 'absent.json')], /latents file .*absent\.json does not exist/],
      [['--model', imageLatent, '--latents', join(dir, 'nhwc.json'), '--layout', 'CHW'], /Allowed choices are NHWC, NCHW/],
      [['--model', flatLatent, '--latents', file('six.json', '[[0, 0, 0, 0, 0, 0]]'), '--layout', 'NCHW'], /layout NCHW is for image latents; this model's latent is a \[6\] vector/],
      [['--model', flatLatent, '--latents', join(dir, 'six.json'), '--label', '1'], /this decoder is not conditional: it takes no labels/],
    ];
    for (const [args, pattern] of cases) {
      const { code, stderr } = edgevae('decode', ...args, '--out', out);
      assert.notEqual(code, 0, `${args.join(' ')} should fail`);
      assert.match(stderr, pattern, args.join(' '));
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    }
    assert.ok(!existsSync(out), 'no output written on failure');
  });
});
