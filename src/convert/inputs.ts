/** A decoder's inputs as every converter names them: the latent and the optional one-hot label. */
import { InputError } from '../errors.ts';

/** One of the model's inputs: its layer name and per-sample feature count. */
export interface ModelInput {
  name: string;
  size: number;
}

/** Which of a model's inputs is the latent and which the one-hot label, when a caller says so. */
export interface InputNames {
  latentInput?: string;
  labelInput?: string;
}

/** Both names, where given, must be inputs of the model, and two different ones. */
export function checkInputNames(names: string[], { latentInput, labelInput }: InputNames): void {
  const listed = names.map((n) => `"${n}"`).join(', ');
  for (const [option, name] of [['latentInput', latentInput], ['labelInput', labelInput]] as const) {
    if (name !== undefined && !names.includes(name)) throw new InputError(`${option} "${name}" is not an input of the model; its inputs are ${listed}`);
  }
  if (latentInput !== undefined && latentInput === labelInput) throw new InputError(`latentInput and labelInput are both "${latentInput}": name two different inputs`);
}

/** Name heuristic, used only when both operands are model inputs and `labelInput` was not given. */
export const LABEL_NAME = /(^|[^a-z])(labels?|class(es)?|cond(ition)?|one_?hot|y)([^a-z]|$)/i;
