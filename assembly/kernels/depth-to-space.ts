// DepthToSpace (ONNX) / PixelShuffle (PyTorch, mode CRD) on NHWC values: [batch, H, W, C * b * b] to
// [batch, H * b, W * b, C], a pure copy. ONNX's index rules, with the channel axis stored last:
//   DCR: y[h*b + i, w*b + j, c] = x[h, w, (i*b + j)*C + c]     (C contiguous values per (i, j))
//   CRD: y[h*b + i, w*b + j, c] = x[h, w, c*b*b + i*b + j]     (a [C, b*b] -> [b*b, C] transpose)
// DCR copies runs of C floats; CRD with b = 2 transposes 4x4 blocks in vector registers (four channels
// by the four (i, j)), the channels past the last multiple of four and other blocks one value at a time.
import { DepthToSpaceMode } from '../../src/runtime/abi';
import { copyBytes } from './copy';

export function depthToSpace(x: usize, y: usize, batch: i32, H: i32, W: i32, C: i32, block: i32, mode: i32): void {
  const b = <usize>block;
  const pixelBytes = <usize>C << 2;
  const inPixelBytes = pixelBytes * b * b;
  const outRowBytes = <usize>W * b * pixelBytes;
  const crd = mode == DepthToSpaceMode.CRD;
  for (let s = 0; s < batch; s++) {
    for (let h = 0; h < H; h++) {
      const src = x + (<usize>(s * H + h) * <usize>W) * inPixelBytes;
      const dst = y + (<usize>(s * H + h) * b) * outRowBytes;
      for (let w: usize = 0; w < <usize>W; w++) {
        const from = src + w * inPixelBytes;
        const to = dst + w * b * pixelBytes;
        if (!crd) {
          for (let i: usize = 0; i < b; i++) {
            for (let j: usize = 0; j < b; j++) copyBytes(to + i * outRowBytes + j * pixelBytes, from + (i * b + j) * pixelBytes, pixelBytes);
          }
        } else if (block == 2) shuffle2(from, to, C, pixelBytes, outRowBytes);
        else {
          const bb = b * b;
          for (let i: usize = 0; i < b; i++) {
            for (let j: usize = 0; j < b; j++) {
              const out = to + i * outRowBytes + j * pixelBytes;
              const first = from + ((i * b + j) << 2);
              for (let c: usize = 0; c < <usize>C; c++) store<f32>(out + (c << 2), load<f32>(first + ((c * bb) << 2)));
            }
          }
        }
      }
    }
  }
}

/** CRD with block 2 for one input pixel: channel c's four values (i, j) = (0,0), (0,1), (1,0), (1,1) to the 2x2 output pixels. */
function shuffle2(from: usize, to: usize, C: i32, pixelBytes: usize, outRowBytes: usize): void {
  const o00 = to, o01 = to + pixelBytes, o10 = to + outRowBytes, o11 = to + outRowBytes + pixelBytes;
  let c: usize = 0;
  for (; c + 4 <= <usize>C; c += 4) {
    const at = from + (c << 4);
    const v0 = v128.load(at), v1 = v128.load(at, 16), v2 = v128.load(at, 32), v3 = v128.load(at, 48);
    const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
    const t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
    const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
    const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
    const out = c << 2;
    v128.store(o00 + out, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
    v128.store(o01 + out, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
    v128.store(o10 + out, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
    v128.store(o11 + out, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
  }
  for (; c < <usize>C; c++) {
    const at = from + (c << 4);
    const out = c << 2;
    store<f32>(o00 + out, load<f32>(at));
    store<f32>(o01 + out, load<f32>(at, 4));
    store<f32>(o10 + out, load<f32>(at, 8));
    store<f32>(o11 + out, load<f32>(at, 12));
  }
}
