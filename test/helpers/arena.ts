/** Bump allocation in a wasm memory, 16-byte aligned, for laying out a kernel's operands in tests. */
const PAGE = 65536;

export class Arena {
  private next: number;
  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    this.next = Math.ceil(base / 16) * 16;
  }
  alloc(bytes: number): number {
    const ptr = this.next;
    this.next = Math.ceil((ptr + bytes) / 16) * 16;
    const have = this.memory.buffer.byteLength;
    if (this.next > have) this.memory.grow(Math.ceil((this.next - have) / PAGE));
    return ptr;
  }
  put(values: Float32Array | Int8Array | Uint16Array): number {
    const ptr = this.alloc(values.byteLength);
    new Uint8Array(this.memory.buffer, ptr, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return ptr;
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n).slice();
  }
}
