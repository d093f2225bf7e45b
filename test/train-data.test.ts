// `edgevae train` and its data, as a user runs it: an image folder run resumes bit for bit from what
// the run recorded (the printed resume command is all it takes); an MNIST run too, with neither
// --data nor EDGEVAE_MNIST_DIR (issue 24, 3b); Fashion-MNIST from Debian's package, or a message
// saying how to get it; bad folders and options that do not fit fail before a run folder is made.
//
// Each command runs with an environment of its own: a fresh cache, no EDGEVAE_* variables. MNIST
// comes from EDGEVAE_MNIST_DIR (skipped without it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { DATASETS, DATASET_FILES, loadDataset, type Dataset } from '../src/data/datasets.ts';
import { loadRecordedData, withRunRelativePath } from '../src/data/sources.ts';
import { InputError } from '../src/errors.ts';
import { Decoder } from '../src/index.ts';
import { edgevaeWithEnv } from './helpers/cli.ts';
import { writeImageFolder } from './helpers/image-folders.ts';

const MNIST_DIR = process.env.EDGEVAE_MNIST_DIR;
const fashionInstalled = () => Object.values(DATASET_FILES).every((f) => DATASETS['fashion-mnist'].systemDirs.some((dir) => existsSync(join(dir, f + '.gz')) || existsSync(join(dir, f))));

/** The train lines' losses of a run folder. */
const trainLosses = (runDir: string) =>
  readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.kind === 'train').map((l) => [l.step, l.loss]);

/** The one run folder under `runs/<preset>`. */
const runFolder = (runs: string, preset: string) => {
  const stamps = readdirSync(join(runs, preset));
  assert.equal(stamps.length, 1, stamps.join());
  return join(runs, preset, stamps[0]);
};

describe('train --dataset: the data a run records', { skip: !MNIST_DIR && 'set EDGEVAE_MNIST_DIR to the folder of the MNIST IDX files' }, () => {
  let root: string;
  let mnist: Dataset;
  let folder: string;
  /** A user's environment with an empty cache and no EDGEVAE_* variables. */
  let env: Record<string, string>;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'edgevae-train-data-'));
    env = { XDG_CACHE_HOME: join(root, 'cache') };
    mnist = await loadDataset('mnist', { dir: MNIST_DIR, download: false });
    folder = join(root, 'digits');
    writeImageFolder(folder, mnist.train, { perClass: 8, format: 'png' });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('an image-folder run resumes bit for bit with the printed command alone, and evaluate --run scores it', () => {
    const common = ['--preset', 'cvae', '--dataset', folder, '--batch-size', '8', '--backend', 'cpu'];
    const whole = edgevaeWithEnv(env, 'train', ...common, '--steps', '6', '--runs', join(root, 'whole'));
    assert.equal(whole.code, 0, whole.stderr);
    assert.match(whole.stdout, /images: decoding 80 files in .*digits \(once: they are cached in /);
    assert.match(whole.stdout, /70 training images of 28x28x1 from digits/);

    const stopped = edgevaeWithEnv(env, 'train', ...common, '--steps', '3', '--runs', join(root, 'stopped'));
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /images: .*digits: 80 images of 28x28x1, 10 classes, from the cache /);
    const runDir = runFolder(join(root, 'stopped'), 'cvae');
    assert.match(stopped.stdout, new RegExp(`stopped at step 3 \\(epoch 1 of 20, 3 of its 8 batches done\\); checkpoint saved\\. Continue with: npx edgevae train --resume ${runDir}\\n`));
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
    assert.equal(config.dataset, 'digits');
    assert.deepEqual(Object.keys(config.data).sort(), ['key', 'kind', 'path', 'relative', 'splitSeed', 'testSplit']);
    assert.deepEqual([config.data.kind, config.data.path, config.data.relative], ['folder', folder, '../../../digits']);
    assert.deepEqual([config.config.imageSize, config.config.channels, config.config.classes], [28, 1, 10]);

    const resumed = edgevaeWithEnv(env, 'train', '--resume', runDir, '--steps', '6', '--backend', 'cpu');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(trainLosses(runDir), trainLosses(runFolder(join(root, 'whole'), 'cvae')));

    // Scored on its test split from the record alone, with no judge.
    const scored = edgevaeWithEnv(env, 'evaluate', '--run', runDir, '--json');
    assert.equal(scored.code, 0, scored.stderr);
    const result = JSON.parse(scored.stdout);
    assert.deepEqual([result.preset, result.dataset, result.step, result.testImages], ['cvae', 'digits', 6, 10]);
    for (const key of ['nelbo', 'squaredError', 'accuracy']) assert.ok(Number.isFinite(result.metrics[key]), key);
  });

  it('a run folder copied elsewhere, or moved together with its image folder, still exports with --prior-components and evaluates; a folder gone from both places is named, with the option that gives it (export, resume)', async () => {
    const project = join(root, 'project');
    writeImageFolder(join(project, 'shoes'), mnist.train, { perClass: 10, format: 'png', classes: [3, 5, 7] });
    const first = edgevaeWithEnv(env, 'train', '--preset', 'conv-vae', '--dataset', join(project, 'shoes'), '--batch-size', '8', '--steps', '2', '--backend', 'cpu', '--runs', join(project, 'runs'));
    assert.equal(first.code, 0, first.stderr);
    const stamp = readdirSync(join(project, 'runs', 'conv-vae'))[0];
    assert.equal(JSON.parse(readFileSync(join(project, 'runs', 'conv-vae', stamp, 'config.json'), 'utf8')).data.relative, '../../../shoes');
    /** Exports a run with a fitted prior of two Gaussians; the command's result and the file's prior. */
    const exportWithPrior = async (runDir: string, ...more: string[]) => {
      const out = join(root, `prior-${Math.random().toString(36).slice(2)}.evae`);
      const result = edgevaeWithEnv(env, 'export', runDir, '--prior-components', '2', '--out', out, ...more);
      const prior = result.code === 0 ? (await Decoder.load(readFileSync(out))).info.meta.prior : undefined;
      return { ...result, prior };
    };

    // The run folder alone, copied elsewhere: the image folder is where the run recorded it.
    const copied = join(root, 'elsewhere', 'run');
    cpSync(join(project, 'runs', 'conv-vae', stamp), copied, { recursive: true });
    const fromCopy = await exportWithPrior(copied);
    assert.equal(fromCopy.code, 0, fromCopy.stderr);
    assert.equal(fromCopy.prior?.weights.length, 2);

    // The project moved whole: the recorded folder is gone, and the one beside the run is read.
    const moved = join(root, 'project-moved');
    renameSync(project, moved);
    const runDir = join(moved, 'runs', 'conv-vae', stamp);
    const fromMoved = await exportWithPrior(runDir);
    assert.equal(fromMoved.code, 0, fromMoved.stderr);
    assert.match(fromMoved.stderr, new RegExp(`images: the run's folder ${join(project, 'shoes')} is gone; reading ${join(moved, 'shoes')}, where it sits relative to the moved run folder`));
    assert.deepEqual(fromMoved.prior, fromCopy.prior, 'the same images, the same codes, the same fit');
    const scored = edgevaeWithEnv(env, 'evaluate', '--run', runDir, '--json');
    assert.equal(scored.code, 0, scored.stderr);
    assert.equal(JSON.parse(scored.stdout).step, 2);

    // The image folder moved away on its own: named, with how to give its new place; --dataset PATH does.
    const away = join(root, 'shoes-away');
    renameSync(join(moved, 'shoes'), away);
    const gone = await exportWithPrior(runDir);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`edgevae: the run's image folder ${join(project, 'shoes')} is gone, nor at ${join(moved, 'shoes')} \\(its place relative to the run folder\\); if it moved, give its new place with --dataset PATH\n`));
    const given = await exportWithPrior(runDir, '--dataset', away);
    assert.equal(given.code, 0, given.stderr);
    assert.deepEqual(given.prior, fromCopy.prior);
    const resumed = edgevaeWithEnv(env, 'train', '--resume', runDir, '--dataset', away, '--steps', '3', '--backend', 'cpu');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(trainLosses(runDir).length, 3);
    assert.match(edgevaeWithEnv(env, 'export', runDir, '--dataset', away, '--out', join(root, 'x.evae')).stderr, /--dataset applies to a TensorFlow\.js model\.json; a run folder records its preset, shapes and dataset \(with --prior-components, --dataset PATH gives the run's image folder if it moved\)/);
  });

  it('an MNIST run moved together with its IDX folder reads it beside the run; gone from both places, it is named with --data DIR', async () => {
    const project = join(root, 'idx-project');
    mkdirSync(project);
    symlinkSync(MNIST_DIR!, join(project, 'mnist'));
    const runDir = join(project, 'runs', 'cvae', 'stamp');
    const spec = withRunRelativePath({ kind: 'idx', name: 'mnist', dir: join(project, 'mnist') }, runDir);
    assert.deepEqual(spec, { kind: 'idx', name: 'mnist', dir: join(project, 'mnist'), relative: '../../../mnist' });
    const moved = join(root, 'idx-project-moved');
    renameSync(project, moved);
    const logs: string[] = [];
    const data = await loadRecordedData(spec, 'mnist', { runDir: join(moved, 'runs', 'cvae', 'stamp') }, { log: (m) => logs.push(m), env: {} });
    assert.deepEqual([data.train.count, data.test.count], [60000, 10000]);
    assert.deepEqual(data.test.images.subarray(0, 784 * 3), mnist.test.images.subarray(0, 784 * 3));
    assert.match(logs.join('\n'), new RegExp(`mnist: reading ${join(moved, 'mnist')} \\(recorded in the run as ${join(project, 'mnist')}, found at \\.\\./\\.\\./\\.\\./mnist from the moved run folder; give --data DIR if it moved\\)`));
    await assert.rejects(loadRecordedData(spec, 'mnist', { runDir: join(root, 'unrelated', 'deeper', 'still', 'run') }), (e: unknown) => e instanceof InputError &&
      e.message === `the run's mnist folder ${join(project, 'mnist')} is gone, nor at ${join(root, 'unrelated', 'mnist')} (its place relative to the run folder); if it moved, give its new place with --data DIR`);
    assert.equal((await loadRecordedData(spec, 'mnist', { data: MNIST_DIR }, { env: {} })).train.count, 60000, '--data DIR still gives it');
  });

  it('an MNIST run records its folder: --resume needs neither --data nor EDGEVAE_MNIST_DIR (issue 24, 3b)', () => {
    const runs = join(root, 'mnist-runs');
    const first = edgevaeWithEnv(env, 'train', '--preset', 'cvae', '--data', MNIST_DIR!, '--batch-size', '8', '--steps', '1', '--backend', 'cpu', '--runs', runs);
    assert.equal(first.code, 0, first.stderr);
    const runDir = runFolder(runs, 'cvae');
    assert.match(first.stdout, new RegExp(`Continue with: npx edgevae train --resume ${runDir}\\n`));
    assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).data, { kind: 'idx', name: 'mnist', dir: MNIST_DIR, relative: relative(runDir, MNIST_DIR!).split(sep).join('/') });
    const resumed = edgevaeWithEnv(env, 'train', '--resume', runDir, '--steps', '2', '--backend', 'cpu');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /mnist: reading .* \(recorded in the run; give --data DIR if it moved\)/);
    assert.equal(trainLosses(runDir).length, 2);
  });

  it('--dataset fashion-mnist reads Debian\'s package, and says how to get it when it is missing', (t) => {
    const missing = join(root, 'no-fashion');
    const absent = edgevaeWithEnv({ ...env, EDGEVAE_FASHION_MNIST_DIR: missing }, 'train', '--preset', 'cvae', '--dataset', 'fashion-mnist', '--epochs', '1', '--backend', 'cpu', '--runs', join(root, 'fashion-absent'));
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /fashion-mnist: the folder .*no-fashion \(from EDGEVAE_FASHION_MNIST_DIR\) cannot be used: .*no such folder/);
    assert.match(absent.stderr, /To get fashion-mnist: install it with `apt-get install dataset-fashion-mnist` \(Debian and Ubuntu; it goes to \/usr\/share\/datasets\/fashion-mnist, which edgevae reads\)/);
    assert.ok(!existsSync(join(root, 'fashion-absent')), 'no run folder');

    if (!fashionInstalled()) return t.skip('dataset-fashion-mnist is not installed');
    // The command; --steps keeps the test short (one epoch is 600 steps).
    const runs = join(root, 'fashion');
    const present = edgevaeWithEnv(env, 'train', '--preset', 'cvae', '--dataset', 'fashion-mnist', '--epochs', '1', '--steps', '20', '--runs', runs);
    assert.equal(present.code, 0, present.stderr);
    assert.match(present.stdout, /fashion-mnist: reading \/usr\/share\/datasets\/fashion-mnist \(system package\)/);
    assert.match(present.stdout, /training cvae .*: 1 epochs of batch 100, 60000 training images of 28x28x1 from fashion-mnist/);
    assert.equal(trainLosses(runFolder(runs, 'cvae')).length, 20);
  });

  it('a bad folder, a preset that does not take the data, too few images and a resume that changes the data fail before any run folder, each saying why', () => {
    const runs = join(root, 'refused');
    const refused = (...args: string[]) => {
      const result = edgevaeWithEnv(env, 'train', '--backend', 'cpu', '--runs', runs, ...args);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.ok(!existsSync(runs), `${args.join(' ')} left a run folder`);
      return result.stderr;
    };
    const emptyClass = join(root, 'empty-class');
    writeImageFolder(emptyClass, mnist.train, { perClass: 3, format: 'png', classes: [1, 2] });
    mkdirSync(join(emptyClass, 'lost'));
    assert.match(refused('--preset', 'conv-vae', '--dataset', emptyClass), /edgevae: class folder .*lost holds no PNG or JPEG images: add images to it or remove it\n/);

    const flat = join(root, 'flat');
    writeImageFolder(flat, mnist.train, { perClass: 40, format: 'jpeg', layout: 'flat' });
    assert.match(refused('--preset', 'cvae', '--dataset', flat), /the cvae preset is conditional: it needs labelled images of at least 2 classes .* not an unlabelled set/);
    assert.match(refused('--preset', 'conv-vae', '--dataset', flat), /too few images: the training split has 36 \(the test split holds 4\), fewer than one batch of 64; add images, or give --batch-size 36 or less/);
    const resumeDir = join(root, 'some-run');
    mkdirSync(resumeDir);
    assert.match(refused('--resume', resumeDir, '--image-size', '32', '--strict'), /--resume continues a run with its own configuration and data; drop --image-size, --strict/);
  });
});
