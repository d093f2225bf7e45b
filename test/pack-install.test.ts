// The runtime package as a user gets it: `npm pack` of this checkout's build, installed offline into a
// new temporary project. Its tarball and node_modules stay within issue 24's limits and match
// docs/SIZES.md; nothing of the training side or its libraries comes with it; the CLI samples the
// default cvae, the package imports by name, and the training commands and the models left to
// edgevae-models say what to install. Offline: the temporary project's lockfile pins the
// dependencies by integrity (as this checkout's lockfile does), npm reads them from its cache (filled
// by `npm ci`), and a proxy on a closed port stands in for the network.
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import { fileBytes, installedBytes, INSTALLED_LIMIT, TARBALL_LIMIT, type PackedPackage } from '../scripts/sizes.ts';
import { TRAIN_PACKAGE } from '../src/cli/training-side.ts';
import { VERSION } from '../src/version.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OFFLINE = { ...process.env, npm_config_proxy: 'http://127.0.0.1:9', npm_config_https_proxy: 'http://127.0.0.1:9', npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
/** Modules of the runtime package that are loaded only when present, and left out of it on purpose. */
const OPTIONAL_IMPORTS = ['dist/cli/training.js', 'dist/bench/tfjs-runner.js'];

const run = (command: string, args: string[], cwd: string): SpawnSyncReturns<string> => spawnSync(command, args, { cwd, encoding: 'utf8', env: OFFLINE, timeout: 60_000 });
const ok = (result: SpawnSyncReturns<string>, what: string) => assert.equal(result.status, 0, `${what}: ${result.stderr}${result.stdout}`);

describe('the runtime package, packed and installed offline into an empty project', () => {
  let dir: string;
  let packed: PackedPackage & { filename: string; integrity: string };
  let project: string;

  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist/cli/main.js')) && existsSync(join(ROOT, 'dist/browser/edgevae-sampler.js')), 'no build to pack: run "npm run build" first');
    dir = mkdtempSync(join(tmpdir(), 'edgevae-pack-'));
    // --ignore-scripts: the build has run (npm test's pretest); prepare would rebuild it.
    const pack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT);
    ok(pack, 'npm pack');
    [packed] = JSON.parse(pack.stdout);
    project = join(dir, 'project');
    const tarball = `file:../${packed.filename}`;
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    // A lockfile, as a project has: npm's cache holds the tarballs `npm ci` fetched, by integrity, but
    // not the registry's metadata that resolving a range needs (without one, npm install --offline
    // fails with ENOTCACHED).
    const { packages } = installedBytes(packed, ROOT);
    const lockfile = {
      name: 'project',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'project', dependencies: { edgevae: tarball } },
        'node_modules/edgevae': { version: manifest.version, resolved: tarball, integrity: packed.integrity, dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines },
        ...Object.fromEntries(packages.map((key) => [key, lock.packages[key]])),
      },
    };
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'project', private: true, type: 'module', dependencies: { edgevae: tarball } }, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockfile, null, 2));
    ok(run('npm', ['ci', '--ignore-scripts'], project), 'npm ci --offline in the empty project');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`is a tarball of at most ${TARBALL_LIMIT.toLocaleString('en-US')} bytes with the default cvae, the wasm and the browser bundles, and no training side, docs or source maps`, () => {
    assert.ok(packed.size <= TARBALL_LIMIT, `the tarball is ${packed.size} bytes`);
    assert.equal(statSync(join(dir, packed.filename)).size, packed.size);
    const files = packed.files.map((f) => f.path);
    for (const file of ['models/cvae.evae', 'build/edgevae.wasm', 'build/edgevae-relaxed.wasm', 'build/edgevae-threads.wasm', 'dist/node/thread-worker.js', 'dist/browser/edgevae-sampler.js', 'dist/cli/main.js', 'dist/index.d.ts', 'examples/web/index.html']) assert.ok(files.includes(file), file);
    const unwanted = files.filter((f) => /^(docs|test|src|bench|packages)\/|\.map$|^dist\/(train\/trainer|cli\/training\.|export\/index|import\/)|^models\/(aae|conv-vae|judge)/.test(f));
    assert.deepEqual(unwanted, []);
  });

  it('holds every module its modules import, but the training side it loads only when there', () => {
    const files = new Set(packed.files.map((f) => f.path));
    const missing: string[] = [];
    for (const file of files) {
      if (!file.endsWith('.js') || file.startsWith('dist/browser/')) continue;
      const text = readFileSync(join(project, 'node_modules/edgevae', file), 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = posix.normalize(posix.join(posix.dirname(file), specifier));
        if (!files.has(target) && !OPTIONAL_IMPORTS.includes(target)) missing.push(`${file} -> ${target}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it(`installs at most ${INSTALLED_LIMIT.toLocaleString('en-US')} bytes of node_modules, with no TensorFlow.js, as docs/SIZES.md states`, () => {
    const modules = join(project, 'node_modules');
    const installed = fileBytes(modules) - statSync(join(modules, '.package-lock.json')).size;
    assert.ok(installed <= INSTALLED_LIMIT, `node_modules holds ${installed} bytes`);
    assert.deepEqual(readdirSync(modules).filter((name) => !name.startsWith('.')).sort(), ['commander', 'edgevae']);
    const predicted = installedBytes(packed, ROOT).bytes;
    assert.equal(installed, predicted, 'scripts/sizes.ts predicts the installed bytes');
    const sizes = readFileSync(join(ROOT, 'docs/SIZES.md'), 'utf8');
    assert.ok(sizes.includes(`| ${installed.toLocaleString('en-US')} (`) && sizes.includes(`| ${packed.size.toLocaleString('en-US')} (`), 'docs/SIZES.md states these figures: node --import tsx scripts/sizes.ts --write');
  });

  it('samples the default cvae from the command line (npx edgevae sample --n 4)', () => {
    ok(run('npx', ['--offline', 'edgevae', 'sample', '--n', '4', '--out', 'four.png'], project), 'edgevae sample');
    const png = decode(readFileSync(join(project, 'four.png')));
    assert.deepEqual([png.width, png.height, png.channels], [59, 59, 1]);
  });

  it("samples from code: import { Decoder } from 'edgevae', edgevae/node's fromFile, and one decode on 2 threads", () => {
    const script = `
      import { Decoder, encodePng, toImageGrid } from 'edgevae';
      import { Decoder as NodeDecoder } from 'edgevae/node';
      const file = new URL(import.meta.resolve('edgevae/models/cvae.evae'));
      const decoder = await NodeDecoder.fromFile(file);
      const pixels = decoder.sample(16, { seed: 1, labels: 7 });
      const png = encodePng(toImageGrid(pixels, { shape: decoder.info.outputShape, range: decoder.info.range }));
      const shared = await NodeDecoder.fromFile(file, { threads: 2 });
      const same = shared.sample(16, { seed: 1, labels: 7 }).every((v, i) => Object.is(v, pixels[i]));
      await shared.close();
      console.log(JSON.stringify([Decoder === NodeDecoder, pixels.length, png.length > 100, shared.info.threads, same]));`;
    const result = run(process.execPath, ['--input-type=module', '-e', script], project);
    ok(result, 'the script');
    assert.deepEqual(JSON.parse(result.stdout.trim()), [true, 16 * 784, true, 2, true]);
  });

  it('train, export and import say to install the training package, and exit 1 without a stack trace', () => {
    for (const args of [['train', '--preset', 'cvae'], ['export', 'runs/x', '--out', 'x.evae'], ['import', 'model.onnx', '--out', 'x.evae'], ['evaluate', '--run', 'runs/x']]) {
      const result = run(join(project, 'node_modules/.bin/edgevae'), args, project);
      assert.equal(result.status, 1, args.join(' '));
      assert.match(result.stderr, new RegExp(`^edgevae: edgevae ${args[0] === 'evaluate' ? 'evaluate --run' : args[0]} needs the training side .* npm install ${TRAIN_PACKAGE}@${VERSION.replace(/\./g, '\\.')} `), args.join(' '));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('names edgevae-models for the models it holds', () => {
    const result = run(join(project, 'node_modules/.bin/edgevae'), ['sample', '--model', 'conv-vae', '--n', '1', '--out', 'x.png'], project);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^edgevae: the conv-vae model comes in the edgevae-models package, which is not installed here: npm install edgevae-models/);
  });
});
