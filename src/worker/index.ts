/**
 * edgevae/worker: the sampling API as a Cloudflare Worker (or any runtime whose servers take a
 * `fetch(request)` handler: Deno.serve, Bun.serve). A Worker is three lines:
 *
 *   import wasm from 'edgevae/wasm';                   // a WebAssembly.Module: Workers cannot compile bytes
 *   import model from 'edgevae/models/cvae.evae';      // an ArrayBuffer (a Data module rule)
 *   export default createWorker({ model, wasm });
 *
 * Limits come from the Worker's environment (wrangler.toml [vars]): MAX_SAMPLES, MAX_BODY_BYTES. Any
 * origin may read the responses unless `cors: { origin }` names the ones that may.
 */
import { Decoder } from '../runtime/decoder.ts';
import type { WasmSource } from '../runtime/wasm.ts';
import { corsPolicy, type CorsOptions } from './cors.ts';
import { DEFAULT_LIMITS, respond, route, type Limits } from './handler.ts';
import { HttpError } from './http.ts';

export { ANY_ORIGIN, corsPolicy, type CorsOptions, type CorsPolicy } from './cors.ts';
export { DEFAULT_LIMITS, errorResponse, handleRequest, type Limits } from './handler.ts';
export { HttpError } from './http.ts';

export interface WorkerOptions {
  /** The model file's bytes. */
  model: ArrayBuffer | Uint8Array;
  /** The edgevae wasm: in Workers, the module imported from 'edgevae/wasm' (or 'edgevae/wasm-relaxed'). */
  wasm: WasmSource;
  /** Which origins' pages may read the responses (CORS); any origin by default. Checked here: a bad one throws an InputError. */
  cors?: CorsOptions;
}

/** Environment variables that set the limits, with the range each accepts. */
const LIMIT_VARIABLES = {
  MAX_SAMPLES: { key: 'maxSamples', max: 4096 },
  // Workers accept request bodies up to 100 MB on every plan.
  MAX_BODY_BYTES: { key: 'maxBodyBytes', max: 100 * 2 ** 20 },
} as const;

/**
 * A Worker's default export: `{ fetch(request, env) }`. The decoder loads on the first request (Workers
 * run no asynchronous work at start-up) and then serves every request of the isolate.
 */
export function createWorker(options: WorkerOptions): { fetch(request: Request, env?: unknown): Promise<Response> } {
  const cors = corsPolicy(options.cors);
  let decoder: Promise<Decoder> | undefined;
  return {
    fetch(request, env) {
      // A misconfigured limit or a model that fails to load is answered like any error: JSON, with the CORS headers.
      return respond(request, cors, async () => {
        const limits = limitsFromEnv(env);
        decoder ??= Decoder.load(options.model, { wasm: options.wasm });
        return route(request, await decoder, limits);
      });
    },
  };
}

/**
 * The limits set by MAX_SAMPLES and MAX_BODY_BYTES (numbers or decimal strings; defaults otherwise).
 * A bad value is the deployment's fault, not the client's: a 500 that names the variable.
 */
export function limitsFromEnv(env: unknown): Limits {
  const limits = { ...DEFAULT_LIMITS };
  const vars = (typeof env === 'object' && env !== null ? env : {}) as Record<string, unknown>;
  for (const [name, { key, max }] of Object.entries(LIMIT_VARIABLES)) {
    const raw = vars[name];
    if (raw === undefined) continue;
    const value = typeof raw === 'string' && /^[0-9]+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new HttpError(500, `the Worker is misconfigured: ${name} must be an integer in 1..${max}, got ${JSON.stringify(raw)}`);
    }
    limits[key] = value;
  }
  return limits;
}
