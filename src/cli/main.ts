#!/usr/bin/env node
/**
 * The edgevae command line: inspect, sample, traverse, decode, judge, time and serve model files; and
 * train, export and import, whose definitions live in ./training.ts with TensorFlow.js behind them,
 * loaded only when one of those runs (./training-side.ts; the runtime package ships without them).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
// Through the package entry, which registers the embedded wasm builds (edgevae/core does not).
import { Decoder, EdgeVaeError, FormatError, InputError, LATENT_LAYOUTS, PRIOR_CHOICES, toImageGrid, type DecoderInfo, type LatentLayout, type PriorChoice } from '../index.ts';
import { VERSION } from '../version.ts';
import { defaultJudge, MODELS_PACKAGE, readInput, resolveModel, shippedModels, writeAtomic } from '../node/files.ts';
import { encodePng } from '../runtime/png.ts';
import { parseHost, serveDemo } from './serve.ts';
import { benchCommand, MAX_BATCH, MAX_SECONDS, parseBatchList, parseDtypeList, parseSeconds, type BenchCommandOptions } from './bench.ts';
import { classLabel, integer, nonNegative, number } from './options.ts';
import { loadTrainingSide, requestedCommand, TRAINING_COMMANDS } from './training-side.ts';
import { parseLatentsJson } from './latents.ts';

const pngPath = (value: string) => {
  if (!value.toLowerCase().endsWith('.png')) throw new InvalidArgumentError(`the output must be a .png file, got "${value}"`);
  return value;
};

async function loadDecoder(model: string | undefined): Promise<Decoder> {
  const path = resolveModel(model);
  const bytes = await readInput(path, 'model file');
  try {
    return await Decoder.load(bytes);
  } catch (err) {
    // A decoder from elsewhere (an ONNX file, a TensorFlow.js model.json) needs converting first.
    if (err instanceof FormatError && /not an edgevae model/.test(err.message) && /\.(onnx|json)$/i.test(path)) {
      throw new InputError(`${path} is not an edgevae model file; convert it first: npx edgevae import ${path} --out model.evae`);
    }
    throw err;
  }
}

const STDDEV_HELP = "standard deviation of the latent draws (default: the prior the model was trained against, 1 unless its file records another; with a fitted prior, 1: the spread within each component)";
const PRIOR_HELP = "latents from: 'model' (the file's fitted prior when it has one, else the Gaussian it was trained against) or 'standard' (that Gaussian, N(0, I) unless the file records another stddev)";

/** Most latents one `decode` decodes, as many as `sample --n` draws. */
const MAX_DECODE_ROWS = 4096;

/** The latent's shape in words: a vector's length, or an image's shape as held and the source model's layout. */
function latentShapeText(info: DecoderInfo): string {
  if (info.latentShape.length === 1) return `a vector of ${info.latentSize}`;
  const source = info.latentLayout ? `; the source model's layout: ${info.latentLayout}` : '';
  return `[${info.latentShape.join(', ')}] image, held channels-last${source}`;
}

async function writeGrid(decoder: Decoder, samples: Float32Array, out: string, columns?: number): Promise<void> {
  const grid = toImageGrid(samples, { shape: decoder.info.outputShape, range: decoder.info.range, columns });
  await writeAtomic(out, encodePng(grid));
  console.log(`wrote ${out} (${grid.width}x${grid.height})`);
}

const program = new Command('edgevae')
  .description('Sample generative decoders with a WebAssembly SIMD runtime; export TensorFlow.js decoders to its format.')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('info')
  .description('describe a model file: its shapes, layers, metadata and memory needs')
  .argument('<file>', 'an edgevae model file, or a shipped model\'s name')
  .option('--json', 'print the description as JSON')
  .action(async (file: string, options: { json?: boolean }) => {
    const decoder = await loadDecoder(file);
    const { info } = decoder;
    const memory = { batch1: decoder.memoryFor(1), batch64: decoder.memoryFor(64), batch256: decoder.memoryFor(256) };
    if (options.json) {
      console.log(JSON.stringify({ ...info, memory }, null, 2));
      return;
    }
    const { meta } = info;
    console.log(`model:       ${file}`);
    console.log(`latent:      ${info.latentSize}${info.classes ? ` + one-hot label of ${info.classes} classes (joins at node ${JSON.stringify(info.layers.find((l) => l.type === "concatenate")?.name)})` : ''}`);
    console.log(`latent shape: ${latentShapeText(info)}`);
    console.log(`output:      [${info.outputShape.join(', ')}] in [${info.range.join(', ')}]`);
    console.log(`weights:     ${info.dtype}, ${info.fileWeightBytes} bytes in the file, ${info.wasmWeightBytes} bytes packed in wasm`);
    console.log(`compute:     ${info.macsPerSample} multiply-adds per sample`);
    console.log(`memory:      ${memory.batch1} bytes at batch 1, ${memory.batch64} at 64, ${memory.batch256} at 256`);
    for (const key of ['preset', 'dataset', 'producer'] as const) if (meta[key]) console.log(`${(key + ':').padEnd(12)} ${meta[key]}`);
    if (meta.metrics) console.log(`metrics:     ${Object.entries(meta.metrics).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    // The graph: each node's name, the values it reads (graph inputs or earlier nodes) and its output shape.
    console.log('nodes:');
    info.layers.forEach((l, i) => console.log(`  ${String(i).padStart(2)} ${l.type.padEnd(16)} ${l.name} <- ${l.inputs.join(', ')} -> [${l.outputShape.join(', ')}]`));
  });

program
  .command('sample')
  .description('decode random latents and write a PNG grid')
  .option('--model <file>', 'an edgevae model file, or a shipped model\'s name (default: cvae)')
  .option('--n <count>', 'number of samples', integer(1, 4096), 64)
  .option('--seed <seed>', 'seed of the latent draws (same seed, same image)', integer(0, Number.MAX_SAFE_INTEGER), 1)
  .option('--label <class>', 'class to generate, for conditional models: 0..classes-1 (default: all classes in turn)', classLabel)
  .option('--stddev <sd>', STDDEV_HELP, nonNegative)
  .addOption(new Option('--prior <prior>', PRIOR_HELP).choices(PRIOR_CHOICES).default('model'))
  .option('--columns <count>', 'images per row of the grid', integer(1, 4096))
  .requiredOption('--out <file.png>', 'where to write the PNG grid', pngPath)
  .action(async (o: { model?: string; n: number; seed: number; label?: number; stddev?: number; prior: PriorChoice; columns?: number; out: string }) => {
    const decoder = await loadDecoder(o.model);
    const samples = decoder.sample(o.n, { seed: o.seed, stddev: o.stddev, prior: o.prior, labels: o.label });
    await writeGrid(decoder, samples, o.out, o.columns);
  });

program
  .command('traverse')
  .description('walk one latent dimension and write the decoded images as a PNG strip')
  .option('--model <file>', 'an edgevae model file, or a shipped model\'s name (default: cvae)')
  .requiredOption('--dim <index>', 'latent dimension to vary', integer(0, 65535))
  .option('--from <value>', 'start of the walk', number, -2.5)
  .option('--to <value>', 'end of the walk', number, 2.5)
  .option('--steps <count>', 'number of images', integer(1, 4096), 10)
  .option('--seed <seed>', 'draw the other dimensions from this seed (default: zeros)', integer(0, Number.MAX_SAFE_INTEGER))
  .addOption(new Option('--prior <prior>', `with --seed, the other dimensions from: ${PRIOR_HELP.slice('latents from: '.length)}`).choices(PRIOR_CHOICES).default('model'))
  .option('--label <class>', 'class, for conditional models: 0..classes-1 (default 0)', classLabel)
  .option('--columns <count>', 'images per row (default: all in one row)', integer(1, 4096))
  .requiredOption('--out <file.png>', 'where to write the PNG', pngPath)
  .action(async (o: { model?: string; dim: number; from: number; to: number; steps: number; seed?: number; prior: PriorChoice; label?: number; columns?: number; out: string }) => {
    const decoder = await loadDecoder(o.model);
    const samples = decoder.traverse({ dim: o.dim, from: o.from, to: o.to, steps: o.steps, seed: o.seed, prior: o.prior, label: o.label });
    await writeGrid(decoder, samples, o.out, o.columns ?? o.steps);
  });

program
  .command('decode')
  .description('decode given latents (a JSON file) and write the images as a PNG grid')
  .option('--model <file>', 'an edgevae model file, or a shipped model\'s name (default: cvae)')
  .requiredOption('--latents <file.json>', 'latents as JSON: an array of rows of latentSize numbers, or one flat array')
  .addOption(new Option('--layout <order>', "axis order of an image latent's rows: NHWC (channels-last, as the model holds it) or NCHW (channels-first, as PyTorch)").choices(LATENT_LAYOUTS).default('NHWC'))
  .option('--label <class>', 'class of every latent, for conditional models: 0..classes-1', classLabel)
  .option('--columns <count>', 'images per row of the grid', integer(1, 4096))
  .requiredOption('--out <file.png>', 'where to write the PNG grid', pngPath)
  .action(async (o: { model?: string; latents: string; layout: LatentLayout; label?: number; columns?: number; out: string }) => {
    const decoder = await loadDecoder(o.model);
    const text = new TextDecoder().decode(await readInput(o.latents, 'latents file'));
    const latents = parseLatentsJson(text, o.latents, decoder.info.latentSize, MAX_DECODE_ROWS);
    const samples = decoder.decode(latents, o.label, { layout: o.layout });
    await writeGrid(decoder, samples, o.out, o.columns);
  });


program
  .command('evaluate')
  .description('judge generated digits: conditional accuracy, confident share, and agreement between two files of a model')
  .option('--model <file>', 'an edgevae model file, or a shipped model\'s name (default: cvae)')
  .option('--judge <file>', 'the judge classifier (default: the MNIST judge, judge/mnist.evae in the edgevae-models package)')
  .option('--compare <file>', 'another file of the same model (e.g. f32 vs int8): report how often the judge agrees')
  .option('--per-class <n>', 'samples per digit (10x this for unconditional models)', integer(1, 100000), 100)
  .option('--seed <seed>', 'seed of the samples', integer(0, Number.MAX_SAFE_INTEGER), 1)
  .option('--stddev <sd>', STDDEV_HELP, nonNegative)
  .addOption(new Option('--prior <prior>', PRIOR_HELP).choices(PRIOR_CHOICES).default('model'))
  .option('--json', 'print the result as JSON')
  .option('--run <run-dir>', "instead: a training run's checkpoint on its data's test split (reconstruction error, negative ELBO; no judge, any images)")
  .option('--data <dir>', "with --run: the run's mnist or fashion-mnist IDX folder, if it moved")
  .option('--dataset <path>', "with --run: the run's image folder, if it moved")
  .action(async (o: { model?: string; judge?: string; compare?: string; perClass: number; seed: number; stddev?: number; prior: PriorChoice; json?: boolean; run?: string; data?: string; dataset?: string }) => {
    if (o.run !== undefined) {
      const others = [o.model !== undefined && '--model', o.judge !== undefined && '--judge', o.compare !== undefined && '--compare', o.stddev !== undefined && '--stddev'].filter(Boolean);
      if (others.length > 0) throw new InputError(`--run evaluates a run on its test split, with no judge: drop ${others.join(', ')}`);
      const { evaluateRunCommand } = await loadTrainingSide('evaluate --run');
      return evaluateRunCommand({ run: o.run, data: o.data, dataset: o.dataset, json: o.json });
    }
    if (o.data !== undefined || o.dataset !== undefined) throw new InputError('--data and --dataset go with --run RUN_DIR');
    const { generationQuality, judgeAgreement } = await import('../train/generation-quality.ts');
    const decoder = await loadDecoder(o.model);
    const size = decoder.info.outputShape.reduce((x, y) => x * y, 1);
    if (o.judge === undefined && size !== 784) {
      throw new InputError(`the judge reads 28x28 greyscale digits, and this model draws [${decoder.info.outputShape.join(', ')}]; score a training run on its test split instead: npx edgevae evaluate --run RUN_DIR`);
    }
    const judgePath = o.judge ?? defaultJudge();
    const judge = await Decoder.load(await readInput(judgePath, 'judge file'));
    const options = { perClass: o.perClass, seed: o.seed, prior: o.prior, stddev: o.stddev };
    const quality = generationQuality(decoder, judge, options);
    const agreement = o.compare ? judgeAgreement(decoder, await loadDecoder(o.compare), judge, options) : undefined;
    if (o.json) {
      console.log(JSON.stringify({ ...quality, ...(agreement === undefined ? {} : { agreement }) }, null, 2));
      return;
    }
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(`samples:                 ${quality.samples} (seed ${o.seed}, latents from ${priorName(decoder, o.prior, o.stddev)})`);
    if (quality.conditionalAccuracy !== undefined) {
      console.log(`conditional accuracy:    ${pct(quality.conditionalAccuracy)} (judge label = requested digit)`);
      console.log(`per digit:               ${quality.perClassAccuracy!.map((a, d) => `${d}:${pct(a)}`).join(' ')}`);
    }
    console.log(`judge confidence >= 0.9: ${pct(quality.confidentShare)} of samples (mean confidence ${quality.meanConfidence.toFixed(3)})`);
    console.log(`judge labels:            ${quality.judgedShares.map((share, d) => `${d}:${pct(share)}`).join(' ')}`);
    if (agreement !== undefined) console.log(`agreement with ${o.compare}: ${pct(agreement)} of samples get the same judge label`);
  });

/** Which distribution a sample's latents come from, in words. */
function priorName(decoder: Decoder, choice: PriorChoice, stddev = decoder.defaultStddev(choice)): string {
  const prior = decoder.info.prior;
  if (choice === 'model' && prior.type === 'gaussianMixture') return `the model's fitted prior, ${prior.components} Gaussians${stddev === 1 ? '' : ` spread x${stddev}`}`;
  return stddev === 1 ? 'N(0, I)' : `N(0, ${stddev}^2 I)`;
}

program
  .command('bench')
  .description('measure samples/s and latency percentiles of a model on this machine, beside tfjs-backend-wasm when installed')
  .option('--model <file>', 'an edgevae model file, or a shipped model\'s name (default: cvae)')
  .option('--batch <sizes>', `batch sizes, comma-separated, each 1..${MAX_BATCH}`, parseBatchList, [1, 64, 256])
  .option('--dtype <dtypes>', "weight dtypes to run, comma-separated from f32, f16, int8 (default: the file's own; others are converted)", parseDtypeList)
  .addOption(new Option('--simd <build>', 'wasm build: auto takes relaxed SIMD where this engine has it').choices(['auto', 'strict', 'relaxed']).default('auto'))
  .option('--seconds <s>', `time per contender and batch size, in (0, ${MAX_SECONDS}]`, parseSeconds, 2)
  .option('--threads <n>', 'also run our runtime on n worker threads: a pool splitting the batch, and each decode shared (1: single thread only)', integer(1, 48), 1)
  .option('--no-tfjs', 'skip the tfjs-backend-wasm comparison')
  .option('--json', 'print the results as JSON')
  .option('--layers', "profile each node instead: its time, share of the pass and GFLOP/s against this core's wasm SIMD peak (one thread, our runtime)")
  .action(async (o: BenchCommandOptions) => benchCommand(o));

program
  .command('serve')
  .description('serve the web demo: the <edgevae-sampler> element drawing the shipped models, or the models given with --model (Ctrl-C stops)')
  .option('--port <n>', 'TCP port (0: any free port)', integer(0, 65535), 8080)
  .option('--host <address>', 'address to listen on (the default keeps it to this machine)', parseHost, '127.0.0.1')
  .option('--model <file>', 'an edgevae model file, or a shipped model\'s name, to show instead of the demo\'s two; repeat it for more', (value: string, previous: string[] = []) => [...previous, value])
  .action(async (o: { port: number; host: string; model?: string[] }) => {
    const { url, models } = await serveDemo({ port: o.port, host: o.host, models: o.model });
    console.log(`serving the edgevae demo at ${url} (Ctrl-C to stop)`);
    for (const m of models) console.log(`  ${m.file} at ${new URL(m.urlPath.slice(1), url)} (${m.description})`);
    if (models.length === 0 && !shippedModels().includes('aae')) console.log(`  the page's aae sampler needs the ${MODELS_PACKAGE} package, which is not installed here: npm install ${MODELS_PACKAGE}`);
  });

/**
 * Train, export and import: their full definitions when one of them is asked for (which loads the
 * training side, or fails naming what to install), else a line each in the command list.
 */
async function addTrainingCommands(args: readonly string[]): Promise<void> {
  const requested = requestedCommand(args);
  if (requested !== undefined && Object.hasOwn(TRAINING_COMMANDS, requested)) {
    (await loadTrainingSide(requested)).registerTrainingCommands(program);
    return;
  }
  for (const [name, description] of Object.entries(TRAINING_COMMANDS)) {
    // requestedCommand picks the command commander would, so this runs only if the two ever disagree:
    // then as the full definition, on the same arguments.
    program.command(name).description(description).helpOption(false).allowUnknownOption().allowExcessArguments().action(async () => {
      const full = new Command('edgevae').showHelpAfterError();
      (await loadTrainingSide(name)).registerTrainingCommands(full);
      await full.parseAsync();
    });
  }
}

addTrainingCommands(process.argv.slice(2)).then(() => program.parseAsync()).catch((err: unknown) => {
  console.error(`edgevae: ${err instanceof EdgeVaeError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = err instanceof EdgeVaeError ? 1 : 70;
});
