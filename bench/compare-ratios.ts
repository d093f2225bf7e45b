/**
 * Our speed ratios over the wasm peers in two results files of `npm run bench` (bench/decode.ts), side
 * by side: whether a later run holds the ratios an earlier one showed (issue 23: "the seed decoders'
 * ratios no worse than docs/BENCHMARKS.md shows today"). Ratios, not samples/s, because the two runs
 * met different loads on a shared host; each ratio is taken within its own run.
 *
 *   node --import tsx bench/compare-ratios.ts bench/results/2026-11-22-vm.json bench/results/NEW.json [--out FILE.md]
 *
 * For every model both files hold, each of our contenders (builds and dtypes) and each batch: ours over
 * tfjs-backend-wasm f32 and over onnxruntime-web f32 (benny's samples/s), before and after, and the
 * change. Prints a markdown table, with the cases where the later ratio is lower by more than `--margin`
 * (default 15%, about twice benny's median margin on this host) listed after it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { PEER_SHORT } from './report.ts';
import { PEERS, type BenchResults } from './results.ts';

type Results = Pick<BenchResults, 'date' | 'throughput'>;

const COMPARED = [PEERS.tfjsWasm, PEERS.ortWeb];

const program = new Command('bench/compare-ratios.ts')
  .argument('<before.json>', 'the earlier results file')
  .argument('<after.json>', 'the later one')
  .option('--out <file>', 'also write the table to this markdown file')
  .option('--margin <fraction>', 'a drop larger than this is listed', (value) => {
    const margin = Number(value);
    if (!(margin >= 0 && margin < 1)) throw new Error(`--margin must be in [0, 1), got ${value}`);
    return margin;
  }, 0.15)
  .parse();
const [beforePath, afterPath] = program.processedArgs as [string, string];
const { out, margin } = program.opts<{ out?: string; margin: number }>();

function read(path: string): Results {
  const results = JSON.parse(readFileSync(path, 'utf8')) as Results;
  if (!Array.isArray(results.throughput)) throw new Error(`${path} holds no throughput list: not a results file of npm run bench`);
  return results;
}

const before = read(beforePath), after = read(afterPath);
const rate = (results: Results, model: string, contender: string, batch: number) =>
  results.throughput.find((t) => t.model === model && t.contender === contender && t.batch === batch)?.samplesPerSecond;
const ratio = (results: Results, model: string, contender: string, peer: string, batch: number) => {
  const ours = rate(results, model, contender, batch), theirs = rate(results, model, peer, batch);
  return ours && theirs ? ours / theirs : undefined;
};

const models = [...new Set(before.throughput.map((t) => t.model))].filter((m) => after.throughput.some((t) => t.model === m));
const ours = [...new Set(after.throughput.map((t) => t.contender))].filter((c) => c.startsWith('edgevae '));
const batches = [...new Set(after.throughput.map((t) => t.batch))].sort((a, b) => a - b);
const format = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}x`);

const lines = [
  `Ratios of our samples/s over each peer's, ${before.date.slice(0, 10)} → ${after.date.slice(0, 10)} (before → after, each within its own run).`,
  '',
  `| model | ours | batch | ${COMPARED.map((p) => `${PEER_SHORT[p]} before → after`).join(' | ')} |`,
  `|---|---|---:|${COMPARED.map(() => '---:').join('|')}|`,
];
const drops: string[] = [];
for (const model of models) {
  for (const contender of ours) {
    for (const batch of batches) {
      const cells = COMPARED.map((peer) => {
        const was = ratio(before, model, contender, peer, batch), now = ratio(after, model, contender, peer, batch);
        if (was !== undefined && now !== undefined && now < was * (1 - margin)) drops.push(`${model}, ${contender}, batch ${batch}: ${format(was)} → ${format(now)} against ${PEER_SHORT[peer]}`);
        return `${format(was)} → ${format(now)}`;
      });
      if (cells.every((c) => c === '– → –')) continue;
      lines.push(`| ${model} | ${contender.replace('edgevae ', '')} | ${batch} | ${cells.join(' | ')} |`);
    }
  }
}
lines.push('', drops.length ? `Lower by more than ${Math.round(margin * 100)}%:` : `No ratio lower by more than ${Math.round(margin * 100)}%.`, ...drops.map((d) => `- ${d}`));
const text = lines.join('\n') + '\n';
process.stdout.write(text);
if (out) writeFileSync(out, text);
