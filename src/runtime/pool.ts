/**
 * A pool of decoder workers, each with its own wasm instance of the same model, that splits a batch
 * into contiguous shares and puts the shares' samples back together. Because sample i of a seed
 * depends only on (seed, i), the result is the single-threaded Decoder's, bit for bit.
 *
 * Transport-agnostic: platform adapters (src/node/pool.ts, src/web/pool.ts) supply the workers as
 * WorkerEndpoints. Cloudflare Workers have no threads to pool; they use Decoder directly.
 */
import { EdgeVaeError, InputError, RuntimeError } from '../errors.ts';
import type { DecodeOptions, DecoderInfo, LoadOptions, SampleOptions, TraverseOptions } from './decoder.ts';
import { errorFromData, type DecoderCall, type LabelsInput, type LatentsInput, type PoolReply, type PoolRequest } from './pool-protocol.ts';

/** What the pool needs of one worker, whatever the platform. */
export interface WorkerEndpoint {
  send(request: PoolRequest, transfer: ArrayBuffer[]): void;
  /** `onFailure` is called when the worker dies or cannot be reached (possibly more than once). */
  listen(onReply: (reply: PoolReply) => void, onFailure: (reason: string) => void): void;
  /** Told when the worker has nothing to do, so a host can let an idle worker not keep it running. */
  setIdle?(idle: boolean): void;
  terminate(): unknown;
}

export interface PoolOptions extends Omit<LoadOptions, 'threads' | 'threadHost'> {
  /** Number of workers, each holding its own copy of the model (each decode on one thread of its own). */
  threads: number;
  /**
   * Smallest share worth sending to a worker of its own, in multiply-adds (rows x info.macsPerSample).
   * Requests smaller than two shares run whole on one worker, where messaging would cost more than
   * splitting saves.
   */
  minShareMacs?: number;
}

/**
 * From bench/threads.ts on the 2-core machine (docs/BENCHMARKS.md, "Threads"): shares of 0.54 million
 * multiply-adds (the conditional decoder, batch 2 split 1+1) gained 1.01-1.11x over one worker doing
 * both, equal shares of 1.8 million and more 1.31-1.49x. Below this much work per share, a second
 * worker gains little for its messages.
 */
export const DEFAULT_MIN_SHARE_MACS = 1_000_000;
const MAX_THREADS = 256;

/**
 * The GEMM microkernel computes rows four at a time, leftover rows one by one, each pass reading all
 * the weights (assembly/kernels/gemm.ts). Two shares of 2 rows cost each worker two passes where the
 * whole 4 cost one: in bench/threads.ts, the dense decoder at batch 4 ran at 0.80x split 2+2.
 */
const ROW_BLOCK = 4;

type Share = { start: number; count: number };

export class DecoderPool {
  readonly threads: number;
  readonly info: DecoderInfo;
  private readonly channels: WorkerChannel[];
  private readonly minShareMacs: number;
  private closedBecause: string | undefined;

  private constructor(channels: WorkerChannel[], info: DecoderInfo, minShareMacs: number) {
    this.channels = channels;
    this.threads = channels.length;
    this.info = info;
    this.minShareMacs = minShareMacs;
  }

  /**
   * Starts `options.threads` workers with `spawn` and loads the model in each. Rejects with the
   * worker's error (a FormatError for a bad file) if any of them cannot load it.
   */
  static async start(model: Uint8Array | ArrayBuffer, options: PoolOptions, spawn: (index: number) => WorkerEndpoint): Promise<DecoderPool> {
    const { threads, minShareMacs = DEFAULT_MIN_SHARE_MACS, ...loadOptions } = options;
    checkInteger(threads, 'threads', 1, MAX_THREADS);
    if (typeof minShareMacs !== 'number' || !(minShareMacs >= 0)) throw new InputError(`minShareMacs must be a number >= 0, got ${String(minShareMacs)}`);
    if (!(model instanceof Uint8Array) && !(model instanceof ArrayBuffer)) throw new InputError('the model must be a Uint8Array or an ArrayBuffer of a model file');
    // One exact-size copy that every worker clones: a view's whole underlying buffer would be cloned otherwise.
    const bytes = model instanceof ArrayBuffer ? model : new Uint8Array(model).buffer;

    const channels: WorkerChannel[] = [];
    let pool: DecoderPool | undefined;
    const onDeath = (index: number, reason: string) => {
      if (pool) pool.fail(index, reason);
      else channels.forEach((c) => c.close(deathMessage(index, reason)));
    };
    try {
      for (let i = 0; i < threads; i++) channels.push(new WorkerChannel(i, spawn(i), onDeath));
      const infos = await Promise.all(channels.map((c) => c.request({ kind: 'load', model: bytes, options: loadOptions })));
      pool = new DecoderPool(channels, infos[0] as DecoderInfo, minShareMacs);
      return pool;
    } catch (error) {
      channels.forEach((c) => c.close('the decoder pool failed to start'));
      throw error instanceof EdgeVaeError ? error : new RuntimeError(`cannot start the decoder pool's workers: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Decoder.sample, spread over the workers. */
  async sample(n: number, options: SampleOptions = {}): Promise<Float32Array> {
    checkOptions(options);
    const whole: DecoderCall = { method: 'sample', n, options: { ...options, labels: compactView(options.labels) } };
    const shares = isCount(n) && labelsSplittable(options.labels, n) ? this.sharesFor(n) : [];
    if (shares.length < 2) return this.runWhole(whole);
    // Drawn here, not per worker: each share must continue one stream. Same draw as Decoder's.
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    const offset = options.offset ?? 0;
    return this.runSplit(whole, shares.map(({ start, count }) => ({
      method: 'sample',
      n: count,
      options: { ...options, seed, offset: offset + start, labels: this.shareLabels(options.labels, start, count, true) },
    })));
  }

  /** Decoder.decode, spread over the workers (a layout transposes each sample, so shares stay whole samples). */
  async decode(latents: LatentsInput, labels?: LabelsInput, options?: DecodeOptions): Promise<Float32Array> {
    const whole: DecoderCall = { method: 'decode', latents: compactView(latents), labels: compactView(labels), ...(options === undefined ? {} : { options }) };
    const rows = latentRows(latents, this.info.latentSize);
    const shares = rows !== undefined && labelsSplittable(labels, rows) ? this.sharesFor(rows) : [];
    if (shares.length < 2) return this.runWhole(whole);
    return this.runSplit(whole, shares.map(({ start, count }) => ({
      method: 'decode',
      latents: sliceLatents(latents, this.info.latentSize, start, count),
      labels: this.shareLabels(labels, start, count, false),
      ...(options === undefined ? {} : { options }),
    })));
  }

  /** Decoder.sampleLatents, on one worker: drawing latents is too little work to split. */
  async sampleLatents(n: number, options: Omit<SampleOptions, 'labels'> = {}): Promise<Float32Array> {
    checkOptions(options);
    return this.runWhole({ method: 'sampleLatents', n, options });
  }

  /** Decoder.traverse, on one worker: a walk is a handful of rows. */
  async traverse(options: TraverseOptions): Promise<Float32Array> {
    checkOptions(options);
    return this.runWhole({ method: 'traverse', options });
  }

  /** Ends the workers. Pending and later calls reject with a RuntimeError. */
  async close(): Promise<void> {
    if (this.closedBecause === undefined) this.shutDown('the decoder pool is closed');
    await Promise.all(this.channels.map((c) => c.terminated));
  }

  /** How a request of `rows` rows is split: each worker's share, in order (one entry when it runs whole). */
  shareSizes(rows: number): number[] {
    checkInteger(rows, 'rows', 0, Number.MAX_SAFE_INTEGER);
    return this.sharesFor(rows).map((share) => share.count);
  }

  // ---- internals ----

  /**
   * Contiguous shares of `rows`, as many as there are workers and the work is worth; one if not.
   * Shares are made of whole blocks of ROW_BLOCK rows, spread evenly, with the rows left over in the
   * last share: splitting a block costs more than it saves.
   */
  private sharesFor(rows: number): Share[] {
    const unit = rows >= ROW_BLOCK ? ROW_BLOCK : 1;
    const units = Math.floor(rows / unit);
    const worthwhile = Math.floor((rows * this.info.macsPerSample) / Math.max(this.minShareMacs, 1));
    const count = Math.max(1, Math.min(this.threads, units, worthwhile));
    const base = Math.floor(units / count);
    const extra = units % count;
    const shares: Share[] = [];
    for (let k = 0, start = 0; k < count; k++) {
      const size = k === count - 1 ? rows - start : (base + (k < extra ? 1 : 0)) * unit;
      shares.push({ start, count: size });
      start += size;
    }
    return shares;
  }

  /**
   * A share's labels. A conditional model's default labels cycle over the whole request (i % classes),
   * so a share starting at row `start` gets them spelled out rather than restarting at 0.
   */
  private shareLabels(labels: LabelsInput | undefined, start: number, count: number, cycleByDefault: boolean): LabelsInput | undefined {
    const classes = this.info.classes;
    if (labels === undefined) {
      return cycleByDefault && classes ? Int32Array.from({ length: count }, (_, i) => (start + i) % classes) : undefined;
    }
    if (typeof labels === 'number') return labels;
    return Array.prototype.slice.call(labels, start, start + count) as number[];
  }

  private async runWhole(call: DecoderCall): Promise<Float32Array> {
    this.checkOpen();
    return (await this.leastBusy(1)[0].request({ kind: 'call', call })) as Float32Array;
  }

  private async runSplit(whole: DecoderCall, shares: DecoderCall[]): Promise<Float32Array> {
    this.checkOpen();
    const channels = this.leastBusy(shares.length);
    let parts: Float32Array[];
    try {
      parts = (await Promise.all(shares.map((call, k) => channels[k].request({ kind: 'call', call }, transferablesOf(call))))) as Float32Array[];
    } catch (error) {
      // A share's message names share-relative positions ("labels[3]" of the second half); the whole
      // request, which its decoder refuses before decoding anything, fails exactly as Decoder does.
      if (error instanceof InputError) return this.runWhole(whole);
      throw error;
    }
    return concatenate(parts);
  }

  private leastBusy(count: number): WorkerChannel[] {
    return [...this.channels].sort((a, b) => a.pendingCount - b.pendingCount).slice(0, count);
  }

  private checkOpen(): void {
    if (this.closedBecause !== undefined) throw new RuntimeError(this.closedBecause);
  }

  /** A dead worker takes the pool with it: its share of any request is lost, and a smaller pool would be a silent slowdown. */
  private fail(index: number, reason: string): void {
    if (this.closedBecause === undefined) this.shutDown(deathMessage(index, reason));
  }

  private shutDown(reason: string): void {
    this.closedBecause = reason;
    for (const channel of this.channels) channel.close(reason);
  }
}

function deathMessage(index: number, reason: string): string {
  return `decoder pool worker ${index} ${reason}; the pool is closed (start a new one)`;
}

/** One worker: its requests in flight and their settlement. */
class WorkerChannel {
  readonly index: number;
  private readonly endpoint: WorkerEndpoint;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: EdgeVaeError) => void }>();
  private nextId = 0;
  private closedBecause: string | undefined;
  terminated: Promise<unknown> = Promise.resolve();

  constructor(index: number, endpoint: WorkerEndpoint, onDeath: (index: number, reason: string) => void) {
    this.index = index;
    this.endpoint = endpoint;
    endpoint.listen(
      (reply) => this.settle(reply),
      (reason) => {
        if (this.closedBecause === undefined) onDeath(index, reason);
      },
    );
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  request(request: { kind: 'load'; model: ArrayBuffer; options: LoadOptions } | { kind: 'call'; call: DecoderCall }, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closedBecause !== undefined) return Promise.reject(new RuntimeError(this.closedBecause));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.endpoint.send({ ...request, id } as PoolRequest, transfer);
      } catch (error) {
        // postMessage refuses what structured clone cannot copy (functions, symbols) before anything is sent.
        reject(new InputError(`cannot send this request to a decoder pool worker: ${(error as Error).message}`));
        return;
      }
      if (this.pending.size === 0) this.endpoint.setIdle?.(false);
      this.pending.set(id, { resolve, reject });
    });
  }

  /** Rejects what is in flight with `reason` and ends the worker. */
  close(reason: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = reason;
    for (const { reject } of this.pending.values()) reject(new RuntimeError(reason));
    this.pending.clear();
    this.terminated = Promise.resolve(this.endpoint.terminate()).catch(() => {});
  }

  private settle(reply: PoolReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.endpoint.setIdle?.(true);
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(errorFromData(reply.error));
  }
}

function checkInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${what} must be an integer in ${min}..${max}, got ${typeof value === 'number' ? value : JSON.stringify(value)}`);
  }
  return value;
}

function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new InputError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
}

/** A row count the pool can split; anything else goes whole to a worker, whose decoder says what is wrong. */
function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as ArrayLike<unknown>).length === 'number';
}

function labelsSplittable(labels: LabelsInput | undefined, rows: number): boolean {
  return labels === undefined || typeof labels === 'number' || (isArrayLike(labels) && labels.length === rows);
}

/** Rows of a decode request in any form Decoder.decode takes, or undefined when it is not a whole number of rows. */
function latentRows(latents: LatentsInput, latentSize: number): number | undefined {
  if (!isArrayLike(latents)) return undefined;
  if (Array.isArray(latents) && typeof latents[0] === 'object') return latents.length;
  return latents.length % latentSize === 0 ? latents.length / latentSize : undefined;
}

function sliceLatents(latents: LatentsInput, latentSize: number, start: number, count: number): LatentsInput {
  if (latents instanceof Float32Array) return latents.slice(start * latentSize, (start + count) * latentSize);
  if (Array.isArray(latents) && typeof latents[0] === 'object') return latents.slice(start, start + count);
  return Array.prototype.slice.call(latents, start * latentSize, (start + count) * latentSize) as number[];
}

/** Buffers the pool made for a share (never the caller's), moved to the worker instead of copied. */
function transferablesOf(call: DecoderCall): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  if (call.method === 'decode' && call.latents instanceof Float32Array) buffers.push(call.latents.buffer as ArrayBuffer);
  if (call.method === 'sample' && call.options.labels instanceof Int32Array) buffers.push(call.options.labels.buffer as ArrayBuffer);
  return buffers;
}

/**
 * Structured clone copies a typed array's whole buffer, however small the view: a view into a larger
 * buffer is sent as a copy of just its own values.
 */
function compactView<T>(value: T): T {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView) && value.byteLength !== value.buffer.byteLength) {
    return (value as unknown as Float32Array).slice() as unknown as T;
  }
  return value;
}

function concatenate(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
