/** Tools for making broken model files on purpose. */
import { FRAME_BYTES } from '../../src/format/spec.ts';
import { fileCrc } from '../../src/format/read.ts';
import type { ModelPlan } from './random-models.ts';
import type { DType } from '../../src/format/spec.ts';

/** A small conv decoder (fast to load and run) touching dense, reshape, both convs and flatten-free output. */
export function smallConvPlan(dtype: DType): ModelPlan {
  return {
    latentSize: 3,
    dtype,
    layers: [
      { type: 'dense', units: 16, activation: 'relu' },
      { type: 'dense', units: 16, activation: 'leakyRelu', alpha: 0.2 },
      { type: 'reshape', shape: [4, 4, 1] },
      { type: 'conv2dTranspose', filters: 3, kernelSize: [4, 4], strides: [2, 2], padding: 'same', activation: 'relu' },
      { type: 'conv2d', filters: 2, kernelSize: [3, 3], strides: [1, 1], padding: 'same', activation: 'sigmoid' },
    ],
    outputShape: [8, 8, 2],
  };
}

/**
 * Replaces the header JSON of `file` with `header` (any value) and moves the data section after it,
 * shifting tensor offsets by the distance the data moved (so offsets keep meaning what the mutation
 * made them mean). Shorter JSON is padded with spaces to the old length. The frame's lengths and CRC
 * are fixed up, so only the header's content is wrong.
 */
export function reframe(file: Uint8Array, header: unknown): Uint8Array {
  return reframeText(file, (shift) => JSON.stringify(shiftOffsets(header, shift)) ?? 'null');
}

/**
 * reframe for header text the test writes itself (JSON.stringify cannot write, say, arrays nested
 * 100,000 deep): `render(shift)` gives the text with tensor offsets moved by `shift` bytes.
 */
export function reframeText(file: Uint8Array, render: (shift: number) => string): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const oldJsonLength = view.getUint32(20, true);
  const oldDataStart = view.getUint32(24, true);
  const data = file.subarray(oldDataStart);
  let dataStart = oldDataStart;
  let json: Uint8Array;
  for (;;) {
    json = new TextEncoder().encode(render(dataStart - oldDataStart));
    const needed = Math.ceil((FRAME_BYTES + Math.max(json.length, oldJsonLength)) / 16) * 16;
    if (needed === dataStart) break;
    dataStart = needed;
  }
  const out = new Uint8Array(dataStart + data.length).fill(0x20, FRAME_BYTES, dataStart);
  out.set(file.subarray(0, FRAME_BYTES));
  out.set(json, FRAME_BYTES);
  out.set(data, dataStart);
  const v = new DataView(out.buffer);
  v.setUint32(8, out.length, true);
  v.setUint32(20, Math.max(json.length, oldJsonLength), true);
  v.setUint32(24, dataStart, true);
  v.setUint32(28, data.length, true);
  v.setUint32(12, fileCrc(out), true);
  return out;
}

/** `header` with every tensor's numeric offset moved by `delta` bytes (the data section moved). */
export function shiftOffsets(header: unknown, delta: number): unknown {
  const h = header as { tensors?: unknown };
  if (delta === 0 || typeof h !== 'object' || h === null || !Array.isArray(h.tensors)) return header;
  const tensors = h.tensors.map((t) =>
    typeof t === 'object' && t !== null && typeof (t as { offset?: unknown }).offset === 'number' ? { ...t, offset: (t as { offset: number }).offset + delta } : t,
  );
  return { ...h, tensors };
}

/** Sets the CRC so that a mutated file passes the checksum and reaches the deeper checks. */
export function fixCrc(file: Uint8Array): Uint8Array {
  new DataView(file.buffer, file.byteOffset, file.byteLength).setUint32(12, fileCrc(file), true);
  return file;
}

/**
 * Replaces (or deletes) the value at a path of a JSON tree chosen by `choices` (each picks a key or
 * index among those present, modulo their count), without touching `tree`.
 */
export function mutateAt(tree: unknown, choices: number[], value: unknown, remove: boolean): unknown {
  const root = structuredClone(tree);
  let node: any = root;
  for (let depth = 0; depth < choices.length; depth++) {
    const keys = Array.isArray(node) ? node.map((_: unknown, i: number) => i) : Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[choices[depth] % keys.length];
    const child = node[key];
    if (depth === choices.length - 1 || typeof child !== 'object' || child === null) {
      if (remove && Array.isArray(node)) node.splice(key as number, 1);
      else if (remove) delete node[key];
      else node[key] = value;
      break;
    }
    node = child;
  }
  return root;
}
