// Runs a validated graph plan over a batch: one record per op (src/runtime/abi.ts), in topological
// order, each naming the slots it reads and writes. The host lays the slots out for the batch and
// passes their addresses in a table; one scratch area (im2col tiles, quantized rows, a widened f16
// panel), sized by the host for the hungriest op, is shared. Nothing is allocated while decoding.
import { activate } from './kernels/activation-extra';
import { channelAffine } from './kernels/affine';
import { binary } from './kernels/binary';
import { concatChannels, concatLabel } from './kernels/concat';
import { gatherSamples } from './kernels/gather';
import { convGeneral } from './kernels/conv';
import { dense } from './kernels/dense';
import { depthToSpace } from './kernels/depth-to-space';
import { groupNorm, layerNormChannels } from './kernels/norm';
import { resizeBilinear, resizeNearest } from './kernels/resize';
import {
  ActivationRec, AffineRec, BinaryRec, ConcatChannelsRec, ConcatLabelRec, ConvRec, DenseRec, DepthToSpaceRec, Field, GatherRec, NormKind, NormRec, Op,
  RECORD_WORDS, ResizeRec, Status,
} from '../src/runtime/abi';

/** The record that failed in the last `run`, for the host's message. */
let failedAt: i32 = -1;

export function failedRecord(): i32 {
  return failedAt;
}

// @ts-ignore: decorator
@inline
export function word(record: usize, i: i32): i32 {
  return load<i32>(record + (<usize>i << 2));
}

/** The address of the slot a record word names, for this batch. */
// @ts-ignore: decorator
@inline
export function slot(slots: usize, record: usize, field: i32): usize {
  return <usize>load<u32>(slots + (<usize>word(record, field) << 2));
}

/**
 * Executes `count` records for `batch` samples. `slots` holds one u32 address per slot, `labels` the
 * batch's class labels. Returns Status.Ok, or a negative status with failedRecord() naming the op
 * (counted from `plan`). A decode passes all the records at once; the per-node profile
 * (Decoder.profile) passes one record at a time, `plan` pointing at it, and times each from the host.
 */
export function run(plan: usize, count: i32, batch: i32, slots: usize, labels: usize, scratch: usize): i32 {
  failedAt = -1;
  for (let i = 0; i < count; i++) {
    const r = plan + (<usize>(i * RECORD_WORDS) << 2);
    const status = runOne(r, batch, slots, labels, scratch);
    if (status != Status.Ok) {
      failedAt = i;
      return status;
    }
  }
  return Status.Ok;
}

export function runOne(r: usize, batch: i32, slots: usize, labels: usize, scratch: usize): i32 {
  const op = word(r, Field.Op);
  const act = word(r, Field.Act);
  const alpha = reinterpret<f32>(word(r, Field.Alpha));
  const x = slot(slots, r, Field.In0);
  const y = slot(slots, r, Field.Out);
  const beta = reinterpret<f32>(word(r, Field.Beta));
  if (op == Op.Activation) {
    activate(x, y, batch * word(r, ActivationRec.Size), act, alpha, beta);
    return Status.Ok;
  }
  if (op == Op.Binary) {
    runBinary(x, slots, y, batch, r, act, alpha, beta);
    return Status.Ok;
  }
  if (op == Op.Dense) {
    const rows = batch * word(r, DenseRec.Rows);
    const ok = dense(
      word(r, DenseRec.Weights), x, y, rows, word(r, DenseRec.K), word(r, DenseRec.N),
      word(r, DenseRec.Kernel), word(r, DenseRec.Bias), word(r, DenseRec.Scale), scratch, act, alpha,
    );
    return ok ? Status.Ok : Status.BadWeights;
  }
  if (op == Op.Conv) return runConv(x, y, batch, r, scratch, act, alpha) ? Status.Ok : Status.BadWeights;
  if (op == Op.ConcatLabel) {
    const ok = concatLabel(x, y, batch, word(r, ConcatLabelRec.Size), labels, word(r, ConcatLabelRec.Classes), word(r, ConcatLabelRec.LabelFirst) != 0);
    return ok ? Status.Ok : Status.BadLabel;
  }
  if (op == Op.Resize) {
    runResize(x, y, batch, r);
    return Status.Ok;
  }
  if (op == Op.Norm) {
    runNorm(x, y, batch, r, scratch, act, alpha);
    return Status.Ok;
  }
  if (op == Op.Affine) {
    const rows = batch * word(r, AffineRec.Rows);
    channelAffine(x, y, rows, word(r, AffineRec.C), <usize>word(r, AffineRec.ScaleVector), <usize>word(r, AffineRec.ShiftVector), act, alpha, beta);
    return Status.Ok;
  }
  if (op == Op.ConcatChannels) {
    concatChannels(x, slot(slots, r, Field.In1), y, batch * word(r, ConcatChannelsRec.Pixels), word(r, ConcatChannelsRec.CA), word(r, ConcatChannelsRec.CB));
    return Status.Ok;
  }
  if (op == Op.Gather) {
    gatherSamples(x, y, batch, word(r, GatherRec.InSize), word(r, GatherRec.Size), <usize>word(r, GatherRec.Table));
    return Status.Ok;
  }
  if (op == Op.DepthToSpace) {
    depthToSpace(x, y, batch, word(r, DepthToSpaceRec.H), word(r, DepthToSpaceRec.W), word(r, DepthToSpaceRec.C), word(r, DepthToSpaceRec.Block), word(r, DepthToSpaceRec.Mode));
    return Status.Ok;
  }
  return Status.BadOpcode;
}

/** a op b, b a second value (per sample) or a constant laid out at load time. */
function runBinary(a: usize, slots: usize, y: usize, batch: i32, r: usize, act: i32, alpha: f32, beta: f32): void {
  const constant = <usize>word(r, BinaryRec.Constant);
  const b = constant != 0 ? constant : slot(slots, r, Field.In1);
  binary(
    word(r, BinaryRec.BinaryOp), a, b, y, batch * word(r, BinaryRec.OuterPerSample), word(r, BinaryRec.Mid), word(r, BinaryRec.Inner),
    word(r, BinaryRec.BOuterStride), word(r, BinaryRec.BInnerStride), word(r, BinaryRec.Reversed) != 0, act, alpha, beta,
  );
}

function runResize(x: usize, y: usize, batch: i32, r: usize): void {
  const H = word(r, ResizeRec.H), W = word(r, ResizeRec.W), C = word(r, ResizeRec.C), OH = word(r, ResizeRec.OH), OW = word(r, ResizeRec.OW);
  const rows = <usize>word(r, ResizeRec.RowTable), columns = <usize>word(r, ResizeRec.ColumnTable);
  if (word(r, ResizeRec.Linear)) resizeBilinear(x, y, batch, H, W, C, OH, OW, rows, columns);
  else resizeNearest(x, y, batch, H, W, C, OH, OW, rows, columns);
}

function runNorm(x: usize, y: usize, batch: i32, r: usize, scratch: usize, act: i32, alpha: f32): void {
  const pixels = word(r, NormRec.Pixels), C = word(r, NormRec.C), epsilon = reinterpret<f32>(word(r, NormRec.Epsilon));
  const gamma = <usize>word(r, NormRec.Gamma), beta = <usize>word(r, NormRec.BetaVector);
  if (word(r, NormRec.Kind) == NormKind.Layer) layerNormChannels(x, y, batch * pixels, C, epsilon, gamma, beta, act, alpha);
  else groupNorm(x, y, batch, pixels, C, word(r, NormRec.Groups), epsilon, gamma, beta, act, alpha, scratch);
}

function runConv(x: usize, y: usize, batch: i32, r: usize, scratch: usize, act: i32, alpha: f32): bool {
  return convGeneral(
    word(r, ConvRec.Weights), x, y, batch,
    word(r, ConvRec.H), word(r, ConvRec.W), word(r, ConvRec.C), word(r, ConvRec.OH), word(r, ConvRec.OW), word(r, ConvRec.OC),
    word(r, ConvRec.KH), word(r, ConvRec.KW), word(r, ConvRec.SH), word(r, ConvRec.SW), word(r, ConvRec.PadTop), word(r, ConvRec.PadLeft),
    word(r, ConvRec.Transposed) != 0, word(r, ConvRec.DilationH), word(r, ConvRec.DilationW), word(r, ConvRec.Groups),
    <usize>word(r, ConvRec.Kernel), <usize>word(r, ConvRec.Bias), <usize>word(r, ConvRec.Scale), scratch, act, alpha,
    word(r, ConvRec.Packing),
  );
}
