// What the wrangler.toml [[rules]] turn these imports into.
declare module 'edgevae/wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module 'edgevae/wasm-relaxed' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '*.evae' {
  const bytes: ArrayBuffer;
  export default bytes;
}
