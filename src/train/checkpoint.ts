/**
 * Checkpoints: every tensor a run's state depends on (model weights, optimizer moments) plus the
 * trainer's JSON state, in one file written atomically (temporary file, then rename), so an
 * interruption at any moment leaves either the previous checkpoint or the new one, never half.
 *
 * File: "EVCK" magic, u32 version, u32 header length, JSON header, then the tensors as f32.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';

const MAGIC = 0x4b435645; // "EVCK" little-endian
const VERSION = 1;

export interface CheckpointHeader<S> {
  state: S;
  tensors: { key: string; shape: number[] }[];
}

/** Writes `state` and the values of `tensors` (name -> variable) to `path`, atomically. */
export async function saveCheckpoint<S>(path: string, state: S, tensors: Map<string, tf.Variable | tf.Tensor>): Promise<void> {
  const entries = [...tensors.entries()];
  const header: CheckpointHeader<S> = { state, tensors: entries.map(([key, t]) => ({ key, shape: t.shape })) };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new DataView(new ArrayBuffer(12));
  prefix.setUint32(0, MAGIC, true);
  prefix.setUint32(4, VERSION, true);
  prefix.setUint32(8, json.length, true);
  const temp = `${path}.tmp`;
  const file = await open(temp, 'w');
  try {
    await file.write(new Uint8Array(prefix.buffer));
    await file.write(json);
    for (const [, t] of entries) {
      const values = (await t.data()) as Float32Array;
      await file.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
    await file.sync();
  } catch (err) {
    await file.close();
    await unlink(temp).catch(() => {});
    throw err;
  }
  await file.close();
  await rename(temp, path);
}

/** Reads a checkpoint, assigns its tensors into `tensors` (same keys and shapes) and returns the state. */
export async function loadCheckpoint<S>(path: string, tensors: Map<string, tf.Variable>): Promise<S> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new InputError(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  const bad = (why: string): never => {
    throw new InputError(`checkpoint ${path} is unusable: ${why}`);
  };
  if (bytes.length < 12) bad('too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) bad('not an edgevae checkpoint');
  if (view.getUint32(4, true) !== VERSION) bad(`version ${view.getUint32(4, true)}, expected ${VERSION}`);
  const jsonLength = view.getUint32(8, true);
  if (12 + jsonLength > bytes.length) bad('truncated header');
  let header: CheckpointHeader<S>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLength)));
  } catch {
    return bad('header is not JSON');
  }
  const expected = [...tensors.keys()];
  const stored = header.tensors.map((t) => t.key);
  if (expected.length !== stored.length || expected.some((k, i) => k !== stored[i])) {
    bad(`it holds tensors [${stored.slice(0, 4).join(', ')}...] (${stored.length}), but this run has [${expected.slice(0, 4).join(', ')}...] (${expected.length}); was it made with another preset or configuration?`);
  }
  let offset = 12 + jsonLength;
  const values = new Map<string, tf.Tensor>();
  for (const { key, shape } of header.tensors) {
    const variable = tensors.get(key)!;
    if (variable.shape.join() !== shape.join()) bad(`tensor ${key} has shape [${shape}], the run expects [${variable.shape}]`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (offset + size * 4 > bytes.length) bad('truncated data');
    // copy: the file's buffer need not be 4-byte aligned at this offset
    values.set(key, tf.tensor(new Float32Array(bytes.slice(offset, offset + size * 4).buffer), shape));
    offset += size * 4;
  }
  if (offset !== bytes.length) bad(`${bytes.length - offset} unexpected bytes at the end`);
  for (const [key, value] of values) {
    tensors.get(key)!.assign(value);
    value.dispose();
  }
  return header.state;
}
