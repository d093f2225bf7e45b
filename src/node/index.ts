/**
 * edgevae/node: what only Node has. The runtime itself is the package's main entry, `edgevae`; the
 * Decoder here is the same class with Decoder.fromFile(path, options) added.
 */
import { useThreadHost } from '../runtime/threads.ts';
import { nodeThreadHost } from './threads.ts';

// Decoder.load(bytes, { threads }) shares one decode between worker_threads.
useThreadHost(nodeThreadHost);

export { Decoder } from './decoder-file.ts';
export { nodeThreadHost } from './threads.ts';
export { createNodePool, nodeWorkerEndpoint, startPoolWorkerThread, type NodePoolOptions } from './pool.ts';
