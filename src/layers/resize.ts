/**
 * Resize (ONNX Resize / Upsample, PyTorch nn.Upsample and F.interpolate) on NHWC values, in three
 * parts: the per-axis tables the host computes once at load time and copies into wasm memory
 * (resizeTables), the scalar reference the kernels (assembly/kernels/resize.ts) match bit for bit
 * (resizeReference), and an independent reference straight from the ONNX formulas in f64
 * (resizeOnnxReference) that the tables are tested against.
 *
 * Which ONNX attributes a PyTorch export carries:
 * - nn.Upsample(scale_factor=2, mode='nearest') (F.interpolate nearest): Resize with
 *   coordinate_transformation_mode 'asymmetric', nearest_mode 'floor'.
 * - bilinear, align_corners=False: 'pytorch_half_pixel' (older exporters: 'half_pixel'; the same but
 *   for outputs of length 1); align_corners=True: 'align_corners'.
 * - opset 9's Upsample (mode nearest/linear, a scales input): 'asymmetric', nearest_mode 'floor'.
 *
 * No Node-only imports: this runs in every runtime the decoder does.
 */
import { LIMITS, type ResizeLayer } from '../format/spec.ts';
import { fail, finite, oneOf, pair } from '../format/validate.ts';
import { Field, Op, RESIZE_LINEAR_ENTRY_BYTES, ResizeRec } from '../runtime/abi.ts';
import type { LayerKind } from './types.ts';

export type ResizeCoordinate = 'asymmetric' | 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'tf_half_pixel_for_nn';
export type ResizeNearestMode = 'floor' | 'ceil' | 'round_prefer_floor' | 'round_prefer_ceil';

export interface ResizeMode {
  kind: 'nearest' | 'linear';
  coordinate: ResizeCoordinate;
  /** Nearest only; ONNX's default is 'round_prefer_floor'. */
  nearest?: ResizeNearestMode;
}

/** i32 words per linear table entry: {i0, i1, w0 (f32 bits), w1 (f32 bits)}. */
export const LINEAR_ENTRY_WORDS = RESIZE_LINEAR_ENTRY_BYTES / 4;

/**
 * One axis's table, for an output of outLen from an input of inLen:
 * - nearest: outLen i32 source indices;
 * - linear: outLen entries of 4 words {i32 i0, i32 i1, f32 w0, f32 w1} (read w0, w1 through a
 *   Float32Array on the same buffer), value = w0 * v[i0] + w1 * v[i1], w1 = f32(x - i0),
 *   w0 = f32(1 - w1), as PyTorch's kernels compute their lambdas.
 * Copy its bytes (table.buffer) into wasm memory as the kernel's rows or cols argument.
 *
 * The source coordinate x_original of output index x follows the ONNX Resize spec, with
 * scale = outLen / inLen unless `scale` (the model's scales value for this axis) is given:
 *   asymmetric            x / scale
 *   half_pixel            (x + 0.5) / scale - 0.5
 *   pytorch_half_pixel    outLen > 1 ? (x + 0.5) / scale - 0.5 : 0
 *   align_corners         outLen > 1 ? x * (inLen - 1) / (outLen - 1) : 0   (lengths, not the scale, as onnxruntime)
 *   tf_half_pixel_for_nn  (x + 0.5) / scale
 * Each is evaluated as one division of exact integers (scale as the fraction outLen / inLen, or
 * scale / 1), so the result is the correctly rounded value of the exact rational: an integer or a
 * tie of nearest rounding is recognized exactly, never decided by a rounding error (7 -> 9 half_pixel
 * at x = 4 is exactly 3, where (4.5 / (9/7)) - 0.5 in f64 gives 2.9999999999999996, whose floor is 2).
 * nearest: rounded by nearest_mode (an integer x_original is itself), then clamped to [0, inLen - 1].
 * linear: x_original clamped to [0, inLen - 1] (what ONNX's edge padding amounts to), i0 = floor,
 * i1 = min(i0 + 1, inLen - 1).
 */
export function resizeTables(mode: ResizeMode, inLen: number, outLen: number, scale?: number): Int32Array {
  if (!Number.isInteger(inLen) || !Number.isInteger(outLen) || inLen < 1 || outLen < 1) throw new RangeError(`resize lengths must be positive integers, got ${inLen} -> ${outLen}`);
  if (scale !== undefined && !(scale > 0 && Number.isFinite(scale))) throw new RangeError(`resize scale must be positive and finite, got ${scale}`);
  // scale = num / den, exact integers (or the model's scale over 1).
  const num = scale ?? outLen;
  const den = scale === undefined ? inLen : 1;
  const source = (x: number): number => {
    switch (mode.coordinate) {
      case 'asymmetric': return (x * den) / num;
      case 'half_pixel': return ((2 * x + 1) * den - num) / (2 * num);
      case 'pytorch_half_pixel': return outLen > 1 ? ((2 * x + 1) * den - num) / (2 * num) : 0;
      case 'align_corners': return outLen > 1 ? (x * (inLen - 1)) / (outLen - 1) : 0;
      case 'tf_half_pixel_for_nn': return ((2 * x + 1) * den) / (2 * num);
      default: throw new RangeError(`unknown coordinate_transformation_mode ${JSON.stringify(mode.coordinate)}`);
    }
  };
  const last = inLen - 1;
  if (mode.kind === 'nearest') {
    const nearest = mode.nearest ?? 'round_prefer_floor';
    const table = new Int32Array(outLen);
    for (let x = 0; x < outLen; x++) table[x] = Math.min(Math.max(roundNearest(source(x), nearest), 0), last);
    return table;
  }
  if (mode.kind !== 'linear') throw new RangeError(`unknown resize mode ${JSON.stringify(mode.kind)}`);
  const table = new Int32Array(outLen * LINEAR_ENTRY_WORDS);
  const weights = new Float32Array(table.buffer);
  for (let x = 0; x < outLen; x++) {
    const at = x * LINEAR_ENTRY_WORDS;
    const s = Math.min(Math.max(source(x), 0), last);
    const i0 = Math.floor(s);
    table[at] = i0;
    table[at + 1] = Math.min(i0 + 1, last);
    const w1 = Math.fround(s - i0);
    weights[at + 2] = Math.fround(1 - w1);
    weights[at + 3] = w1;
  }
  return table;
}

function roundNearest(v: number, mode: ResizeNearestMode): number {
  const f = Math.floor(v);
  if (f === v) return v;
  switch (mode) {
    case 'floor': return f;
    case 'ceil': return f + 1;
    case 'round_prefer_floor': return v - f <= 0.5 ? f : f + 1;
    case 'round_prefer_ceil': return v - f < 0.5 ? f : f + 1;
    default: throw new RangeError(`unknown nearest_mode ${JSON.stringify(mode)}`);
  }
}

/**
 * What the kernels compute, scalar, bit for bit: x [batch, H, W, C] to [batch, OH, OW, C] through
 * the two tables (linear: top = wx0 * a + wx1 * b, bottom = wx0 * c + wx1 * d,
 * value = wy0 * top + wy1 * bottom, each operation rounded to f32).
 */
export function resizeReference(
  x: Float32Array, batch: number, H: number, W: number, C: number, OH: number, OW: number,
  rowsTable: Int32Array, colsTable: Int32Array, linear: boolean,
): Float32Array {
  const y = new Float32Array(batch * OH * OW * C);
  const at = (s: number, h: number, w: number, c: number) => ((s * H + h) * W + w) * C + c;
  const f = Math.fround;
  const rw = new Float32Array(rowsTable.buffer, rowsTable.byteOffset, rowsTable.length);
  const cw = new Float32Array(colsTable.buffer, colsTable.byteOffset, colsTable.length);
  let o = 0;
  for (let s = 0; s < batch; s++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++) {
          if (!linear) {
            y[o++] = x[at(s, rowsTable[oy], colsTable[ox], c)];
            continue;
          }
          const r = oy * LINEAR_ENTRY_WORDS, k = ox * LINEAR_ENTRY_WORDS;
          const [y0, y1, wy0, wy1] = [rowsTable[r], rowsTable[r + 1], rw[r + 2], rw[r + 3]];
          const [x0, x1, wx0, wx1] = [colsTable[k], colsTable[k + 1], cw[k + 2], cw[k + 3]];
          const top = f(f(wx0 * x[at(s, y0, x0, c)]) + f(wx1 * x[at(s, y0, x1, c)]));
          const bottom = f(f(wx0 * x[at(s, y1, x0, c)]) + f(wx1 * x[at(s, y1, x1, c)]));
          y[o++] = f(f(wy0 * top) + f(wy1 * bottom));
        }
      }
    }
  }
  return y;
}

/**
 * Resize straight from the ONNX spec, in f64, sharing no code with resizeTables: per output pixel,
 * each axis's x_original by the formula as written ((x + 0.5) / scale - 0.5 and so on, scale a
 * float), then nearest rounding and clamping, or linear weights (1 - r, r) over the two neighbours
 * with edge values past the ends. x_original within 1e-9 of a multiple of 1/2 is taken as that
 * multiple: the spec's arithmetic is exact, and an integer or a rounding tie must not be decided by
 * the last bit of a float quotient.
 */
export function resizeOnnxReference(
  x: Float32Array, batch: number, H: number, W: number, C: number, OH: number, OW: number,
  mode: ResizeMode, scales?: { h: number; w: number },
): Float64Array {
  const axis = (outIndex: number, inLen: number, outLen: number, scale: number): { idx: number[]; w: number[] } => {
    let xo: number;
    switch (mode.coordinate) {
      case 'asymmetric': xo = outIndex / scale; break;
      case 'half_pixel': xo = (outIndex + 0.5) / scale - 0.5; break;
      case 'pytorch_half_pixel': xo = outLen > 1 ? (outIndex + 0.5) / scale - 0.5 : 0; break;
      case 'align_corners': xo = outLen === 1 ? 0 : (outIndex * (inLen - 1)) / (outLen - 1); break;
      case 'tf_half_pixel_for_nn': xo = (outIndex + 0.5) / scale; break;
    }
    const half = Math.round(xo * 2) / 2;
    if (Math.abs(xo - half) < 1e-9) xo = half;
    const clamp = (i: number) => Math.min(Math.max(i, 0), inLen - 1);
    const lo = Math.floor(xo);
    const ratio = xo - lo;
    if (mode.kind === 'nearest') {
      let i: number;
      if (ratio === 0) i = xo;
      else {
        const m = mode.nearest ?? 'round_prefer_floor';
        const up = m === 'ceil' || (m === 'round_prefer_floor' && ratio > 0.5) || (m === 'round_prefer_ceil' && ratio >= 0.5);
        i = up ? lo + 1 : lo;
      }
      return { idx: [clamp(i)], w: [1] };
    }
    return { idx: [clamp(lo), clamp(lo + 1)], w: [1 - ratio, ratio] };
  };
  const sh = scales?.h ?? OH / H, sw = scales?.w ?? OW / W;
  const rowsOf = Array.from({ length: OH }, (_, oy) => axis(oy, H, OH, sh));
  const colsOf = Array.from({ length: OW }, (_, ox) => axis(ox, W, OW, sw));
  const y = new Float64Array(batch * OH * OW * C);
  let o = 0;
  for (let s = 0; s < batch; s++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const r = rowsOf[oy], k = colsOf[ox];
        for (let c = 0; c < C; c++) {
          let v = 0;
          for (let a = 0; a < r.idx.length; a++) {
            for (let b = 0; b < k.idx.length; b++) v += r.w[a] * k.w[b] * x[((s * H + r.idx[a]) * W + k.idx[b]) * C + c];
          }
          y[o++] = v;
        }
      }
    }
  }
  return y;
}

// ---- the resize node ----

function tablesOf(layer: ResizeLayer, [H, W]: number[]): [Int32Array, Int32Array] {
  const mode: ResizeMode = { kind: layer.mode, coordinate: layer.coordinate, ...(layer.nearest ? { nearest: layer.nearest } : {}) };
  return [resizeTables(mode, H, layer.size[0], layer.scales?.[0]), resizeTables(mode, W, layer.size[1], layer.scales?.[1])];
}

export const resize: LayerKind<ResizeLayer> = {
  arity: [1, 1],
  storage: 'fresh',
  parse(raw, what) {
    const mode = oneOf(raw.mode, `${what}.mode`, ['nearest', 'linear'] as const);
    const coordinate = oneOf(raw.coordinate, `${what}.coordinate`, ['asymmetric', 'half_pixel', 'pytorch_half_pixel', 'align_corners', 'tf_half_pixel_for_nn'] as const);
    const nearest = raw.nearest === undefined ? undefined : oneOf(raw.nearest, `${what}.nearest`, ['floor', 'ceil', 'round_prefer_floor', 'round_prefer_ceil'] as const);
    if (nearest && mode !== 'nearest') fail(`${what}.nearest goes with mode "nearest"`);
    const size = pair(raw.size, `${what}.size`, LIMITS.dim);
    const layer: Omit<ResizeLayer, 'type'> = { mode, coordinate, size, ...(nearest ? { nearest } : {}) };
    if (raw.scales !== undefined) {
      if (!Array.isArray(raw.scales) || raw.scales.length !== 2) fail(`${what}.scales must be a pair [h, w]`);
      layer.scales = (raw.scales as unknown[]).map((v, i) => {
        const scale = finite(v, `${what}.scales[${i}]`);
        if (!(scale >= 1 / LIMITS.resizeFactor && scale <= LIMITS.resizeFactor)) fail(`${what}.scales[${i}] must be in 1/${LIMITS.resizeFactor}..${LIMITS.resizeFactor}, got ${scale}`);
        return scale;
      }) as [number, number];
    }
    return layer;
  },
  infer(layer, [inShape], what) {
    if (inShape.length !== 3) fail(`${what} resizes an [h, w, c] value, got [${inShape.join(', ')}]`);
    layer.size.forEach((out, axis) => {
      const from = inShape[axis];
      if (out > from * LIMITS.resizeFactor || from > out * LIMITS.resizeFactor) fail(`${what} resizes ${from} to ${out} along axis ${axis}: more than a factor of ${LIMITS.resizeFactor}`);
    });
    return { shape: [layer.size[0], layer.size[1], inShape[2]], macs: 0 };
  },
  record(layer, record, node, context) {
    const [H, W, C] = node.inShapes[0];
    const [rows, columns] = tablesOf(layer, node.inShapes[0]);
    record[Field.Op] = Op.Resize;
    const words: [number, number][] = [[ResizeRec.H, H], [ResizeRec.W, W], [ResizeRec.C, C], [ResizeRec.OH, layer.size[0]], [ResizeRec.OW, layer.size[1]], [ResizeRec.Linear, layer.mode === 'linear' ? 1 : 0]];
    for (const [field, value] of words) record[field] = value;
    record[ResizeRec.RowTable] = context.table(rows);
    record[ResizeRec.ColumnTable] = context.table(columns);
  },
  reference(layer, [x], node, context) {
    const [H, W, C] = node.inShapes[0];
    const [rows, columns] = tablesOf(layer, node.inShapes[0]);
    return Float64Array.from(resizeReference(Float32Array.from(x), context.batch, H, W, C, layer.size[0], layer.size[1], rows, columns, layer.mode === 'linear'));
  },
};
