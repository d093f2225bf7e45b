/**
 * One decode shared by several threads: the threads build of the wasm module (asconfig.json
 * "threads", assembly/executor-threads.ts) instantiated once per thread on one shared memory. The
 * decoder's own instance is thread 0 and runs on the caller's thread; helper threads (Node's
 * worker_threads through edgevae/node, or any platform's workers given a ThreadHost) wait for jobs in
 * `serveThread`. A job is a range of op records: the host writes its arguments into the sync block
 * (abi.ts ThreadSync), moves the Job word on and wakes the helpers, then runs its own share; the wasm
 * barrier after each record keeps the threads in step, so when thread 0 returns every thread is done.
 *
 * Free of Node-only imports: the platform's part is starting the threads (ThreadHost).
 */
import { InputError, RuntimeError } from '../errors.ts';
import { MAX_THREADS, Status, THREAD_STOP, ThreadSync } from './abi.ts';
import { checkAbi, compileModule, type Kernels, type WasmSource } from './wasm.ts';

/** The exports the threads build adds to the plain build's. */
export interface ThreadKernels extends Kernels {
  runShare(
    plan: number, count: number, batch: number, slots: number, labels: number, scratch: number, scratchStride: number,
    thread: number, threads: number, sync: number,
  ): number;
}

/** The helper threads of one decoder, once started. */
export interface ThreadGroup {
  /** Ends the threads; the decoder cannot decode afterwards. */
  close(): Promise<void>;
}

/** What a platform provides for Decoder.load's `threads`: the threads build, and a way to start threads running serveThread. */
export interface ThreadHost {
  /** The threads build of the wasm module (build/edgevae-threads.wasm). */
  wasm(): Promise<WasmSource>;
  /**
   * Starts `count` threads; thread i (1..count) calls serveThread(module, memory, sync, i) and the
   * promise resolves once every one has instantiated the module. Rejects, naming the failure, if any
   * thread cannot start.
   */
  start(module: WebAssembly.Module, memory: WebAssembly.Memory, sync: number, count: number): Promise<ThreadGroup>;
}

let defaultHost: ThreadHost | undefined;

/** Registers the ThreadHost that Decoder.load uses for `threads` when given none (edgevae/node registers worker_threads). */
export function useThreadHost(host: ThreadHost): void {
  defaultHost = host;
}

/** The host for `threads` > 1: the one given, else the registered one, else an error saying where to get one. */
export function threadHostFor(threads: number, host: ThreadHost | undefined): ThreadHost {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new InputError(`threads must be an integer in 1..${MAX_THREADS}, got ${JSON.stringify(threads)}`);
  }
  const chosen = host ?? defaultHost;
  if (!chosen) {
    throw new InputError("threads above 1 need a way to start threads: load the Decoder from 'edgevae/node' (worker_threads), or pass a threadHost");
  }
  return chosen;
}

/** Pages of the shared memory's maximum: 4 GiB, the wasm32 limit (a shared memory must declare one; only address space is reserved). */
const MAX_PAGES = 65536;

/** A shared memory of `pages` pages to instantiate the threads build on. */
export function sharedMemory(pages = 1): WebAssembly.Memory {
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  } catch (err) {
    throw new RuntimeError(`cannot make a shared wasm memory (does this engine allow SharedArrayBuffer here?): ${(err as Error).message}`, { cause: err });
  }
}

/** Instantiates the threads build on `memory`. */
export async function instantiateShared(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<ThreadKernels> {
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const kernels = instance.exports as unknown as ThreadKernels;
  if (typeof kernels.runShare !== 'function') throw new RuntimeError('the threads wasm module has no runShare export: use the edgevae-threads.wasm of the same edgevae version');
  return kernels;
}

/** The host's threads build, compiled, and thread 0's instance of it on a fresh shared memory. */
export async function instantiateThreaded(host: ThreadHost): Promise<{ module: WebAssembly.Module; kernels: ThreadKernels }> {
  const module = await compileModule(await host.wasm(), 'strict', 'WebAssembly SIMD and threads');
  const kernels = await instantiateShared(module, sharedMemory());
  checkAbi(kernels);
  return { module, kernels };
}

/** The arguments of one job: records [plan, plan + count), `batch` samples. */
export interface Job {
  plan: number;
  count: number;
  batch: number;
  slots: number;
  labels: number;
  scratch: number;
  scratchStride: number;
  threads: number;
}

/**
 * Runs one job on thread 0 (the caller) and the helpers. Returns Status.Ok or the first failing
 * status, with the record index it failed at; `broken` once a helper has trapped (the threads are
 * then unusable: the helper's own error says why).
 */
export function runJob(kernels: ThreadKernels, sync: number, job: Job): { status: number; record: number; broken: boolean } {
  const words = new Int32Array(kernels.memory.buffer, sync, ThreadSync.Words);
  words[ThreadSync.Plan] = job.plan;
  words[ThreadSync.Count] = job.count;
  words[ThreadSync.Batch] = job.batch;
  words[ThreadSync.Slots] = job.slots;
  words[ThreadSync.Labels] = job.labels;
  words[ThreadSync.Scratch] = job.scratch;
  words[ThreadSync.ScratchStride] = job.scratchStride;
  words[ThreadSync.Threads] = job.threads;
  words[ThreadSync.FailedRecord] = -1;
  // The store of Job publishes the arguments above (Atomics orders the plain writes before it).
  Atomics.add(words, ThreadSync.Job, 1);
  Atomics.notify(words, ThreadSync.Job);
  let status = kernels.runShare(job.plan, job.count, job.batch, job.slots, job.labels, job.scratch, job.scratchStride, 0, job.threads, sync);
  // Every thread stored its status before the last barrier, which thread 0 has passed.
  for (let t = 1; t < job.threads && status === Status.Ok; t++) status = Atomics.load(words, ThreadSync.Status + t);
  return { status, record: Atomics.load(words, ThreadSync.FailedRecord), broken: Atomics.load(words, ThreadSync.Broken) !== 0 };
}

/** Tells the helper threads to return from serveThread. */
export function stopThreads(memory: WebAssembly.Memory, sync: number): void {
  const words = new Int32Array(memory.buffer, sync, ThreadSync.Words);
  Atomics.store(words, ThreadSync.Job, THREAD_STOP);
  Atomics.notify(words, ThreadSync.Job);
}

/**
 * A helper thread's loop: instantiate the threads build on the shared memory, call `ready`, then run
 * each job's share as thread `thread` until stopThreads. Blocks its thread (Atomics.wait) between
 * jobs, so it belongs in a worker of its own.
 */
export async function serveThread(module: WebAssembly.Module, memory: WebAssembly.Memory, sync: number, thread: number, ready: () => void): Promise<void> {
  const kernels = await instantiateShared(module, memory);
  const words = new Int32Array(memory.buffer, sync, ThreadSync.Words);
  let seen = Atomics.load(words, ThreadSync.Job);
  ready();
  for (;;) {
    Atomics.wait(words, ThreadSync.Job, seen);
    const job = Atomics.load(words, ThreadSync.Job);
    if (job === THREAD_STOP) return;
    if (job === seen) continue;
    seen = job;
    try {
      kernels.runShare(
        words[ThreadSync.Plan], words[ThreadSync.Count], words[ThreadSync.Batch], words[ThreadSync.Slots], words[ThreadSync.Labels],
        words[ThreadSync.Scratch], words[ThreadSync.ScratchStride], thread, words[ThreadSync.Threads], sync,
      );
    } catch (err) {
      // A trap (validation should make it unreachable) would leave the others waiting at a barrier
      // for ever: mark the decode broken and wake them, then end this thread with the error.
      Atomics.store(words, ThreadSync.Status + thread, Status.ThreadFailed);
      Atomics.store(words, ThreadSync.Broken, 1);
      Atomics.add(words, ThreadSync.Generation, 1);
      Atomics.notify(words, ThreadSync.Generation);
      throw new RuntimeError(`decode thread ${thread} trapped: ${(err as Error).message}`, { cause: err });
    }
  }
}
