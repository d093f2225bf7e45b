// The data-parallel training module (src/train/replica-sync.ts): the optimizer step that every
// replica runs on its slice of the parameters, in the memory the replicas share. It imports that
// memory (a shared WebAssembly.Memory: the gradients each replica writes, the weights and Adam's
// moments) and, like the training module, has no data segments or allocations: every instance
// works in the one memory, where static data would overwrite the others' values.
export { replicaAdamUpdate } from './kernels/replica-update';
