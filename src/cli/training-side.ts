/**
 * Loading the training side of the CLI (./training.ts: train, export, import, evaluate --run) when one
 * of its commands runs, and saying what to install when it is not there. The runtime package
 * (`edgevae`) ships without it, so that sampling installs in under 2 MB rather than the 320 MB that
 * TensorFlow.js and the other training libraries take (docs/SIZES.md); the training package
 * (`edgevae-train`, packages/train in the repository) brings it, with those libraries as its
 * dependencies. In a clone everything is there.
 *
 * Loads nothing itself: main.ts imports this module on every run.
 */
import { InputError } from '../errors.ts';
import { VERSION } from '../version.ts';

/** The package that brings the training side to an installed runtime package. */
export const TRAIN_PACKAGE = 'edgevae-train';

/**
 * The libraries the training side imports, as packages/train/package.json depends on them (and the
 * root package.json on them for development); test/training-side.test.ts holds the three to one list.
 */
export const TRAINING_DEPENDENCIES: Readonly<Record<string, string>> = {
  '@tensorflow/tfjs': '4.22.0',
  '@tensorflow/tfjs-backend-wasm': '4.22.0',
  'cli-progress': '^3.12.0',
  'fast-png': '^8.0.0',
  'jpeg-js': '^0.4.4',
  'onnx-proto': '^8.0.1',
  vega: '^6.4.0',
  'vega-lite': '~6.4.3',
};

/** The commands that need the training side, with their descriptions (listed by `edgevae --help`, and given by their definitions). */
export const TRAINING_COMMANDS: Readonly<Record<string, string>> = {
  train: 'train a preset on MNIST, Fashion-MNIST or a folder of images; Ctrl-C saves a checkpoint, --resume continues it exactly',
  export: 'write a decoder in the edgevae format (or as ONNX), from a training run folder, a saved TensorFlow.js model, or (for ONNX) an edgevae model file',
  import: "convert a decoder from ONNX (e.g. PyTorch's torch.onnx.export) or a saved TensorFlow.js / Keras layers model to an edgevae model file",
};

export type TrainingSide = typeof import('./training.ts');

/** The command a command line asks for: its first argument that is not an option (`help X` asks for X). */
export function requestedCommand(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * The training side: this package's own (a clone, or the training package itself), else the
 * installed training package's. A missing piece becomes an InputError naming what to install;
 * `what` names the command that needed it ("train", "evaluate --run").
 */
export async function loadTrainingSide(what: string): Promise<TrainingSide> {
  try {
    return await import('./training.ts');
  } catch (err) {
    const missing = missingModule(err);
    if (missing === undefined) throw err;
    // A package the training side imports: it is here, its libraries are not.
    if (isPackageName(missing)) throw new InputError(dependencyMessage(what, missing));
  }
  // This is the runtime package, which ships without ./training.js: the training package brings it.
  try {
    return (await import(`${TRAIN_PACKAGE}/cli`)) as TrainingSide;
  } catch (err) {
    const missing = missingModule(err);
    if (missing === TRAIN_PACKAGE) throw new InputError(trainPackageMessage(what));
    if (missing !== undefined) throw new InputError(dependencyMessage(what, missing));
    throw err;
  }
}

/** Whether what Node could not find is a package (a bare name) rather than one of our own files (a path). */
export function isPackageName(specifier: string): boolean {
  return !/^(\.|\/|file:|[A-Za-z]:[\\/])/.test(specifier);
}

/** The specifier Node could not find (a package name, or a file path), when that is the error. */
export function missingModule(err: unknown): string | undefined {
  const e = err as { code?: string; message?: string };
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || typeof e.message !== 'string') return undefined;
  return /^Cannot find (?:package|module) '([^']+)'/.exec(e.message)?.[1];
}

export function trainPackageMessage(what: string): string {
  return (
    `edgevae ${what} needs the training side (TensorFlow.js and the trainer), which this edgevae package leaves out so that sampling installs small. ` +
    `Install it beside edgevae: npm install ${TRAIN_PACKAGE}@${VERSION} ` +
    `(until it is on the registry: "npm pack -w packages/train" in a clone of edgevae writes ${TRAIN_PACKAGE}-${VERSION}.tgz to install), ` +
    'or run it from a clone of the repository after "npm install".'
  );
}

export function dependencyMessage(what: string, missing: string): string {
  const all = Object.entries(TRAINING_DEPENDENCIES).map(([name, range]) => `${name}@${range}`);
  return `edgevae ${what} needs ${missing}, which is not installed. The training side's libraries: npm install ${all.join(' ')}`;
}
