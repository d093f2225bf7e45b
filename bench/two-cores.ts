/**
 * Does this machine give two full cores right now? The mul+add peak loop (src/bench/peak.ts) runs
 * alone in one process, then in two processes at once, for SECONDS each (default 5), a few rounds
 * in turn. Registers only, no memory traffic: if two copies each run at the lone copy's rate, two
 * cores are there for arithmetic, and a decode that scales less loses it elsewhere (memory, barriers,
 * the host's other tenants on the shared caches).
 *
 *   node --import tsx bench/two-cores.ts [rounds] [seconds]
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { timeCalls, warmUp } from '../src/bench/measure.ts';
import { peakKernel } from '../src/bench/peak.ts';

/** GFLOP/s of the peak loop over `seconds`, after a short warm-up. */
async function rate(seconds: number): Promise<number> {
  const { run, flopsPerCall } = await peakKernel('mul-add', 16);
  await warmUp(run, 0, 20);
  const times = await timeCalls(run, { seconds });
  return (times.length * flopsPerCall) / (times.reduce((sum, ms) => sum + ms, 0) * 1e6);
}

/** The rate one child process measures (children, not worker threads: tsx loads this file in either). */
function inChild(seconds: number): Promise<number> {
  return new Promise((done, fail) => {
    execFile(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(seconds)], (err, stdout) => (err ? fail(err) : done(Number(stdout))));
  });
}

if (process.argv[2] === '--child') {
  console.log(await rate(Number(process.argv[3])));
} else {
  const rounds = Number(process.argv[2] ?? 3), seconds = Number(process.argv[3] ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0)) throw new Error('usage: bench/two-cores.ts [rounds >= 1] [seconds > 0]');
  for (let round = 1; round <= rounds; round++) {
    const alone = await inChild(seconds);
    const pair = await Promise.all([inChild(seconds), inChild(seconds)]);
    console.log(`round ${round}: alone ${alone.toFixed(1)} GFLOP/s; two at once ${pair.map((g) => g.toFixed(1)).join(' and ')} GFLOP/s (${((pair[0] + pair[1]) / alone).toFixed(2)}x)`);
  }
}
