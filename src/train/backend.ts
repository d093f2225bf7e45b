/**
 * TensorFlow.js backend selection for training (Node only).
 *
 * Every caller gets back the ONE `@tensorflow/tfjs` namespace this module imports, with the chosen
 * backend active on it. The backends:
 *
 * - `node-gpu` / `node`: `@tensorflow/tfjs-node-gpu` / `@tensorflow/tfjs-node` (libtensorflow, native).
 *   Both are OPTIONAL peer dependencies: they download libtensorflow when installed, so edgevae never
 *   installs them itself; they are loaded with a dynamic `import()` only when present. Each re-exports
 *   `@tensorflow/tfjs` (it depends on exactly the same version, 4.22.0 for 4.22.0) and registers the
 *   'tensorflow' backend on that package's tfjs-core. With matching versions npm dedupes them to a
 *   single `node_modules/@tensorflow/tfjs` and a single `tfjs-core`, so the backend lands on the core
 *   our `tf` uses (all of these are CommonJS packages in Node, so both `import`s reach the same module
 *   instance in the require cache). With mismatched versions npm nests a second tfjs inside
 *   tfjs-node: the engine (kept on `globalThis`) is shared but the Tensor classes are not, which breaks
 *   layers in subtle ways, so we check `Tensor` identity after loading and refuse with a clear
 *   message (`npm ls @tensorflow/tfjs-core` shows the duplicate).
 * - `wasm`: `@tensorflow/tfjs-backend-wasm` (a regular dependency). In Node its wasm binaries are read
 *   from the package's `dist/` folder: we pass that folder as a plain file-system path to
 *   `setWasmPaths` and leave `usePlatformFetch` false, so Emscripten's Node branch reads the file with
 *   `fs` (Node 20's `fetch` cannot load `file:` URLs). Node gets the SIMD binary and one thread:
 *   tfjs-backend-wasm reports no multithread support under Node (its WASM_HAS_MULTITHREAD_SUPPORT
 *   flag is false there), so the wasm backend never uses more than one core.
 * - `edgevae`: the wasm backend with its matrix products and convolutions (forward and both gradients)
 *   replaced by edgevae's own SIMD kernels (edgevae-backend.ts); always present, as the wasm backend
 *   is, and several times faster at training. It runs the relaxed-SIMD build of the kernels (fused
 *   multiply-add) where the engine accepts it, the strict one elsewhere.
 * - `cpu`: tfjs's pure-JavaScript backend, always present and slowest.
 *
 * The "Hi, looks like you are running TensorFlow.js in Node.js" banner is printed by the cpu backend
 * on its first tensor write through tfjs's own `warn`, which is silent while the `PROD` env flag is
 * set. We set `PROD` only around one warm-up write after activating cpu and then restore it, so the
 * banner never shows and every later tfjs warning still does (no console patching).
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { InputError, RuntimeError, UnsupportedError } from '../errors.ts';
import { EDGEVAE_BACKEND, edgevaeBackendSimd, registerEdgevaeBackend, relaxedTrainSimdSupported } from './edgevae-backend.ts';

/** The TensorFlow.js namespace every training module uses. */
export type Tf = typeof tf;

export const BACKEND_CHOICES = ['auto', 'node-gpu', 'node', 'edgevae', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type ConcreteBackend = Exclude<BackendChoice, 'auto'>;

/** Fastest first: the order `auto` tries. */
export const AUTO_ORDER: readonly ConcreteBackend[] = ['node-gpu', 'node', 'edgevae', 'wasm', 'cpu'];

export interface SelectedBackend {
  /** Which of the choices is active. */
  choice: ConcreteBackend;
  /** TensorFlow.js's name of the active backend: 'tensorflow', 'edgevae', 'wasm' or 'cpu' (`tf.getBackend()`). */
  name: string;
  /** The npm package that provides it. */
  package: string;
  /** A one-line description for logs, e.g. "wasm (@tensorflow/tfjs-backend-wasm 4.22.0, SIMD, 1 thread)". */
  description: string;
  /** The one TensorFlow.js namespace to use, with this backend active. */
  tf: Tf;
}

const PACKAGES: Record<ConcreteBackend, string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
  edgevae: '@tensorflow/tfjs-backend-wasm',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** A backend that cannot be used here: its optional package is missing, fails to load, or fails to start. */
export class BackendUnavailableError extends UnsupportedError {
  override name = 'BackendUnavailableError';
  readonly backend: ConcreteBackend;
  readonly package: string;
  /** True when the package is simply not installed (as opposed to installed but failing). */
  readonly missing: boolean;
  constructor(backend: ConcreteBackend, message: string, missing: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.backend = backend;
    this.package = PACKAGES[backend];
    this.missing = missing;
  }
}

const require = createRequire(import.meta.url);

/** The install command for an optional backend package, pinned to the tfjs version in use. */
export function installCommand(backend: ConcreteBackend): string {
  return `npm install ${PACKAGES[backend]}@${tf.version_core}`;
}

/**
 * Activates a TensorFlow.js backend and returns the tf namespace to use with it.
 * `auto` picks the fastest present in the order node-gpu, node, edgevae, wasm, cpu and logs its choice and
 * why each faster one was skipped. An explicit choice that cannot be had throws
 * BackendUnavailableError (for node/node-gpu naming the package and its install command).
 */
export async function selectBackend(choice: BackendChoice, log: (message: string) => void = () => {}): Promise<SelectedBackend> {
  if (!BACKEND_CHOICES.includes(choice)) throw new InputError(`backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(choice)}`);
  if (choice !== 'auto') {
    const selected = await activate(choice);
    log(`backend: ${selected.description}`);
    return selected;
  }
  const skipped: string[] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      const selected = await activate(candidate);
      log(`backend: auto chose ${selected.description}${skipped.length ? `; ${skipped.join('; ')}` : ''}`);
      return selected;
    } catch (err) {
      if (!(err instanceof BackendUnavailableError) || candidate === 'cpu') throw err;
      skipped.push(`skipped ${candidate}: ${err.missing ? `${err.package} is not installed` : err.message}`);
    }
  }
  /* c8 ignore next */
  throw new RuntimeError('no TensorFlow.js backend could be activated');
}

async function activate(choice: ConcreteBackend): Promise<SelectedBackend> {
  switch (choice) {
    case 'node-gpu':
    case 'node':
      return activateNode(choice);
    case 'edgevae':
      return activateEdgevae();
    case 'wasm':
      return activateWasm();
    case 'cpu':
      return activateCpu();
  }
}

async function activateNode(choice: 'node' | 'node-gpu'): Promise<SelectedBackend> {
  const pkg = PACKAGES[choice];
  try {
    require.resolve(`${pkg}/package.json`);
  } catch {
    throw new BackendUnavailableError(
      choice,
      `backend "${choice}" needs the optional package ${pkg}, which is not installed. ` +
        `Install it with \`${installCommand(choice)}\` (it downloads libtensorflow when installed${choice === 'node-gpu' ? ', and needs CUDA and cuDNN to run' : ''}), ` +
        `or use backend auto, wasm or cpu.`,
      true,
    );
  }
  let mod: Record<string, unknown>;
  try {
    const specifier: string = pkg; // a variable: the package is optional, so TypeScript must not resolve it
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    throw new BackendUnavailableError(choice, `${pkg} is installed but failed to load: ${messageOf(err)}`, false, { cause: err });
  }
  const ns = (mod.Tensor ? mod : (mod.default ?? mod)) as { Tensor?: unknown; version?: Record<string, string> };
  if (ns.Tensor !== tf.Tensor) {
    throw new BackendUnavailableError(
      choice,
      `${pkg} loaded a second copy of TensorFlow.js (its tfjs-core ${ns.version?.['tfjs-core'] ?? '?'}, ours ${tf.version_core}); ` +
        `install the version matching @tensorflow/tfjs (\`${installCommand(choice)}\`) so npm keeps one tfjs-core (check with \`npm ls @tensorflow/tfjs-core\`)`,
      false,
    );
  }
  await setBackendOrThrow(choice, 'tensorflow');
  const version = (ns.version as Record<string, string> | undefined)?.['tfjs-node'] ?? tf.version_core;
  return done(choice, `${choice} (${pkg} ${version}, libtensorflow)`);
}

async function activateWasm(): Promise<SelectedBackend> {
  return done('wasm', `wasm (${await initialiseWasm('wasm')})`);
}

async function activateEdgevae(): Promise<SelectedBackend> {
  const wasm = await initialiseWasm('edgevae');
  const simd = edgevaeBackendSimd() ?? (relaxedTrainSimdSupported() ? 'relaxed' : 'strict');
  await registerEdgevaeBackend(simd);
  await setBackendOrThrow('edgevae', EDGEVAE_BACKEND);
  return done('edgevae', `edgevae (edgevae's ${simd}-SIMD matrix and convolution kernels on ${wasm})`);
}

/** Activates tfjs-backend-wasm, reading its .wasm files from the package; describes it. */
async function initialiseWasm(choice: 'wasm' | 'edgevae'): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = join(dirname(require.resolve(`${PACKAGES.wasm}/package.json`)), 'dist') + sep;
  try {
    wasm.setWasmPaths(dist);
  } catch (err) {
    // setWasmPaths refuses once an initialisation has been tried and failed; the paths are already set.
    throw new BackendUnavailableError(choice, `the wasm backend failed to initialise earlier in this process: ${messageOf(err)}`, false, { cause: err });
  }
  await setBackendOrThrow(choice, 'wasm', ` (its .wasm binaries are read from ${dist})`);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return `${PACKAGES.wasm} ${wasm.version_wasm}, ${simd ? 'SIMD' : 'no SIMD'}, ${wasm.getThreadsCount()} thread${wasm.getThreadsCount() === 1 ? '' : 's'}`;
}

async function activateCpu(): Promise<SelectedBackend> {
  await setBackendOrThrow('cpu', 'cpu');
  // The cpu backend prints its "install tfjs-node" banner on its first write, through tfjs's warn(),
  // which PROD silences: make that first write now, quietly, then restore the flag.
  const env = tf.env();
  const prod = env.getBool('PROD');
  env.set('PROD', true);
  try {
    tf.dispose(tf.scalar(0));
  } finally {
    env.set('PROD', prod);
  }
  return done('cpu', `cpu (${PACKAGES.cpu} ${tf.version_core}, pure JavaScript)`);
}

async function setBackendOrThrow(choice: ConcreteBackend, name: string, hint = ''): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (err) {
    throw new BackendUnavailableError(choice, `TensorFlow.js backend "${name}" failed to initialise${hint}: ${messageOf(err)}`, false, { cause: err });
  }
  if (!ok || tf.getBackend() !== name) throw new BackendUnavailableError(choice, `TensorFlow.js backend "${name}" failed to initialise${hint}`, false);
}

function done(choice: ConcreteBackend, description: string): SelectedBackend {
  return { choice, name: tf.getBackend(), package: PACKAGES[choice], description, tf };
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
