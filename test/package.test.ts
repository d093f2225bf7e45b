// The package as users get it: entry points through package.json "exports" from plain JavaScript,
// type declarations beside them, the wasm within its size budget, and what npm pack puts in it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultJudge } from '../src/node/files.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('package', () => {
  it('keeps the wasm runtime under 64 KB', () => {
    const size = statSync(`${root}/build/edgevae.wasm`).size;
    assert.ok(size < 64 * 1024, `build/edgevae.wasm is ${size} bytes`);
  });

  it('exposes the runtime (with its PNG encoder and URL loading) and the Node adapter (file loading) to plain JavaScript through "exports"', () => {
    // Run from the package folder, so the package resolves itself by name as an installed one would.
    const script = `
      const runtime = await import('edgevae');
      const node = await import('edgevae/node');
      console.log(JSON.stringify([typeof runtime.Decoder.load, typeof runtime.Decoder.fromURL, typeof runtime.toImageGrid, typeof runtime.encodePng,
        typeof node.Decoder.fromFile, node.Decoder === runtime.Decoder]));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').at(-1)!), ['function', 'function', 'function', 'function', 'function', true]);
  });

  it('leaves the exporter to the training package (edgevae-train/export), whose copy of the build holds it', () => {
    const train = JSON.parse(readFileSync(`${root}/packages/train/package.json`, 'utf8'));
    for (const entry of ['./cli', './export']) {
      for (const target of [train.exports[entry].types, train.exports[entry].default]) {
        assert.match(target, /^\.\/dist\//);
        assert.ok(existsSync(`${root}/${target}`), `${entry}: ${target} in the build (packages/train/dist is its copy)`);
        assert.ok(existsSync(`${root}/packages/train/${target}`), `${entry}: packages/train/${target} (npm run build copies it)`);
      }
    }
    assert.equal(JSON.parse(readFileSync(`${root}/package.json`, 'utf8')).exports['./export'], undefined);
  });

  it("leaves evaluate's default judge to the models package (and ships nothing from test/)", () => {
    const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '-w', 'packages/models'], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const files: string[] = JSON.parse(result.stdout)[0].files.map((f: { path: string }) => f.path);
    const judge = relative(`${root}/packages/models`, defaultJudge()).split(sep).join('/');
    assert.equal(judge, 'judge/mnist.evae');
    assert.ok(files.includes(judge), `npm pack leaves out ${judge}`);
    assert.deepEqual(files.filter((f) => f.startsWith('test/')), []);
  });

  it('ships type declarations and a runnable bin for every entry', () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
    for (const entry of ['.', './core', './node', './web', './sampler', './worker']) {
      assert.ok(existsSync(`${root}/${pkg.exports[entry].types}`), `${entry} types`);
      assert.ok(existsSync(`${root}/${pkg.exports[entry].default}`), `${entry} code`);
    }
    assert.match(readFileSync(`${root}/${pkg.bin.edgevae}`, 'utf8'), /^#!\/usr\/bin\/env node/);
  });
});
