/**
 * The 'edgevae' TensorFlow.js backend: tfjs-backend-wasm with its matrix products and convolutions
 * replaced by edgevae's own AssemblyScript SIMD kernels (assembly/train.ts, on the runtime's f32
 * GEMM microkernel).
 *
 * Why on top of the wasm backend: measured on one training step of the `ae` preset, the wasm
 * backend spends about 95% of it in BatchMatMul (its transposed products, which every backward pass
 * needs, are slow), and its elementwise kernels are about 15x faster than the pure-JavaScript cpu
 * backend's; the wasm backend also has no Conv2DBackpropFilter at all.
 *
 * How: 'edgevae' is registered as a second name for the same BackendWasm instance, so tensors stay
 * where the wasm backend keeps them, and every wasm kernel is registered again under 'edgevae',
 * except ours. Our wasm module imports that backend's memory: our kernels read their operands and
 * write their outputs in place, with no copies; call-time scratch (packed panels, transposes) comes
 * from the backend's allocator and is kept between calls.
 *
 * Ours: BatchMatMul and _FusedMatMul (every transposeA/transposeB combination, batched with tfjs's
 * broadcasting; a per-column bias and linear/relu/leakyrelu/sigmoid fused into the store, other
 * biases and activations applied after it by the wasm backend's kernels), Conv2D and FusedConv2D
 * (NHWC, no dilation, the same epilogue), Conv2DBackpropInput and Conv2DBackpropFilter (NHWC). A
 * call outside those (another dtype, NCHW, dilation) runs the stock wasm kernel, where one exists.
 * And two of our own: ADAM_UPDATE_KERNEL, the optimizer's step in one pass, and DROPOUT_MASK_KERNEL.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { InputError, RuntimeError, UnsupportedError } from '../errors.ts';
import type { ConvGeometry as FormatConvGeometry } from '../format/read.ts';
import { TRAIN_WASM_BASE64, TRAIN_WASM_RELAXED_BASE64 } from './wasm-inline.ts';
import { fromBase64 } from '../runtime/base64.ts';

/** TensorFlow.js's name of the backend (`tf.getBackend()` while it is active). */
export const EDGEVAE_BACKEND = 'edgevae';

/** Which build of the kernels to run: strict SIMD, or relaxed SIMD (fused multiply-add) where the engine has it. */
export type TrainSimd = 'strict' | 'relaxed';

/** The exports of assembly/train.ts. Pointers are into the memory the module was instantiated with. */
export interface TrainKernels {
  matMul(a: number, b: number, bias: number, y: number, M: number, K: number, N: number, transposeA: number, transposeB: number, act: number, alpha: number, scratch: number): void;
  matMulScratchBytes(M: number, K: number, N: number, transposeA: number): number;
  conv2d(
    x: number, filter: number, bias: number, y: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, OC: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, act: number, alpha: number, scratch: number,
  ): void;
  conv2dScratchBytes(K: number, N: number): number;
  convBackpropInput(
    dy: number, filter: number, dx: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, OC: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, scratch: number,
  ): void;
  convBackpropInputScratchBytes(H: number, W: number, C: number, OH: number, OW: number, OC: number, kh: number, kw: number): number;
  convFilterGradient(
    x: number, dy: number, dw: number, batch: number, H: number, W: number, C: number, OH: number, OW: number, OC: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, scratch: number,
  ): void;
  convFilterGradientScratchBytes(Kf: number, OC: number): number;
  transposeF32(src: number, dst: number, rows: number, cols: number): void;
  packRowsF32(src: number, dst: number, K: number, N: number, rowStride: number): void;
  packColumnsF32(src: number, dst: number, K: number, N: number): void;
  adamUpdate(
    w: number, g: number, m: number, v: number, wOut: number, mOut: number, vOut: number, n: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, stepSize: number, epsilon: number,
  ): void;
  dropoutMask(dst: number, n: number, seed: number, dropBelow: number, keepScale: number): void;
  relaxedSimd(): number;
}

/** The wasm backend's Emscripten module, with the members we use (not all in its typings). */
interface WasmModule {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  asm: { memory: WebAssembly.Memory };
}

/** Activation codes of assembly/kernels/activation.ts. */
const FUSED_ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, leakyrelu: 2, sigmoid: 3 };

/**
 * A kernel of our own with no TensorFlow.js counterpart: one Adam update of a variable in a single
 * pass. Inputs {variable, gradient, m, v}; attrs {beta1, beta2, epsilon, stepSize}; outputs [variable',
 * m', v']. src/train/adam.ts runs it where the active backend has it: the same f32 operations as its
 * op-by-op path, in the same order, so the same bits, in one pass instead of about twelve.
 */
export const ADAM_UPDATE_KERNEL = 'EdgevaeAdamUpdate';

/**
 * Another of our own: an inverted-dropout mask drawn in wasm, the same values as seeded.ts's
 * dropoutMask. No inputs; attrs {shape, rate, seed}; output the float32 mask of that shape.
 */
export const DROPOUT_MASK_KERNEL = 'EdgevaeDropoutMask';

/** The kernels we provide, by TensorFlow.js kernel name. */
const OURS = ['BatchMatMul', '_FusedMatMul', 'Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'Identity', ADAM_UPDATE_KERNEL, DROPOUT_MASK_KERNEL] as const;

/** The names of the kernels 'edgevae' runs on edgevae's own code (the rest are tfjs-backend-wasm's). */
export const EDGEVAE_KERNELS: readonly string[] = OURS;

/** True where this engine accepts the relaxed-SIMD build (Node 20: --experimental-wasm-relaxed-simd). */
export function relaxedTrainSimdSupported(): boolean {
  return WebAssembly.validate(fromBase64(TRAIN_WASM_RELAXED_BASE64) as BufferSource);
}

function assertSimdAvailable(simd: TrainSimd): void {
  if (simd !== 'strict' && simd !== 'relaxed') throw new InputError(`simd must be 'strict' or 'relaxed', got ${JSON.stringify(simd)}`);
  if (simd === 'relaxed' && !relaxedTrainSimdSupported()) {
    throw new UnsupportedError('the relaxed-SIMD build of the training kernels needs an engine with relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)');
  }
}

/** An instance of the training kernels working in `memory` (which they import rather than own). */
export async function instantiateTrainKernels(memory: WebAssembly.Memory, simd: TrainSimd): Promise<TrainKernels> {
  assertSimdAvailable(simd);
  const bytes = fromBase64(simd === 'relaxed' ? TRAIN_WASM_RELAXED_BASE64 : TRAIN_WASM_BASE64);
  const { instance } = await WebAssembly.instantiate(bytes as BufferSource, { env: { memory } });
  return instance.exports as unknown as TrainKernels;
}

/** Call-time scratch in the wasm backend's heap: one block, grown when a call needs more, kept between calls. */
class Scratch {
  private ptr = 0;
  private bytes = 0;
  constructor(private readonly module: WasmModule) {}

  /** A 16-aligned block of at least `bytes` bytes, valid until the next call. */
  get(bytes: number): number {
    if (bytes > this.bytes) {
      if (this.ptr) this.module._free(this.ptr);
      this.bytes = Math.max(bytes, Math.ceil(this.bytes * 1.5));
      this.ptr = this.module._malloc(this.bytes + 16);
      if (!this.ptr) throw new RuntimeError(`edgevae backend: cannot allocate ${this.bytes} bytes of scratch in the wasm heap`);
    }
    return Math.ceil(this.ptr / 16) * 16;
  }
}

interface Context {
  backend: BackendWasm;
  kernels: TrainKernels;
  scratch: Scratch;
}

let context: Context | undefined;
let registeredSimd: TrainSimd | undefined;

/**
 * Registers the 'edgevae' backend (once per process). Activate it with `tf.setBackend('edgevae')`
 * after the wasm backend has been initialised (`tf.setBackend('wasm')`). A second call with another
 * `simd` throws: the kernels' build is fixed once registered.
 */
export async function registerEdgevaeBackend(simd: TrainSimd): Promise<void> {
  if (registeredSimd) {
    if (registeredSimd !== simd) throw new UnsupportedError(`the edgevae backend is already registered with its ${registeredSimd} SIMD build in this process`);
    return;
  }
  assertSimdAvailable(simd);
  await import('@tensorflow/tfjs-backend-wasm'); // registers the wasm kernels we copy
  for (const config of tf.getKernelsForBackend('wasm')) {
    if (!(OURS as readonly string[]).includes(config.kernelName)) tf.registerKernel({ ...config, backendName: EDGEVAE_BACKEND });
  }
  for (const config of kernelConfigs()) tf.registerKernel(config);
  tf.registerBackend(EDGEVAE_BACKEND, async () => {
    // The wasm backend must be up already: initialising it from here would start a second instance.
    const backend = tf.findBackend('wasm') as BackendWasm | null;
    if (!backend) throw new RuntimeError("edgevae backend: initialise tfjs-backend-wasm first (await tf.setBackend('wasm'))");
    const module = backend.wasm as unknown as WasmModule;
    context = { backend, kernels: await instantiateTrainKernels(module.asm.memory, simd), scratch: new Scratch(module) };
    return backend;
  });
  registeredSimd = simd;
}

/**
 * For timing two builds of the training module step by step in one process (bench/train-builds.ts):
 * the wasm backend's memory, which every build imports, once the backend is initialised.
 */
export function edgevaeMemory(): WebAssembly.Memory {
  return (active().backend.wasm as unknown as WasmModule).asm.memory;
}

/** Replaces the kernels the initialised backend calls (instantiated over edgevaeMemory()); returns the ones it called. */
export function swapEdgevaeKernels(kernels: TrainKernels): TrainKernels {
  const ctx = active();
  const replaced = ctx.kernels;
  ctx.kernels = kernels;
  return replaced;
}

/** The build the backend was registered with, or undefined before registration. */
export function edgevaeBackendSimd(): TrainSimd | undefined {
  return registeredSimd;
}

/**
 * A float32 tensor's values as a view of the wasm heap, without the copy dataSync makes, on the
 * wasm and edgevae backends; undefined on others. Valid until the heap next grows: read it at once.
 */
export function wasmHeapValues(t: tf.Tensor): Float32Array | undefined {
  const name = tf.getBackend();
  if ((name !== 'wasm' && name !== EDGEVAE_BACKEND) || t.dtype !== 'float32') return undefined;
  const backend = tf.backend() as BackendWasm;
  const offset = backend.dataIdMap.get(t.dataId)?.memoryOffset;
  if (!offset) return undefined;
  return new Float32Array((backend.wasm as unknown as WasmModule).asm.memory.buffer, offset, t.size);
}

/**
 * Writes `source` over a float32 tensor's own values in the wasm heap, on the wasm and edgevae
 * backends, where no other tensor shares them; returns false (writing nothing) otherwise. For
 * data-parallel training, which sets every weight each step: this saves allocating and freeing a
 * new tensor per variable.
 */
export function overwriteWasmHeapValues(t: tf.Tensor, source: Float32Array): boolean {
  const view = wasmHeapValues(t);
  if (!view || source.length !== t.size || (tf.backend() as BackendWasm).refCount(t.dataId) !== 1) return false;
  view.set(source);
  return true;
}

function kernelConfigs(): tf.KernelConfig[] {
  const config = (kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig => ({
    kernelName,
    backendName: EDGEVAE_BACKEND,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  });
  return [
    config('BatchMatMul', batchMatMul),
    config('_FusedMatMul', fusedMatMul),
    config('Conv2D', (args) => conv2d('Conv2D', args)),
    config('FusedConv2D', (args) => conv2d('FusedConv2D', args)),
    config('Conv2DBackpropInput', conv2dBackpropInput),
    config('Conv2DBackpropFilter', conv2dBackpropFilter),
    config('Identity', identity),
    config(ADAM_UPDATE_KERNEL, adamUpdate),
    config(DROPOUT_MASK_KERNEL, dropoutMask),
  ];
}

interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  attrs: Record<string, unknown>;
  backend: BackendWasm;
}

function active(): Context {
  if (!context) throw new RuntimeError('edgevae backend: a kernel ran before the backend was initialised');
  return context;
}

/** Runs the stock tfjs-backend-wasm kernel, for the calls ours do not cover (`why` says what ours lacks). */
function stock(kernelName: string, args: KernelArgs, why: string): tf.TensorInfo {
  return wasmKernel(kernelName, why)(args);
}

function wasmKernel(kernelName: string, why: string): (args: KernelArgs) => tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (!kernel) throw new UnsupportedError(`edgevae backend: ${kernelName} ${why}, and tfjs-backend-wasm has no ${kernelName} kernel to fall back on`);
  return (args) => kernel.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

function offsetOf(ctx: Context, t: tf.TensorInfo): number {
  return ctx.backend.dataIdMap.get(t.dataId)!.memoryOffset;
}

// ---- matrix products ----

function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock('BatchMatMul', args, `is float32 only, got ${a.dtype} x ${b.dtype}`);
  return runMatMul(a, b, undefined, args.attrs, 'linear', 0);
}

function fusedMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs;
  if (a!.dtype !== 'float32' || b!.dtype !== 'float32') return stock('_FusedMatMul', args, `is float32 only, got ${a!.dtype} x ${b!.dtype}`);
  const N = (args.attrs.transposeB ? b!.shape.at(-2) : b!.shape.at(-1))!;
  const epilogue = planEpilogue(args, N);
  const product = runMatMul(a!, b!, epilogue.fusedBias, args.attrs, epilogue.fusedActivation, epilogue.alpha);
  return finishEpilogue(product, epilogue, args);
}

/**
 * What of a fused op's bias and activation our kernels' store fuses: a per-column bias, and linear,
 * relu, leakyrelu or sigmoid. The rest (a broadcast bias of another shape, elu, relu6, prelu) runs
 * after the product on the wasm backend's own kernels.
 */
interface Epilogue {
  fusedBias?: tf.TensorInfo;
  fusedActivation: string;
  alpha: number;
  /** The bias to add after the product, when not fused. */
  laterBias?: tf.TensorInfo;
  /** The activation to apply after the product, when not fused. */
  laterActivation?: string;
}

function planEpilogue(args: KernelArgs, columns: number): Epilogue {
  const { bias, preluActivationWeights } = args.inputs;
  const activation = String(args.attrs.activation ?? 'linear');
  const biasFuses = bias !== undefined && isPerColumn(bias, columns);
  // An activation can only be fused when the bias before it is.
  const activationFuses = activation in FUSED_ACTIVATIONS && !preluActivationWeights && (biasFuses || bias === undefined);
  return {
    fusedBias: biasFuses ? bias : undefined,
    fusedActivation: activationFuses ? activation : 'linear',
    alpha: Number(args.attrs.leakyreluAlpha ?? 0.2),
    laterBias: bias !== undefined && !biasFuses ? bias : undefined,
    laterActivation: activationFuses ? undefined : activation,
  };
}

/** The activation kernels of the wasm backend, for the activations our store does not fuse. */
const LATER_ACTIVATIONS: Record<string, string> = { linear: 'Identity', relu: 'Relu', leakyrelu: 'LeakyRelu', sigmoid: 'Sigmoid', elu: 'Elu', relu6: 'Relu6', prelu: 'Prelu' };

/** Applies the unfused part of an epilogue to `product` with the wasm backend's kernels. */
function finishEpilogue(product: tf.TensorInfo, epilogue: Epilogue, args: KernelArgs): tf.TensorInfo {
  let out = product;
  if (epilogue.laterBias) out = replace(out, runWasmKernel('Add', { a: out, b: epilogue.laterBias }, {}, args.backend), args.backend);
  const activation = epilogue.laterActivation;
  if (activation !== undefined && activation !== 'linear') {
    const kernelName = LATER_ACTIVATIONS[activation];
    if (!kernelName) throw new UnsupportedError(`edgevae backend: unknown fused activation ${JSON.stringify(activation)}`);
    const inputs: Record<string, tf.TensorInfo> = activation === 'prelu' ? { x: out, alpha: args.inputs.preluActivationWeights! } : { x: out };
    out = replace(out, runWasmKernel(kernelName, inputs, { alpha: epilogue.alpha }, args.backend), args.backend);
  }
  return out;
}

function runWasmKernel(kernelName: string, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>, backend: BackendWasm): tf.TensorInfo {
  return wasmKernel(kernelName, 'is needed')({ inputs, attrs, backend });
}

/** Frees an intermediate result once the next one exists. */
function replace(previous: tf.TensorInfo, next: tf.TensorInfo, backend: BackendWasm): tf.TensorInfo {
  backend.disposeData(previous.dataId);
  return next;
}

/** True for a bias that adds one value per output column: shape [..., N] with every other dimension 1. */
function isPerColumn(bias: tf.TensorInfo, N: number): boolean {
  return bias.dtype === 'float32' && bias.shape.at(-1) === N && tf.util.sizeFromShape(bias.shape) === N;
}

function runMatMul(a: tf.TensorInfo, b: tf.TensorInfo, bias: tf.TensorInfo | undefined, attrs: Record<string, unknown>, activation: string, alpha: number): tf.TensorInfo {
  const ctx = active();
  const transposeA = Boolean(attrs.transposeA);
  const transposeB = Boolean(attrs.transposeB);
  const M = a.shape.at(transposeA ? -1 : -2)!;
  const K = a.shape.at(transposeA ? -2 : -1)!;
  const N = b.shape.at(transposeB ? -2 : -1)!;
  const innerB = b.shape.at(transposeB ? -1 : -2)!;
  if (K !== innerB) {
    throw new RangeError(`Error in matMul: inner shapes (${K}) and (${innerB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const outerDims = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = ctx.backend.makeOutput([...outerDims, M, N], 'float32');
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const batch = tf.util.sizeFromShape(outerDims);
  const scratch = ctx.scratch.get(ctx.kernels.matMulScratchBytes(M, K, N, transposeA ? 1 : 0));
  const [pa, pb, py] = [offsetOf(ctx, a), offsetOf(ctx, b), offsetOf(ctx, out)];
  const pBias = bias ? offsetOf(ctx, bias) : 0;
  for (let i = 0; i < batch; i++) {
    // tfjs's broadcasting of the batch dimensions, as its cpu backend does it
    const ai = i % batchA, bi = i % batchB;
    ctx.kernels.matMul(pa + ai * M * K * 4, pb + bi * K * N * 4, pBias, py + i * M * N * 4, M, K, N, transposeA ? 1 : 0, transposeB ? 1 : 0, FUSED_ACTIVATIONS[activation], alpha, scratch);
  }
  return out;
}

// ---- convolutions ----

/** The format's conv geometry (NHWC sizes, kernel, strides, padding before), for a batch of tensors. */
type ConvGeometry = Omit<FormatConvGeometry, 'transposed'> & { batch: number };

/** The geometry of a conv, from tfjs's own shape and padding rules; undefined when ours does not cover it. */
function convGeometry(inShape: number[], filterShape: number[], attrs: Record<string, unknown>): ConvGeometry | string {
  const dataFormat = (attrs.dataFormat as string | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC') return `supports NHWC only, not ${dataFormat}`;
  const dilations = (attrs.dilations as number | [number, number] | undefined) ?? 1;
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    dilations,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return `has no dilation (asked for ${info.dilationHeight}x${info.dilationWidth})`;
  return {
    batch: info.batchSize, H: info.inHeight, W: info.inWidth, C: info.inChannels,
    OH: info.outHeight, OW: info.outWidth, OC: info.outChannels,
    kh: info.filterHeight, kw: info.filterWidth, sh: info.strideHeight, sw: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

/** Conv2D and FusedConv2D (whose bias and activation ride along). */
function conv2d(name: 'Conv2D' | 'FusedConv2D', args: KernelArgs): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  if (x.dtype !== 'float32' || filter.dtype !== 'float32') return stock(name, args, `is float32 only, got ${x.dtype}`);
  const g = convGeometry(x.shape, filter.shape, args.attrs);
  if (typeof g === 'string') return stock(name, args, g);
  const epilogue = planEpilogue(args, g.OC);
  const ctx = active();
  const out = ctx.backend.makeOutput([g.batch, g.OH, g.OW, g.OC], 'float32');
  const scratch = ctx.scratch.get(ctx.kernels.conv2dScratchBytes(g.kh * g.kw * g.C, g.OC));
  ctx.kernels.conv2d(
    offsetOf(ctx, x), offsetOf(ctx, filter), epilogue.fusedBias ? offsetOf(ctx, epilogue.fusedBias) : 0, offsetOf(ctx, out),
    g.batch, g.H, g.W, g.C, g.OH, g.OW, g.OC, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft,
    FUSED_ACTIVATIONS[epilogue.fusedActivation], epilogue.alpha, scratch,
  );
  return finishEpilogue(out, epilogue, args);
}

function conv2dBackpropInput(args: KernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return stock('Conv2DBackpropInput', args, `is float32 only, got ${dy.dtype}`);
  const g = convGeometry(args.attrs.inputShape as number[], filter.shape, args.attrs);
  if (typeof g === 'string') return stock('Conv2DBackpropInput', args, g);
  const ctx = active();
  const out = ctx.backend.makeOutput([g.batch, g.H, g.W, g.C], 'float32');
  const scratch = ctx.scratch.get(ctx.kernels.convBackpropInputScratchBytes(g.H, g.W, g.C, g.OH, g.OW, g.OC, g.kh, g.kw));
  ctx.kernels.convBackpropInput(
    offsetOf(ctx, dy), offsetOf(ctx, filter), offsetOf(ctx, out),
    g.batch, g.H, g.W, g.C, g.OH, g.OW, g.OC, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, scratch,
  );
  return out;
}

function conv2dBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = args.attrs.filterShape as number[];
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return stock('Conv2DBackpropFilter', args, `is float32 only, got ${x.dtype}`);
  const g = convGeometry(x.shape, filterShape, args.attrs);
  if (typeof g === 'string') return stock('Conv2DBackpropFilter', args, g);
  const ctx = active();
  const out = ctx.backend.makeOutput([g.kh, g.kw, g.C, g.OC], 'float32');
  const scratch = ctx.scratch.get(ctx.kernels.convFilterGradientScratchBytes(g.kh * g.kw * g.C, g.OC));
  ctx.kernels.convFilterGradient(
    offsetOf(ctx, x), offsetOf(ctx, dy), offsetOf(ctx, out),
    g.batch, g.H, g.W, g.C, g.OH, g.OW, g.OC, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, scratch,
  );
  return out;
}

// ---- data movement ----

/**
 * Identity (tf.clone, and every tensor the engine saves for a backward pass) as the cpu backend does
 * it: the output shares the input's storage. The stock wasm kernel copies the values instead, about
 * 4% of a conv-vae training step. Sharing is safe because no kernel here writes into its inputs,
 * and overwriteWasmHeapValues, the one in-place write, refuses a buffer with more than one reference.
 */
function identity(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x!;
  if (x.dtype === 'string') return stock('Identity', args, 'strings live outside the wasm heap');
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

// ---- randomness ----

function dropoutMask(args: KernelArgs): tf.TensorInfo {
  const { shape, rate, seed } = args.attrs as { shape: number[]; rate: number; seed: number };
  const ctx = active();
  const out = ctx.backend.makeOutput(shape, 'float32');
  ctx.kernels.dropoutMask(offsetOf(ctx, out), tf.util.sizeFromShape(shape), seed, Math.ceil(rate * 2 ** 32), 1 / (1 - rate));
  return out;
}

// ---- optimizer ----

function adamUpdate(args: KernelArgs): tf.TensorInfo[] {
  const { variable, gradient, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  const { beta1, beta2, epsilon, stepSize } = args.attrs as Record<string, number>;
  for (const t of [variable, gradient, m, v]) {
    if (t.dtype !== 'float32' || !tf.util.arraysEqual(t.shape, variable.shape)) {
      throw new UnsupportedError(`edgevae backend: ${ADAM_UPDATE_KERNEL} takes float32 tensors of one shape, got ${t.dtype} [${t.shape}] for a variable of [${variable.shape}]`);
    }
  }
  const ctx = active();
  const outputs = [variable, m, v].map((t) => ctx.backend.makeOutput(t.shape, 'float32'));
  const [wOut, mOut, vOut] = outputs.map((t) => offsetOf(ctx, t));
  ctx.kernels.adamUpdate(
    offsetOf(ctx, variable), offsetOf(ctx, gradient), offsetOf(ctx, m), offsetOf(ctx, v), wOut, mOut, vOut, tf.util.sizeFromShape(variable.shape),
    beta1, 1 - beta1, beta2, 1 - beta2, stepSize, epsilon,
  );
  return outputs;
}
