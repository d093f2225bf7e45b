// The MNIST / Fashion-MNIST pipeline: the IDX reader on real and on broken files, where loadDataset
// looks (and in which order), and the download path against a local HTTP server. Never touches the
// internet: every download goes to 127.0.0.1 or to a fetch stub.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../src/errors.ts';
import { DATASET_FILES, DATASETS, defaultCacheDir, loadDataset, type Dataset } from '../src/data/datasets.ts';
import { checkPair, parseIdx, parseIdxImages, parseIdxLabels } from '../src/data/idx.ts';
import { MNIST_DIR, MNIST_GZ_SKIP, MNIST_SKIP } from './helpers/mnist.ts';

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_SKIP = 'dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist puts it in /usr/share/datasets/fashion-mnist)';
const fashionInstalled = () => Object.values(DATASET_FILES).every((f) => existsSync(join(FASHION_DIR, f + '.gz')) || existsSync(join(FASHION_DIR, f)));

const GZ = Object.values(DATASET_FILES).map((f) => f + '.gz');
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const NO_ENV = {}; // so EDGEVAE_MNIST_DIR (set in CI) and the user's cache stay out of the lookup tests

const noNetwork: typeof fetch = async (input) => {
  throw new Error(`the test tried to fetch ${String(input)}`);
};

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgevae-data-'));
  temps.push(dir);
  return dir;
}
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

const rejectsWith = (promise: Promise<unknown>, ...patterns: RegExp[]) =>
  assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
const throwsWith = (fn: () => unknown, ...patterns: RegExp[]) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });

// ---- small IDX files built here -------------------------------------------------------------

function idxImages(count: number, rows: number, cols: number, pixel = (i: number) => i % 256): Uint8Array {
  const out = new Uint8Array(16 + count * rows * cols);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x803);
  v.setUint32(4, count);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let i = 0; i < count * rows * cols; i++) out[16 + i] = pixel(i);
  return out;
}

function idxLabels(labels: number[]): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x801);
  v.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}

/** Writes a tiny complete dataset (train: 3 images, test: 2, 4x5 pixels); `marker` is the first train label. */
async function writeTiny(dir: string, { marker = 1, gzip = false, trainLabels }: { marker?: number; gzip?: boolean; trainLabels?: number[] } = {}) {
  await mkdir(dir, { recursive: true });
  const files: Record<string, Uint8Array> = {
    [DATASET_FILES.trainImages]: idxImages(3, 4, 5),
    [DATASET_FILES.trainLabels]: idxLabels(trainLabels ?? [marker, 2, 3]),
    [DATASET_FILES.testImages]: idxImages(2, 4, 5, (i) => 255 - (i % 256)),
    [DATASET_FILES.testLabels]: idxLabels([9, 0]),
  };
  for (const [name, bytes] of Object.entries(files)) {
    await writeFile(join(dir, gzip ? name + '.gz' : name), gzip ? gzipSync(bytes) : bytes);
  }
}

// ---- the IDX reader -------------------------------------------------------------------------

describe('IDX reader', () => {
  it('reads raw and gzip image and label files', () => {
    const raw = idxImages(2, 3, 4);
    for (const bytes of [raw, gzipSync(raw)]) {
      const img = parseIdxImages(bytes, 'x');
      assert.deepEqual([img.count, img.rows, img.cols, img.pixels.length], [2, 3, 4, 24]);
      assert.equal(img.pixels[23], 23);
    }
    assert.deepEqual([...parseIdxLabels(gzipSync(idxLabels([0, 9, 4])), 'y').labels], [0, 9, 4]);
  });

  it('rejects a wrong magic, naming the file', () => {
    const bad = idxImages(1, 2, 2);
    bad[1] = 0xde;
    throwsWith(() => parseIdxImages(bad, 'imgs.idx'), /^imgs\.idx: wrong magic/, /not an IDX file \(magic 0x00de0803\)/);
    throwsWith(() => parseIdxImages(new TextEncoder().encode('<html>404 not found</html>'), 'page.gz'), /^page\.gz: wrong magic/);
    throwsWith(() => parseIdxImages(idxLabels([1]), 'labels-as-images'), /labels-as-images: wrong magic: expected an IDX image file/);
    throwsWith(() => parseIdxLabels(idxImages(1, 1, 1), 'images-as-labels'), /images-as-labels: wrong magic: expected an IDX label file/);
    const f32 = idxLabels([1]);
    f32[2] = 0x0d; // IDX float32
    throwsWith(() => parseIdx(f32, 'floats'), /floats: wrong magic: .*not supported here \(magic 0x00000d01/);
  });

  it('rejects truncated and overlong data, naming the file and the sizes', () => {
    const img = idxImages(3, 4, 5);
    throwsWith(() => parseIdxImages(img.subarray(0, img.length - 1), 'cut'), /^cut: truncated: header says 3 images of 4x5 \(60 bytes\) but 59 bytes follow/);
    throwsWith(() => parseIdxImages(img.subarray(0, 10), 'cut-header'), /^cut-header: truncated: 10 bytes is shorter than its 16-byte IDX header/);
    throwsWith(() => parseIdxImages(img.subarray(0, 3), 'tiny'), /^tiny: truncated/);
    throwsWith(() => parseIdxLabels(new Uint8Array([...idxLabels([1, 2]), 7]), 'long'), /^long: too long: header says 2 labels \(2 bytes\) but 3 bytes follow/);
    const gz = gzipSync(img);
    throwsWith(() => parseIdxImages(gz.subarray(0, gz.length - 12), 'cut.gz'), /^cut\.gz: is not a valid gzip stream/, /truncated or corrupted/);
  });

  it('rejects absurd dimensions before allocating anything', () => {
    const big = idxImages(0, 1, 1);
    new DataView(big.buffer).setUint32(4, 0xffffffff);
    throwsWith(() => parseIdxImages(big, 'huge'), /^huge: absurd dimensions: header says 4294967295 items/);
    const wide = idxImages(0, 1, 1);
    new DataView(wide.buffer).setUint32(8, 100_000);
    throwsWith(() => parseIdxImages(wide, 'wide'), /^wide: absurd dimensions: header says images of 100000x1/);
    const empty = idxImages(0, 1, 1);
    new DataView(empty.buffer).setUint32(12, 0);
    throwsWith(() => parseIdxImages(empty, 'flat'), /^flat: absurd dimensions: .*0/);
    const product = idxImages(0, 1, 1);
    new DataView(product.buffer).setUint32(4, 9_000_000);
    new DataView(product.buffer).setUint32(8, 4000);
    new DataView(product.buffer).setUint32(12, 4000);
    throwsWith(() => parseIdxImages(product, 'product'), /^product: absurd dimensions: 9000000x4000x4000/);
  });

  it('rejects a label above 9, naming the file and the index', () => {
    throwsWith(() => parseIdxLabels(idxLabels([3, 9, 10, 1]), 'lbl'), /^lbl: label 2 is 10, but labels must be 0\.\.9/);
  });

  it('checks that images and labels pair up', () => {
    const images = parseIdxImages(idxImages(3, 2, 2), 'a-images');
    const labels = parseIdxLabels(idxLabels([1, 2]), 'a-labels');
    throwsWith(() => checkPair(images, labels, 'a-images', 'a-labels'), /a-images has 3 images but a-labels has 2 labels/);
  });
});

// ---- where the data comes from ----------------------------------------------------------------

describe('loadDataset: sources', () => {
  it('reads a folder of raw or gzip files into floats in [0, 1]', async () => {
    for (const gzip of [false, true]) {
      const dir = await tempDir();
      await writeTiny(dir, { gzip });
      const logs: string[] = [];
      const ds = await loadDataset('mnist', { dir, env: NO_ENV, log: (m) => logs.push(m), download: false });
      assert.equal(ds.source, dir);
      assert.deepEqual([ds.train.count, ds.train.rows, ds.train.cols, ds.test.count], [3, 4, 5, 2]);
      assert.equal(ds.train.images.length, 60);
      assert.equal(ds.train.images[7], Math.fround(7 / 255));
      assert.equal(ds.test.images[0], 1);
      assert.deepEqual([...ds.train.labels], [1, 2, 3]);
      assert.match(logs.join('\n'), /reading .* \(given as the data folder\)/);
    }
  });

  it('never falls back when the given folder lacks a file', async () => {
    const env = await tempDir();
    await writeTiny(env);
    const cache = await tempDir();
    await writeTiny(join(cache, 'mnist'));
    const dir = await tempDir();
    await writeTiny(dir);
    await rm(join(dir, DATASET_FILES.testLabels));
    await rejectsWith(loadDataset('mnist', { dir, env: { EDGEVAE_MNIST_DIR: env }, cacheDir: cache, fetch: noNetwork }), new RegExp(`${dir}.*missing t10k-labels-idx1-ubyte\\[\\.gz\\]`));
    await rejectsWith(loadDataset('mnist', { dir: join(dir, 'nope'), env: NO_ENV, cacheDir: cache, fetch: noNetwork }), /nope: no such folder/);
  });

  it('takes the environment, then the cache; an explicit variable must be complete', async () => {
    const a = await tempDir();
    await writeTiny(a, { marker: 4 });
    const root = await tempDir();
    await writeTiny(join(root, 'mnist'), { marker: 5 });
    const cache = await tempDir();
    await writeTiny(join(cache, 'mnist'), { marker: 6 });
    const load = (env: Record<string, string>) => loadDataset('mnist', { env, cacheDir: cache, fetch: noNetwork });

    assert.equal((await load({ EDGEVAE_MNIST_DIR: a, EDGEVAE_DATA_DIR: root })).source, a);
    assert.equal((await load({ EDGEVAE_DATA_DIR: root })).source, join(root, 'mnist'));
    assert.equal((await load({ EDGEVAE_FASHION_MNIST_DIR: a })).source, join(cache, 'mnist'), 'the other dataset’s variable is ignored');
    const viaCache = await load({ EDGEVAE_DATA_DIR: await tempDir() }); // no mnist/ inside: on to the cache
    assert.equal(viaCache.source, join(cache, 'mnist'));
    assert.equal(viaCache.train.labels[0], 6);

    const partial = await tempDir();
    await writeTiny(partial);
    await rm(join(partial, DATASET_FILES.trainImages));
    await rejectsWith(load({ EDGEVAE_MNIST_DIR: partial }), /from EDGEVAE_MNIST_DIR/, /missing train-images-idx3-ubyte/);
  });

  it('with download: false and nothing found, says where it looked and how to fix it', async () => {
    const cache = await tempDir();
    await rejectsWith(
      loadDataset('mnist', { env: NO_ENV, cacheDir: cache, download: false, fetch: noNetwork }),
      /mnist: not found and downloading is turned off/,
      new RegExp(`${join(cache, 'mnist')}: no such folder \\(cache\\)`),
      /give it as --data DIR \(or set EDGEVAE_MNIST_DIR to it\)/,
    );
  });

  it('reports mismatched image and label counts naming both files', async () => {
    const dir = await tempDir();
    await writeTiny(dir, { trainLabels: [1, 2] });
    await rejectsWith(loadDataset('mnist', { dir }), /train-images-idx3-ubyte has 3 images but .*train-labels-idx1-ubyte has 2 labels/);
  });

  it('rejects an unknown dataset name', async () => {
    await rejectsWith(loadDataset('cifar' as 'mnist', { env: NO_ENV }), /unknown dataset "cifar": expected one of mnist, fashion-mnist/);
  });

  it('puts the cache under XDG_CACHE_HOME, ~/.cache or LOCALAPPDATA', () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }, 'linux'), '/x/cache/edgevae');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' }, 'linux'), '/home/u/.cache/edgevae');
    assert.equal(defaultCacheDir({ HOME: '/home/u' }, 'darwin'), '/home/u/.cache/edgevae');
    assert.match(defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32'), /^C:\\Users\\u\\AppData\\Local.edgevae$/);
  });
});

// ---- real data --------------------------------------------------------------------------------

const MNIST_TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
const histogram = (labels: Uint8Array) => {
  const h = new Array<number>(10).fill(0);
  for (const l of labels) h[l]!++;
  return h;
};

function checkRange(images: Float32Array) {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < images.length; i++) {
    const v = images[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  for (let i = 0; i < images.length; i += 997) {
    const b = Math.round(images[i]! * 255);
    assert.equal(images[i], Math.fround(b / 255), `value ${i} is byte / 255`);
  }
}

let mnist: Dataset | undefined;
async function realMnist(): Promise<Dataset> {
  mnist ??= await loadDataset('mnist', { dir: MNIST_DIR });
  return mnist;
}

describe('real data', () => {
  it('MNIST: the shared files match the published md5s', { skip: MNIST_GZ_SKIP }, async () => {
    for (const [key, file] of Object.entries(DATASET_FILES) as [keyof typeof DATASET_FILES, string][]) {
      assert.equal(md5(await readFile(join(MNIST_DIR, file + '.gz'))), DATASETS.mnist.md5[key], file);
    }
  });

  it('MNIST: 60000 + 10000 28x28 images in [0, 1] with the known labels', { skip: MNIST_SKIP }, async () => {
    const ds = await realMnist();
    assert.equal(ds.source, MNIST_DIR.replace(/\/+$/, ''));
    for (const [split, count] of [[ds.train, 60000], [ds.test, 10000]] as const) {
      assert.deepEqual([split.count, split.rows, split.cols, split.labels.length, split.images.length], [count, 28, 28, count, count * 784]);
      checkRange(split.images);
    }
    assert.equal(ds.train.labels[0], 5, 'the first training digit is a 5');
    assert.equal(ds.test.labels[0], 7, 'the first test digit is a 7');
    assert.deepEqual(histogram(ds.train.labels), MNIST_TRAIN_HISTOGRAM);
    assert.deepEqual(histogram(ds.test.labels), MNIST_TEST_HISTOGRAM);
    assert.equal(MNIST_TRAIN_HISTOGRAM.reduce((a, b) => a + b), 60000);
    // The 5's bounding box: the corners are blank, the centre has ink.
    assert.equal(ds.train.images[0], 0);
    assert.ok(ds.train.images.subarray(14 * 28, 15 * 28).some((v) => v > 0.5));
  });

  it('Fashion-MNIST where the Debian package is not installed and the network fails: the error says where it looked and how to get it', async () => {
    const cacheDir = await tempDir();
    const noPackage = join(cacheDir, 'usr-share-datasets-fashion-mnist');
    const offline: typeof fetch = async () => {
      throw new TypeError('fetch failed (getaddrinfo EAI_AGAIN: the test is offline)');
    };
    const logs: string[] = [];
    await rejectsWith(
      loadDataset('fashion-mnist', { env: NO_ENV, cacheDir, systemDirs: [noPackage], fetch: offline, log: (m) => logs.push(m) }),
      /^fashion-mnist: could not download train-images-idx3-ubyte\.gz \(nothing was kept\): http:\/\/fashion-mnist\.s3-website\.eu-central-1\.amazonaws\.com\/train-images-idx3-ubyte\.gz: fetch failed \(getaddrinfo EAI_AGAIN: the test is offline\)\. Not found locally either: /,
      new RegExp(`Not found locally either: looked in ${join(cacheDir, 'fashion-mnist')}: no such folder \\(cache\\); ${noPackage}: no such folder \\(system package\\)\\. `),
      /To get fashion-mnist: install it with `apt-get install dataset-fashion-mnist` \(Debian and Ubuntu; it goes to \/usr\/share\/datasets\/fashion-mnist, which edgevae reads\), or let edgevae download it into its cache/,
    );
    assert.match(logs.join('\n'), /fashion-mnist: not found locally; downloading train-images-idx3-ubyte\.gz, .* into /);
    const kept = join(cacheDir, 'fashion-mnist');
    assert.deepEqual(existsSync(kept) ? await readdir(kept) : [], [], 'nothing partial kept');
    await rejectsWith(
      loadDataset('fashion-mnist', { env: NO_ENV, cacheDir, systemDirs: [noPackage], download: false }),
      new RegExp(`fashion-mnist: not found and downloading is turned off; looked in .*${noPackage}: no such folder \\(system package\\)\\. To get fashion-mnist: install it with \`apt-get install dataset-fashion-mnist\``),
    );
  });

  it('Fashion-MNIST from the Debian package, found by the lookup', async (t) => {
    if (!fashionInstalled()) return t.skip(FASHION_SKIP);
    const logs: string[] = [];
    const ds = await loadDataset('fashion-mnist', { env: NO_ENV, cacheDir: await tempDir(), download: false, fetch: noNetwork, log: (m) => logs.push(m) });
    assert.equal(ds.source, FASHION_DIR);
    assert.match(logs.join('\n'), /fashion-mnist: reading \/usr\/share\/datasets\/fashion-mnist \(system package\)/);
    assert.deepEqual([ds.train.count, ds.test.count, ds.train.rows, ds.train.cols], [60000, 10000, 28, 28]);
    checkRange(ds.train.images);
    checkRange(ds.test.images);
    assert.deepEqual(histogram(ds.train.labels), new Array(10).fill(6000));
    assert.deepEqual(histogram(ds.test.labels), new Array(10).fill(1000));
    assert.equal(ds.train.labels[0], 9, 'the first training item is an ankle boot');
    assert.equal(ds.test.labels[0], 9, 'the first test item is an ankle boot');
  });

  it('Fashion-MNIST: the published md5s match Debian’s files once their original gzip header is restored', async (t) => {
    if (!fashionInstalled()) return t.skip(FASHION_SKIP);
    // Debian's build (strip-nondeterminism) rewrote each gzip header: dropped the stored file name and
    // reset the mtime. The deflate data is untouched, so putting back the upstream header (FNAME flag,
    // the mtime upstream had, the name) gives the published files byte for byte.
    const upstreamMtime: Record<keyof typeof DATASET_FILES, number> = {
      trainImages: 1504176606,
      trainLabels: 1504176606,
      testImages: 1504176627,
      testLabels: 1504176627,
    };
    for (const [key, file] of Object.entries(DATASET_FILES) as [keyof typeof DATASET_FILES, string][]) {
      const debian = await readFile(join(FASHION_DIR, file + '.gz'));
      assert.equal(debian[3], 0, `${file}.gz: Debian's header has no flags`);
      const header = Buffer.alloc(10);
      header.set([0x1f, 0x8b, 8, 8]);
      header.writeUInt32LE(upstreamMtime[key], 4);
      header.set(debian.subarray(8, 10), 8);
      const upstream = Buffer.concat([header, Buffer.from(file + '\0', 'latin1'), debian.subarray(10)]);
      assert.equal(md5(upstream), DATASETS['fashion-mnist'].md5[key], file);
    }
  });
});

// ---- downloads ------------------------------------------------------------------------------

// Serves the shared .gz files as the mirrors would.
describe('loadDataset: downloads (from 127.0.0.1)', { skip: MNIST_GZ_SKIP }, () => {
  let server: Server;
  let base = '';
  const requests: string[] = [];
  const files = new Map<string, Buffer>();

  before(async () => {
    for (const f of GZ) files.set(f, await readFile(join(MNIST_DIR, f)));
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const [, mode, file] = (req.url ?? '').split('/');
      const body = files.get(file ?? '');
      if (!body || mode === 'missing') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      if (mode === 'corrupt' && file === DATASET_FILES.trainLabels + '.gz') {
        const bad = Buffer.from(body);
        bad[bad.length >> 1]! ^= 0xff;
        res.writeHead(200, { 'content-length': bad.length }).end(bad);
        return;
      }
      if (mode === 'truncated') {
        // Promise 1000 bytes more than there are, send the rest, then drop the connection.
        res.writeHead(200, { 'content-length': body.length + 1000 });
        res.write(body, () => res.socket?.destroy());
        return;
      }
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/gzip' }).end(body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((ok) => server.close(() => ok())));

  const leftovers = async (dir: string) => (existsSync(dir) ? (await readdir(dir)).sort() : []);

  it('downloads into the cache with md5s checked, then reads the cache without the network', async () => {
    const cacheDir = await tempDir();
    const logs: string[] = [];
    const ds = await loadDataset('mnist', { env: NO_ENV, cacheDir, mirrors: [base + 'good/'], log: (m) => logs.push(m) });
    const cache = join(cacheDir, 'mnist');
    assert.equal(ds.source, cache);
    assert.deepEqual(await leftovers(cache), [...GZ].sort(), 'exactly the four files, no .partial');
    for (const f of GZ) assert.equal(md5(await readFile(join(cache, f))), md5(files.get(f)!), f);
    const text = logs.join('\n');
    assert.match(text, /downloading http:\/\/127\.0\.0\.1:\d+\/good\/train-images-idx3-ubyte\.gz \(9912422 bytes\)/);
    assert.match(text, /train-images-idx3-ubyte\.gz \d+ \/ 9912422 bytes \(\d+%\)/, 'progress is logged');
    assert.match(text, /t10k-labels-idx1-ubyte\.gz 4542 \/ 4542 bytes \(100%\), md5 ok/);
    const reference = await realMnist();
    assert.deepEqual(ds.train.labels, reference.train.labels);
    assert.deepEqual(ds.test.images.subarray(0, 784 * 20), reference.test.images.subarray(0, 784 * 20));

    const before = requests.length;
    const again: string[] = [];
    const cached = await loadDataset('mnist', { env: NO_ENV, cacheDir, mirrors: [base + 'good/'], fetch: noNetwork, log: (m) => again.push(m) });
    assert.equal(requests.length, before, 'no request on the second load');
    assert.equal(cached.source, cache);
    assert.match(again.join('\n'), /reading .* \(cache\)/);
  });

  it('a checksum mismatch keeps neither the file nor its .partial, and names file and mirror', async () => {
    const cacheDir = await tempDir();
    const mirror = base + 'corrupt/';
    await rejectsWith(
      loadDataset('mnist', { env: NO_ENV, cacheDir, mirrors: [mirror] }),
      /mnist: could not download train-labels-idx1-ubyte\.gz \(nothing was kept\)/,
      new RegExp(`${mirror.replace(/[.]/g, '\\.')}train-labels-idx1-ubyte\\.gz: md5 mismatch: got [0-9a-f]{32}, expected the published d53e105ee54ea40749a09fcbcd1e9432`),
    );
    // The file before it was good and stays; the bad one left nothing.
    assert.deepEqual(await leftovers(join(cacheDir, 'mnist')), ['train-images-idx3-ubyte.gz']);
  });

  it('a truncated transfer (Content-Length longer than the body, then a closed connection) leaves nothing', async () => {
    const cacheDir = await tempDir();
    await rejectsWith(
      loadDataset('mnist', { env: NO_ENV, cacheDir, mirrors: [base + 'truncated/'] }),
      /could not download train-images-idx3-ubyte\.gz/,
      /truncated\/train-images-idx3-ubyte\.gz: transfer broke off after \d+ of 9913422 bytes/,
    );
    assert.deepEqual(await leftovers(join(cacheDir, 'mnist')), []);
  });

  it('a body shorter than its Content-Length is caught even when the stream ends cleanly', async () => {
    const cacheDir = await tempDir();
    const shortFetch: typeof fetch = async () => new Response(new Uint8Array(100), { headers: { 'content-length': '5000' } });
    await rejectsWith(
      loadDataset('mnist', { env: NO_ENV, cacheDir, mirrors: ['http://mirror.invalid/'], fetch: shortFetch }),
      /http:\/\/mirror\.invalid\/train-images-idx3-ubyte\.gz: truncated transfer: received 100 bytes but Content-Length said 5000/,
    );
    assert.deepEqual(await leftovers(join(cacheDir, 'mnist')), []);
  });

  it('falls over to the next mirror when the first answers 404', async () => {
    const cacheDir = await tempDir();
    const logs: string[] = [];
    const start = requests.length;
    const ds = await loadDataset('mnist', { env: NO_ENV, cacheDir, mirrors: [base + 'missing/', base + 'good/'], log: (m) => logs.push(m) });
    assert.equal(ds.train.count, 60000);
    assert.deepEqual(await leftovers(join(cacheDir, 'mnist')), [...GZ].sort());
    assert.match(logs.join('\n'), /missing\/train-images-idx3-ubyte\.gz failed: HTTP 404 Not Found; trying the next mirror/);
    const made = requests.slice(start);
    assert.deepEqual(made, GZ.flatMap((f) => [`/missing/${f}`, `/good/${f}`]));
  });

  it('when every mirror fails, the error lists each', async () => {
    const cacheDir = await tempDir();
    await rejectsWith(
      loadDataset('mnist', { env: NO_ENV, cacheDir, mirrors: [base + 'missing/', base + 'corrupt/', base + 'missing/'] }),
      /could not download train-labels-idx1-ubyte\.gz/,
      /missing\/train-labels-idx1-ubyte\.gz: HTTP 404 Not Found; .*corrupt\/train-labels-idx1-ubyte\.gz: md5 mismatch.*; .*missing\/train-labels-idx1-ubyte\.gz: HTTP 404/,
    );
  });
});
