/** Worker threads that run one of this package's modules, built or from source. */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a thread running the module `name` beside `callerUrl` (the caller's import.meta.url): its
 * .js once built, its .ts when the caller itself runs from source (tests, benchmarks).
 */
export function startModuleWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = JSON.stringify(new URL(`${name}.${fromSource ? 'ts' : 'js'}`, callerUrl).href);
  // Started from a line of code rather than the file: the thread inherits the parent's Node options
  // (V8 flags such as --experimental-wasm-relaxed-simd included), and `--input-type`, which
  // `node --input-type=module -e` sets, is refused for a file but fine for code.
  // From source on Node 20, tsx hooks only the main thread, so the thread registers it itself;
  // without tsx, a runtime that strips types may still run the .ts.
  const tsxApi = fromSource ? resolveOrNull('tsx/esm/api') : null;
  const bootstrap = tsxApi ? `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${entry}); });` : `import(${entry});`;
  return new Worker(bootstrap, { ...options, eval: true });
}

function resolveOrNull(specifier: string): string | null {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return null;
  }
}
