/**
 * The comparisons issue 4's targets rest on, timed again in turns: every round calls each contender
 * of a match once (a turn), so a slow spell of the machine falls on all of them alike.
 *
 * Why: benny times one case after another, minutes apart. On a cloud VM whose core is shared with
 * another guest (the sibling hyperthread, hypervisor steal), the same code ran at 5 ms in one minute
 * and 9 ms in the next (int8 dense decoder, batch 64, 2026-11-22), so a ratio of two benny figures
 * could be off by a third. Medians over interleaved turns compare the contenders under the same
 * conditions; the report shows both.
 */
import { percentile, timeCalls, type DecodeCall } from '../src/bench/measure.ts';
import { OURS, PEERS, type TurnsCase } from './results.ts';

export interface TurnsMatch {
  model: string;
  batch: number;
  /** Seconds of turns after the warm-up. */
  seconds: number;
  contenders: string[];
}

/** The targets' comparisons. tfjs-wasm's conv decoder call takes seconds, so that match gets few rounds, but a figure in turns all the same. */
export const TURNS_MATCHES: TurnsMatch[] = [
  { model: 'denseDecoder', batch: 64, seconds: 40, contenders: [OURS.f32, OURS.f32Relaxed, OURS.int8, PEERS.tfjsWasm, PEERS.ortWeb, PEERS.ortWebInt8] },
  { model: 'denseDecoder', batch: 1, seconds: 20, contenders: [OURS.f32, OURS.int8, PEERS.tfjsWasm, PEERS.ortWeb] },
  { model: 'convVaeDecoder', batch: 64, seconds: 60, contenders: [OURS.f32, OURS.int8, PEERS.ortWeb, PEERS.tfjsWasm] },
];

/** A turn lasts about this long, so that fast calls (batch 1) are timed many at a time but each on its own. */
const TURN_MS = 5;
const WARM_UP_MS = 300;

export interface TurnPlayer {
  contender: string;
  run: DecodeCall;
}

/** Calls each player in turn for `seconds` (after a warm-up) and summarizes each one's call times. */
export async function playTurns(match: TurnsMatch, players: TurnPlayer[]): Promise<TurnsCase> {
  const callsPerTurn: number[] = [];
  for (const player of players) {
    const warmUp = await timeCalls(player.run, { seconds: WARM_UP_MS / 1000 });
    const spent = warmUp.reduce((sum, ms) => sum + ms, 0);
    callsPerTurn.push(Math.max(1, Math.round((TURN_MS * warmUp.length) / spent)));
  }
  const times: number[][] = players.map(() => []);
  const end = performance.now() + match.seconds * 1000;
  let rounds = 0;
  while (performance.now() < end || rounds < 3) {
    for (const [i, player] of players.entries()) times[i].push(...(await timeCalls(player.run, { seconds: 0, minCalls: callsPerTurn[i], maxCalls: callsPerTurn[i] })));
    rounds++;
  }
  return {
    model: match.model,
    batch: match.batch,
    rounds,
    contenders: players.map((player, i) => {
      const sorted = [...times[i]].sort((a, b) => a - b);
      return { contender: player.contender, callsPerTurn: callsPerTurn[i], calls: sorted.length, medianMs: percentile(sorted, 50), p10Ms: percentile(sorted, 10), p90Ms: percentile(sorted, 90) };
    }),
  };
}
