// y[r, c] = act(x[r, c] * scale[c] + shift[c]): a BatchNorm (or any per-channel affine) that follows
// nothing it could fold into. Multiply then add, two roundings, never fused, in SIMD body and scalar
// tail alike, so every value rounds the same in every lane and on every engine. The same three paths
// as binary.ts: one channel (a splat), rows of C >= 8 or a multiple of 4, and the rest (C = 2, 3, 5, 6,
// 7) as one stream with gathered lanes; the activation a second pass over 4 KB pieces.
// x and y may be the same buffer.
import { activate } from './activation-extra';

const PIECE: i32 = 1024;

// @ts-ignore: decorator
@inline
function affineF32x4(x: v128, scale: v128, shift: v128): v128 {
  return f32x4.add(f32x4.mul(x, scale), shift);
}

function splatAffine(x: usize, y: usize, count: i32, scale: f32, shift: f32): void {
  const s = f32x4.splat(scale);
  const t = f32x4.splat(shift);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = <usize>i << 2;
    v128.store(y + at, affineF32x4(v128.load(x + at), s, t));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    store<f32>(y + at, load<f32>(x + at) * scale + shift);
  }
}

function rowsAffine(x: usize, y: usize, rows: i32, C: i32, scale: usize, shift: usize): void {
  const rowBytes = <usize>C << 2;
  for (let r = 0; r < rows; r++) {
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const at = <usize>c << 2;
      v128.store(y + at, affineF32x4(v128.load(x + at), v128.load(scale + at), v128.load(shift + at)));
    }
    for (; c < C; c++) {
      const at = <usize>c << 2;
      store<f32>(y + at, load<f32>(x + at) * load<f32>(scale + at) + load<f32>(shift + at));
    }
    x += rowBytes;
    y += rowBytes;
  }
}

// @ts-ignore: decorator
@inline
function nextChannel(c: i32, C: i32): i32 {
  return c + 1 == C ? 0 : c + 1;
}

/** `count` values from channel c on, the channel wrapping at C; four gathered lanes per vector. */
function gatherAffine(x: usize, y: usize, count: i32, C: i32, c: i32, scale: usize, shift: usize): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const c1 = nextChannel(c, C);
    const c2 = nextChannel(c1, C);
    const c3 = nextChannel(c2, C);
    const o0 = <usize>c << 2, o1 = <usize>c1 << 2, o2 = <usize>c2 << 2, o3 = <usize>c3 << 2;
    let s = f32x4.splat(load<f32>(scale + o0));
    s = f32x4.replace_lane(s, 1, load<f32>(scale + o1));
    s = f32x4.replace_lane(s, 2, load<f32>(scale + o2));
    s = f32x4.replace_lane(s, 3, load<f32>(scale + o3));
    let t = f32x4.splat(load<f32>(shift + o0));
    t = f32x4.replace_lane(t, 1, load<f32>(shift + o1));
    t = f32x4.replace_lane(t, 2, load<f32>(shift + o2));
    t = f32x4.replace_lane(t, 3, load<f32>(shift + o3));
    c = nextChannel(c3, C);
    const at = <usize>i << 2;
    v128.store(y + at, affineF32x4(v128.load(x + at), s, t));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    const o = <usize>c << 2;
    store<f32>(y + at, load<f32>(x + at) * load<f32>(scale + o) + load<f32>(shift + o));
    c = nextChannel(c, C);
  }
}

/**
 * y[r, c] = act(x[r, c] * scale[c] + shift[c]) for r < rows, c < C; act/alpha/beta as `activate` takes
 * them. Sizes <= 0 do nothing.
 */
export function channelAffine(x: usize, y: usize, rows: i32, C: i32, scale: usize, shift: usize, act: i32, alpha: f32, beta: f32): void {
  if (rows <= 0 || C <= 0) return;
  const activated = act != 0;
  if (C >= 8 || (C & 3) == 0) {
    const rowsPerPiece = activated ? max(1, PIECE / C) : rows;
    for (let r = 0; r < rows; r += rowsPerPiece) {
      const n = min(rowsPerPiece, rows - r);
      const at = (<usize>r * <usize>C) << 2;
      rowsAffine(x + at, y + at, n, C, scale, shift);
      if (activated) activate(y + at, y + at, n * C, act, alpha, beta);
    }
    return;
  }
  const total = rows * C;
  const piece = activated ? PIECE : total;
  for (let s = 0; s < total; s += piece) {
    const n = min(piece, total - s);
    const at = <usize>s << 2;
    if (C == 1) splatAffine(x + at, y + at, n, load<f32>(scale), load<f32>(shift));
    else gatherAffine(x + at, y + at, n, C, s % C, scale, shift);
    if (activated) activate(y + at, y + at, n, act, alpha, beta);
  }
}
