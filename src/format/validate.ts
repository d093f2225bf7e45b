/**
 * The checks every part of a model header goes through: each throws a FormatError that names the
 * field. Shared by the reader (read.ts) and the layer kinds (src/layers/), which parse their own fields.
 */
import { FormatError } from '../errors.ts';
import { LIMITS } from './spec.ts';

export const fail = (message: string): never => {
  throw new FormatError(message);
};

/**
 * A value as a message shows it: primitives as JSON, arrays and objects by their size only, so a
 * hostile value (nested 100,000 deep, or megabytes long) cannot overflow the stack or the message.
 */
export function shown(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  const text = typeof v === 'string' ? JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v) : String(v);
  return text;
}

/** Fails when a free-form value nests deeper than `max` levels (walked without recursion). */
export function checkDepth(v: unknown, what: string, max: number): void {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= max) fail(`${what} nests deeper than ${max} levels`);
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${what} must be an integer in ${min}..${max}, got ${shown(v)}`);
  }
  return v as number;
}

export function finite(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what} must be a finite number, got ${shown(v)}`);
  return v as number;
}

export function oneOf<T extends string>(v: unknown, what: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) {
    fail(`${what} must be one of ${options.join(', ')}, got ${shown(v)}`);
  }
  return v as T;
}

export function shapeOf(v: unknown, what: string, maxRank = 4): number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > maxRank) fail(`${what} must be an array of 1..${maxRank} dimensions`);
  return (v as unknown[]).map((d, i) => int(d, `${what}[${i}]`, 1, LIMITS.dim));
}

export function pair(v: unknown, what: string, max: number, min = 1): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) fail(`${what} must be a pair [h, w]`);
  const [a, b] = v as unknown[];
  return [int(a, `${what}[0]`, min, max), int(b, `${what}[1]`, min, max)];
}

/** An optional field: absent gives `fallback`, present must pass `check`. */
export function optional<T>(v: unknown, fallback: T, check: (v: unknown) => T): T {
  return v === undefined ? fallback : check(v);
}

export const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
