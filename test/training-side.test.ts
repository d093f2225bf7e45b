// The split between the runtime and the training side (docs/API.md, "What installs what"): the runtime
// entry points and the CLI's sampling commands load no package but commander, the training commands
// load the training side only when asked for, and the list of what to install is the training
// package's dependencies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dependencyMessage, isPackageName, missingModule, requestedCommand, TRAINING_COMMANDS, TRAINING_DEPENDENCIES, trainPackageMessage } from '../src/cli/training-side.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/cli/main.js');
const json = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

// Prints every package (bare specifier) a module resolves, as "PACKAGE name", on stderr.
const TRACE = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
export async function resolve(specifier, context, next) {
  if (!/^(\\\\.|\\\\/|node:|file:|data:)/.test(specifier)) process.stderr.write('PACKAGE ' + specifier + '\\\\n');
  return next(specifier, context);
}\`));`)}`;

function packagesLoaded(args: string[], cwd: string): string[] {
  const result = spawnSync(process.execPath, ['--import', TRACE, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return [...new Set(result.stderr.split('\n').filter((l) => l.startsWith('PACKAGE ')).map((l) => l.slice('PACKAGE '.length).split('/').slice(0, l.includes('@') ? 2 : 1).join('/')))].sort();
}

describe('the runtime side loads no training library', () => {
  it('edgevae, edgevae/core, edgevae/node, edgevae/web and edgevae/worker load no package at all', () => {
    for (const entry of ['index', 'core', 'node/index', 'web/index', 'worker/index']) {
      assert.deepEqual(packagesLoaded(['--input-type=module', '-e', `await import(${JSON.stringify(join(ROOT, 'dist', `${entry}.js`))})`], ROOT), [], entry);
    }
  });

  it('sample, info, traverse, evaluate, bench and serve --help load commander only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgevae-side-'));
    try {
      for (const args of [['sample', '--n', '2', '--out', 'a.png'], ['info', 'cvae'], ['traverse', '--dim', '0', '--steps', '2', '--out', 'b.png'], ['evaluate', '--per-class', '1'], ['bench', '--seconds', '0.02', '--batch', '1', '--no-tfjs'], ['serve', '--help'], ['--help']]) {
        assert.deepEqual(packagesLoaded([CLI, ...args], dir), ['commander'], args.join(' '));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('train --help loads the training side, with its full definition', () => {
    const result = spawnSync(process.execPath, ['--import', TRACE, CLI, 'train', '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /--preset <name>[\s\S]*Presets:/);
    assert.match(result.stderr, /PACKAGE @tensorflow\/tfjs\n/);
  });

  it('edgevae --help lists the training commands beside the others', () => {
    const result = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    for (const name of [...Object.keys(TRAINING_COMMANDS), 'sample', 'serve']) assert.match(result.stdout, new RegExp(`\\n  ${name}\\b`), name);
  });
});

describe('what to install', () => {
  it('names the training package\'s dependencies, which the repository develops with at the same versions', () => {
    const train = json('packages/train/package.json');
    const root = json('package.json');
    const { commander, ...trainingLibraries } = train.dependencies;
    assert.equal(commander, root.dependencies.commander, 'the CLI\'s commander, in both packages');
    assert.deepEqual(trainingLibraries, TRAINING_DEPENDENCIES);
    for (const [name, range] of Object.entries(TRAINING_DEPENDENCIES)) assert.equal(root.devDependencies[name], range, name);
    assert.deepEqual(Object.keys(root.dependencies), ['commander'], 'the runtime package depends on commander alone');
    assert.equal(train.version, root.version);
  });

  it('says which library is missing and how to install them all', () => {
    const message = dependencyMessage('train', '@tensorflow/tfjs');
    assert.match(message, /^edgevae train needs @tensorflow\/tfjs, which is not installed\. The training side's libraries: npm install @tensorflow\/tfjs@4\.22\.0 @tensorflow\/tfjs-backend-wasm@4\.22\.0 /);
    assert.match(trainPackageMessage('import'), /^edgevae import needs the training side .*npm install edgevae-train@\d+\.\d+\.\d+ .*npm pack -w packages\/train/);
  });

  it('reads the missing package or file from Node\'s errors, and nothing from other errors', async () => {
    const error = async (specifier: string) => import(specifier).then(() => assert.fail(specifier), (err: unknown) => err);
    assert.equal(missingModule(await error('edgevae-no-such-package/cli')), 'edgevae-no-such-package');
    assert.equal(missingModule(await error('@edgevae-none/thing')), '@edgevae-none/thing');
    assert.match(missingModule(await error(join(ROOT, 'dist/no-such-module.js')))!, /dist\/no-such-module\.js$/);
    assert.equal(missingModule(new Error('Cannot find package \'x\'')), undefined);
    assert.equal(missingModule(undefined), undefined);
  });

  it('tells a package from a file', () => {
    for (const name of ['@tensorflow/tfjs', 'edgevae-train', 'vega-lite']) assert.equal(isPackageName(name), true, name);
    for (const path of ['/x/dist/cli/training.js', 'file:///x/training.js', 'C:\\x\\training.js', './training.js']) assert.equal(isPackageName(path), false, path);
  });

  it('reads the command a command line asks for as commander does', () => {
    assert.equal(requestedCommand(['train', '--preset', 'cvae']), 'train');
    assert.equal(requestedCommand(['--help']), undefined);
    assert.equal(requestedCommand(['help', 'export']), 'export');
    assert.equal(requestedCommand(['sample', '--model', 'train']), 'sample');
  });
});
