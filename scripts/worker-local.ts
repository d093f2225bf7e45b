/**
 * Runs a Worker folder on this machine in workerd, without wrangler (whose version 4 needs Node 22.12
 * or later, where edgevae runs on 20) and without a Cloudflare account: bundled as `wrangler deploy`
 * bundles it (wrangler-bundle.ts, the same path the Worker's tests run), served by miniflare's
 * workerd on 127.0.0.1 until Ctrl-C. The [vars] of its wrangler.toml are the bindings.
 *
 *   npm run worker:local                          examples/worker on http://127.0.0.1:8787/
 *   npm run worker:local -- path/to/worker --port 9000
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleWorker, linkPackageInto, startWorker } from './wrangler-bundle.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function fail(message: string): never {
  console.error(`worker:local: ${message}`);
  process.exit(1);
}

const { values, positionals } = parseArgs({ options: { port: { type: 'string', default: '8787' } }, allowPositionals: true });
if (positionals.length > 1) fail(`one Worker folder at most, got ${positionals.join(', ')}`);
const dir = resolve(positionals[0] ?? resolve(root, 'examples', 'worker'));
const port = Number(values.port);
if (!/^\d+$/.test(values.port!) || port > 65535) fail(`--port must be an integer in 0..65535 (0: any free port), got "${values.port}"`);
if (!existsSync(resolve(dir, 'wrangler.toml'))) fail(`${dir} has no wrangler.toml: give the folder of a Worker`);
if (!existsSync(resolve(root, 'dist', 'worker', 'index.js'))) fail('dist/ is missing: run "npm run build" (npm install does) first');

// What `npm install` in the folder would link for its "edgevae": "file:../.." dependency, if it has not run.
linkPackageInto(dir, root);
const bundle = await bundleWorker(dir);
const worker = startWorker(bundle, { port });
const url = await worker.ready;
console.log(`serving the Worker in ${dir} at ${url} (workerd through miniflare; Ctrl-C stops)`);
console.log(`  curl -o samples.png '${new URL('sample?n=16&seed=42', url)}'`);
console.log(`  curl '${new URL('info', url)}'`);

// Ctrl-C or SIGTERM: miniflare's own exit hook stops workerd and exits (130 or 143).
