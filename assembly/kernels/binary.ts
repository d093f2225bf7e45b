// y = act(a op b) with b broadcast: the residual add (relu(conv(x) + skip) fuses its ReLU here), bias
// and scale constants, per-sample terms. Index space [outer, mid, inner]:
//   i = (o mid + m) inner + n,  b read at o bOuterStride + n bInnerStride,
//   y[i] = act(reversed ? b op a[i] : a[i] op b).
// Shapes are first brought to one of three paths, each with a SIMD body and a scalar tail that rounds
// as a lane does (add/sub/mul/div are IEEE-exact in both), so no result depends on its position:
//   - b constant over a stretch (bInnerStride 0, or inner 1): one splat over the whole o block;
//   - b a contiguous row (bInnerStride 1) of at least 8 values or a multiple of 4: row by row;
//   - anything else (a row of 2, 3, 5, 6, 7 channels, other strides): the o block as one stream whose
//     b lanes are gathered with a wrapping channel counter, so 3 channels still run 4 lanes at a time.
// The activation is a second pass over pieces of about 4 KB of y just written (still in L1), through
// `activate`: the op loops stay one per op, not one per op and activation.
// a and y may be the same buffer (in place); so may b and y when b has y's shape (strides giving i).
import { BinaryOp } from '../../src/runtime/abi';
import { activate } from './activation-extra';

/** The ops with the operand order resolved: reversed Sub and Div become their own codes. */
const ADD = 0;
const SUB = 1;
const MUL = 2;
const DIV = 3;
const SUB_FROM = 4; // b - a
const DIV_INTO = 5; // b / a

/** Values per activation pass: 4 KB of f32. */
const PIECE: i32 = 1024;

// One class per op, so each loop below is compiled once per op with the op inlined (as in
// activation-extra.ts: a constant code alone let binaryen fold the copies back into one loop that
// tests the code on every vector). Never instantiated; `changetype<Op>(0)` names the methods.
@final class Add {
  @inline vec(a: v128, b: v128): v128 { return f32x4.add(a, b); }
  @inline one(a: f32, b: f32): f32 { return a + b; }
}
@final class Sub {
  @inline vec(a: v128, b: v128): v128 { return f32x4.sub(a, b); }
  @inline one(a: f32, b: f32): f32 { return a - b; }
}
@final class Mul {
  @inline vec(a: v128, b: v128): v128 { return f32x4.mul(a, b); }
  @inline one(a: f32, b: f32): f32 { return a * b; }
}
@final class Div {
  @inline vec(a: v128, b: v128): v128 { return f32x4.div(a, b); }
  @inline one(a: f32, b: f32): f32 { return a / b; }
}
@final class SubFrom {
  @inline vec(a: v128, b: v128): v128 { return f32x4.sub(b, a); }
  @inline one(a: f32, b: f32): f32 { return b - a; }
}
@final class DivInto {
  @inline vec(a: v128, b: v128): v128 { return f32x4.div(b, a); }
  @inline one(a: f32, b: f32): f32 { return b / a; }
}

/** y[i] = a[i] op bv for i < count. */
function splatSpan<Op>(a: usize, bv: f32, y: usize, count: i32): void {
  const op = changetype<Op>(0);
  const b = f32x4.splat(bv);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = <usize>i << 2;
    v128.store(y + at, op.vec(v128.load(a + at), b));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    store<f32>(y + at, op.one(load<f32>(a + at), bv));
  }
}

/** y[r, n] = a[r, n] op b[n] for r < rows, n < inner (rows contiguous, inner values apart). */
function rowsSpan<Op>(a: usize, b: usize, y: usize, rows: i32, inner: i32): void {
  const op = changetype<Op>(0);
  const rowBytes = <usize>inner << 2;
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (; n + 4 <= inner; n += 4) {
      const at = <usize>n << 2;
      v128.store(y + at, op.vec(v128.load(a + at), v128.load(b + at)));
    }
    for (; n < inner; n++) {
      const at = <usize>n << 2;
      store<f32>(y + at, op.one(load<f32>(a + at), load<f32>(b + at)));
    }
    a += rowBytes;
    y += rowBytes;
  }
}

/** The next channel after c in a row of `inner`. */
// @ts-ignore: decorator
@inline
function nextChannel(c: i32, inner: i32): i32 {
  return c + 1 == inner ? 0 : c + 1;
}

/** a op b for an op code known only at run time (the gather path, where four scalar loads dominate). */
// @ts-ignore: decorator
@inline
function anyOpF32x4(code: i32, a: v128, b: v128): v128 {
  switch (code) {
    case ADD: return f32x4.add(a, b);
    case SUB: return f32x4.sub(a, b);
    case MUL: return f32x4.mul(a, b);
    case DIV: return f32x4.div(a, b);
    case SUB_FROM: return f32x4.sub(b, a);
    default: return f32x4.div(b, a);
  }
}

/**
 * y[i] = a[i] op b[c(i) * stride] for i < count, where c(0) = c and c steps through 0..inner-1 and
 * wraps: four gathered lanes per vector. The tail is a vector too, with its lanes past count unused
 * (their values are computed from repeated operands and not stored), so every value rounds as a lane.
 */
function gatherOp(code: i32, a: usize, b: usize, stride: i32, inner: i32, c: i32, y: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const c1 = nextChannel(c, inner);
    const c2 = nextChannel(c1, inner);
    const c3 = nextChannel(c2, inner);
    let bv = f32x4.splat(load<f32>(b + (<usize>(c * stride) << 2)));
    bv = f32x4.replace_lane(bv, 1, load<f32>(b + (<usize>(c1 * stride) << 2)));
    bv = f32x4.replace_lane(bv, 2, load<f32>(b + (<usize>(c2 * stride) << 2)));
    bv = f32x4.replace_lane(bv, 3, load<f32>(b + (<usize>(c3 * stride) << 2)));
    c = nextChannel(c3, inner);
    const at = a + (<usize>i << 2);
    const to = y + (<usize>i << 2);
    const left = count - i;
    if (left >= 4) {
      v128.store(to, anyOpF32x4(code, v128.load(at), bv));
    } else {
      // 1 to 3 values left: load them into the low lanes without reading past a's end.
      let av = f32x4.splat(load<f32>(at));
      if (left > 1) av = f32x4.replace_lane(av, 1, load<f32>(at, 4));
      if (left > 2) av = f32x4.replace_lane(av, 2, load<f32>(at, 8));
      const v = anyOpF32x4(code, av, bv);
      store<f32>(to, f32x4.extract_lane(v, 0));
      if (left > 1) store<f32>(to, f32x4.extract_lane(v, 1), 4);
      if (left > 2) store<f32>(to, f32x4.extract_lane(v, 2), 8);
    }
  }
}

function splatOp(code: i32, a: usize, bv: f32, y: usize, count: i32): void {
  switch (code) {
    case ADD: splatSpan<Add>(a, bv, y, count); return;
    case SUB: splatSpan<Sub>(a, bv, y, count); return;
    case MUL: splatSpan<Mul>(a, bv, y, count); return;
    case DIV: splatSpan<Div>(a, bv, y, count); return;
    case SUB_FROM: splatSpan<SubFrom>(a, bv, y, count); return;
    default: splatSpan<DivInto>(a, bv, y, count);
  }
}

function rowsOp(code: i32, a: usize, b: usize, y: usize, rows: i32, inner: i32): void {
  switch (code) {
    case ADD: rowsSpan<Add>(a, b, y, rows, inner); return;
    case SUB: rowsSpan<Sub>(a, b, y, rows, inner); return;
    case MUL: rowsSpan<Mul>(a, b, y, rows, inner); return;
    case DIV: rowsSpan<Div>(a, b, y, rows, inner); return;
    case SUB_FROM: rowsSpan<SubFrom>(a, b, y, rows, inner); return;
    default: rowsSpan<DivInto>(a, b, y, rows, inner);
  }
}

/**
 * y = act(a op b) over [outer, mid, inner] with b at o * bOuterStride + n * bInnerStride (see the file
 * head). op: BinaryOp; act: any Act code with alpha/beta as `activate` takes them. Sizes <= 0 do
 * nothing. The common shapes: same shape (1, 1, total; strides 0, 1), per-channel on NHWC (1, pixels,
 * C; 0, 1), scalar (strides 0, 0), per-sample per-channel (batch, pixels, C; C, 1), per-sample scalar
 * (batch, 1, sampleSize; 1, 0).
 */
export function binary(
  op: i32, a: usize, b: usize, y: usize, outer: i32, mid: i32, inner: i32,
  bOuterStride: i32, bInnerStride: i32, reversed: bool, act: i32, alpha: f32, beta: f32,
): void {
  if (outer <= 0 || mid <= 0 || inner <= 0) return;
  let code = op;
  if (reversed) {
    if (op == BinaryOp.Sub) code = SUB_FROM;
    else if (op == BinaryOp.Div) code = DIV_INTO;
  }
  // b constant along n: the o block is one stretch. b the same for every o: fold o into the rows.
  if (inner == 1) bInnerStride = 0;
  if (bInnerStride == 0) {
    inner *= mid;
    mid = 1;
  }
  if (bOuterStride == 0 && outer > 1) {
    if (bInnerStride == 0) inner *= outer;
    else mid *= outer;
    outer = 1;
  }
  const block = mid * inner;
  const blockBytes = <usize>block << 2;
  const activated = act != 0;
  const rowsPath = bInnerStride == 1 && (inner >= 8 || (inner & 3) == 0);
  // Rows of the row path per activation pass, values of the other two.
  const rowsPerPiece = activated ? max(1, PIECE / inner) : mid;
  const piece = activated ? PIECE : block;
  for (let o = 0; o < outer; o++) {
    const ao = a + <usize>o * blockBytes;
    const yo = y + <usize>o * blockBytes;
    const bo = b + (<usize>(o * bOuterStride) << 2);
    if (rowsPath) {
      for (let m = 0; m < mid; m += rowsPerPiece) {
        const rows = min(rowsPerPiece, mid - m);
        const at = (<usize>m * <usize>inner) << 2;
        rowsOp(code, ao + at, bo, yo + at, rows, inner);
        if (activated) activate(yo + at, yo + at, rows * inner, act, alpha, beta);
      }
    } else {
      const bv = load<f32>(bo);
      for (let s = 0; s < block; s += piece) {
        const count = min(piece, block - s);
        const at = <usize>s << 2;
        if (bInnerStride == 0) splatOp(code, ao + at, bv, yo + at, count);
        else gatherOp(code, ao + at, bo, bInnerStride, inner, s % inner, yo + at, count);
        if (activated) activate(yo + at, yo + at, count, act, alpha, beta);
      }
    }
  }
}
