// A clone is quiet: npm commands print no config warnings, the wasm builds compile without warnings,
// and the Node example prints only its own line (not TensorFlow.js's "install tfjs-node" banner).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('a quiet clone', () => {
  it('npm reads no unknown keys from the project .npmrc', () => {
    // Without the variables npm gives the scripts it runs (this suite may run under `npm test`).
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
    const result = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: root, encoding: 'utf8', env });
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /npm warn/i);
  });

  // Compiled without optimisation and without output: the diagnostics are the same, in seconds.
  for (const [entry, target] of [['assembly/index.ts', 'release'], ['assembly/index.ts', 'relaxed'], ['assembly/index-threads.ts', 'threads'], ['assembly/train.ts', 'train'], ['assembly/replica.ts', 'replica']]) {
    it(`asc compiles ${entry} (${target}) without warnings`, () => {
      const args = [join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js'), entry, '--target', target, '--noEmit', '--optimizeLevel', '0', '--shrinkLevel', '0'];
      const result = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.doesNotMatch(result.stdout + result.stderr, /WARNING|ERROR/);
    });
  }

  it("examples/node/make-decoder.mjs prints its line and no tfjs banner", () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgevae-example-'));
    try {
      // Run in an empty folder (it writes my-decoder/ there); edgevae resolves from the script's own package.
      const result = spawnSync(process.execPath, [join(root, 'examples', 'node', 'make-decoder.mjs')], { cwd: dir, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'saved my-decoder/model.json\n');
      assert.equal(result.stderr, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
