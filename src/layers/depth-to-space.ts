/**
 * DepthToSpace (ONNX) / PixelShuffle (PyTorch: mode CRD) on NHWC values, [batch, H, W, C * b * b] to
 * [batch, H * b, W * b, C]: the scalar reference for assembly/kernels/depth-to-space.ts, which copies
 * exactly (compare bits). ONNX's rules with the channel axis stored last:
 *   DCR: y[h*b + i, w*b + j, c] = x[h, w, (i*b + j)*C + c]
 *   CRD: y[h*b + i, w*b + j, c] = x[h, w, c*b*b + i*b + j]
 */
import { DepthToSpaceMode } from '../runtime/abi.ts';

export function depthToSpaceReference(x: Float32Array, batch: number, H: number, W: number, C: number, block: number, mode: DepthToSpaceMode): Float32Array {
  const b = block;
  const inC = C * b * b;
  const y = new Float32Array(batch * H * b * W * b * C);
  for (let s = 0; s < batch; s++) {
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        for (let i = 0; i < b; i++) {
          for (let j = 0; j < b; j++) {
            for (let c = 0; c < C; c++) {
              const from = mode === DepthToSpaceMode.DCR ? (i * b + j) * C + c : c * b * b + i * b + j;
              y[((s * H * b + h * b + i) * W * b + w * b + j) * C + c] = x[((s * H + h) * W + w) * inC + from];
            }
          }
        }
      }
    }
  }
  return y;
}
