// One decode shared by several threads (src/runtime/threads.ts): every thread runs this loop over the
// same records in one shared memory, and they meet at a barrier after each record. A conv2d's output
// rows are split between the threads, each computing its own band of rows as a conv of its own over
// the input rows that band reads (the kernels compute each output pixel the same way whatever the
// tile around it, so the bytes are those of one thread; Winograd's tiles of two rows, conv-winograd.ts,
// compute a pixel by its place in the tile, so those bands start at even rows); every other record, a small share of the
// arithmetic, runs on thread 0 alone while the others wait at the barrier.
//
// Not split: transposed convs (their phases interleave output rows), and int8 convs, which quantize
// each sample with one scale taken over the whole input (conv-i8.ts): a band would take its own.
import { convGeneral } from './kernels/conv';
import { usesWinograd } from './kernels/conv-winograd';
import { WEIGHTS_I8 } from './kernels/dense';
import { runOne, slot, word } from './executor';
import { ConvPacking, ConvRec, Field, Op, RECORD_WORDS, Status, ThreadSync } from '../src/runtime/abi';

/** Output rows per thread below which a conv runs on thread 0 alone: a band must pay for its barrier. */
const MIN_BAND_ROWS: i32 = 4;

/**
 * Thread `thread` of `threads` runs `count` records for `batch` samples, each thread with its own
 * scratch (`scratch + thread * scratchStride`); `sync` is the block of ThreadSync words, zeroed
 * before the first call. Returns Status.Ok, or the first failure this thread met; either is also
 * stored in its Status word, and a failure's record index in FailedRecord, before the barrier.
 */
export function runShare(
  plan: usize, count: i32, batch: i32, slots: usize, labels: usize, scratch: usize, scratchStride: usize,
  thread: i32, threads: i32, sync: usize,
): i32 {
  const own = scratch + <usize>thread * scratchStride;
  const statusWord = sync + (<usize>(ThreadSync.Status + thread) << 2);
  atomic.store<i32>(statusWord, Status.Ok);
  let result = Status.Ok;
  for (let i = 0; i < count; i++) {
    const r = plan + (<usize>(i * RECORD_WORDS) << 2);
    let status = Status.Ok;
    if (splits(r, threads)) status = convBand(r, batch, slots, own, thread, threads) ? Status.Ok : Status.BadWeights;
    else if (thread == 0) status = runOne(r, batch, slots, labels, own);
    if (status != Status.Ok && result == Status.Ok) {
      result = status;
      // Before the barrier, so that the host reads both once thread 0 is past the last one.
      recordFailure(sync, statusWord, status, i);
    }
    if (!barrier(sync, threads)) {
      recordFailure(sync, statusWord, Status.ThreadFailed, i);
      return Status.ThreadFailed;
    }
  }
  return result;
}

/** Stores a thread's failing status, and the record it failed at, where the host reads them. */
function recordFailure(sync: usize, statusWord: usize, status: i32, record: i32): void {
  atomic.store<i32>(statusWord, status);
  atomic.store<i32>(sync + (<usize>ThreadSync.FailedRecord << 2), record);
}

function splits(r: usize, threads: i32): bool {
  return threads > 1 && word(r, Field.Op) == Op.Conv && word(r, ConvRec.Transposed) == 0
    && word(r, ConvRec.Weights) != WEIGHTS_I8 && word(r, ConvRec.OH) >= MIN_BAND_ROWS * threads;
}

/**
 * This thread's band of a conv2d's output rows, sample by sample: rows [OH*t/T, OH*(t+1)/T), each
 * bound rounded down to a whole tile of rows where the conv runs by Winograd tiles (the last band
 * ends at OH).
 */
function convBand(r: usize, batch: i32, slots: usize, scratch: usize, thread: i32, threads: i32): bool {
  const H = word(r, ConvRec.H), W = word(r, ConvRec.W), C = word(r, ConvRec.C);
  const OH = word(r, ConvRec.OH), OW = word(r, ConvRec.OW), OC = word(r, ConvRec.OC);
  const kh = word(r, ConvRec.KH), sh = word(r, ConvRec.SH), dh = word(r, ConvRec.DilationH), padTop = word(r, ConvRec.PadTop);
  const tileRows = bandTileRows(r, C, OC, kh, sh, dh);
  const first = bandStart(OH, thread, threads, tileRows), end = bandStart(OH, thread + 1, threads, tileRows);
  // The input rows the band reads: from its first row's first tap to its last row's last tap, within the input.
  const top = first * sh - padTop;
  const inFirst = max(0, top);
  const inEnd = min(H, (end - 1) * sh - padTop + (kh - 1) * dh + 1);
  if (end <= first || inEnd <= inFirst) return true;
  const x = slot(slots, r, Field.In0);
  const y = slot(slots, r, Field.Out);
  const inSample = <usize>H * W * C << 2, outSample = <usize>OH * OW * OC << 2;
  for (let n = 0; n < batch; n++) {
    const ok = convGeneral(
      word(r, ConvRec.Weights), x + <usize>n * inSample + (<usize>inFirst * W * C << 2), y + <usize>n * outSample + (<usize>first * OW * OC << 2), 1,
      inEnd - inFirst, W, C, end - first, OW, OC,
      kh, word(r, ConvRec.KW), sh, word(r, ConvRec.SW), inFirst - top, word(r, ConvRec.PadLeft),
      false, dh, word(r, ConvRec.DilationW), word(r, ConvRec.Groups),
      <usize>word(r, ConvRec.Kernel), <usize>word(r, ConvRec.Bias), <usize>word(r, ConvRec.Scale), scratch,
      word(r, Field.Act), reinterpret<f32>(word(r, Field.Alpha)), word(r, ConvRec.Packing),
    );
    if (!ok) return false;
  }
  return true;
}

/** Where band t of `threads` starts: OH*t/T rounded down to a multiple of tileRows, and OH for t = T. */
function bandStart(OH: i32, t: i32, threads: i32, tileRows: i32): i32 {
  if (t >= threads) return OH;
  const row = <i32>(<i64>OH * t / threads);
  return row - row % tileRows;
}

/** Rows of the tiles the conv's kernel computes together: 2 for Winograd's, 1 otherwise. */
function bandTileRows(r: usize, C: i32, OC: i32, kh: i32, sh: i32, dh: i32): i32 {
  const winograd = word(r, ConvRec.Packing) == ConvPacking.ByGeometry && usesWinograd(
    word(r, ConvRec.Weights), C, OC, kh, word(r, ConvRec.KW), sh, word(r, ConvRec.SW), dh, word(r, ConvRec.DilationW), word(r, ConvRec.Groups), false,
  );
  return winograd ? 2 : 1;
}

/**
 * Waits until all `threads` threads have arrived; false if instead a thread trapped (the Broken word,
 * which its host sets before waking everyone). The last to arrive resets the count and moves the
 * generation on, waking the rest; a waiter spins briefly first (most bands end close together, and a
 * futex wake costs tens of microseconds).
 */
function barrier(sync: usize, threads: i32): bool {
  if (threads == 1) return true;
  const arrived = sync + (<usize>ThreadSync.Arrived << 2);
  const generation = sync + (<usize>ThreadSync.Generation << 2);
  const broken = sync + (<usize>ThreadSync.Broken << 2);
  const seen = atomic.load<i32>(generation);
  if (atomic.add<i32>(arrived, 1) == threads - 1) {
    atomic.store<i32>(arrived, 0);
    atomic.add<i32>(generation, 1);
    atomic.notify(generation, threads);
    return atomic.load<i32>(broken) == 0;
  }
  for (let spin = 0; spin < SPINS && atomic.load<i32>(generation) == seen; spin++);
  while (atomic.load<i32>(generation) == seen) atomic.wait<i32>(generation, seen, -1);
  return atomic.load<i32>(broken) == 0;
}

const SPINS: i32 = 20000;
