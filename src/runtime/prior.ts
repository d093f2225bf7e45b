/**
 * Draws from a model's mixture prior (docs/FORMAT.md, meta.prior), given the standard normal and
 * uniform draws the wasm module made for the same samples. Plain arithmetic in f64 (no Math
 * functions, whose last bits differ between engines), so a seed gives the same latents everywhere.
 */
import { triangleSize, type MixturePrior } from '../format/spec.ts';

/** A prior in the flat form the sampler reads. */
export interface MixtureTables {
  components: number;
  latentSize: number;
  /** Running sums of the weights; the last is forced to 1 so every uniform draw finds a component. */
  cumulative: Float64Array;
  means: Float64Array;
  /** Packed lower triangles, one after another. */
  factors: Float64Array;
}

export function mixtureTables(prior: MixturePrior, latentSize: number): MixtureTables {
  const components = prior.weights.length;
  const cumulative = new Float64Array(components);
  let sum = 0;
  prior.weights.forEach((w, k) => (cumulative[k] = sum += w));
  cumulative[components - 1] = 1;
  return {
    components,
    latentSize,
    cumulative,
    means: Float64Array.from(prior.means.flat()),
    factors: Float64Array.from(prior.choleskyFactors.flat()),
  };
}

/** The component a uniform draw in [0, 1) picks: the first whose running weight exceeds it. */
function componentOf(tables: MixtureTables, uniform: number): number {
  let k = 0;
  while (k < tables.components - 1 && uniform >= tables.cumulative[k]) k++;
  return k;
}

/**
 * Turns rows of N(0, stddev^2) draws into mixture draws, in place: row i becomes
 * mean_k + L_k eps_i for the component k that uniforms[i] picks. (stddev scales the spread within
 * each component; 0 gives the components' means.)
 */
export function drawFromMixture(tables: MixtureTables, eps: Float32Array, uniforms: Float64Array, rows: number): void {
  const n = tables.latentSize;
  const triangle = triangleSize(n);
  const noise = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const k = componentOf(tables, uniforms[r]);
    const row = r * n;
    for (let j = 0; j < n; j++) noise[j] = eps[row + j];
    const mean = k * n;
    let factor = k * triangle;
    for (let i = 0; i < n; i++) {
      let value = tables.means[mean + i];
      for (let j = 0; j <= i; j++) value += tables.factors[factor++] * noise[j];
      eps[row + i] = value;
    }
  }
}
