/**
 * Adam (Kingma & Ba), written out so its whole state is explicit: the step count and the two moment
 * estimates per variable. tfjs's own Adam keeps running products of beta^t whose rounding a restore
 * cannot reproduce; here the bias correction is computed from t each step, so a resumed run updates
 * its weights bit for bit as an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE_KERNEL } from './edgevae-backend.ts';

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * One optimizer update shared with the other replicas of a data-parallel run (replica-sync.ts):
 * each replica contributes its gradients and applies Adam to its own slice of the parameters; on
 * return every replica's variables hold the same updated weights.
 */
export interface ShardedUpdate {
  /** One update with `stepSize` (Adam's bias-corrected rate, from the already incremented `t`). */
  update(optimizer: Adam, grads: (tf.Tensor | undefined)[], stepSize: number): void;
}

export class Adam {
  readonly learningRate: number;
  /** The run's learning-rate schedule multiplies `learningRate` by this each step (schedule.ts). */
  learningRateScale = 1;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Updates applied so far. */
  t = 0;
  /**
   * Set while this optimizer is one replica's of a data-parallel run; undefined otherwise. While
   * set, the moments live in the shared memory, not in stateTensors() (ReplicaSync.collectMoments).
   */
  sharded: ShardedUpdate | undefined;
  private readonly moments: { m: tf.Variable; v: tf.Variable }[];

  constructor(
    readonly variables: tf.Variable[],
    options: AdamOptions,
  ) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7; // Keras' default
    // Inside tidy: the zero tensors the variables start from are freed, the variables are kept.
    this.moments = tf.tidy(() => variables.map((v) => ({ m: tf.variable(tf.zerosLike(v), false), v: tf.variable(tf.zerosLike(v), false) })));
  }

  /**
   * Computes the gradients of `loss` with respect to this optimizer's variables and applies one
   * update. Returns the loss value and any extra scalars `loss` reports.
   */
  minimize(loss: () => tf.Scalar): number {
    const { value, grads } = tf.variableGrads(loss, this.variables);
    try {
      const own = this.variables.map((v) => grads[v.name]);
      if (this.sharded) this.sharded.update(this, own, this.nextStepSize());
      else this.apply(own);
      return value.dataSync()[0];
    } finally {
      tf.dispose([value, grads]);
    }
  }

  apply(grads: (tf.Tensor | undefined)[]): void {
    const stepSize = this.nextStepSize();
    // The edgevae backend does the whole step in one pass, with the same f32 operations (same bits).
    const fused = tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend()) !== undefined;
    tf.tidy(() => {
      this.variables.forEach((variable, i) => {
        const g = grads[i];
        if (!g) return; // a variable the loss does not reach
        const { m, v } = this.moments[i];
        const [w1, m1, v1] = fused ? this.fusedStep(variable, g, m, v, stepSize) : this.step(variable, g, m, v, stepSize);
        m.assign(m1);
        v.assign(v1);
        variable.assign(w1);
      });
    });
  }

  /** Counts one more update and returns its step size: the rate, scheduled, with Adam's bias correction for `t`. */
  private nextStepSize(): number {
    this.t++;
    const correction = Math.sqrt(1 - this.beta2 ** this.t) / (1 - this.beta1 ** this.t);
    return this.learningRate * this.learningRateScale * correction;
  }

  /** One variable's new weights and moments, op by op. */
  private step(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, stepSize: number): tf.Tensor[] {
    const m1 = m.mul(this.beta1).add(g.mul(1 - this.beta1));
    const v1 = v.mul(this.beta2).add(g.square().mul(1 - this.beta2));
    return [w.sub(m1.mul(stepSize).div(v1.sqrt().add(this.epsilon))), m1, v1];
  }

  /** The same, in one kernel (ADAM_UPDATE_KERNEL). */
  private fusedStep(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, stepSize: number): tf.Tensor[] {
    const attrs = { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, stepSize };
    return tf.engine().runKernel(ADAM_UPDATE_KERNEL, { variable: w, gradient: g, m, v }, attrs) as tf.Tensor[];
  }

  /** The moment estimates, in variable order: [m0, v0, m1, v1, ...]. */
  stateTensors(): tf.Variable[] {
    return this.moments.flatMap(({ m, v }) => [m, v]);
  }
}

/** The tf.Variables behind some layers models' trainable weights, in a stable order, each once. */
export function trainableVariables(...models: tf.LayersModel[]): tf.Variable[] {
  const byName = new Map<string, tf.Variable>();
  for (const model of models) for (const w of model.trainableWeights) {
    const variable = w.read() as tf.Variable;
    byName.set(variable.name, variable);
  }
  return [...byName.values()];
}
