// The geometry of a transposed conv's phases (conv-phases.ts), along one axis. Output o belongs to
// phase r = (o + pad) mod s; o = r - pad + s*q reads input i = q - t through the taps k = r + s*t.

/** Taps of a kernel k along one axis that phase r (0 <= r < s) reads: r, r + s, ... < k. */
// @ts-ignore: decorator
@inline
export function phaseTaps(k: i32, s: i32, r: i32): i32 {
  return r < k ? (k - r + s - 1) / s : 0;
}

/** The first q of phase r (output o = r - pad + s*q >= 0); pad - r + s - 1 >= 0 since r < s. */
// @ts-ignore: decorator
@inline
export function phaseFirst(pad: i32, s: i32, r: i32): i32 {
  return (pad - r + s - 1) / s;
}

/** Output pixels of phase r along an axis of O pixels. */
// @ts-ignore: decorator
@inline
export function phaseCount(O: i32, pad: i32, s: i32, r: i32): i32 {
  const last = O - 1 + pad - r;
  return last < 0 ? 0 : max(0, last / s - phaseFirst(pad, s, r) + 1);
}
