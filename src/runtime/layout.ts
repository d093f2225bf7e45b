/**
 * Image latents in either axis order. The runtime holds an image latent channels-last ([h, w, c], as
 * the file's `shape` says); PyTorch models take theirs channels-first ([c, h, w], the file's
 * `layout: 'NCHW'`). These move a batch of per-sample tensors between the two.
 */
export type LatentLayout = 'NCHW' | 'NHWC';
export const LATENT_LAYOUTS: readonly LatentLayout[] = ['NHWC', 'NCHW'];

/** `values` holds samples of [c, h, w] each; returns them as [h, w, c] (`shape` is the [h, w, c] held). */
export function toChannelsLast(values: Float32Array, [h, w, c]: readonly number[]): Float32Array {
  return transposeSamples(values, h * w, c, false);
}

/** `values` holds samples of [h, w, c] each; returns them as [c, h, w]. */
export function toChannelsFirst(values: Float32Array, [h, w, c]: readonly number[]): Float32Array {
  return transposeSamples(values, h * w, c, true);
}

/** Per sample, swaps a pixels x channels matrix (channels-last) with its transpose (channels-first). */
function transposeSamples(values: Float32Array, pixels: number, channels: number, toFirst: boolean): Float32Array {
  const size = pixels * channels;
  const out = new Float32Array(values.length);
  for (let base = 0; base < values.length; base += size) {
    for (let p = 0; p < pixels; p++) {
      for (let ch = 0; ch < channels; ch++) {
        const last = base + p * channels + ch;
        const first = base + ch * pixels + p;
        if (toFirst) out[first] = values[last];
        else out[last] = values[first];
      }
    }
  }
  return out;
}
