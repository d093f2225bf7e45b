/**
 * Decoder.fromFile: reading a model file from disk, which only Node (and Deno's node: layer) can do,
 * so it lives here rather than in the runtime core. Importing edgevae/node adds it to the runtime's
 * Decoder class; the Decoder exported here is that same class, typed with it.
 */
import { fileURLToPath } from 'node:url';
import { Decoder as RuntimeDecoder, FormatError, RuntimeError, type LoadOptions } from '../index.ts';
import { readInput } from './files.ts';

/**
 * Reads a model file (a path, or a file: URL) and loads it. A missing file or a folder is an
 * InputError, a file that is not a valid model a FormatError; each names the path.
 */
async function fromFile(path: string | URL, options: LoadOptions = {}): Promise<RuntimeDecoder> {
  const file = path instanceof URL ? fileURLToPath(path) : path;
  const bytes = await readInput(file, 'model file');
  try {
    return await RuntimeDecoder.load(bytes, options);
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(`${file}: ${err.message}`, { cause: err });
    if (err instanceof RuntimeError) throw new RuntimeError(`${file}: ${err.message}`, { cause: err });
    throw err;
  }
}

export const Decoder: typeof RuntimeDecoder & { fromFile: typeof fromFile } = Object.assign(RuntimeDecoder, { fromFile });
export type Decoder = RuntimeDecoder;
