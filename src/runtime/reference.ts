/**
 * The reference decoder: a plain, scalar forward pass over a parsed model, written for clarity, not
 * speed. It is the specification the wasm executor is tested against (and the place to read what
 * each layer does). Kernels are read as f32 values (kernelValues); arithmetic is in f64.
 *
 * int8 models are specified as the runtime computes them: a dense layer's input row, or a conv layer's
 * whole input for one sample, is quantized to integers in +-ACTIVATION_Q_MAX with its own scale
 * (quantizeActivations), multiplied exactly by the int8 weights, then scaled by that scale x the
 * output channel's scale.
 */
import { decodeF16 } from '../format/f16.ts';
import { dequantizeInt8PerChannel } from '../format/int8.ts';
import { convGeometry, tensorData, type ParsedModel } from '../format/read.ts';
import { outputChannelAxis, product, type ActivationName, type ConvLayer, type DenseLayer } from '../format/spec.ts';

/**
 * A weighted layer's kernel as f32 values in TensorFlow.js layout, whatever dtype the file stores it
 * in: f32 copied, f16 widened, i8 dequantized as q * scale of its output channel.
 */
export function kernelValues(model: ParsedModel, layer: DenseLayer | ConvLayer): Float32Array {
  const data = tensorData(model, layer.kernel);
  if (data instanceof Float32Array) return Float32Array.from(data);
  if (data instanceof Uint16Array) return decodeF16(data);
  const scales = tensorData(model, layer.scale!) as Float32Array;
  return dequantizeInt8PerChannel(data, scales, model.header.tensors[layer.kernel].shape, outputChannelAxis(layer.type));
}

/** The int8 kernels' activation range: see assembly/kernels/gemm-i8.ts for why 8191. */
export const ACTIVATION_Q_MAX = 8191;

/**
 * A row of activations as the int8 kernels quantize it, in the kernels' f32 arithmetic:
 * q = roundHalfEven(x * (Q_MAX / max|x|)), scale = max|x| / Q_MAX (0 for an all-zero row).
 */
export function quantizeActivations(row: ArrayLike<number>): { q: Int32Array; scale: number } {
  let maxAbs = 0;
  for (let i = 0; i < row.length; i++) maxAbs = Math.max(maxAbs, Math.abs(Math.fround(row[i])));
  const inv = maxAbs > 0 ? Math.fround(ACTIVATION_Q_MAX / maxAbs) : 0;
  const q = new Int32Array(row.length);
  for (let i = 0; i < row.length; i++) q[i] = roundHalfEven(Math.fround(Math.fround(row[i]) * inv));
  return { q, scale: Math.fround(maxAbs / ACTIVATION_Q_MAX) };
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function activate(x: number, activation: ActivationName, alpha = 0): number {
  switch (activation) {
    case 'relu': return Math.max(x, 0);
    case 'leakyRelu': return x > 0 ? x : alpha * x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    default: return x;
  }
}

/** Decodes `latents` (n x latentSize) with optional labels; returns n x outputSize values. */
export function referenceDecode(model: ParsedModel, latents: Float32Array, labels?: ArrayLike<number>): Float64Array {
  const { meta } = model.header;
  const n = latents.length / meta.latentSize;
  let act = Float64Array.from(latents);
  for (const { layer, inShape, outShape } of model.steps) {
    const inSize = product(inShape);
    const outSize = product(outShape);
    switch (layer.type) {
      case 'dense': {
        const K = inShape[inShape.length - 1];
        const N = layer.units;
        const w = weightsOf(model, layer); // [K, N]
        const b = tensorData(model, layer.bias) as Float32Array;
        const rows = (n * inSize) / K;
        const out = new Float64Array(rows * N);
        for (let r = 0; r < rows; r++) {
          const { x, rowScale } = rowOperands(act.subarray(r * K, (r + 1) * K), w.quantized);
          for (let j = 0; j < N; j++) {
            let sum = 0;
            for (let k = 0; k < K; k++) sum += x[k] * w.values[k * N + j];
            out[r * N + j] = activate(sum * rowScale * w.scale(j) + b[j], layer.activation, layer.alpha);
          }
        }
        act = out;
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        const { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed } = convGeometry(layer, inShape, outShape);
        const w = weightsOf(model, layer); // conv2d [kh, kw, C, OC]; conv2dTranspose [kh, kw, OC, C]
        const b = tensorData(model, layer.bias) as Float32Array;
        const K = kh * kw * C;
        const out = new Float64Array(n * OH * OW * OC);
        for (let s = 0; s < n; s++) {
          // Each output pixel's receptive field as one row of kh*kw*C values (0 where a tap reads nothing);
          // for int8 kernels, of the sample's input quantized once, with one scale for the sample.
          const { x, rowScale } = rowOperands(act.subarray(s * inSize, (s + 1) * inSize), w.quantized);
          const fields = new Float64Array(OH * OW * K);
          const visit = (oy: number, ox: number, iy: number, ix: number, ky: number, kx: number) => {
            for (let c = 0; c < C; c++) fields[(oy * OW + ox) * K + (ky * kw + kx) * C + c] = x[(iy * W + ix) * C + c];
          };
          if (transposed) {
            // A transposed conv scatters: input pixel (iy, ix) reaches (iy*s + ky - pad, ...).
            for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
              const oy = iy * sh + ky - padTop;
              const ox = ix * sw + kx - padLeft;
              if (oy >= 0 && oy < OH && ox >= 0 && ox < OW) visit(oy, ox, iy, ix, ky, kx);
            }
          } else {
            for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
              const iy = oy * sh + ky - padTop;
              const ix = ox * sw + kx - padLeft;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) visit(oy, ox, iy, ix, ky, kx);
            }
          }
          const kernelIndex = (tap: number, c: number, oc: number) => (transposed ? (tap * OC + oc) * C + c : (tap * C + c) * OC + oc);
          for (let p = 0; p < OH * OW; p++) {
            const field = fields.subarray(p * K, (p + 1) * K);
            for (let oc = 0; oc < OC; oc++) {
              let sum = 0;
              for (let k = 0; k < K; k++) sum += field[k] * w.values[kernelIndex(Math.floor(k / C), k % C, oc)];
              out[(s * OH * OW + p) * OC + oc] = activate(sum * rowScale * w.scale(oc) + b[oc], layer.activation, layer.alpha);
            }
          }
        }
        act = out;
        break;
      }
      case 'concatenate': {
        const classes = meta.conditioning!.classes;
        const out = new Float64Array(n * outSize);
        for (let s = 0; s < n; s++) {
          const label = labels![s];
          const featuresAt = s * outSize + (layer.labelFirst ? classes : 0);
          const oneHotAt = s * outSize + (layer.labelFirst ? 0 : inSize);
          out.set(act.subarray(s * inSize, (s + 1) * inSize), featuresAt);
          out[oneHotAt + label] = 1;
        }
        act = out;
        break;
      }
      case 'activation':
        act = act.map((v) => activate(v, layer.activation, layer.alpha));
        break;
      case 'reshape':
      case 'flatten':
        break;
    }
  }
  return act;
}

interface LayerWeights {
  /** f32 values, or the raw integers of an int8 kernel. */
  values: Float64Array;
  quantized: boolean;
  /** Multiplier of output channel j: its int8 scale, 1 for float kernels. */
  scale(j: number): number;
}

function weightsOf(model: ParsedModel, layer: DenseLayer | ConvLayer): LayerWeights {
  const data = tensorData(model, layer.kernel);
  if (!(data instanceof Int8Array)) return { values: Float64Array.from(kernelValues(model, layer)), quantized: false, scale: () => 1 };
  const scales = tensorData(model, layer.scale!) as Float32Array;
  return { values: Float64Array.from(data), quantized: true, scale: (j) => scales[j] };
}

/** The row a weighted layer multiplies: as is for float kernels, quantized for int8 ones. */
function rowOperands(row: Float64Array, quantized: boolean): { x: ArrayLike<number>; rowScale: number } {
  if (!quantized) return { x: row, rowScale: 1 };
  const { q, scale } = quantizeActivations(row);
  return { x: q, rowScale: scale };
}
