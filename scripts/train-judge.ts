/**
 * Trains the judge (an MNIST digit classifier used to score conditionally generated digits), checks it
 * on the 10k MNIST test images with edgevae's own wasm runtime, and writes it as an f16 edgevae model
 * plus a JSON sidecar ({accuracy, command, epochs, date, ...}) beside it.
 *
 *   node --import tsx scripts/train-judge.ts --data DIR --out test/fixtures/judge.evae [--epochs N]
 *     [--backend auto|node-gpu|node|edgevae|wasm|cpu] [--hidden 256,256] [--conv 32,64] [--dropout 0.2] [--batch 128]
 *     [--lr 1e-3] [--final-lr 1e-5] [--shift 1] [--seed 1] [--train-limit N] [--min-accuracy 0.985]
 *
 * --data is a folder with MNIST's four IDX files (.gz or not). The file is written only if the
 * runtime's test accuracy reaches --min-accuracy (default 0.985); otherwise the script exits 1.
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/datasets.ts';
import { Decoder } from '../src/index.ts';
import { writeAtomic } from '../src/node/files.ts';
import { selectBackend, type BackendChoice } from '../src/train/backend.ts';
import { accuracy, classify, describeJudge, exportJudge, trainJudge } from '../src/train/judge.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    epochs: { type: 'string', default: '20' },
    backend: { type: 'string', default: 'auto' },
    hidden: { type: 'string', default: '256,256' },
    conv: { type: 'string', default: '' },
    dropout: { type: 'string', default: '0.2' },
    batch: { type: 'string', default: '128' },
    lr: { type: 'string', default: '1e-3' },
    'final-lr': { type: 'string', default: '1e-5' },
    shift: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    'train-limit': { type: 'string' },
    'min-accuracy': { type: 'string', default: '0.985' },
  },
});
if (!values.data || !values.out) {
  console.error('usage: node --import tsx scripts/train-judge.ts --data DIR --out FILE.evae [--epochs N] [--backend auto] [--hidden 256,256] ...');
  process.exit(2);
}
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const number = (name: keyof typeof values) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v)) throw new Error(`--${name} must be a number, got ${values[name]}`);
  return v;
};

const started = performance.now();
const { description } = await selectBackend(values.backend as BackendChoice, log);
const data = await loadDataset('mnist', { dir: values.data, download: false, log });
let train = data.train;
if (values['train-limit']) {
  const n = Math.min(train.count, number('train-limit'));
  const pixels = train.rows * train.cols;
  train = { ...train, count: n, images: train.images.subarray(0, n * pixels), labels: train.labels.subarray(0, n) };
}
log(`data: ${train.count} training and ${data.test.count} test images from ${data.source}`);

const epochs = number('epochs');
const hidden = values.hidden.split(',').map(Number);
const conv = values.conv ? values.conv.split(',').map(Number) : [];
const { model, history } = await trainJudge({
  train,
  test: data.test,
  epochs,
  hidden,
  conv,
  dropout: number('dropout'),
  batchSize: number('batch'),
  learningRate: number('lr'),
  finalLearningRate: number('final-lr'),
  shift: number('shift'),
  seed: number('seed'),
  log,
});
const trainSeconds = history.reduce((s, e) => s + e.seconds, 0);

// The accuracy that counts is our runtime's, on the exported f16 file.
const provisional = exportJudge(model, 0);
const evalStarted = performance.now();
const decoder = await Decoder.load(provisional);
const { labels } = classify(decoder, data.test.images);
const testAccuracy = accuracy(labels, data.test.labels);
const evalSeconds = (performance.now() - evalStarted) / 1000;
const tfAccuracy = history.at(-1)?.testAccuracy ?? NaN;
log(`runtime (f16) test accuracy ${(testAccuracy * 100).toFixed(2)}% on ${data.test.count} images in ${evalSeconds.toFixed(1)}s; TensorFlow.js (f32) ${(tfAccuracy * 100).toFixed(2)}%`);

const bytes = exportJudge(model, testAccuracy);
const minAccuracy = number('min-accuracy');
if (testAccuracy < minAccuracy) {
  log(`not written: accuracy ${(testAccuracy * 100).toFixed(2)}% is below --min-accuracy ${(minAccuracy * 100).toFixed(2)}%`);
  process.exit(1);
}
await mkdir(dirname(values.out), { recursive: true });
await writeAtomic(values.out, bytes);
const sidecar = join(dirname(values.out), `${basename(values.out, extname(values.out))}.json`);
// Node's own flags that change what runs (the relaxed-SIMD build), then the script's arguments.
const nodeFlags = process.execArgv.filter((flag) => flag === '--experimental-wasm-relaxed-simd');
const command = ['node', ...nodeFlags, '--import', 'tsx', 'scripts/train-judge.ts', ...process.argv.slice(2)].join(' ');
const record = {
  accuracy: testAccuracy,
  command,
  epochs,
  date: new Date().toISOString(),
  tfjsAccuracy: tfAccuracy,
  architecture: describeJudge(train.rows * train.cols, hidden, conv),
  parameters: model.countParams(),
  dtype: 'f16',
  bytes: bytes.length,
  backend: description,
  trainSeconds: Math.round(trainSeconds),
  secondsPerEpoch: Math.round(trainSeconds / Math.max(1, history.length)),
  history: history.map((e) => ({ epoch: e.epoch, loss: +e.loss.toFixed(5), testAccuracy: e.testAccuracy, seconds: +e.seconds.toFixed(1) })),
};
await writeAtomic(sidecar, new TextEncoder().encode(JSON.stringify(record, null, 2) + '\n'));
log(`wrote ${values.out} (${bytes.length} bytes) and ${sidecar}; accuracy ${(testAccuracy * 100).toFixed(2)}%; total ${((performance.now() - started) / 1000).toFixed(0)}s`);
