// Short copies and fills as plain loads and stores. V8 runs memory.copy and memory.fill as calls into
// its runtime, which cost more than moving a few hundred bytes, and im2col moves one pixel's channels
// at a time (128 bytes for 64 i16 channels): hundreds of thousands of times per conv-vae batch.

/** Above this many bytes, the runtime's bulk copy is worth its call. */
const INLINE_MAX: usize = 512;

/** Copies n bytes (a multiple of 2) from src to dst; the ranges must not overlap. */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n > INLINE_MAX) {
    memory.copy(dst, src, n);
    return;
  }
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.load(src + i));
  for (; i + 4 <= n; i += 4) store<u32>(dst + i, load<u32>(src + i));
  if (i < n) store<u16>(dst + i, load<u16>(src + i));
}

/** Zeroes n bytes (a multiple of 2) at dst. */
export function zeroBytes(dst: usize, n: usize): void {
  if (n > INLINE_MAX) {
    memory.fill(dst, 0, n);
    return;
  }
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) v128.store(dst + i, i32x4.splat(0));
  for (; i + 4 <= n; i += 4) store<u32>(dst + i, 0);
  if (i < n) store<u16>(dst + i, 0);
}
