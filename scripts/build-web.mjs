// Bundles the browser builds into dist/browser/, each one ES module for a <script type="module"> tag
// or an import: no import map, no framework. `npx edgevae serve` serves them beside examples/web/index.html.
// - edgevae-sampler.js: the <edgevae-sampler> element with the runtime and its embedded wasm.
// - edgevae-pool.js: createWebPool (edgevae/web); it starts module workers from pool-worker.js beside it.
// - pool-worker.js: a pool worker, with the runtime and its embedded wasm.
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const path = (relative) => fileURLToPath(new URL(`../${relative}`, import.meta.url));
const bundles = {
  'edgevae-sampler': 'src/web/sampler-element.ts',
  'edgevae-pool': 'src/web/index.ts',
  'pool-worker': 'src/web/pool-worker.ts',
};

await build({
  entryPoints: Object.fromEntries(Object.entries(bundles).map(([name, source]) => [name, path(source)])),
  outdir: path('dist/browser'),
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
for (const name of Object.keys(bundles)) console.log(`dist/browser/${name}.js: ${statSync(path(`dist/browser/${name}.js`)).size} bytes`);
