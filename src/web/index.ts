/** edgevae/web: worker pools for browsers (and Deno). The runtime itself is the package's main entry, `edgevae`. */
export { createWebPool, webWorkerEndpoint, type WebPoolOptions } from './pool.ts';
// The pool's errors, for `instanceof` where this module is a bundle of its own (dist/browser/edgevae-pool.js).
export { EdgeVaeError, FormatError, InputError, UnsupportedError, RuntimeError, type ErrorCode } from '../errors.ts';
