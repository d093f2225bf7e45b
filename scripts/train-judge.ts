/**
 * Trains the judge (an MNIST digit classifier used to score conditionally generated digits), checks it
 * on the 10k MNIST test images with edgevae's own wasm runtime, and writes it as an f16 edgevae model
 * plus a JSON sidecar ({accuracy, command, epochs, date, ...}) beside it.
 *
 *   node --import tsx scripts/train-judge.ts --data DIR --out packages/models/judge/mnist.evae [--epochs N]
 *     [--backend auto|node-gpu|node|edgevae|wasm|cpu] [--hidden 256,256] [--conv 32,64] [--dropout 0.2] [--batch 128]
 *     [--lr 1e-3] [--final-lr 1e-5] [--shift 1] [--seed 1] [--train-limit N] [--min-accuracy 0.985]
 *
 * --data is a folder with MNIST's four IDX files (.gz or not). The file is written only if the
 * runtime's test accuracy reaches --min-accuracy (default 0.985); otherwise the script exits 1.
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { Command, Option } from 'commander';
import { loadDataset } from '../src/data/datasets.ts';
import { Decoder } from '../src/index.ts';
import { writeAtomic } from '../src/node/files.ts';
import { BACKEND_CHOICES, selectBackend, type BackendChoice } from '../src/train/backend.ts';
import { fraction, integer, list, positive } from '../src/cli/options.ts';
import { accuracy, describeJudge, exportJudge, trainJudge } from '../src/train/judge.ts';
import { classify } from '../src/train/classify.ts';

const values = new Command('node --import tsx scripts/train-judge.ts')
  .description("trains the judge (an MNIST classifier), checks it with edgevae's runtime and writes it as an f16 model")
  .requiredOption('--data <dir>', "folder with MNIST's four IDX files")
  .requiredOption('--out <file>', 'the model to write (FILE.evae, with FILE.json beside it)')
  .option('--epochs <n>', 'epochs', integer(1, 10_000), 20)
  .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKEND_CHOICES).default('auto'))
  .option('--hidden <units>', 'dense hidden layers (comma-separated)', list(integer(1, 100_000)), [256, 256])
  .option('--conv <filters>', 'conv layers before them (comma-separated)', list(integer(1, 10_000)), [] as number[])
  .option('--dropout <p>', 'dropout rate', fraction(), 0.2)
  .option('--batch <n>', 'batch size', integer(1, 60_000), 128)
  .option('--lr <rate>', 'learning rate', positive, 1e-3)
  .option('--final-lr <rate>', 'learning rate at the end of the cosine decay', positive, 1e-5)
  .option('--shift <pixels>', 'random shifts of the training images, up to this many pixels', integer(0, 27), 1)
  .option('--seed <n>', 'seed', integer(0, 2 ** 31 - 1), 1)
  .option('--train-limit <n>', 'train on the first n training images only', integer(1, 60_000))
  .option('--min-accuracy <share>', 'write the model only from this test accuracy (0..1)', fraction(true), 0.985)
  .parse()
  .opts<{
    data: string; out: string; epochs: number; backend: BackendChoice; hidden: number[]; conv: number[]; dropout: number; batch: number;
    lr: number; finalLr: number; shift: number; seed: number; trainLimit?: number; minAccuracy: number;
  }>();
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

const started = performance.now();
const { description } = await selectBackend(values.backend, log);
const data = await loadDataset('mnist', { dir: values.data, download: false, log });
let train = data.train;
if (values.trainLimit) {
  const n = Math.min(train.count, values.trainLimit);
  const pixels = train.rows * train.cols;
  train = { ...train, count: n, images: train.images.subarray(0, n * pixels), labels: train.labels.subarray(0, n) };
}
log(`data: ${train.count} training and ${data.test.count} test images from ${data.source}`);

const { epochs, hidden, conv } = values;
const { model, history } = await trainJudge({
  train,
  test: data.test,
  epochs,
  hidden,
  conv,
  dropout: values.dropout,
  batchSize: values.batch,
  learningRate: values.lr,
  finalLearningRate: values.finalLr,
  shift: values.shift,
  seed: values.seed,
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
const { minAccuracy } = values;
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
