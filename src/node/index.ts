/** edgevae/node: what only Node has. The runtime itself is the package's main entry, `edgevae`. */
export { createNodePool, nodeWorkerEndpoint, startPoolWorkerThread, type NodePoolOptions } from './pool.ts';
