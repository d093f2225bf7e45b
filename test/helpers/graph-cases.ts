/**
 * Small format-2 graphs, one per layer kind or pattern, on an image latent [4, 4, 8]: shared by the
 * executor's tests (graph.test.ts) and the ONNX export's (onnx-graph-export.test.ts).
 */
import type { GraphBuilder } from './graph-builder.ts';

export type Build = (g: GraphBuilder) => string;

/** Small graphs, one per kind (or pattern), on an image latent [4, 4, 8]. */
export const GRAPHS: Record<string, Build> = {
  'nearest upsample x2, asymmetric (nn.Upsample)': (g) => g.add('resize', 'up', ['z'], { mode: 'nearest', coordinate: 'asymmetric', nearest: 'floor', size: [8, 8], scales: [2, 2] }),
  'nearest upsample x3 then a conv': (g) => g.conv2d('c', g.add('resize', 'up', ['z'], { mode: 'nearest', coordinate: 'asymmetric', nearest: 'floor', size: [12, 12] }), 5, 3),
  'bilinear, half_pixel': (g) => g.add('resize', 'up', ['z'], { mode: 'linear', coordinate: 'half_pixel', size: [8, 8] }),
  'bilinear, align_corners, to 7x9': (g) => g.add('resize', 'up', ['z'], { mode: 'linear', coordinate: 'align_corners', size: [7, 9] }),
  'groupNorm (4 groups) with relu': (g) => g.add('groupNorm', 'gn', [g.conv2d('c', 'z', 16, 3)], { groups: 4, epsilon: 1e-5, gamma: g.f32([16]), beta: g.f32([16]), activation: 'relu' }),
  'instanceNorm (groups = channels)': (g) => g.add('groupNorm', 'in', ['z'], { groups: 8, epsilon: 1e-5, gamma: g.f32([8]), beta: g.f32([8]), activation: 'linear' }),
  'layerNorm over channels': (g) => g.add('layerNorm', 'ln', [g.conv2d('c', 'z', 12, 1)], { epsilon: 1e-5, gamma: g.f32([12]), beta: g.f32([12]), activation: 'linear' }),
  'depthToSpace CRD (PixelShuffle) after a conv': (g) => g.add('depthToSpace', 'ps', [g.conv2d('c', 'z', 12, 3)], { blockSize: 2, mode: 'CRD' }),
  'depthToSpace DCR': (g) => g.add('depthToSpace', 'd2s', ['z'], { blockSize: 2, mode: 'DCR' }),
  'transposed conv with PyTorch padding and output_padding': (g) => g.conv2dTranspose('up', 'z', 6, 3, { pads: [1, 1, 1, 1], outputPadding: [1, 1] }),
  'dilated conv (d = 2)': (g) => g.conv2d('d', 'z', 5, 3, { dilations: [2, 2], pads: [2, 2, 2, 2] }),
  'grouped conv (4 groups) then a 1x1': (g) => g.conv2d('pw', g.conv2d('grouped', 'z', 12, 3, { groups: 4, activation: 'relu' }), 3, 1),
  'depthwise conv': (g) => g.conv2d('dw', 'z', 8, 3, { groups: 8, activation: 'leakyRelu', alpha: 0.1 }),
  'grouped transposed conv': (g) => g.conv2dTranspose('gt', 'z', 4, 4, { groups: 2, pads: [1, 1, 1, 1] }),
  'residual block relu(conv(relu(conv(x))) + x)': (g) => {
    const inner = g.conv2d('c2', g.conv2d('c1', 'z', 8, 3, { activation: 'relu' }), 8, 3);
    return g.add('binary', 'skip', [inner, 'z'], { op: 'add', activation: 'relu' });
  },
  'tanh(x / 3) * 3 (TAESD clamp)': (g) => {
    const scaled = g.add('binary', 'div', ['z'], { op: 'div', constant: g.f32([1], 0, Float32Array.of(3)), activation: 'tanh' });
    return g.add('binary', 'mul', [scaled], { op: 'mul', constant: g.f32([1], 0, Float32Array.of(3)), activation: 'linear' });
  },
  '1 - x, a constant first': (g) => g.add('binary', 'oneMinus', ['z'], { op: 'sub', constant: g.f32([1], 0, Float32Array.of(1)), constantFirst: true, activation: 'linear' }),
  'x * per-channel constant, x - full-shape constant': (g) => {
    const scaled = g.add('binary', 'scale', ['z'], { op: 'mul', constant: g.f32([8]), activation: 'linear' });
    return g.add('binary', 'shift', [scaled], { op: 'sub', constant: g.f32([4, 4, 8]), activation: 'linear' });
  },
  'a value times a per-sample channel vector (squeeze-excite)': (g) => {
    const gate = g.add('resize', 'pool', [g.conv2d('c', 'z', 8, 1, { activation: 'sigmoid' })], { mode: 'linear', coordinate: 'half_pixel', size: [1, 1] });
    return g.add('binary', 'excite', ['z', gate], { op: 'mul', activation: 'linear' });
  },
  'a per-sample scalar divides the value (reversed: the smaller operand first)': (g) => {
    const mean = g.add('resize', 'pool', [g.conv2d('c', 'z', 1, 1, { activation: 'sigmoid' })], { mode: 'linear', coordinate: 'half_pixel', size: [1, 1] });
    return g.add('binary', 'ratio', [mean, 'z'], { op: 'div', activation: 'linear' });
  },
  'affine (a BatchNorm after a ReLU) with silu': (g) => g.add('affine', 'bn', [g.conv2d('c', 'z', 6, 3, { activation: 'relu' })], { multiplier: g.f32([6]), offset: g.f32([6]), activation: 'silu' }),
  'channel concat of two branches': (g) => g.add('concatenate', 'cat', [g.conv2d('a', 'z', 3, 3), g.conv2d('b', 'z', 5, 1)], {}),
  'transpose [h, w, c] -> [c, h, w] -> back, around a dense': (g) => {
    const chw = g.add('transpose', 't', ['z'], { perm: [2, 0, 1] });
    return g.add('transpose', 'back', [g.dense('fc', chw, 4, 'relu')], { perm: [1, 2, 0] });
  },
};

/** Every activation on its own, after a conv whose output spans both signs. */
for (const activation of ['silu', 'geluErf', 'geluTanh', 'elu', 'softplus', 'clip'] as const) {
  GRAPHS[`${activation} activation node`] = (g) => {
    const params = activation === 'elu' ? { alpha: 0.7 } : activation === 'clip' ? { min: -0.25, max: 0.5 } : {};
    return g.add('activation', activation, [g.conv2d('c', 'z', 4, 3)], { activation, ...params });
  };
}
