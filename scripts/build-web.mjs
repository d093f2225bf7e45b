// Bundles the <edgevae-sampler> element with the runtime and its embedded wasm into one ES module,
// dist/browser/edgevae-sampler.js, for a <script type="module"> tag: no import map, no framework.
// `npx edgevae serve` serves it beside examples/web/index.html.
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const path = (relative) => fileURLToPath(new URL(`../${relative}`, import.meta.url));
const outfile = path('dist/browser/edgevae-sampler.js');

await build({
  entryPoints: [path('src/web/sampler-element.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // Private class fields, top-level await and WebAssembly SIMD: browsers from 2021-2022 on.
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`dist/browser/edgevae-sampler.js: ${statSync(outfile).size} bytes`);
