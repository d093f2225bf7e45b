// f16 weights stay f16 in memory (half the bytes of f32) and are widened here, one packed panel at a
// time, into a scratch panel the f32 GEMM then streams: the widening is paid once per panel and
// shared by every row of the batch.

/** 2^112: moves an f16 exponent (bias 15) into f32's (bias 127); exact, subnormals included. */
const EXP_ADJUST: f32 = 5.192296858534828e33;

/** Widens `count` f16 values (a multiple of 8) at src to f32 at dst. Inputs are finite (checked at load). */
export function widenF16(src: usize, dst: usize, count: i32): void {
  const end = src + (<usize>count << 1);
  for (let s = src, d = dst; s < end; s += 16, d += 32) {
    const h = v128.load(s);
    v128.store(d, halfToFloat(i32x4.extend_low_i16x8_s(h)));
    v128.store(d, halfToFloat(i32x4.extend_high_i16x8_s(h)), 16);
  }
}

/** f16 bits, sign-extended to i32 lanes -> f32: magnitude bits shifted into place, rescaled, signed. */
// @ts-ignore: decorator
@inline
function halfToFloat(bits: v128): v128 {
  const magnitude = i32x4.shr_u(i32x4.shl(bits, 17), 4);
  const value = f32x4.mul(magnitude, f32x4.splat(EXP_ADJUST));
  return v128.or(value, v128.and(bits, i32x4.splat(0x80000000)));
}

/** One finite f16 value widened to f32, by the same arithmetic as widenF16 (load-time packing). */
export function widenHalf(bits: u16): f32 {
  return f32x4.extract_lane(halfToFloat(i32x4.splat(<i32><i16>bits)), 0);
}
