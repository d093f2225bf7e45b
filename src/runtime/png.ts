/** PNG output (CLI, training runs, the Worker), through fast-png: pure JavaScript, so it runs in Node, workerd, Deno and browsers alike. */
import { encode } from 'fast-png';
import type { ImageGrid } from './image.ts';

export function encodePng(grid: ImageGrid): Uint8Array {
  return encode({ width: grid.width, height: grid.height, data: new Uint8Array(grid.data.buffer, grid.data.byteOffset, grid.data.byteLength), channels: 4, depth: 8 });
}
