// Runs a validated layer plan over a batch. The host (src/runtime/plan.ts) writes one fixed-size
// record per op into wasm memory; activations ping-pong between two buffers sized for the largest
// layer, and one scratch area (im2col tiles, quantized rows, a widened f16 panel) sized by the host
// for the hungriest layer, so nothing is allocated while decoding.
import { activateInPlace } from './kernels/activation';
import { concatLabel } from './kernels/concat';
import { conv } from './kernels/conv';
import { dense } from './kernels/dense';

// Record layout, in i32 words. Keep in step with src/runtime/plan.ts.
export const RECORD_WORDS: i32 = 24;
const OP_DENSE = 1;
const OP_CONV = 2;
const OP_ACTIVATION = 3;
const OP_CONCAT_LABEL = 4;

export const STATUS_BAD_OPCODE = -1;
export const STATUS_BAD_LABEL = -2;
export const STATUS_BAD_WEIGHTS = -3;

// @ts-ignore: decorator
@inline
function word(record: usize, i: i32): i32 {
  return load<i32>(record + (<usize>i << 2));
}

/**
 * Executes `count` records for `batch` samples whose input is in buffer A.
 * Returns the buffer holding the output (0 = A, 1 = B), or a negative status.
 */
export function run(plan: usize, count: i32, batch: i32, bufA: usize, bufB: usize, labels: usize, scratch: usize): i32 {
  let src = bufA, dst = bufB, current = 0;
  for (let i = 0; i < count; i++) {
    const r = plan + (<usize>(i * RECORD_WORDS) << 2);
    const op = word(r, 0);
    const act = word(r, 1);
    const alpha = reinterpret<f32>(word(r, 2));
    if (op == OP_ACTIVATION) {
      activateInPlace(src, batch * word(r, 3), act, alpha);
      continue;
    }
    if (op == OP_DENSE) {
      const rows = batch * word(r, 6);
      if (!dense(word(r, 3), src, dst, rows, word(r, 4), word(r, 5), word(r, 7), word(r, 8), word(r, 9), scratch, act, alpha)) return STATUS_BAD_WEIGHTS;
    } else if (op == OP_CONV) {
      if (!runConv(src, dst, batch, r, scratch, act, alpha)) return STATUS_BAD_WEIGHTS;
    } else if (op == OP_CONCAT_LABEL) {
      if (!concatLabel(src, dst, batch, word(r, 3), labels, word(r, 4), word(r, 5) != 0)) return STATUS_BAD_LABEL;
    } else {
      return STATUS_BAD_OPCODE;
    }
    const t = src; src = dst; dst = t;
    current ^= 1;
  }
  return current;
}

function runConv(x: usize, y: usize, batch: i32, r: usize, scratch: usize, act: i32, alpha: f32): bool {
  const H = word(r, 4), W = word(r, 5), C = word(r, 6), OH = word(r, 7), OW = word(r, 8), OC = word(r, 9);
  const kh = word(r, 10), kw = word(r, 11), sh = word(r, 12), sw = word(r, 13);
  const padTop = word(r, 14), padLeft = word(r, 15), transposed = word(r, 16) != 0;
  const w = <usize>word(r, 17), bias = <usize>word(r, 18), scale = <usize>word(r, 19);
  return conv(word(r, 3), x, y, batch, H, W, C, OH, OW, OC, kh, kw, sh, sw, padTop, padLeft, transposed, w, bias, scale, scratch, act, alpha);
}
