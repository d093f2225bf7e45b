/** A run's state besides the trainer's counters: every tensor it depends on and the optimizers' step counts. */
import type * as tf from '@tensorflow/tfjs';
import type { Trainable } from './preset.ts';

/** The part of a trainable that holds its state: its models' weights and its optimizers. */
export type TrainableState = Pick<Trainable, 'models' | 'optimizers'>;

/** Every tensor of a run's state, by a key that is stable across processes and threads. */
export function stateTensors(trainable: TrainableState): Map<string, tf.Variable> {
  const tensors = new Map<string, tf.Variable>();
  for (const key of Object.keys(trainable.models).sort()) {
    trainable.models[key].weights.forEach((w, i) => tensors.set(`model:${key}/${i}`, w.read() as tf.Variable));
  }
  for (const key of Object.keys(trainable.optimizers).sort()) {
    trainable.optimizers[key].stateTensors().forEach((t, i) => tensors.set(`optimizer:${key}/${i}`, t));
  }
  return tensors;
}

/** Each optimizer's update count, by its key. */
export function optimizerSteps(trainable: TrainableState): Record<string, number> {
  return Object.fromEntries(Object.entries(trainable.optimizers).map(([key, optimizer]) => [key, optimizer.t]));
}
