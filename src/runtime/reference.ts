/**
 * The reference decoder: a plain, scalar forward pass over a parsed model, written for clarity, not
 * speed. It is the specification the wasm executor is tested against (and the place to read what
 * each layer does). Kernels are read as f32 values (kernelValues); arithmetic is in f64.
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
        const w = Float64Array.from(kernelValues(model, layer)); // [K, N]
        const b = tensorData(model, layer.bias) as Float32Array;
        const rows = (n * inSize) / K;
        const out = new Float64Array(rows * N);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < N; j++) {
            let sum = b[j];
            for (let k = 0; k < K; k++) sum += act[r * K + k] * w[k * N + j];
            out[r * N + j] = activate(sum, layer.activation, layer.alpha);
          }
        }
        act = out;
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        const { H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed } = convGeometry(layer, inShape, outShape);
        const w = Float64Array.from(kernelValues(model, layer)); // conv2d [kh, kw, C, OC]; conv2dTranspose [kh, kw, OC, C]
        const b = tensorData(model, layer.bias) as Float32Array;
        const out = new Float64Array(n * OH * OW * OC);
        for (let s = 0; s < n; s++) {
          const x = act.subarray(s * inSize);
          const y = out.subarray(s * outSize);
          if (transposed) {
            // Scatter: input pixel (iy, ix) adds its kernel-weighted values at (iy*s + ky - pad, ...).
            for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
              const oy = iy * sh + ky - padTop;
              const ox = ix * sw + kx - padLeft;
              if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
              for (let oc = 0; oc < OC; oc++) for (let c = 0; c < C; c++) {
                y[(oy * OW + ox) * OC + oc] += x[(iy * W + ix) * C + c] * w[((ky * kw + kx) * OC + oc) * C + c];
              }
            }
          } else {
            for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
              const iy = oy * sh + ky - padTop;
              const ix = ox * sw + kx - padLeft;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (let oc = 0; oc < OC; oc++) for (let c = 0; c < C; c++) {
                y[(oy * OW + ox) * OC + oc] += x[(iy * W + ix) * C + c] * w[((ky * kw + kx) * C + c) * OC + oc];
              }
            }
          }
          for (let i = 0; i < outSize; i++) y[i] = activate(y[i] + b[i % OC], layer.activation, layer.alpha);
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
