/**
 * `edgevae import`: one command for decoders trained elsewhere. An .onnx file (PyTorch's
 * torch.onnx.export, or any ONNX exporter) goes through importOnnx; a TensorFlow.js layers model
 * (model.json + shards, which is also what tensorflowjs_converter makes of a Keras model) goes through
 * the same exportModel as `edgevae export`.
 */
import { Command, Option } from 'commander';
import type { ExportMeta, ExportOptions } from '../convert/encode.ts';
import { InputError } from '../errors.ts';
import { readModel } from '../format/read.ts';
import { isDirectory, readInput, writeAtomic } from '../node/files.ts';
import { DTYPE_CHOICES, integer, list, number, toDType } from './options.ts';
import { TRAINING_COMMANDS } from './training-side.ts';

interface ImportCommandOptions {
  dtype: string;
  out: string;
  latentInput?: string;
  labelInput?: string;
  outputLayout?: 'nchw' | 'nhwc';
  outputShape?: number[];
  range?: number[];
  preset?: string;
  dataset?: string;
  calibrate: boolean;
  calibrationSamples?: number;
}

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description(TRAINING_COMMANDS.import)
    .argument('<model>', 'an .onnx file, or a TensorFlow.js model.json (or its folder)')
    .addOption(new Option('--dtype <dtype>', 'weight type').choices(DTYPE_CHOICES).default('f32'))
    .requiredOption('--out <file>', 'where to write the edgevae model file')
    .option('--latent-input <name>', 'the input that takes the latent vector, for models with two inputs')
    .option('--label-input <name>', 'the input that takes the one-hot label, for models with two inputs')
    .addOption(new Option('--output-layout <layout>', 'ONNX only: whether a [a, b, c] output is NCHW or NHWC (default: from the graph; written NHWC either way)').choices(['nchw', 'nhwc']))
    .option('--output-shape <h,w,c>', 'per-sample output shape to record, e.g. 28,28,1 for a flat 784', list(integer(1, 1 << 24)))
    .option('--range <low,high>', 'the range the output values lie in (needed after a relu or a linear output that is not [0, 1])', list(number))
    .option('--preset <name>', 'preset name to record in the metadata')
    .option('--dataset <name>', 'dataset name to record in the metadata')
    .option('--no-calibrate', 'int8: round each weight to nearest instead of calibrating the rounding (GPTQ) on the model\'s own decodes')
    .option('--calibration-samples <n>', 'int8: latents decoded to calibrate on (default: about 4 G multiply-adds\' worth, 16 to 256)', integer(1, 4096))
    .action(async (source: string, o: ImportCommandOptions) => {
      const options = importOptions(o);
      // A calibrated int8 file is made from the f32 import: the rounding needs the weights it rounds.
      const calibrate = options.dtype === 'i8' && o.calibrate;
      if (!calibrate && o.calibrationSamples !== undefined) throw new InputError('--calibration-samples applies to a calibrated int8 import (--dtype int8 without --no-calibrate)');
      const first = calibrate ? { ...options, dtype: 'f32' as const } : options;
      let bytes = isOnnx(source) ? await importOnnxFile(source, first, o.outputLayout) : await importSavedModel(source, first, o.outputLayout);
      if (calibrate) {
        const { quantizeCalibrated } = await import('../export/convert-dtype.ts');
        console.log('calibrating the int8 rounding on the model\'s own decodes (--no-calibrate to round to nearest)');
        bytes = await quantizeCalibrated(bytes, { samples: o.calibrationSamples });
      }
      await writeAtomic(o.out, bytes);
      console.log(`wrote ${o.out} (${bytes.length} bytes, ${options.dtype} weights): ${describe(bytes)}`);
    });
}

function importOptions(o: ImportCommandOptions): ExportOptions {
  if (o.range !== undefined && (o.range.length !== 2 || !(o.range[0] < o.range[1]))) {
    throw new InputError(`--range must be two numbers low,high with low < high, got ${o.range.join(',')}`);
  }
  const meta: ExportMeta = {
    ...(o.preset ? { preset: o.preset } : {}),
    ...(o.dataset ? { dataset: o.dataset } : {}),
    ...(o.outputShape || o.range ? { output: { ...(o.outputShape ? { shape: o.outputShape } : {}), ...(o.range ? { range: [o.range[0], o.range[1]] as [number, number] } : {}) } } : {}),
  };
  return { dtype: toDType(o.dtype), latentInput: o.latentInput, labelInput: o.labelInput, meta };
}

const isOnnx = (source: string) => source.toLowerCase().endsWith('.onnx');

async function importOnnxFile(source: string, options: ExportOptions, layout: 'nchw' | 'nhwc' | undefined): Promise<Uint8Array> {
  const { importOnnx } = await import('../import/onnx.ts');
  const bytes = await readInput(source, 'ONNX model');
  return importOnnx(bytes, { ...options, outputLayout: layout === undefined ? undefined : layout === 'nchw' ? 'NCHW' : 'NHWC' });
}

async function importSavedModel(source: string, options: ExportOptions, layout: string | undefined): Promise<Uint8Array> {
  if (!(await isDirectory(source)) && !source.toLowerCase().endsWith('.json')) {
    throw new InputError(`${source} is neither an .onnx file nor a TensorFlow.js model.json (or a folder holding one)`);
  }
  if (layout !== undefined) throw new InputError('--output-layout applies to ONNX models only: TensorFlow.js models are channels-last already');
  return exportSavedModel(source, options);
}

/**
 * A saved TensorFlow.js layers model in the edgevae format. Loaded lazily, as TensorFlow.js is needed
 * only here; reading weights needs no fast backend.
 */
export async function exportSavedModel(source: string, options: ExportOptions): Promise<Uint8Array> {
  const { selectBackend } = await import('../train/backend.ts');
  await selectBackend('cpu');
  const { exportModel, loadSavedModel } = await import('../export/index.ts');
  return exportModel(await loadSavedModel(source), options);
}

/** What the import made of the model's inputs and output, from the file it wrote. */
function describe(bytes: Uint8Array): string {
  const { meta } = readModel(bytes).header;
  const inputs = meta.inputs;
  const latent = `latent "${inputs?.latent}" (${meta.latentSize})`;
  const label = meta.conditioning ? `, label "${inputs?.label}" (${meta.conditioning.classes} classes)` : '';
  const source = meta.source;
  const layout = source?.layout === 'NCHW' ? ` NHWC (the ONNX output "${source.output.name}" is NCHW [${source.output.shape.join(', ')}])` : '';
  return `${latent}${label}, output [${meta.output.shape.join(', ')}]${layout} in [${meta.output.range.join(', ')}]`;
}
