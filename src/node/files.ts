/** Node file helpers (CLI and training): reading inputs with clear errors, writing outputs atomically. */
import { readFile, rename, stat, writeFile, unlink } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/** The models shipped in the package's models/ folder, by name (models/NAME.evae). */
export function shippedModels(): string[] {
  const dir = join(packageRoot(), 'models');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.evae')).map((f) => f.slice(0, -'.evae'.length)).sort() : [];
}

/**
 * The judge classifier `evaluate` scores digits with when given no --judge: a model too, shipped in
 * models/judge/ (a folder, so it is not listed among the decoders by name).
 */
export function defaultJudge(): string {
  return join(packageRoot(), 'models', 'judge', 'mnist.evae');
}

/** The shipped model commands use when given no --model. */
export const DEFAULT_MODEL = 'cvae';

/**
 * Resolves a --model value: an existing file, else the name of a shipped model (e.g. "aae"); with no
 * value, the default shipped model.
 */
export function resolveModel(value: string | undefined): string {
  const name = value ?? DEFAULT_MODEL;
  if (value !== undefined && existsSync(value)) return value;
  const shipped = join(packageRoot(), 'models', `${name}.evae`);
  if (existsSync(shipped)) return shipped;
  const available = shippedModels();
  const list = available.length ? `shipped models: ${available.join(', ')}` : 'this package ships no models';
  throw new InputError(value === undefined ? `no --model given and no default model (${DEFAULT_MODEL}); ${list}` : `model file ${value} does not exist (and it is not a shipped model name; ${list})`);
}

export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
