/**
 * DepthToSpace (ONNX) / PixelShuffle (PyTorch: mode CRD) on NHWC values, [batch, H, W, C * b * b] to
 * [batch, H * b, W * b, C]: the scalar reference for assembly/kernels/depth-to-space.ts, which copies
 * exactly (compare bits). ONNX's rules with the channel axis stored last:
 *   DCR: y[h*b + i, w*b + j, c] = x[h, w, (i*b + j)*C + c]
 *   CRD: y[h*b + i, w*b + j, c] = x[h, w, c*b*b + i*b + j]
 */
import { LIMITS, type DepthToSpaceLayer } from '../format/spec.ts';
import { fail, int, oneOf } from '../format/validate.ts';
import { DepthToSpaceMode, DepthToSpaceRec, Field, Op } from '../runtime/abi.ts';
import type { LayerKind } from './types.ts';

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

// ---- the depthToSpace node ----

const MODES: Record<DepthToSpaceLayer['mode'], DepthToSpaceMode> = { DCR: DepthToSpaceMode.DCR, CRD: DepthToSpaceMode.CRD };

export const depthToSpace: LayerKind<DepthToSpaceLayer> = {
  arity: [1, 1],
  storage: 'fresh',
  parse: (raw, what) => ({ blockSize: int(raw.blockSize, `${what}.blockSize`, 1, LIMITS.stride), mode: oneOf(raw.mode, `${what}.mode`, ['DCR', 'CRD'] as const) }),
  infer(layer, [shape], what) {
    const b = layer.blockSize;
    if (shape.length !== 3 || shape[2] % (b * b) !== 0) fail(`${what} needs an [h, w, c] value with c a multiple of ${b * b}, got [${shape.join(', ')}]`);
    return { shape: [shape[0] * b, shape[1] * b, shape[2] / (b * b)], macs: 0 };
  },
  record(layer, record, node) {
    const [H, W] = node.inShapes[0];
    record[Field.Op] = Op.DepthToSpace;
    record[DepthToSpaceRec.H] = H;
    record[DepthToSpaceRec.W] = W;
    record[DepthToSpaceRec.C] = node.outShape[2];
    record[DepthToSpaceRec.Block] = layer.blockSize;
    record[DepthToSpaceRec.Mode] = MODES[layer.mode];
  },
  reference(layer, [x], node, context) {
    const [H, W] = node.inShapes[0];
    return Float64Array.from(depthToSpaceReference(Float32Array.from(x), context.batch, H, W, node.outShape[2], layer.blockSize, MODES[layer.mode]));
  },
};
