/**
 * The layer registry: every layer type the format knows, mapped to the module that parses, checks,
 * plans and computes it. Adding a kind: its kernel (assembly/kernels/), its module here, its converter
 * entries (src/import/, src/export/), its tests. A type missing here is a compile error.
 */
import type { LayerSpec } from '../format/spec.ts';
import { activation } from './activation.ts';
import { affine } from './affine.ts';
import { binary } from './binary.ts';
import { depthToSpace } from './depth-to-space.ts';
import { groupNorm, layerNorm } from './norm.ts';
import { resize } from './resize.ts';
import { transpose } from './transpose.ts';
import { concatenate } from './concatenate.ts';
import { conv2d, conv2dTranspose } from './conv.ts';
import { dense } from './dense.ts';
import { flatten, reshape } from './reshape.ts';
import type { LayerKind } from './types.ts';

export type LayerType = LayerSpec['type'];

export const LAYERS = {
  dense,
  conv2d,
  conv2dTranspose,
  reshape,
  flatten,
  concatenate,
  activation,
  binary,
  resize,
  groupNorm,
  layerNorm,
  affine,
  depthToSpace,
  transpose,
} satisfies Record<LayerType, LayerKind<any>>;

export const LAYER_TYPES = Object.keys(LAYERS) as LayerType[];

/** The kind of a layer, typed for its spec. */
export function kindOf<L extends LayerSpec>(layer: L): LayerKind<L> {
  return LAYERS[layer.type] as unknown as LayerKind<L>;
}
