// The wasm module's exports: the executor, load-time packing, the latent sampler, and each kernel on
// its own so tests can hold it against a scalar reference. All pointers are into this module's
// memory, laid out by the host (src/runtime/); nothing here allocates.
import { activateInPlace } from './kernels/activation';
import { dense } from './kernels/dense';
import { packConv, packDense, padVector } from './kernels/pack';

export { run, RECORD_WORDS } from './executor';
export { fillNormal } from './random';
export { concatLabel } from './kernels/concat';
export { activateInPlace, padVector };

/** First free byte after the module's static data; the host lays out memory from here. */
export function heapBase(): usize {
  return __heap_base;
}

export function packDenseF32(src: usize, dst: usize, K: i32, N: i32): void {
  packDense<f32>(src, dst, K, N);
}
export function packDenseI8(src: usize, dst: usize, K: i32, N: i32): void {
  packDense<i8>(src, dst, K, N);
}
export function packConvF32(src: usize, dst: usize, taps: i32, C: i32, OC: i32, transposed: bool): void {
  packConv<f32>(src, dst, taps, C, OC, transposed);
}
export function packConvI8(src: usize, dst: usize, taps: i32, C: i32, OC: i32, transposed: bool): void {
  packConv<i8>(src, dst, taps, C, OC, transposed);
}

export function denseF32(x: usize, y: usize, rows: i32, K: i32, N: i32, w: usize, bias: usize, act: i32, alpha: f32): void {
  dense<f32>(x, y, rows, K, N, w, bias, 0, act, alpha);
}
export function denseI8(x: usize, y: usize, rows: i32, K: i32, N: i32, w: usize, bias: usize, scale: usize, act: i32, alpha: f32): void {
  dense<i8>(x, y, rows, K, N, w, bias, scale, act, alpha);
}
