// The command line's value parsing, in-process (the fast lane): each option parser refuses a bad value
// with a message naming it, and takes the good ones; the latents file reader; one run of the command
// itself to show the parsers are wired to it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { classLabel, fraction, integer, list, nonNegative, number, oneOf, positive, toDType } from '../src/cli/options.ts';
import { parseLatentsJson } from '../src/cli/latents.ts';
import { parseHost } from '../src/cli/serve.ts';
import { InputError } from '../src/errors.ts';
import { edgevae } from './helpers/cli.ts';

const refuses = (parse: (value: string) => unknown, value: string, message: RegExp) =>
  assert.throws(() => parse(value), (e: unknown) => e instanceof InvalidArgumentError && message.test((e as Error).message), value);

describe('CLI option parsers', () => {
  it('integer(min, max): decimal integers in range only', () => {
    const n = integer(1, 4096);
    assert.equal(n('64'), 64);
    assert.equal(n(' 7 '), 7);
    for (const bad of ['0', '4097', '1.5', '1e3', '0x10', 'lots', '', '-']) refuses(n, bad, /expected an integer in 1\.\.4096/);
    assert.equal(integer(-5, 5)('-5'), -5);
  });

  it('number, positive, nonNegative, fraction: finite numbers in their ranges', () => {
    assert.equal(number('-2.5'), -2.5);
    assert.equal(number('1e-3'), 0.001);
    for (const bad of ['', ' ', 'abc', 'Infinity', 'NaN']) refuses(number, bad, /expected a number/);
    assert.equal(positive('0.1'), 0.1);
    for (const bad of ['0', '-1']) refuses(positive, bad, /expected a positive number/);
    assert.equal(nonNegative('0'), 0);
    refuses(nonNegative, '-0.1', /expected a number >= 0, got "-0\.1"/);
    assert.equal(fraction()('0.5'), 0.5);
    refuses(fraction(), '1', /expected a number in \[0, 1\)/);
    assert.equal(fraction(true)('1'), 1);
  });

  it('classLabel: any class number >= 0 (the model checks it against its classes)', () => {
    assert.equal(classLabel('0'), 0);
    assert.equal(classLabel('70000'), 70000);
    for (const bad of ['-1', '1.5', 'three', '', '1e3']) refuses(classLabel, bad, /expected a class: an integer >= 0/);
  });

  it('oneOf, list, toDType', () => {
    const dtypes = list(oneOf(['f32', 'f16', 'int8'] as const, 'dtype'));
    assert.deepEqual(dtypes('f32,int8'), ['f32', 'int8']);
    refuses(dtypes, 'f32,f64', /expected a dtype from f32, f16, int8, got "f64"/);
    assert.equal(toDType('int8'), 'i8');
    assert.equal(toDType('f16'), 'f16');
  });

  it('parseHost: an IP address or localhost', () => {
    for (const good of ['127.0.0.1', '::1', '0.0.0.0', 'localhost']) assert.equal(parseHost(good), good);
    refuses(parseHost, 'example.com', /expected an IP address \(such as 127\.0\.0\.1 or ::1\) or localhost, got "example\.com"/);
  });
});

describe('decode --latents: the JSON reader', () => {
  it('takes rows or one flat array, and refuses anything else naming the file and the place', () => {
    assert.deepEqual(Array.from(parseLatentsJson('[[1, 2], [3, 4]]', 'z.json', 2, 10)), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(parseLatentsJson('[1, 2, 3, 4]', 'z.json', 2, 10)), [1, 2, 3, 4]);
    const cases: [string, RegExp][] = [
      ['{', /latents file z\.json is not valid JSON/],
      ['[]', /must hold an array of rows of 2 numbers/],
      ['[1, 2, 3]', /holds 3 numbers: not a whole number of 2-value latents/],
      ['[[1, 2], [3]]', /row 1 must be an array of 2 numbers/],
      ['[[1, "2"]]', /\[0\]\[1\] must be a finite number, got "2"/],
      [JSON.stringify(new Array(22).fill(0)), /holds 11 latents; at most 10 are decoded at once/],
    ];
    for (const [text, message] of cases) assert.throws(() => parseLatentsJson(text, 'z.json', 2, 10), (e: unknown) => e instanceof InputError && message.test((e as Error).message), text);
  });
});

describe('the command', () => {
  it('reports a bad value in one line, naming the option, with exit code 1', () => {
    const { code, stderr } = edgevae('sample', '--n', 'lots', '--out', 'never.png');
    assert.equal(code, 1);
    assert.match(stderr, /option '--n <count>' argument 'lots' is invalid\. expected an integer in 1\.\.4096, got "lots"/);
  });
});
