/**
 * edgevae/node: what only Node has. The runtime itself is the package's main entry, `edgevae`; the
 * Decoder here is the same class with Decoder.fromFile(path, options) added.
 */
export { Decoder } from './decoder-file.ts';
export { createNodePool, nodeWorkerEndpoint, startPoolWorkerThread, type NodePoolOptions } from './pool.ts';
