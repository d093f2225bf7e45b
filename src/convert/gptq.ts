/**
 * Error-compensating int8 rounding (GPTQ: Frantar et al., 2022, "Accurate Post-Training Quantization
 * for Generative Pre-trained Transformers"). Rounding every weight to its nearest level (what
 * quantizeInt8PerChannel does) makes each weight's error as small as it can be, but not the layer's
 * output error: a weight rounded up can be made up for by its neighbours rounding down, where the
 * inputs they multiply are correlated. GPTQ rounds the weights of an output channel one at a time and
 * spreads each rounding error over the weights not yet rounded, weighted by the inverse of
 * H = sum over calibration inputs of x x^T, which is the least-squares optimal correction for the
 * output error on those inputs. The scales (max |w| / 127 per output channel) and the stored format
 * are the same as plain rounding: only which level each weight gets changes, so the runtime does not
 * know the difference.
 *
 * After an upsample, neighbouring input pixels are equal and a conv's taps strongly correlated; on the
 * PyTorch fixtures this halves the int8 output error of the TAESD-style decoders (docs/IMPORT.md).
 */

/** Relative damping added to H's diagonal (GPTQ's default): keeps H invertible when the calibration inputs do not span every direction. */
export const GPTQ_DAMPING = 0.01;

/**
 * Rounds `rows` weight rows that share one input statistics matrix. `weight(r, j)` and `set(r, j, q)`
 * address weight j of row r in the caller's layout; `h` is K x K, row-major, symmetric (it is modified:
 * not modified); `scales[r]` is row r's scale. Writes levels in [-127, 127].
 */
export function gptqRound(
  rows: number, K: number, h: Float64Array, scales: Float32Array,
  weight: (r: number, j: number) => number, set: (r: number, j: number, level: number) => void,
): void {
  // Inputs with the most energy first ("act-order"): their errors are the costliest, and rounding them
  // while many weights remain leaves the most room to compensate.
  const order = Array.from({ length: K }, (_, j) => j).sort((a, b) => h[b * K + b] - h[a * K + a] || a - b);
  const ordered = new Float64Array(K * K);
  for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) ordered[a * K + b] = h[order[a] * K + order[b]];
  const u = inverseFactor(ordered, K);
  const w = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < K; i++) w[i] = weight(r, order[i]);
    const scale = scales[r];
    for (let i = 0; i < K; i++) {
      const level = clampLevel(roundHalfAwayFromZero(w[i] / scale));
      set(r, order[i], level);
      // The error this weight leaves, spread over the weights after it (row i of U, scaled by U[i][i]).
      const e = (w[i] - level * scale) / u[i * K + i];
      for (let j = i + 1; j < K; j++) w[j] -= e * u[i * K + j];
    }
  }
}

/**
 * The upper-triangular U with (H + damping)^-1 = U^T U, which GPTQ reads row by row. Computed as the
 * inverse of R, the upper-triangular factor with H = R R^T (a Cholesky factorisation taken from the
 * last index down): then H^-1 = R^-T R^-1, and R^-1 is upper triangular. Columns H never saw (a zero
 * diagonal: an input that was always zero on the calibration data) get a unit diagonal, so their
 * weights round to nearest and spread nothing.
 */
export function inverseFactor(h: Float64Array, K: number): Float64Array {
  let mean = 0;
  for (let i = 0; i < K; i++) mean += h[i * K + i];
  mean /= K;
  const damp = GPTQ_DAMPING * (mean > 0 ? mean : 1);
  for (let i = 0; i < K; i++) {
    if (h[i * K + i] === 0) {
      for (let j = 0; j < K; j++) h[i * K + j] = h[j * K + i] = 0;
      h[i * K + i] = 1;
    }
    h[i * K + i] += damp;
  }
  // R upper, H = R R^T: for j from the last index down, R[j][j] and then column j above it.
  const r = new Float64Array(K * K);
  for (let j = K - 1; j >= 0; j--) {
    let d = h[j * K + j];
    for (let k = j + 1; k < K; k++) d -= r[j * K + k] * r[j * K + k];
    // Damping keeps d positive for any H that is a sum of x x^T; guard against rounding all the same.
    const rjj = Math.sqrt(Math.max(d, damp * 1e-6));
    r[j * K + j] = rjj;
    for (let i = 0; i < j; i++) {
      let s = h[i * K + j];
      for (let k = j + 1; k < K; k++) s -= r[i * K + k] * r[j * K + k];
      r[i * K + j] = s / rjj;
    }
  }
  // U = R^-1, upper triangular, by back substitution one column at a time.
  const u = new Float64Array(K * K);
  for (let c = K - 1; c >= 0; c--) {
    u[c * K + c] = 1 / r[c * K + c];
    for (let i = c - 1; i >= 0; i--) {
      let s = 0;
      for (let k = i + 1; k <= c; k++) s += r[i * K + k] * u[k * K + c];
      u[i * K + c] = -s / r[i * K + i];
    }
  }
  return u;
}

const clampLevel = (level: number) => Math.min(127, Math.max(-127, level));

/** Ties away from zero, as quantizeInt8PerChannel rounds, so that with H = I both give the same levels. */
const roundHalfAwayFromZero = (x: number) => Math.sign(x) * Math.round(Math.abs(x));
