// Image folders as datasets (src/data/image-decode.ts, image-folder.ts, sources.ts): PNG and JPEG
// decoding, resizing and centre-cropping, folders made here from real MNIST and Fashion-MNIST images
// (PNG and JPEG, grey and colourised, with and without class folders), the cache (read back the
// same, rebuilt when a file changes, never left partial), and a suite of bad folders, each with its
// message.
//
// MNIST comes from EDGEVAE_MNIST_DIR (skipped without it); Fashion-MNIST from Debian's
// dataset-fashion-mnist, found by loadDataset's lookup (skipped without it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { InputError } from '../src/errors.ts';
import { loadDataset, type Dataset } from '../src/data/datasets.ts';
import { decodeImage, ImageDecodeError, resizeAndCrop, toGrey } from '../src/data/image-decode.ts';
import { loadImageFolder, type ImageFolderDataset, type ImageFolderOptions } from '../src/data/image-folder.ts';
import { loadRecordedData, loadRequestedData } from '../src/data/sources.ts';
import { encodeImage, imageRgba, writeImageFolder } from './helpers/image-folders.ts';

const MNIST_DIR = process.env.EDGEVAE_MNIST_DIR;
const MNIST_SKIP = 'set EDGEVAE_MNIST_DIR to the folder of the MNIST IDX files';

const root = mkdtempSync(join(tmpdir(), 'edgevae-image-folder-'));
after(() => rmSync(root, { recursive: true, force: true }));
let serial = 0;
const fresh = (name: string) => join(root, `${name}-${serial++}`);

/** Loads with a cache of its own (unless given) and the log kept. */
async function load(dir: string, options: ImageFolderOptions = {}) {
  const logs: string[] = [];
  const cacheDir = options.cacheDir ?? fresh('cache');
  const dataset = await loadImageFolder(dir, { cacheDir, log: (m) => logs.push(m), ...options });
  return { dataset, logs: logs.join('\n'), cacheDir };
}

const rejectsWith = (promise: Promise<unknown>, ...patterns: RegExp[]) =>
  assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });

/** Every file under the cache folder: none may be a temporary one. */
function cacheFiles(cacheDir: string): string[] {
  const images = join(cacheDir, 'images');
  return existsSync(images) ? readdirSync(images) : [];
}

describe('image decoding', () => {
  const width = 3;
  const height = 2;
  const rgb = Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 250, 251, 252]);

  it('PNG as grey, RGB, RGBA (onto black), 16-bit and palette all become 8-bit RGB', () => {
    assert.deepEqual(decodeImage(encodePng({ width, height, data: rgb, channels: 3, depth: 8 })), { width, height, rgb });
    const grey = Uint8Array.from([0, 1, 2, 128, 254, 255]);
    assert.deepEqual(decodeImage(encodePng({ width, height, data: grey, channels: 1, depth: 8 })).rgb, Uint8Array.from([...grey].flatMap((v) => [v, v, v])));
    const rgba = Uint8Array.from([200, 100, 50, 255, 200, 100, 50, 0, 200, 100, 50, 128, 1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255]);
    assert.deepEqual([...decodeImage(encodePng({ width, height, data: rgba, channels: 4, depth: 8 })).rgb.subarray(0, 9)], [200, 100, 50, 0, 0, 0, 100, 50, 25]);
    const deep = Uint16Array.from(rgb, (v) => v * 257);
    assert.deepEqual(decodeImage(encodePng({ width, height, data: deep, channels: 3, depth: 16 })).rgb, rgb);
    const palette: [number, number, number][] = [[9, 8, 7], [250, 0, 3]];
    const indexed = encodePng({ width, height, data: Uint8Array.from([0, 1, 1, 0, 0, 1]), channels: 1, depth: 8, palette });
    assert.deepEqual([...decodeImage(indexed).rgb.subarray(0, 6)], [9, 8, 7, 250, 0, 3]);
  });

  it('JPEG decodes close to what was encoded; a grey image comes out grey', () => {
    const rgba = new Uint8Array(16 * 16 * 4).map((_, i) => (i % 4 === 3 ? 255 : 128));
    const decoded = decodeImage(new Uint8Array(jpeg.encode({ width: 16, height: 16, data: rgba }, 95).data));
    assert.deepEqual([decoded.width, decoded.height], [16, 16]);
    assert.ok(decoded.rgb.every((v) => Math.abs(v - 128) <= 2), 'a flat grey JPEG decodes within 2 levels');
    assert.deepEqual(toGrey(decoded.rgb), Uint8Array.from({ length: 256 }, (_, i) => decoded.rgb[i * 3]));
  });

  it('says what is wrong with bytes that are no image, a cut file or a corrupted one', () => {
    const png = encodePng({ width: 8, height: 8, data: new Uint8Array(64 * 3).fill(7), channels: 3, depth: 8 });
    const jpg = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(200) }, 90).data);
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('not an image'), /neither a PNG nor a JPEG/],
      [new Uint8Array(0), /empty file/],
      [png.subarray(0, png.length - 20), /truncated PNG: it ends before its IEND chunk/],
      [jpg.subarray(0, Math.floor(jpg.length * 0.7)), /truncated JPEG: it ends before its end-of-image marker/],
      [Uint8Array.from(png, (b, i) => (i >= 41 && i < 50 ? b ^ 0x5a : b)), /corrupt PNG/],
    ];
    for (const [bytes, message] of cases) assert.throws(() => decodeImage(bytes), (err: unknown) => err instanceof ImageDecodeError && message.test(err.message));
  });

  it('resizeAndCrop keeps an N x N image, averages when shrinking, keeps the centre of a wide one', () => {
    const image = { width, height, rgb };
    assert.deepEqual(resizeAndCrop({ width: 2, height: 2, rgb: rgb.subarray(0, 12) }, 2), rgb.subarray(0, 12));
    // A 16x16 checker of 0 and 200 halved: away from the border each output pixel weighs four
    // source columns (and rows) 1/8, 3/8, 3/8, 1/8, so it is the checker's mean, 100.
    const checker = { width: 16, height: 16, rgb: Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => ((Math.floor(i / 3) % 16) + Math.floor(i / 48)) % 2 ? 200 : 0) };
    const halved = resizeAndCrop(checker, 8);
    for (let y = 1; y < 7; y++) for (let x = 1; x < 7; x++) assert.equal(halved[(y * 8 + x) * 3], 100, `pixel ${x}, ${y}`);
    // 3x2 to 2: the shorter side (2) is kept, and of the 3 columns the first two (an odd margin is cut on the right).
    assert.deepEqual(resizeAndCrop(image, 2), Uint8Array.from([...rgb.subarray(0, 6), ...rgb.subarray(9, 15)]));
    const constant = { width: 5, height: 3, rgb: new Uint8Array(45).fill(77) };
    assert.ok(resizeAndCrop(constant, 8).every((v) => v === 77), 'upscaling a constant keeps it');
  });
});

describe('image folders from MNIST and Fashion-MNIST', { skip: !MNIST_DIR && MNIST_SKIP }, () => {
  let mnist: Dataset;
  let fashion: Dataset | undefined;

  before(async () => {
    mnist = await loadDataset('mnist', { dir: MNIST_DIR, download: false });
    fashion = await loadDataset('fashion-mnist', { env: {}, cacheDir: fresh('no-cache'), download: false }).catch(() => undefined);
  });

  it('PNG class folders give MNIST\'s bytes exactly, labels by folder, and a seeded split stratified by class', async () => {
    const dir = fresh('mnist-png');
    writeImageFolder(dir, mnist.train, { perClass: 20, format: 'png' });
    const { dataset, logs } = await load(dir);
    assert.match(logs, /images: decoding 200 files in .* \(once: they are cached in /);
    assert.match(logs, /200 images of 28x28x1, 10 classes/);
    assert.deepEqual(dataset.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual([dataset.train.count, dataset.test.count, dataset.train.channels], [180, 20, 1]);
    for (const split of [dataset.train, dataset.test]) {
      assert.deepEqual(histogram(split.labels), new Array(10).fill(split === dataset.train ? 18 : 2));
    }
    // Each decoded image is one of the MNIST images written, bit for bit (a PNG is lossless).
    const written = new Map<string, number>();
    for (let i = 0; i < 2000; i++) written.set(key(mnist.train.images.subarray(i * 784, (i + 1) * 784)), mnist.train.labels[i]);
    for (let i = 0; i < dataset.test.count; i++) {
      assert.equal(written.get(key(dataset.test.images.subarray(i * 784, (i + 1) * 784))), dataset.test.labels[i], `test image ${i}`);
    }
    // The split is seeded: a second load picks the same test images; another split seed others.
    assert.deepEqual((await load(dir)).dataset.test.images, dataset.test.images);
    assert.notDeepEqual((await load(dir, { splitSeed: 1 })).dataset.test.images, dataset.test.images);
  });

  it('colourised JPEGs are RGB; --channels 1 makes them grey; flat folders have no labels; --image-size resizes', async (t) => {
    const rgbDir = fresh('mnist-jpeg-rgb');
    writeImageFolder(rgbDir, mnist.train, { perClass: 6, format: 'jpeg', rgb: true, classes: [3, 5, 8] });
    const rgb = (await load(rgbDir)).dataset;
    assert.deepEqual([rgb.train.rows, rgb.train.channels, rgb.classes.length, rgb.train.count + rgb.test.count], [28, 3, 3, 18]);
    const grey = (await load(rgbDir, { channels: 1, imageSize: 32 })).dataset;
    assert.deepEqual([grey.train.rows, grey.train.cols, grey.train.channels], [32, 32, 1]);
    assert.equal(grey.train.images.length, grey.train.count * 32 * 32);

    if (!fashion) return t.skip('dataset-fashion-mnist is not installed');
    const flat = fresh('fashion-flat');
    writeImageFolder(flat, fashion.train, { perClass: 30, format: 'png', layout: 'flat' });
    const { dataset } = await load(flat, { imageSize: 64, testSplit: 0.2 });
    assert.deepEqual(dataset.classes, []);
    assert.deepEqual([dataset.train.count, dataset.test.count, dataset.train.rows, dataset.train.channels], [24, 6, 64, 1]);
    assert.ok(dataset.train.labels.every((l) => l === 0));
  });

  it('decodes once: the cache is read back the same, rebuilt when a file changes, and never left partial', async () => {
    const dir = fresh('mnist-cached');
    writeImageFolder(dir, mnist.train, { perClass: 5, format: 'png', classes: [1, 7] });
    const first = await load(dir, { imageSize: 32 });
    assert.match(first.logs, /decoding 10 files/);
    const again = await load(dir, { imageSize: 32, cacheDir: first.cacheDir });
    assert.match(again.logs, /10 images of 32x32x1, 2 classes, from the cache /);
    assert.deepEqual(again.dataset.train.images, first.dataset.train.images);
    assert.equal(again.dataset.key, first.dataset.key);
    assert.deepEqual(cacheFiles(first.cacheDir), [`${first.dataset.key}-v1-32-auto.evim`]);

    // Another image in place of one (same name, new content and time): a new key, decoded again.
    const victim = join(dir, '7', readdirSync(join(dir, '7'))[0]);
    writeFileSync(victim, encodeImage(imageRgba(mnist.train, 0, false), 28, 28, 'png', false));
    utimesSync(victim, new Date(), new Date(Date.now() + 5000));
    const changed = await load(dir, { imageSize: 32, cacheDir: first.cacheDir });
    assert.notEqual(changed.dataset.key, first.dataset.key);
    assert.match(changed.logs, /decoding 10 files/);
    assert.notDeepEqual(changed.dataset.train.images, first.dataset.train.images);
    assert.equal(cacheFiles(first.cacheDir).length, 2);
    assert.ok(cacheFiles(first.cacheDir).every((f) => f.endsWith('.evim')), 'no temporary file left');

    // A cache file cut short (a crash of some other writer) is noticed and rebuilt.
    const file = changed.dataset.cacheFile;
    writeFileSync(file, readFileSync(file).subarray(0, 100));
    const rebuilt = await load(dir, { imageSize: 32, cacheDir: first.cacheDir });
    assert.match(rebuilt.logs, /is unusable .* decoding the folder again/);
    assert.deepEqual(rebuilt.dataset.train.images, changed.dataset.train.images);
    assert.equal(readFileSync(file).length > 100, true);
  });

  it('a run records its folder and key: the record loads the same images (from a moved folder too), and refuses a folder that changed', async () => {
    const dir = fresh('recorded');
    writeImageFolder(dir, mnist.train, { perClass: 4, format: 'jpeg', classes: [0, 2] });
    const cacheDir = fresh('cache');
    const loaded = await loadRequestedData({ dataset: dir, channels: 3 }, { cacheDir });
    assert.equal(loaded.label, basename(dir));
    assert.deepEqual(loaded.spec, { kind: 'folder', path: dir, key: (loaded.dataset as ImageFolderDataset).key, channels: 3, testSplit: 0.1, splitSeed: 0 });
    const again = await loadRecordedData(loaded.spec, loaded.label, {}, { cacheDir });
    assert.deepEqual(again.test.images, loaded.dataset.test.images);
    const moved = fresh('moved');
    renameSync(dir, moved);
    assert.deepEqual((await loadRecordedData(loaded.spec, loaded.label, { dataset: moved }, { cacheDir })).train.images, loaded.dataset.train.images);
    rmSync(join(moved, '2', readdirSync(join(moved, '2'))[0]));
    await rejectsWith(loadRecordedData(loaded.spec, loaded.label, { dataset: moved }, { cacheDir }), /changed since this run started \(its contents' key was [0-9a-f]{32}, now [0-9a-f]{32}: images were added, removed or modified\)/);
  });

  it('mnist and fashion-mnist take no image-folder options, and an image folder no --data', async () => {
    await rejectsWith(loadRequestedData({ dataset: 'mnist', imageSize: 32 }), /--image-size applies to image folders; mnist is 28x28 greyscale/, /write \.\/mnist/);
    await rejectsWith(loadRequestedData({ dataset: fresh('x'), data: MNIST_DIR }), /an image folder is given as --dataset PATH alone/);
  });
});

describe('bad folders: each says what is wrong, and the cache holds nothing partial', { skip: !MNIST_DIR && MNIST_SKIP }, () => {
  let mnist: Dataset;
  before(async () => {
    mnist = await loadDataset('mnist', { dir: MNIST_DIR, download: false });
  });

  /** A folder of two classes of five PNGs each. */
  function goodFolder(): string {
    const dir = fresh('bad');
    writeImageFolder(dir, mnist.train, { perClass: 5, format: 'png', classes: [4, 9] });
    return dir;
  }
  const first = (dir: string, label: string) => join(dir, label, readdirSync(join(dir, label)).sort()[0]);

  it('corrupt, truncated and non-image files are named and skipped with a count; --strict makes the first an error', async () => {
    const dir = goodFolder();
    const png = readFileSync(first(dir, '4'));
    writeFileSync(first(dir, '4'), png.subarray(0, 60));
    const jpg = encodeImage(imageRgba(mnist.train, 3, true), 28, 28, 'jpeg', true);
    writeFileSync(join(dir, '9', 'cut.jpg'), jpg.subarray(0, 300));
    writeFileSync(join(dir, '9', 'notes.png'), 'a text file called .png');
    writeFileSync(join(dir, '9', 'corrupt.png'), Uint8Array.from(png, (b, i) => (i >= 41 && i < 60 ? b ^ 0xff : b)));
    writeFileSync(join(dir, '9', 'README.txt'), 'not an image');
    const { dataset, logs, cacheDir } = await load(dir);
    assert.equal(dataset.train.count + dataset.test.count, 9);
    assert.match(logs, /ignored 1 files that are not \.png, \.jpg or \.jpeg: 9\/README\.txt/);
    assert.match(logs, /skipped 4 unreadable files \(--strict makes them an error\)/);
    assert.match(logs, /4\/\d+\.png: truncated PNG: it ends before its IEND chunk/);
    assert.match(logs, /9\/cut\.jpg: truncated JPEG/);
    assert.match(logs, /9\/notes\.png: neither a PNG nor a JPEG/);
    assert.match(logs, /9\/corrupt\.png: corrupt PNG/);
    // The skips are kept with the cache: read from it, they are reported again.
    assert.match((await load(dir, { cacheDir })).logs, /from the cache[\s\S]*skipped 4 unreadable files/);

    const strictCache = fresh('cache');
    await rejectsWith(load(dir, { strict: true, cacheDir: strictCache }), /4\/\d+\.png: truncated PNG: it ends before its IEND chunk \(--strict: every image must decode\)/);
    assert.deepEqual(cacheFiles(strictCache), []);
    await rejectsWith(load(dir, { strict: true, cacheDir }), /--strict: every image must decode/);
  });

  it('mixed sizes need --image-size; a non-square image too', async () => {
    const dir = goodFolder();
    writeFileSync(join(dir, '9', 'big.png'), encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32), channels: 1, depth: 8 }));
    const cacheDir = fresh('cache');
    await rejectsWith(load(dir, { cacheDir }), /images differ in size: .*9\/big\.png is 32x32 but .*4\/\d+\.png is 28x28; give --image-size N to resize and centre-crop/);
    assert.deepEqual(cacheFiles(cacheDir), []);
    assert.equal((await load(dir, { imageSize: 28, cacheDir })).dataset.train.rows, 28);

    const wide = fresh('wide');
    mkdirSync(wide);
    writeFileSync(join(wide, 'a.png'), encodePng({ width: 40, height: 30, data: new Uint8Array(1200), channels: 1, depth: 8 }));
    await rejectsWith(load(wide), /a\.png is 40x30, not square: give --image-size N/);
  });

  it('an empty class, a class of unreadable files, images beside class folders, too few images, no images, no folder', async () => {
    const cacheDir = fresh('cache');
    const empty = goodFolder();
    mkdirSync(join(empty, 'zebra'));
    writeFileSync(join(empty, 'zebra', 'info.txt'), 'nothing here');
    await rejectsWith(load(empty, { cacheDir }), /class folder .*zebra holds no PNG or JPEG images \(only zebra\/info\.txt\): add images to it or remove it/);

    const unreadable = goodFolder();
    for (const f of readdirSync(join(unreadable, '9'))) writeFileSync(join(unreadable, '9', f), 'garbage');
    await rejectsWith(load(unreadable, { cacheDir }), /class folder .*9 has no image that decodes \(all skipped as unreadable\)/);

    const beside = goodFolder();
    writeFileSync(join(beside, 'stray.png'), readFileSync(first(beside, '4')));
    await rejectsWith(load(beside, { cacheDir }), /holds images \(stray\.png\) beside class folders \(4, 9\): put every image in its class's folder/);

    const few = goodFolder();
    mkdirSync(join(few, 'single'));
    writeFileSync(join(few, 'single', 'one.png'), readFileSync(first(few, '4')));
    await rejectsWith(load(few, { cacheDir }), /too few images: class single has 1 image that decodes, and needs at least 2 \(one for training, one for the test split\)/);

    const none = fresh('none');
    mkdirSync(none);
    writeFileSync(join(none, 'a.txt'), 'x');
    await rejectsWith(load(none, { cacheDir }), /holds no PNG or JPEG images: its 1 files are not \.png, \.jpg or \.jpeg \(a\.txt\)/);
    const bare = fresh('bare');
    mkdirSync(bare);
    await rejectsWith(load(bare, { cacheDir }), /holds no PNG or JPEG images: it is empty/);
    await rejectsWith(load(join(root, 'no-such-folder'), { cacheDir }), /no-such-folder: no such folder/);

    // The failures that got past decoding (a class of unreadable files, too few images) left whole
    // cache files at most, and nothing temporary.
    assert.ok(cacheFiles(cacheDir).every((f) => f.endsWith('.evim')), cacheFiles(cacheDir).join());
  });
});

function histogram(labels: ArrayLike<number>): number[] {
  const counts = new Array(10).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/** The bytes of an image in [0, 1] as a string key. */
const key = (values: Float32Array) => Array.from(values, (v) => Math.round(v * 255)).join(',');
