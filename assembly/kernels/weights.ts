// Loading 8 weights of one packed panel row as two f32x4 vectors, for each stored weight type.
// f32 panels are 32 bytes per row; int8 panels are 8 bytes, widened i8 -> i16 -> i32 -> f32 here
// so the arithmetic (and its rounding) is the same f32 mul/add as for f32 weights.

/** Bytes of one packed panel row of 8 weights. */
// @ts-ignore: decorator
@inline
export function panelRowBytes<W>(): usize {
  return isInteger<W>() ? 8 : 32;
}

// @ts-ignore: decorator
@inline
export function loadLo<W>(ptr: usize): v128 {
  if (isInteger<W>()) return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(v128.load8x8_s(ptr)));
  return v128.load(ptr);
}

// @ts-ignore: decorator
@inline
export function loadHi<W>(ptr: usize): v128 {
  if (isInteger<W>()) return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(v128.load8x8_s(ptr)));
  return v128.load(ptr, 16);
}
