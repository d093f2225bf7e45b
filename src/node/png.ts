/** PNG output (CLI and training runs), through fast-png (pure JavaScript, so it also works outside Node). */
import { encode } from 'fast-png';
import type { ImageGrid } from '../runtime/image.ts';

export function encodePng(grid: ImageGrid): Uint8Array {
  return encode({ width: grid.width, height: grid.height, data: new Uint8Array(grid.data.buffer, grid.data.byteOffset, grid.data.byteLength), channels: 4, depth: 8 });
}
