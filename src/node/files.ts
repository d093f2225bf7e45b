/** Node file helpers (CLI and training): reading inputs with clear errors, writing outputs atomically. */
import { readFile, rename, stat, writeFile, unlink } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.ts';

export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${what} ${path} does not exist`);
    if (code === 'EISDIR') throw new InputError(`${what} ${path} is a folder; give the file itself`);
    throw new InputError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Writes via a temporary file and a rename, so a reader never sees half a file and a crash leaves none. */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw new InputError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

/** The package's root folder, from either src/cli (tsx) or dist/cli (built). */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The package that holds the larger models (conv-vae, aae, the judge), apart from the runtime's. */
export const MODELS_PACKAGE = 'edgevae-models';

/**
 * The folders shipped models are looked up in, in order: this package's models/ (the default cvae),
 * then the models package: packages/models in a clone of the repository, else the installed
 * edgevae-models package; from the training package, the installed edgevae's models/. The one place model names are resolved (resolveModel, shippedModels,
 * defaultJudge, the demo server).
 */
export function modelFolders(): string[] {
  const root = packageRoot();
  const folders = [join(root, 'models'), join(root, 'packages', 'models')];
  const require = createRequire(import.meta.url);
  try {
    folders.push(dirname(require.resolve(`${MODELS_PACKAGE}/package.json`)));
  } catch {
    // not installed: the names it holds are reported missing, naming it
  }
  try {
    // Run from the training package (edgevae-train), the runtime package's models (the default cvae).
    folders.push(join(dirname(require.resolve('edgevae/package.json')), 'models'));
  } catch {
    // the runtime package itself, or not installed
  }
  return [...new Set(folders)].filter((dir) => existsSync(dir));
}

/** The models installed here by name (NAME.evae in a model folder), sorted. */
export function shippedModels(): string[] {
  const names = modelFolders().flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.evae')).map((f) => f.slice(0, -'.evae'.length)));
  return [...new Set(names)].sort();
}

/** The models edgevae-models holds, so a name missing here says which package brings it. */
export const MODELS_PACKAGE_HOLDS = ['aae', 'conv-vae', 'judge/mnist'] as const;

/** The path of a shipped model by name ("cvae", "judge/mnist"), or a clear error naming where it comes from. */
export function shippedModel(name: string): string {
  for (const dir of modelFolders()) {
    const file = join(dir, `${name}.evae`);
    if (existsSync(file)) return file;
  }
  if ((MODELS_PACKAGE_HOLDS as readonly string[]).includes(name)) {
    throw new InputError(`the ${name} model comes in the ${MODELS_PACKAGE} package, which is not installed here: npm install ${MODELS_PACKAGE} (${installedText()})`);
  }
  throw new InputError(`no shipped model is called ${name} (${installedText()})`);
}

function installedText(): string {
  const available = shippedModels();
  return available.length ? `shipped models: ${available.join(', ')}` : 'no models are installed';
}

/**
 * The judge classifier `evaluate` scores digits with when given no --judge: a model too, shipped in
 * the models package's judge/ folder (a folder, so it is not listed among the decoders by name).
 */
export function defaultJudge(): string {
  return shippedModel('judge/mnist');
}

/** The shipped model commands use when given no --model. */
export const DEFAULT_MODEL = 'cvae';

/**
 * Resolves a --model value: an existing file, else the name of a shipped model (e.g. "aae"); with no
 * value, the default shipped model.
 */
export function resolveModel(value: string | undefined): string {
  if (value === undefined) return shippedModel(DEFAULT_MODEL);
  if (existsSync(value)) return value;
  if ((MODELS_PACKAGE_HOLDS as readonly string[]).includes(value) || shippedModels().includes(value)) return shippedModel(value);
  throw new InputError(`model file ${value} does not exist (and it is not a shipped model name; ${installedText()})`);
}

export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
