/** edgevae/web: worker pools for browsers (and Deno). The runtime itself is the package's main entry, `edgevae`. */
export { createWebPool, webWorkerEndpoint, type WebPoolOptions } from './pool.ts';
