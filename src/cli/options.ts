/** Parsers for command-line option values, shared by the commands: each refuses a bad value with a message naming it. */
import { InvalidArgumentError } from 'commander';

export const integer = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`expected an integer in ${min}..${max}, got "${value}"`);
  }
  return n;
};

/**
 * A class label: any integer >= 0 here; the model it is given to checks it against its own classes
 * (`label 12 is not a class of this model: it has 10 classes, 0..9`).
 */
export const classLabel = (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a class: an integer >= 0 (the model says how many it has), got "${value}"`);
  return n;
};

export const number = (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
};

export const positive = (value: string) => {
  const n = number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
};

export const nonNegative = (value: string) => {
  const n = number(value);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
};

/** A number in [0, 1): a rate such as dropout's, or a share. `upTo1` takes 1 too. */
export const fraction = (upTo1 = false) => (value: string) => {
  const n = number(value);
  if (!(n >= 0 && (upTo1 ? n <= 1 : n < 1))) throw new InvalidArgumentError(`expected a number in [0, 1${upTo1 ? ']' : ')'}, got "${value}"`);
  return n;
};

/** One of `choices` (an item of a list option, where commander's Option.choices does not reach). */
export const oneOf = <T extends string>(choices: readonly T[], what: string) => (value: string): T => {
  if (!choices.includes(value as T)) throw new InvalidArgumentError(`expected a ${what} from ${choices.join(', ')}, got "${value}"`);
  return value as T;
};

/** A number strictly between 0 and 1: a share that leaves something on both sides. */
export const openFraction = (value: string) => {
  const n = number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a number in (0, 1), got "${value}"`);
  return n;
};

/** A comma-separated list, each item parsed by `item`: "28,28,1". */
export const list = <T>(item: (value: string) => T) => (value: string) => value.split(',').map(item);

/** The weight dtype as the CLI spells it (int8 or i8) to the format's name. */
export const toDType = (value: string) => (value === 'int8' ? 'i8' : (value as 'f32' | 'f16' | 'i8'));
export const DTYPE_CHOICES = ['f32', 'f16', 'int8', 'i8'];
