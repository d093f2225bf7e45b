/**
 * Issue 23's convolution benchmark: the decoders a newcomer brings, against the wasm peer that runs
 * them, in one process with the contenders called in turns (bench/turns.ts), so a busy spell of the
 * shared machine falls on all of them alike. Ratios, not absolute figures, are the result.
 *
 * - dcgan: pytorch/examples' DCGAN generator at full size (nz 100, ngf 64, 64x64x3; four 4x4 stride-2
 *   transposed convs with BatchNorm, 104 M multiply-adds a sample), imported from its ONNX export
 *   (bench/real-conv-models.py writes it: `/usr/bin/python3 bench/real-conv-models.py`), against
 *   onnxruntime-web (wasm, one thread) on our ONNX export of the imported model (bench/onnx-runners.ts).
 * - readme: the README's example decoder (examples/node/make-decoder.mjs: dense 8 -> 49, 4x4 stride-2
 *   transposed convs of 16 and 1 channels, seeded random weights) against tfjs-backend-wasm.
 * - taesd: the TAESD-style decoder at its real 64 channels (latent 4x8x8 -> 64x64x3, 3x3 convs, nearest
 *   upsampling, residual blocks; about 1.1 G multiply-adds), from the same script, against
 *   onnxruntime-web.
 *
 * Ours runs f32 and int8 weights on the strict build; with --base OLD.wasm, that build's f32 and int8
 * join the turns too (the same host code drives both, as in bench/builds.ts). Outputs are checked
 * against our f32 before timing. With --layers, each conv layer of the f32 model is timed alone
 * through the kernel API (convGeneral, the path the executor takes), base and candidate in turns.
 *
 *   node --import tsx bench/real-conv.ts --base bench/tmp/base-edgevae.wasm --batches 1,16 --seconds 20
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import { Decoder } from '../src/index.ts';
import { importOnnx } from '../src/import/onnx.ts';
import { exportModel } from '../src/export/index.ts';
import { convertDtype } from '../src/export/convert-dtype.ts';
import { readModel, type ParsedModel } from '../src/format/read.ts';
import { convGeometry } from '../src/layers/conv.ts';
import type { ConvLayer } from '../src/format/spec.ts';
import { instantiate, type Kernels } from '../src/runtime/wasm.ts';
import { selectBackend } from '../src/train/backend.ts';
import { benchInputs, type BatchRunner, type Contender } from '../src/bench/contender.ts';
import { tfjsContender } from '../src/bench/tfjs-runner.ts';
import { integer, list } from '../src/cli/options.ts';
import { maxAbsDiff, sameBits } from '../test/helpers/numbers.ts';
import { Arena } from '../test/helpers/arena.ts';
import * as ortWeb from 'onnxruntime-web';
import { exportOnnx } from '../src/export/onnx.ts';
import { playTurns } from './turns.ts';
import { readWasm } from './wasm-file.ts';
import '../src/runtime/embedded.ts';

const program = new Command('node --import tsx bench/real-conv.ts')
  .option('--models <names>', 'dcgan, readme, taesd or an ONNX file (comma-separated)', list((name) => name.trim()), ['dcgan', 'readme'])
  .option('--batches <sizes>', 'batch sizes (comma-separated)', list(integer(1, 4096)), [1, 16])
  .option('--seconds <n>', 'seconds of turns per case', integer(1, 3600), 20)
  .option('--base <wasm>', 'an older strict build to time beside this checkout\'s')
  .option('--candidate <wasm>', 'the build to time (default: this checkout\'s build/edgevae.wasm)', 'build/edgevae.wasm')
  .option('--no-peer', 'skip the peer engine')
  .option('--dtypes <list>', 'our weight dtypes (f32, i8)', list((name) => name.trim()), ['f32', 'i8'])
  .option('--layers', 'time each conv layer alone (kernel API), base against candidate')
  .option('--dcgan <onnx>', 'the DCGAN ONNX file', 'bench/tmp/dcgan-64.onnx')
  .option('--taesd <onnx>', 'the TAESD-style ONNX file', 'bench/tmp/taesd-64.onnx')
  .parse();
const options = program.opts<{ models: string[]; batches: number[]; seconds: number; base?: string; candidate: string; peer: boolean; dtypes: ('f32' | 'i8')[]; layers?: boolean; dcgan: string; taesd: string }>();

/** The README example decoder (examples/node/make-decoder.mjs) with seeded weights, as an f32 edgevae file. */
async function readmeDecoder(): Promise<Uint8Array> {
  await selectBackend('cpu');
  let seed = 23;
  const init = () => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
    biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.1, seed: seed++ }),
  });
  const decoder = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 49, activation: 'relu', ...init() }),
      tf.layers.reshape({ targetShape: [7, 7, 1] }),
      tf.layers.conv2dTranspose({ filters: 16, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', ...init() }),
      tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'sigmoid', ...init() }),
    ],
  });
  const bytes = exportModel(decoder, { dtype: 'f32' });
  decoder.dispose();
  return bytes;
}

function imported(path: string): Uint8Array {
  if (!existsSync(path)) program.error(`${path} is missing: run /usr/bin/python3 bench/real-conv-models.py first`);
  return importOnnx(new Uint8Array(readFileSync(path)), { dtype: 'f32' });
}

/**
 * onnxruntime-web (wasm, one thread) on our ONNX export of the model, as bench/onnx-runners.ts drives
 * it, with an image latent fed as the NCHW tensor the export declares.
 */
function ortWebContender(latentShape: number[]): Contender {
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.proxy = false;
  return {
    name: 'onnxruntime-web f32',
    engine: 'onnxruntime-web',
    precision: 'f32',
    async prepare(model) {
      const session = await ortWeb.InferenceSession.create(exportOnnx(model), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      return {
        forBatch: ({ batch, latents }) => {
          let z: ortWeb.Tensor;
          if (latentShape.length === 3) {
            const [h, w, c] = latentShape;
            const nchw = new Float32Array(latents.length);
            for (let b = 0; b < batch; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
              nchw[((b * c + k) * h + y) * w + x] = latents[((b * h + y) * w + x) * c + k];
            }
            z = new ortWeb.Tensor('float32', nchw, [batch, c, h, w]);
          } else {
            z = new ortWeb.Tensor('float32', latents, [batch, latents.length / batch]);
          }
          return { run: async () => (await session.run({ z })).x.data as Float32Array, dispose: () => {} };
        },
        dispose: () => session.release(),
      };
    },
  };
}

/** Our runtime with a given wasm build. */
function ours(label: string, dtype: 'f32' | 'i8', wasm: Uint8Array<ArrayBuffer>): Contender {
  return {
    name: `edgevae ${dtype === 'i8' ? 'int8' : 'f32'} ${label}`,
    engine: 'edgevae',
    precision: dtype === 'i8' ? 'int8' : 'f32',
    async prepare(model) {
      const decoder = await Decoder.load(dtype === 'f32' ? model : convertDtype(model, dtype), { wasm });
      return { forBatch: ({ latents, labels }) => ({ run: () => decoder.decode(latents, labels), dispose: () => {} }), dispose: () => {} };
    },
  };
}

const WEIGHT_CODES = { f32: 0, f16: 1, i8: 2 } as const;
const candidate = readWasm(options.candidate);
const base = options.base ? readWasm(options.base) : undefined;

for (const name of options.models) {
  const model = name === 'dcgan' ? imported(options.dcgan) : name === 'taesd' ? imported(options.taesd) : name === 'readme' ? await readmeDecoder() : imported(name);
  const parsed = readModel(model);
  console.log(`${name}: ${(parsed.macsPerSample / 1e6).toFixed(2)} M multiply-adds a sample`);
  if (options.layers) await layerTimes(parsed);
  const contenders: Contender[] = [];
  for (const dtype of options.dtypes) {
    contenders.push(ours('candidate', dtype, candidate));
    if (base) contenders.push(ours('base', dtype, base));
  }
  if (options.peer) contenders.push(name === 'readme' ? tfjsContender('wasm') : ortWebContender(parsed.graph.latent.shape));
  const prepared = await Promise.all(contenders.map((c) => c.prepare(model)));
  const reference = await Decoder.load(model, { wasm: candidate });
  for (const batch of options.batches) {
    const inputs = benchInputs(reference, batch);
    const runners: BatchRunner[] = prepared.map((p) => p.forBatch(inputs));
    const outputs = new Map<string, Float32Array>();
    for (const [i, runner] of runners.entries()) outputs.set(contenders[i].name, await runner.run());
    const want = outputs.get(contenders[0].name)!;
    for (const [name, got] of outputs) {
      const baseName = name.replace(' candidate', ' base');
      const bits = name.endsWith(' candidate') && outputs.has(baseName) ? (sameBits(got, outputs.get(baseName)!) ? ', same bits as base' : ', BITS DIFFER FROM BASE') : '';
      console.log(`  batch ${batch}: ${name} max |diff| to ${contenders[0].name}: ${maxAbsDiff(got, want).toExponential(2)}${bits}`);
    }
    const turns = await playTurns({ model: name, batch, seconds: options.seconds, contenders: contenders.map((c) => c.name) },
      contenders.map((c, i) => ({ contender: c.name, run: () => runners[i].run() })));
    const peer = turns.contenders[turns.contenders.length - 1];
    for (const c of turns.contenders) {
      const vsPeer = options.peer ? `, ${(peer.medianMs / c.medianMs).toFixed(2)}x ${peer.contender}` : '';
      console.log(`  batch ${batch}: ${c.contender.padEnd(28)} median ${c.medianMs.toFixed(3)} ms (p10 ${c.p10Ms.toFixed(3)}, p90 ${c.p90Ms.toFixed(3)}, ${c.calls} calls)${vsPeer}`);
    }
    console.log(`  (${turns.rounds} rounds)`);
    for (const r of runners) r.dispose();
  }
}

/**
 * Each conv layer of the model alone, through convGeneral with its geometry (random inputs, a third
 * zeros as after a ReLU; the model's own weights), the candidate and base builds in turns: where the
 * decode's time goes, and what a kernel change does to each layer.
 */
async function layerTimes(parsed: ParsedModel): Promise<void> {
  const builds: [string, Uint8Array<ArrayBuffer>][] = [['candidate', candidate], ...(base ? [['base', base] as [string, Uint8Array<ArrayBuffer>]] : [])];
  for (const batch of options.batches) {
    for (const node of parsed.graph.nodes) {
      if (node.layer.type !== 'conv2d' && node.layer.type !== 'conv2dTranspose') continue;
      const layer = node.layer as ConvLayer;
      const g = convGeometry(layer, node.inShapes[0], node.outShape);
      const macs = (g.transposed ? g.H * g.W : g.OH * g.OW) * g.kh * g.kw * g.C * g.OC * batch / g.groups;
      for (const dtype of options.dtypes) {
        const runs: { contender: string; run: () => void }[] = [];
        for (const [label, wasm] of builds) runs.push({ contender: label, run: await layerRunner(await instantiate(wasm), g, batch, dtype) });
        const turns = await playTurns({ model: node.name, batch, seconds: Math.max(2, options.seconds / 4), contenders: runs.map((r) => r.contender) }, runs);
        const line = turns.contenders.map((c) => `${c.contender} ${c.medianMs.toFixed(3)} ms (${(2 * macs / c.medianMs / 1e6).toFixed(1)} GFLOP/s)`).join(', ');
        console.log(`  layer ${node.name} ${g.transposed ? 'convT' : 'conv'} ${g.H}x${g.W}x${g.C} -> ${g.OH}x${g.OW}x${g.OC} k${g.kh} s${g.sh} ${dtype} batch ${batch}: ${line}`);
      }
    }
  }
}

async function layerRunner(kernels: Kernels, g: ReturnType<typeof convGeometry>, batch: number, dtype: 'f32' | 'i8'): Promise<() => void> {
  const code = WEIGHT_CODES[dtype];
  const arena = new Arena(kernels.memory, kernels.heapBase());
  let state = 1;
  const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const n = (g.kh * g.kw * g.C * g.OC) / g.groups;
  const src = dtype === 'f32' ? arena.put(Float32Array.from({ length: n }, () => random() - 0.5)) : arena.put(Int8Array.from({ length: n }, () => Math.floor(random() * 255) - 127));
  const T = g.transposed ? 1 : 0;
  const w = arena.alloc(kernels.convKernelBytes(code, g.kh, g.kw, g.C, g.OC, g.groups, T, g.sh, g.sw, g.dh, g.dw, 1));
  kernels.packConvKernel(code, src, w, g.kh, g.kw, g.C, g.OC, g.groups, T, g.sh, g.sw, g.dh, g.dw, 1);
  const vector = (values: Float32Array) => {
    const at = arena.alloc(kernels.convVectorBytes(g.OC, g.groups));
    kernels.packConvVector(arena.put(values), at, g.OC, g.groups);
    return at;
  };
  const bias = vector(Float32Array.from({ length: g.OC }, () => random() - 0.5));
  const scale = dtype === 'i8' ? vector(Float32Array.from({ length: g.OC }, () => 0.001 + random() * 0.01)) : 0;
  const scratch = arena.alloc(kernels.convGeneralScratchBytes(code, g.H, g.W, g.C, g.OH, g.OW, g.OC, g.kh, g.kw, g.groups, T, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft, 1));
  const x = arena.put(Float32Array.from({ length: batch * g.H * g.W * g.C }, () => (random() < 0.33 ? 0 : random() * 2 - 1)));
  const y = arena.alloc(batch * g.OH * g.OW * g.OC * 4);
  return () => {
    kernels.convGeneral(code, x, y, batch, g.H, g.W, g.C, g.OH, g.OW, g.OC, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, T, g.dh, g.dw, g.groups, w, bias, scale, scratch, 1, 0, 1);
  };
}
