/**
 * The runtime's public API: load a model file, then sample, decode and traverse its latent space.
 * Free of Node-only imports: the same code runs in Node, Deno, browsers and Cloudflare Workers.
 */
import { FormatError, InputError, RuntimeError } from '../errors.ts';
import { readModel, type ParsedModel } from '../format/read.ts';
import { product, type DType, type LayerSpec, type ModelMeta } from '../format/spec.ts';
import { RECORD_WORDS, Status } from './abi.ts';
import { buildPlan, packedDtype, storedWeightBytes, type Plan } from './plan.ts';
import { LATENT_LAYOUTS, toChannelsLast, type LatentLayout } from './layout.ts';
import { drawFromMixture, mixtureTables, type MixtureTables } from './prior.ts';
import { ensureMemory, instantiate, int8DotOf, type Int8Dot, type Kernels, type SimdMode, type WasmSource } from './wasm.ts';
import type { GraphNode } from '../layers/types.ts';
import { instantiateThreaded, runJob, threadHostFor, type ThreadGroup, type ThreadHost, type ThreadKernels } from './threads.ts';

export interface LoadOptions {
  /** The edgevae wasm module, compiled or as bytes; by default the copy embedded in this package. */
  wasm?: WasmSource;
  /** Largest batch decoded in one pass; larger requests run in chunks (results are identical). Default 256. */
  maxBatch?: number;
  /** Refuse to grow wasm memory beyond this many bytes. Default 1 GiB. */
  maxMemory?: number;
  /**
   * Which embedded wasm build runs (ignored when `wasm` is given). 'strict' (default): bit-identical
   * samples on every engine. 'auto': the relaxed-SIMD build (fused multiply-add, faster) where the
   * engine accepts it, else strict. 'relaxed': that build or an error.
   */
  simd?: SimdMode;
  /**
   * Threads one decode is shared by (default 1): each conv2d's output rows are split between them, so
   * a single large image uses several cores; same bytes as one thread. Above 1 it runs the strict
   * threads build (build/edgevae-threads.wasm) on a shared memory, with helper threads from
   * `threadHost` (edgevae/node registers worker_threads). close() ends them.
   */
  threads?: number;
  /** Where helper threads come from when `threads` > 1; default: the registered host (useThreadHost). */
  threadHost?: ThreadHost;
  /**
   * f16 files: keep the kernels half-size in wasm memory and widen them panel by panel as they are
   * multiplied (half the weight memory; slower at small batches, where each weight is used once).
   * Default false: widened to f32 once, at load. The bytes are the same either way, but for 3x3 convs
   * that run by Winograd tiles when widened (the same within rounding; docs/KERNELS.md).
   */
  keepF16?: boolean;
}

export interface FromUrlOptions extends LoadOptions {
  /** Passed to fetch as its second argument: headers, credentials, an AbortSignal, ... */
  request?: RequestInit;
}

export interface SampleOptions {
  /** Seed of the latent draws: an integer in 0..2^53-1. Same seed, same bytes, on every platform. */
  seed?: number;
  /** Index of the first sample in the seed's stream (default 0): sample(n, {offset: k}) continues a stream. */
  offset?: number;
  /**
   * Standard deviation of the latent draws. Default: the prior the model was trained against,
   * N(0, s^2 I) with s = info.priorStddev (1 unless the file records another, as the adversarial
   * autoencoders' 2); with a fitted mixture prior, the spread within each component, default 1.
   */
  stddev?: number;
  /**
   * Where latents come from: 'model' (default) is the file's fitted prior when it has one
   * (info.prior), else the Gaussian it was trained against; 'standard' is always that Gaussian,
   * N(0, stddev^2 I).
   */
  prior?: PriorChoice;
  /** Class of each sample for conditional models: one label for all, or one per sample. Default: i % classes. */
  labels?: number | ArrayLike<number>;
}

export type PriorChoice = 'model' | 'standard';
export const PRIOR_CHOICES: readonly PriorChoice[] = ['model', 'standard'];

export interface DecodeOptions {
  /**
   * The axis order of each latent row, for a model whose latent is an image. 'NHWC' (default): as the
   * runtime holds it, channels-last [h, w, c] (info.latentShape). 'NCHW': channels-first [c, h, w], as
   * a PyTorch model takes it; transposed here before decoding.
   */
  layout?: LatentLayout;
}

export interface TraverseOptions {
  /**
   * Latent coordinate to walk along: an index into the flattened latent, 0..latentSize-1. For an
   * image latent [h, w, c] (held channels-last), coordinate (y, x, ch) is (y * w + x) * c + ch.
   */
  dim: number;
  from?: number;
  to?: number;
  steps?: number;
  /** The other dimensions come from sample 0 of this seed; zeros when absent. */
  seed?: number;
  stddev?: number;
  prior?: PriorChoice;
  /** Class for conditional models (default 0). */
  label?: number;
}

export interface DecoderInfo {
  /** Values in one latent: the product of latentShape. */
  latentSize: number;
  /** Per-sample shape of the latent as the runtime holds it: [D] for a vector, [h, w, c] (channels-last) for an image. */
  latentShape: number[];
  /** For an image latent, the layout the source model used ('NCHW': PyTorch's [c, h, w]); undefined when the file does not say. */
  latentLayout: LatentLayout | undefined;
  /** Number of classes of a conditional decoder, 0 otherwise. */
  classes: number;
  outputShape: number[];
  /** Values per sample. */
  outputSize: number;
  range: [number, number];
  /** The latents sample() draws by default: N(0, priorStddev^2 I), or the file's fitted mixture of `components` Gaussians. */
  prior: { type: 'standard' } | { type: 'gaussianMixture'; components: number };
  /**
   * Standard deviation of the Gaussian prior the latent was trained against (meta.priorStddev; 1 when
   * the file does not say, as files written before edgevae recorded it): sample()'s default stddev.
   */
  priorStddev: number;
  dtype: DType;
  meta: ModelMeta;
  /** The graph's nodes in order: type, name, the values each reads, its per-sample output shape and multiply-adds. */
  layers: { type: LayerSpec['type']; name: string; inputs: string[]; outputShape: number[]; macsPerSample: number }[];
  macsPerSample: number;
  /** Bytes of weights in the file, and once packed in wasm memory. */
  fileWeightBytes: number;
  wasmWeightBytes: number;
  /** The wasm build running: 'strict' SIMD (bit-identical everywhere) or 'relaxed' (fused multiply-add). */
  simd: 'strict' | 'relaxed';
  /**
   * How int8 layers multiply: 'dot_i16x8' (i32x4.dot_i16x8_s, both builds) or 'relaxed_dot_i8x16'
   * (relaxed SIMD's int8 dot product: the relaxed build, where its load-time self-test matched the
   * strict path). Both give the same bits.
   */
  int8Dot: Int8Dot;
  /** Threads a decode is shared by (LoadOptions.threads). */
  threads: number;
}

/** Where one chunk's data lives in wasm memory. */
interface Layout {
  labels: number;
  /** The slot table `run` reads: one u32 address per slot. */
  slotTable: number;
  /** Where the latents go, and where the output comes from. */
  latent: number;
  output: number;
  /** f64 uniform draws for a mixture prior's component choices (empty without one). */
  /** Each slot's address. */
  addresses: number[];
  uniforms: number;
  end: number;
}

/** A resolved sample stream: seed, first index, spread, and the mixture to draw from (none: N(0, stddev^2)). */
interface LatentStream {
  seed: number;
  offset: number;
  stddev: number;
  mixture: MixtureTables | undefined;
}

const STATUS_MESSAGES: Record<number, string> = {
  [Status.BadOpcode]: 'an op code this wasm module does not know (is it older than this edgevae?)',
  [Status.BadLabel]: 'a class label out of range',
  [Status.BadWeights]: 'a weight type this wasm module does not know',
  [Status.ThreadFailed]: 'another thread of the shared decode failed',
};

const DEFAULT_MAX_BATCH = 256;
const DEFAULT_MAX_MEMORY = 2 ** 30;
const MAX_SEED = Number.MAX_SAFE_INTEGER;

export class Decoder {
  readonly info: DecoderInfo;
  private readonly kernels: Kernels;
  private readonly plan: Plan;
  private readonly model: ParsedModel;
  private readonly maxBatch: number;
  private readonly maxMemory: number;
  private readonly mixture: MixtureTables | undefined;
  /** The helper threads of a decoder loaded with threads > 1; undefined once closed. */
  private threads: { count: number; group: ThreadGroup | undefined } | undefined;

  private constructor(kernels: Kernels, model: ParsedModel, plan: Plan, options: LoadOptions, group?: ThreadGroup) {
    this.kernels = kernels;
    const threads = options.threads ?? 1;
    if (threads > 1) this.threads = { count: threads, group };
    this.plan = plan;
    this.model = model;
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.maxMemory = options.maxMemory ?? DEFAULT_MAX_MEMORY;
    const meta = model.header.meta;
    this.mixture = meta.prior && mixtureTables(meta.prior, meta.latentSize);
    this.info = {
      latentSize: meta.latentSize,
      latentShape: [...model.graph.latent.shape],
      latentLayout: model.graph.latent.layout,
      classes: meta.conditioning?.classes ?? 0,
      outputShape: [...meta.output.shape],
      outputSize: product(meta.output.shape),
      range: [...meta.output.range],
      prior: meta.prior ? { type: 'gaussianMixture', components: meta.prior.weights.length } : { type: 'standard' },
      priorStddev: meta.priorStddev ?? 1,
      dtype: meta.dtype,
      meta,
      layers: model.graph.nodes.map((n) => ({ type: n.layer.type, name: n.layer.displayName ?? n.name, inputs: [...n.inputs], outputShape: n.outShape, macsPerSample: n.macs })),
      macsPerSample: model.macsPerSample,
      fileWeightBytes: storedWeightBytes(model),
      wasmWeightBytes: plan.weightBytes,
      simd: kernels.relaxedSimd() ? 'relaxed' : 'strict',
      int8Dot: int8DotOf(kernels),
      threads,
    };
  }

  /** Validates a model file and lays it out in a fresh wasm instance. Throws FormatError for bad files. */
  static async load(model: Uint8Array | ArrayBuffer, options: LoadOptions = {}): Promise<Decoder> {
    if (options.maxBatch !== undefined) checkInt(options.maxBatch, 'maxBatch', 1, 65536);
    if (options.keepF16 !== undefined && typeof options.keepF16 !== 'boolean') throw new InputError(`keepF16 must be true or false, got ${JSON.stringify(options.keepF16)}`);
    const parsed = readModel(model);
    const maxMemory = options.maxMemory ?? DEFAULT_MAX_MEMORY;
    const threads = options.threads ?? 1;
    const host = threads === 1 ? undefined : threadHostFor(threads, options.threadHost);
    if (host && options.wasm) throw new InputError('wasm and threads together: a shared decode runs the threads build, which the threadHost provides');
    if (host && options.simd === 'relaxed') throw new InputError("simd: 'relaxed' and threads together: the threads build is strict SIMD only");
    const shared = host && (await instantiateThreaded(host));
    const kernels = shared?.kernels ?? (await instantiate(options.wasm, options.simd));
    // Checked before any memory is grown: a model too large for the budget fails fast and clearly.
    const widening = packedDtype(parsed, options.keepF16) === parsed.header.meta.dtype ? 1 : 2;
    const needed = kernels.heapBase() + parsed.graph.nodes.length * 4 * RECORD_WORDS + 2 * widening * storedWeightBytes(parsed) + 1024;
    if (needed > maxMemory) throw new RuntimeError(`the model needs about ${needed} bytes of wasm memory, over maxMemory (${maxMemory})`);
    const plan = buildPlan(kernels, parsed, threads, options.keepF16);
    const group = shared && (await host.start(shared.module, kernels.memory, plan.sync, threads - 1));
    return new Decoder(kernels, parsed, plan, options, group);
  }

  /** Ends the helper threads of a decoder loaded with threads > 1 (a decode afterwards is an error); nothing to do otherwise. */
  async close(): Promise<void> {
    const group = this.threads?.group;
    if (this.threads) this.threads.group = undefined;
    await group?.close();
  }

  /**
   * The stddev sample() draws with when given none: 1 within a fitted mixture's components (prior
   * 'model' on a file that has one), else the trained-against Gaussian's, info.priorStddev.
   */
  defaultStddev(prior: PriorChoice = 'model'): number {
    return prior === 'model' && this.mixture ? 1 : this.info.priorStddev;
  }

  /**
   * Fetches a model file and loads it (fetch: browsers, Deno, Workers, Node 18+). Every failure names
   * the URL: a network error or an HTTP status other than 2xx is an InputError, a file that is not a
   * valid model a FormatError. A relative URL is resolved as fetch resolves it (against the page, in a
   * browser). `edgevae/node` adds Decoder.fromFile.
   */
  static async fromURL(url: string | URL, options: FromUrlOptions = {}): Promise<Decoder> {
    const { request, ...loadOptions } = options;
    const why = (text: string) => `could not load the model ${url}: ${text}`;
    let response: Response;
    try {
      response = await fetch(url, request);
    } catch (err) {
      throw new InputError(why((err as Error).message), { cause: err });
    }
    if (!response.ok) throw new InputError(why(`HTTP ${response.status} ${response.statusText}`.trimEnd()));
    const bytes = new Uint8Array(await response.arrayBuffer());
    try {
      return await Decoder.load(bytes, loadOptions);
    } catch (err) {
      if (err instanceof FormatError) throw new FormatError(why(err.message), { cause: err });
      if (err instanceof RuntimeError) throw new RuntimeError(why(err.message), { cause: err });
      throw err;
    }
  }

  /** Bytes of wasm memory the decoder holds once it has decoded a batch of `batch` samples. */
  memoryFor(batch: number): number {
    return this.layoutFor(Math.min(batch, this.maxBatch)).end;
  }

  /** Draws n latent vectors (n x latentSize floats) exactly as sample() does. */
  sampleLatents(n: number, options: Omit<SampleOptions, 'labels'> = {}): Float32Array {
    checkCount(n, this.info.latentSize);
    const stream = this.streamOptions(options, n);
    const latent = this.info.latentSize;
    const out = new Float32Array(n * latent);
    this.forChunks(n, (start, count, layout) => out.set(this.drawLatents(layout, start, count, stream), start * latent));
    return out;
  }

  /** Decodes n samples from latents of `seed` (the model's prior, or N(0, stddev^2)); returns n x outputSize floats. */
  sample(n: number, options: SampleOptions = {}): Float32Array {
    checkCount(n, this.info.outputSize);
    const stream = this.streamOptions(options, n);
    const labels = this.labelsFor(n, options.labels, true);
    const out = new Float32Array(n * this.info.outputSize);
    this.forChunks(n, (start, count, layout) => {
      this.drawLatents(layout, start, count, stream);
      this.runChunk(layout, count, labels, start, out);
    });
    return out;
  }

  /**
   * Decodes given latents: a flat Float32Array of n x latentSize values, or an array of rows. An image
   * latent's values are channels-last [h, w, c] (info.latentShape) unless options.layout is 'NCHW'.
   * Conditional models need labels (one for all or one per row).
   */
  decode(latents: Float32Array | ArrayLike<number>[] | ArrayLike<number>, labels?: number | ArrayLike<number>, options: DecodeOptions = {}): Float32Array {
    const layout = this.layoutOption(options);
    const given = this.flattenLatents(latents);
    const flat = layout === 'NCHW' ? toChannelsLast(given, this.info.latentShape) : given;
    const latent = this.info.latentSize;
    const n = flat.length / latent;
    const labelArray = this.labelsFor(n, labels, false);
    const out = new Float32Array(n * this.info.outputSize);
    this.forChunks(n, (start, count, layout) => {
      new Float32Array(this.kernels.memory.buffer, layout.latent, count * latent).set(flat.subarray(start * latent, (start + count) * latent));
      this.runChunk(layout, count, labelArray, start, out);
    });
    return out;
  }

  /**
   * Decodes `latents` as decode() does, but runs the plan one node at a time (the executor's `run`
   * over records [i, i + 1)), reading `now()` around each: the per-node profile of `edgevae bench
   * --layers`. At most maxBatch samples (one chunk). Returns the output and each graph node's
   * milliseconds, in info.layers order; null for a node that runs no code (a reshape reads its input's
   * memory as it is).
   */
  profile(latents: Float32Array, labels?: number | ArrayLike<number>, now: () => number = () => performance.now()): { output: Float32Array; layerMs: (number | null)[] } {
    const flat = this.flattenLatents(latents);
    const n = flat.length / this.info.latentSize;
    if (n > this.maxBatch) throw new InputError(`profile decodes one chunk: at most maxBatch (${this.maxBatch}) samples, got ${n}`);
    const labelArray = this.labelsFor(n, labels, false);
    const recordMs = new Float64Array(this.plan.opCount);
    const out = new Float32Array(n * this.info.outputSize);
    this.forChunks(n, (start, count, layout) => {
      new Float32Array(this.kernels.memory.buffer, layout.latent, flat.length).set(flat);
      this.runChunk(layout, count, labelArray, start, out, (i, run) => {
        const before = now();
        run();
        recordMs[i] = now() - before;
      });
    });
    const recordOf = new Map(this.plan.recordNodes.map((node, i) => [node.index, i]));
    return { output: out, layerMs: this.model.graph.nodes.map((node) => (recordOf.has(node.index) ? recordMs[recordOf.get(node.index)!] : null)) };
  }

  /**
   * Decodes `latents` as decode() does, handing `visit` each node that runs code just before it runs,
   * with the chunk's sample count and a reader of any value the node reads (batch x per-sample values,
   * a copy). What int8 calibration (src/convert/calibrate.ts) gathers its statistics from.
   */
  inspect(latents: Float32Array, labels: number | ArrayLike<number> | undefined, visit: (node: GraphNode, batch: number, read: (value: string) => Float32Array) => void): Float32Array {
    const flat = this.flattenLatents(latents);
    const n = flat.length / this.info.latentSize;
    const labelArray = this.labelsFor(n, labels, false);
    const out = new Float32Array(n * this.info.outputSize);
    const { graph, slots } = this.model;
    const shapes = new Map<string, number[]>([[graph.latent.name, graph.latent.shape], ...graph.nodes.map((node): [string, number[]] => [node.name, node.outShape])]);
    this.forChunks(n, (start, count, layout) => {
      new Float32Array(this.kernels.memory.buffer, layout.latent, count * this.info.latentSize).set(flat.subarray(start * this.info.latentSize, (start + count) * this.info.latentSize));
      const read = (value: string) => {
        const slot = slots.slotOf.get(value);
        if (slot === undefined) throw new InputError(`no value named "${value}" lives in a slot`);
        return Float32Array.from(new Float32Array(this.kernels.memory.buffer, layout.addresses[slot], count * product(shapes.get(value)!)));
      };
      this.runChunk(layout, count, labelArray, start, out, (i, run) => {
        visit(this.plan.recordNodes[i], count, read);
        run();
      });
    });
    return out;
  }

  /** Walks one latent dimension from `from` to `to` in `steps` evenly spaced points, the others held fixed. */
  traverse(options: TraverseOptions): Float32Array {
    const latent = this.info.latentSize;
    const dim = checkInt(options.dim, 'dim', 0, latent - 1);
    const from = checkFinite(options.from ?? -3, 'from');
    const to = checkFinite(options.to ?? 3, 'to');
    const steps = checkInt(options.steps ?? 10, 'steps', 1, 1 << 20);
    const base = options.seed === undefined ? new Float32Array(latent) : this.sampleLatents(1, { seed: options.seed, stddev: options.stddev, prior: options.prior });
    const latents = new Float32Array(steps * latent);
    for (let s = 0; s < steps; s++) {
      latents.set(base, s * latent);
      latents[s * latent + dim] = steps === 1 ? from : from + ((to - from) * s) / (steps - 1);
    }
    // An unconditional model refuses a label here as decode() does, rather than ignoring it.
    return this.decode(latents, this.info.classes ? (options.label ?? 0) : options.label);
  }

  // ---- internals ----

  /** The decode options' layout, checked: NCHW only makes sense for an image latent. */
  private layoutOption(options: DecodeOptions): LatentLayout {
    if (typeof options !== 'object' || options === null) throw new InputError(`decode options must be an object, got ${JSON.stringify(options)}`);
    const layout = options.layout ?? 'NHWC';
    if (!LATENT_LAYOUTS.includes(layout)) throw new InputError(`layout must be one of ${LATENT_LAYOUTS.join(', ')}, got ${JSON.stringify(layout)}`);
    if (layout === 'NCHW' && this.info.latentShape.length !== 3) {
      throw new InputError(`layout NCHW is for image latents; this model's latent is a [${this.info.latentShape.join(', ')}] vector`);
    }
    return layout;
  }

  private streamOptions(options: Omit<SampleOptions, 'labels'>, n: number): LatentStream {
    const seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkInt(options.seed, 'seed', 0, MAX_SEED);
    const offset = checkInt(options.offset ?? 0, 'offset', 0, 2 ** 32 - n);
    const prior = options.prior ?? 'model';
    if (!PRIOR_CHOICES.includes(prior)) throw new InputError(`prior must be one of ${PRIOR_CHOICES.join(', ')}, got ${JSON.stringify(prior)}`);
    const stddev = checkFinite(options.stddev ?? this.defaultStddev(prior), 'stddev');
    if (stddev < 0) throw new InputError(`stddev must be >= 0, got ${stddev}`);
    return { seed, offset, stddev, mixture: prior === 'model' ? this.mixture : undefined };
  }

  /**
   * Draws the latents of samples start..start+count-1 of a stream into the latent slot and returns a view of
   * them. The mixture's component choices come from a uniform stream of their own, written to the
   * layout's `uniforms` area.
   */
  private drawLatents(layout: Layout, start: number, count: number, stream: LatentStream): Float32Array {
    const { kernels } = this;
    const latent = this.info.latentSize;
    const [seedLo, seedHi] = [stream.seed % 2 ** 32, Math.floor(stream.seed / 2 ** 32)];
    kernels.fillNormal(layout.latent, count, latent, seedLo, seedHi, stream.offset + start, stream.stddev);
    const latents = new Float32Array(kernels.memory.buffer, layout.latent, count * latent);
    if (stream.mixture) {
      kernels.fillUniform(layout.uniforms, count, seedLo, seedHi, stream.offset + start);
      drawFromMixture(stream.mixture, latents, new Float64Array(kernels.memory.buffer, layout.uniforms, count), count);
    }
    return latents;
  }

  private flattenLatents(latents: Float32Array | ArrayLike<number>[] | ArrayLike<number>): Float32Array {
    const latent = this.info.latentSize;
    let flat: Float32Array;
    if (latents instanceof Float32Array) flat = latents;
    else if (Array.isArray(latents) && latents.length > 0 && typeof latents[0] === 'object') {
      const rows = latents as ArrayLike<number>[];
      flat = new Float32Array(rows.length * latent);
      rows.forEach((row, i) => {
        if (!row || row.length !== latent) throw new InputError(`latent row ${i} has ${row?.length} values; the model's latent size is ${latent}`);
        flat.set(Array.from(row), i * latent);
      });
    } else flat = Float32Array.from(latents as ArrayLike<number>);
    if (flat.length % latent !== 0) throw new InputError(`${flat.length} latent values is not a whole number of ${latent}-value vectors`);
    for (let i = 0; i < flat.length; i++) {
      if (!Number.isFinite(flat[i])) throw new InputError(`latent value ${i} is ${flat[i]}; latents must be finite`);
    }
    return flat;
  }

  /** Labels as one Int32Array, validated against the model's classes. */
  private labelsFor(n: number, labels: number | ArrayLike<number> | undefined, cycleByDefault: boolean): Int32Array | undefined {
    const classes = this.info.classes;
    if (!classes) {
      if (labels !== undefined) throw new InputError('this decoder is not conditional: it takes no labels');
      return undefined;
    }
    if (labels === undefined) {
      if (!cycleByDefault) throw new InputError(`this decoder is conditional: give a label in 0..${classes - 1} (one for all, or one per sample)`);
      return Int32Array.from({ length: n }, (_, i) => i % classes);
    }
    const out = new Int32Array(n);
    if (typeof labels === 'number') out.fill(checkLabel(labels, 'label', classes));
    else {
      if (labels.length !== n) throw new InputError(`${labels.length} labels given for ${n} samples`);
      for (let i = 0; i < n; i++) out[i] = checkLabel(labels[i], `labels[${i}]`, classes);
    }
    return out;
  }

  private layoutFor(batch: number): Layout {
    const align16 = (x: number) => Math.ceil(x / 16) * 16;
    const { slots, graph } = this.model;
    const labels = this.plan.staticEnd;
    const slotTable = align16(labels + batch * 4);
    const addresses: number[] = [];
    let cursor = align16(slotTable + slots.slotElements.length * 4);
    for (const elements of slots.slotElements) {
      addresses.push(cursor);
      cursor = align16(cursor + batch * elements * 4);
    }
    const uniforms = cursor;
    const end = this.mixture ? align16(uniforms + batch * 8) : uniforms;
    const latent = addresses[slots.slotOf.get(graph.latent.name)!];
    const output = addresses[slots.slotOf.get(graph.output)!];
    return { labels, slotTable, addresses, latent, output, uniforms, end };
  }

  /** Calls `work` per chunk of at most maxBatch samples, with memory laid out for that chunk. */
  private forChunks(n: number, work: (start: number, count: number, layout: Layout) => void) {
    const chunk = Math.max(1, Math.min(n, this.maxBatch));
    const layout = this.layoutFor(chunk);
    if (layout.end > this.maxMemory) {
      throw new RuntimeError(`a batch of ${chunk} needs ${layout.end} bytes of wasm memory, over maxMemory (${this.maxMemory}); lower maxBatch`);
    }
    ensureMemory(this.kernels, layout.end);
    new Uint32Array(this.kernels.memory.buffer, layout.slotTable, layout.addresses.length).set(layout.addresses);
    for (let start = 0; start < n; start += chunk) work(start, Math.min(chunk, n - start), layout);
  }

  /**
   * Runs the plan over one chunk: in one call, or, given `eachRecord`, one record at a time, each
   * through `eachRecord(i, run)` (the profile times `run`; inspect looks at the inputs before it).
   */
  private runChunk(layout: Layout, count: number, labels: Int32Array | undefined, start: number, out: Float32Array, eachRecord?: (i: number, run: () => void) => void) {
    const { kernels, plan } = this;
    if (labels) new Int32Array(kernels.memory.buffer, layout.labels, count).set(labels.subarray(start, start + count));
    if (!eachRecord) this.runRecords(0, plan.opCount, count, layout);
    else for (let i = 0; i < plan.opCount; i++) eachRecord(i, () => this.runRecords(i, 1, count, layout));
    const size = this.info.outputSize;
    out.set(new Float32Array(kernels.memory.buffer, layout.output, count * size), start * size);
  }

  /** Executes records first..first+count-1 of the plan (records are contiguous, RECORD_WORDS i32 each); a failing one becomes a RuntimeError naming its node. */
  private runRecords(first: number, count: number, batch: number, layout: Layout) {
    const { kernels, plan } = this;
    const records = plan.records + first * RECORD_WORDS * 4;
    let status: number, failed: number;
    try {
      if (this.threads) {
        if (!this.threads.group) throw new InputError('this decoder was closed: its threads have ended');
        const job = { plan: records, count, batch, slots: layout.slotTable, labels: layout.labels, scratch: plan.scratch, scratchStride: plan.scratchStride, threads: this.threads.count };
        let broken: boolean;
        ({ status, record: failed, broken } = runJob(kernels as ThreadKernels, plan.sync, job));
        if (broken) {
          const group = this.threads.group;
          this.threads.group = undefined;
          void group.close();
          const node = plan.recordNodes[first + failed];
          throw new RuntimeError(`a decode thread trapped${node ? ` at node "${node.name}" (${node.layer.type})` : ''}; this decoder's threads have ended: load the model again`);
        }
      } else {
        status = kernels.run(records, count, batch, layout.slotTable, layout.labels, plan.scratch);
        failed = kernels.failedRecord();
      }
    } catch (err) {
      if (err instanceof InputError || err instanceof RuntimeError) throw err;
      // Validation should make this unreachable; if it is reached, say so rather than leak a bare trap.
      throw new RuntimeError(`the wasm executor trapped decoding a batch of ${batch}: ${(err as Error).message}`, { cause: err });
    }
    if (status !== Status.Ok) {
      const node = plan.recordNodes[first + failed];
      const where = node ? `node "${node.name}" (${node.layer.type})` : 'an unknown node';
      throw new RuntimeError(`the wasm executor failed at ${where}: ${STATUS_MESSAGES[status] ?? `status ${status}`}`);
    }
  }
}

/** Values one call returns at most: 2^28 floats (1 GiB); more is asked for in several calls with `offset`. */
const MAX_RESULT_VALUES = 2 ** 28;

/** A sample count, and the result it makes within MAX_RESULT_VALUES (a typed array that large would fail or stall the page). */
function checkCount(n: unknown, perSample: number): number {
  checkInt(n, 'n', 0, 2 ** 31);
  if ((n as number) * perSample > MAX_RESULT_VALUES) {
    const most = Math.floor(MAX_RESULT_VALUES / perSample);
    throw new InputError(`n = ${n} samples of ${perSample} values is over the ${MAX_RESULT_VALUES} values (1 GiB) one call returns: ask for at most ${most} at a time (offset continues the stream)`);
  }
  return n as number;
}

/**
 * A class label of a model with `classes` classes: an integer in 0..classes-1, or an InputError that
 * says how many classes the model has.
 */
export function checkLabel(value: unknown, what: string, classes: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InputError(`${what} must be a class: an integer in 0..${classes - 1}, got ${typeof value === 'number' ? value : JSON.stringify(value)}`);
  }
  if (value >= classes) throw new InputError(`${what} ${value} is not a class of this model: it has ${classes} classes, 0..${classes - 1}`);
  return value;
}

function checkInt(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${what} must be an integer in ${min}..${max}, got ${typeof value === 'number' ? value : JSON.stringify(value)}`);
  }
  return value;
}

function checkFinite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InputError(`${what} must be a finite number, got ${String(value)}`);
  return value;
}
