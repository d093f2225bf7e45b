/**
 * The training side of the `edgevae` command: train, export and import, and `evaluate --run`. They
 * load TensorFlow.js (and onnx-proto, vega, the image decoders), which the runtime package leaves out:
 * main.ts imports this module only when one of these commands runs, through training-side.ts, which
 * names what to install when it is missing. The runtime's commands (info, sample, traverse, decode,
 * evaluate with a judge, bench, serve) never load it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { InputError } from '../errors.ts';
import { LIMITS } from '../format/spec.ts';
import { isDirectory, readInput, resolveModel, shippedModels, writeAtomic } from '../node/files.ts';
import { PRESET_HELP, trainCommand, type TrainCommandOptions } from './train.ts';
import { BACKEND_CHOICES } from '../train/backend.ts';
import { MAX_THREADS } from '../train/replica-sync.ts';
import { integer, nonNegative, openFraction, positive } from './options.ts';
import { DEFAULT_TEST_SPLIT, IMAGE_FOLDER_LIMITS } from '../data/image-folder.ts';
import { exportSavedModel, registerImportCommand } from './import.ts';
import { TRAINING_COMMANDS } from './training-side.ts';

export { evaluateRunCommand } from './train.ts';

/** Adds train, export and import to the program. */
export function registerTrainingCommands(program: Command): void {
  program
    .command('train')
    .description(TRAINING_COMMANDS.train)
    .option('--preset <name>', 'the model to train (see below)')
    .option('--resume <run-dir>', 'continue a stopped run from its checkpoint')
    .option('--epochs <n>', 'epochs (default: the preset\'s)', integer(1, 100000))
    .option('--steps <n>', 'stop after this many steps in total (with a checkpoint)', integer(1, Number.MAX_SAFE_INTEGER))
    .option('--batch-size <n>', 'batch size (default: the preset\'s)', integer(1, 60000))
    .option('--lr <rate>', 'learning rate (default: the preset\'s); with --resume, from the step it resumes at', positive)
    .option('--final-lr <rate>', 'decay the learning rate along a half cosine to this by the last epoch (from the start, or with --resume from the step it resumes at)', nonNegative)
    .option('--seed <seed>', 'seed of initialisation, data order and noise', integer(0, 2 ** 32 - 1))
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKEND_CHOICES).default('auto'))
    .option('--threads <n>', 'train on n threads, each on a share of every batch (edgevae, wasm and cpu backends; with --resume too)', integer(1, MAX_THREADS), 1)
    .option('--dataset <name|path>', "mnist (default), fashion-mnist, or a folder of PNG and JPEG images: one subfolder per class (labels) or flat (unlabelled); write ./NAME for a folder called mnist")
    .option('--data <dir>', 'folder with the IDX files of mnist or fashion-mnist (default: $EDGEVAE_MNIST_DIR or $EDGEVAE_FASHION_MNIST_DIR, the cache, Debian\'s package for fashion-mnist, then a download)')
    .option('--image-size <n>', "image folders: resize the shorter side to n with an antialiased bilinear (triangle) filter, then crop the centre n x n (default: the images' own size, when all are square and equal)", integer(IMAGE_FOLDER_LIMITS.minImageSize, IMAGE_FOLDER_LIMITS.maxImageSize))
    .addOption(new Option('--channels <n>', 'image folders: 1 (grey, BT.601 luma) or 3 (RGB) (default: 3 when any image has colour, else 1)').choices(['1', '3']).argParser((v) => Number(v) as 1 | 3))
    .option('--test-split <share>', `image folders: share of each class held out for testing, seeded (default ${DEFAULT_TEST_SPLIT})`, openFraction)
    .option('--strict', 'image folders: an image that cannot be decoded is an error (default: it is named and skipped)')
    .option('--runs <dir>', 'where run folders go', 'runs')
    .addHelpText('after', () => `\nPresets:\n${PRESET_HELP}`)
    .action(async (o: TrainCommandOptions) => trainCommand(o));

  program
    .command('export')
    .description(TRAINING_COMMANDS.export)
    .argument('<source>', 'a run folder (runs/<preset>/<time>), a TensorFlow.js model.json (or its folder), or an .evae file or shipped model name (to ONNX)')
    .addOption(new Option('--dtype <dtype>', 'weight type (ONNX: int8 stores int8 kernels with DequantizeLinear, f32/f16 store f32)').choices(['f32', 'f16', 'int8', 'i8']).default('f32'))
    .addOption(new Option('--format <format>', 'what to write: an edgevae model file, or an ONNX model (default: from --out\'s extension)').choices(['evae', 'onnx']))
    .option('--opset <n>', 'ONNX opset, 13..23 (with --format onnx; default 13)', integer(13, 23))
    .addOption(new Option('--quantize <mode>', "with --format onnx: 'dynamic' writes dense and conv2d layers as onnxruntime's quantize_dynamic does (uint8 activations quantized at run time, int8 kernels, MatMulInteger / ConvInteger)").choices(['none', 'dynamic']).default('none'))
    .requiredOption('--out <file>', 'where to write the model file')
    .option('--label-input <name>', 'name of the one-hot label input, for conditional decoders with two inputs (model.json only)')
    .option('--output-shape <h,w,c>', 'per-sample output shape, e.g. 28,28,1 (model.json only)', (v: string) => v.split(',').map(integer(1, 1 << 24)))
    .option('--preset <name>', 'preset name to record in the metadata (model.json only)')
    .option('--dataset <name>', 'model.json: dataset name to record in the metadata; a run folder with --prior-components: the run\'s image folder, if it moved (default: the folder the run recorded)')
    .option('--prior-components <k>', 'fit a mixture of k Gaussians to the training images\' codes and store it as the latent prior sample() draws from (run folders of presets with an encoder)', integer(1, LIMITS.priorComponents))
    .option('--data <dir>', 'with --prior-components: the IDX folder of the run\'s mnist or fashion-mnist, if it moved (default: the folder the run recorded)')
    .action(async (source: string, options: ExportCommandOptions) => {
      const o = { ...options, format: exportFormat(options.format, options.out) };
      const dtype = o.dtype === 'int8' ? 'i8' : (o.dtype as 'f32' | 'f16' | 'i8');
      if (o.quantize !== 'none' && o.format !== 'onnx') throw new InputError('--quantize applies to ONNX output: add --format onnx');
      const bytes = await exportSource(source, dtype, o);
      if (o.format === 'onnx') {
        const { exportOnnx } = await import('../export/onnx.ts');
        const weights = dtype === 'i8' ? 'i8' : 'f32';
        const onnxBytes = exportOnnx(bytes, { opset: o.opset, weights, quantize: o.quantize });
        await writeAtomic(o.out, onnxBytes);
        const dynamic = o.quantize === 'dynamic' ? ', dense and conv2d layers dynamically quantized to int8' : '';
        console.log(`wrote ${o.out} (${onnxBytes.length} bytes, ONNX opset ${o.opset ?? 13}, ${weights} weights${dynamic})`);
        return;
      }
      await writeAtomic(o.out, bytes);
      console.log(`wrote ${o.out} (${bytes.length} bytes, ${dtype} weights)`);
    });

  registerImportCommand(program);
}

/** The export's format: as given, else from the output's extension; a format the extension contradicts is refused. */
function exportFormat(given: 'evae' | 'onnx' | undefined, out: string): 'evae' | 'onnx' {
  const extension = /\.(evae|onnx)$/i.exec(out)?.[1].toLowerCase() as 'evae' | 'onnx' | undefined;
  if (given && extension && given !== extension) throw new InputError(`--format ${given} writes ${given === 'onnx' ? 'ONNX' : 'an edgevae file'}, but --out ${out} ends in .${extension}: make them agree`);
  const format = given ?? extension;
  if (!format) throw new InputError(`--out ${out} ends in neither .evae nor .onnx: name it so, or give --format evae|onnx`);
  return format;
}

interface ExportCommandOptions {
  dtype: string;
  format?: 'evae' | 'onnx';
  opset?: number;
  quantize: 'none' | 'dynamic';
  out: string;
  labelInput?: string;
  outputShape?: number[];
  preset?: string;
  dataset?: string;
  priorComponents?: number;
  data?: string;
}

/** The edgevae file for an export's source: an .evae file as it is (ONNX only), a run folder, or a TensorFlow.js model. */
async function exportSource(source: string, dtype: 'f32' | 'f16' | 'i8', o: ExportCommandOptions): Promise<Uint8Array> {
  const isRun = (await isDirectory(source)) && existsSync(join(source, 'config.json'));
  if (o.priorComponents !== undefined && !isRun) throw new InputError('--prior-components needs a training run folder: the prior is fitted to its encoder\'s codes');
  if (o.data !== undefined && o.priorComponents === undefined) throw new InputError('--data is read only to fit a prior: add --prior-components K');
  if (isRun) {
    const modelJsonOnly = [o.preset !== undefined && '--preset', o.labelInput !== undefined && '--label-input', o.outputShape !== undefined && '--output-shape', o.priorComponents === undefined && o.dataset !== undefined && '--dataset'].filter(Boolean);
    if (modelJsonOnly.length > 0) {
      throw new InputError(`${modelJsonOnly.join(', ')} ${modelJsonOnly.length === 1 ? 'applies' : 'apply'} to a TensorFlow.js model.json; a run folder records its preset, shapes and dataset (with --prior-components, --dataset PATH gives the run's image folder if it moved)`);
    }
  }
  const shipped = !existsSync(source) && /^[\w-]+$/.test(source) && shippedModels().includes(source);
  if (shipped || (!(await isDirectory(source)) && source.toLowerCase().endsWith('.evae'))) {
    if (o.format !== 'onnx') throw new InputError(`${source} is already an edgevae model: write it as ONNX (--out FILE.onnx)`);
    return readInput(shipped ? resolveModel(source) : source, 'model file');
  }
  // Loaded lazily: TensorFlow.js is only needed here, not for sampling. Reading weights needs no fast
  // backend; encoding a dataset for a prior does.
  const { selectBackend } = await import('../train/backend.ts');
  if (isRun) {
    const { exportRun } = await import('../train/export-run.ts');
    if (o.priorComponents === undefined) {
      await selectBackend('cpu');
      return exportRun(source, dtype);
    }
    const log = (message: string) => console.error(message);
    await selectBackend('auto', log);
    const { readRun } = await import('../train/trainer.ts');
    const { loadRecordedData } = await import('../data/sources.ts');
    const run = await readRun(source);
    // The run's recorded data (--data: its IDX folder, --dataset: its image folder, if it moved).
    const data = await loadRecordedData(run.data, run.dataset, { data: o.data, dataset: o.dataset, runDir: source }, { log });
    return exportRun(source, dtype, { components: o.priorComponents, dataset: data, log });
  }
  await selectBackend('cpu');
  const meta = {
    ...(o.preset ? { preset: o.preset } : {}),
    ...(o.dataset ? { dataset: o.dataset } : {}),
    ...(o.outputShape ? { output: { shape: o.outputShape } } : {}),
  };
  return exportSavedModel(source, { dtype, labelInput: o.labelInput, meta });
}

