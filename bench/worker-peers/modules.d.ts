// What the peer Workers' wrangler.toml [[rules]] turn these imports into.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module 'edgevae/wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '*.evae' {
  const bytes: ArrayBuffer;
  export default bytes;
}
declare module '*.onnx' {
  const bytes: ArrayBuffer;
  export default bytes;
}
