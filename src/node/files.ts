/** Node file helpers (CLI and training): reading inputs with clear errors, writing outputs atomically. */
import { readFile, rename, stat, writeFile, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.ts';

export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `${what} ${path} does not exist` : `cannot read ${what} ${path}: ${(err as Error).message}`);
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

/** The model shipped with the package that commands use when no --model is given, if there is one. */
export function defaultModelPath(): string | undefined {
  const path = join(packageRoot(), 'models', 'default.evae');
  return existsSync(path) ? path : undefined;
}

export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
