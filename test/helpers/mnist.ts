/**
 * Where the tests find MNIST: $EDGEVAE_MNIST_DIR (CI sets it), else the shared data folder beside the
 * clone, the one place a test names it. The tests that read it skip, saying how to provide it, where
 * the four IDX files are not there, rather than fail.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MNIST_DIR = process.env.EDGEVAE_MNIST_DIR || join(fileURLToPath(new URL('../../..', import.meta.url)), 'shared', 'data', 'mnist');

/** The four files, each as it may be stored (gzip-compressed, as published, or raw). */
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const hasGz = (file: string) => existsSync(join(MNIST_DIR, `${file}.gz`));
const present = (gzOnly: boolean) => FILES.every((file) => hasGz(file) || (!gzOnly && existsSync(join(MNIST_DIR, file))));

const HOW = "set EDGEVAE_MNIST_DIR to a folder holding MNIST's four IDX files as published (train-images-idx3-ubyte.gz and the other three; `npx edgevae train` downloads them into ~/.cache/edgevae/mnist)";

/** A test's `skip` option: false where MNIST is there, else the reason and the fix. */
export const MNIST_SKIP: string | false = present(false) ? false : `no MNIST files in ${MNIST_DIR}: ${HOW}`;

/** As MNIST_SKIP, for tests that read the published .gz files themselves (md5s, a download server). */
export const MNIST_GZ_SKIP: string | false = present(true) ? false : `no MNIST .gz files in ${MNIST_DIR}: ${HOW}`;
