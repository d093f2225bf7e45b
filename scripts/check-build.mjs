// Before the fast test lane: the wasm builds and their embedded copies must exist and be newer than
// the sources they are built from (assembly/ and src/runtime/abi.ts), or the tests would run stale
// kernels. Says which command rebuilds them instead of rebuilding (that takes a minute or more).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outputs = ['build/edgevae.wasm', 'build/edgevae-relaxed.wasm', 'src/runtime/wasm-inline.ts', 'src/runtime/zlib.ts'];

/** Every file under `dir`, recursively. */
const filesUnder = (dir) => readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
const sources = [...filesUnder('assembly'), 'src/runtime/abi.ts'];
const newest = sources.reduce((best, file) => {
  const time = statSync(join(root, file)).mtimeMs;
  return time > best.time ? { file, time } : best;
}, { file: '', time: 0 });

const missing = outputs.filter((file) => !existsSync(join(root, file)));
const stale = outputs.filter((file) => !missing.includes(file) && statSync(join(root, file)).mtimeMs < newest.time);
if (missing.length || stale.length) {
  const why = missing.length ? `${missing.join(', ')} missing` : `${stale.join(', ')} older than ${newest.file}`;
  console.error(`the wasm runtime needs building (${why}): run "npm run build:wasm && npm run build:embed" (or "npm run build"), then test again`);
  process.exit(1);
}
