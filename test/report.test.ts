// Training-run charts: parsing metrics.jsonl (a crash-truncated last line is dropped, any other bad
// line is an InputError naming it) and the loss-curve and latent-scatter SVGs, rendered headless.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../src/errors.ts';
import { compactSvg, latentScatterSvg, lossCurvesSvg, parseMetrics, type MetricsLine } from '../src/train/report.ts';

/** A small seeded generator, so the charts are the same on every run. */
function random(seed: number) {
  let s = seed >>> 0;
  const uniform = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const gauss = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  return { uniform, gauss };
}

/** A run of `epochs` epochs of `perEpoch` steps: total/recon/kl on linear scales, mse over four decades; eval per epoch. */
function syntheticRun(epochs: number, perEpoch: number): MetricsLine[] {
  const { gauss } = random(7);
  const lines: MetricsLine[] = [];
  for (let step = 0; step < epochs * perEpoch; step++) {
    const epoch = Math.floor(step / perEpoch) + 1; // counted from 1, as the trainer writes them
    const recon = 60 + 400 * Math.exp(-step / 300) + 3 * gauss();
    const kl = 8 * (1 - Math.exp(-step / 500)) + 0.4 * gauss();
    const mse = (0.3 * Math.exp(-step / 600) + 2e-5) * Math.exp(0.2 * gauss());
    lines.push({ kind: 'train', step, epoch, samplesPerSecond: 1800 + 50 * gauss(), loss: { total: recon + kl, recon, kl, mse } });
    if ((step + 1) % perEpoch === 0) {
      lines.push({ kind: 'eval', step: step + 1, epoch, metrics: { recon: 70 + 200 * Math.exp(1 - epoch), kl: 8 - 5 * Math.exp(1 - epoch) } });
    }
  }
  return lines;
}

/**
 * Checks that `svg` is one well-formed XML element tree rooted at <svg>: every tag closed in order,
 * attributes quoted, `&` only in entity references, nothing but markup and text.
 */
function assertWellFormed(svg: string): void {
  const token = /<!--[^]*?-->|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z][\w:.-]*="[^"<]*")*)\s*(\/?)>|[^<]+/y;
  const entity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)/;
  const stack: string[] = [];
  let roots = 0;
  let at = 0;
  while (at < svg.length) {
    token.lastIndex = at;
    const m = token.exec(svg);
    assert.ok(m, `malformed markup at offset ${at}: ${svg.slice(at, at + 60)}`);
    at = token.lastIndex;
    const [text, closing, name, attributes, selfClosing] = m;
    if (name === undefined) {
      if (!text.startsWith('<!--')) {
        assert.ok(!entity.test(text), `bare & in text near offset ${at}`);
        assert.ok(stack.length > 0 || text.trim() === '', 'text outside the root element');
      }
      continue;
    }
    assert.ok(!entity.test(attributes), `bare & in attributes of <${name}> near offset ${at}`);
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element near offset ${at}`);
    } else {
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(name);
    }
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'exactly one root element');
  assert.ok(svg.startsWith('<svg'), 'the root is <svg>');
}

/** The texts of all <text> elements, unescaped. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1].replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&amp;', '&'),
  );
}

/** The points of the scatter: items of the data's symbol mark (a <path> each, or a <use> of one shared <path>). */
function pointMarks(svg: string): number {
  const group = /<g class="mark-symbol role-mark[^"]*"[^>]*>([^]*?)<\/g>/.exec(svg);
  assert.ok(group, 'the scatter has a symbol mark');
  const body = group[1].replace(/<defs>[^]*?<\/defs>/, '');
  return (body.match(/<(?:path|use) /g) ?? []).length;
}

describe('parseMetrics', () => {
  const train = { kind: 'train', step: 0, epoch: 0, samplesPerSecond: 1500, loss: { recon: 80.5, kl: 3.25 } };
  const evaluation = { kind: 'eval', step: 1, epoch: 0, metrics: { recon: 90 } };
  const jsonl = (...rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');

  it('reads training and evaluation lines, skipping blank lines and CRLF endings', () => {
    const lines = parseMetrics(`${JSON.stringify(train)}\r\n\n${JSON.stringify({ ...train, step: 1 })}\n${JSON.stringify(evaluation)}\n`);
    assert.deepEqual(lines, [train, { ...train, step: 1 }, evaluation]);
    assert.deepEqual(parseMetrics(''), []);
  });

  it('drops a last line cut short by a crash', () => {
    const text = jsonl(train, evaluation, '{"kind":"train","step":2,"epoch":0,"samplesPer');
    assert.deepEqual(parseMetrics(text), [train, evaluation]);
  });

  it('rejects a corrupt middle line with its line number', () => {
    const text = jsonl(train, evaluation, '{"kind":"train","st', train) + '\n';
    assert.throws(() => parseMetrics(text), (err: unknown) => err instanceof InputError && /^metrics line 3: not valid JSON/.test(err.message));
  });

  it('rejects an unparseable last line that was written whole (newline after it)', () => {
    assert.throws(() => parseMetrics(jsonl(train, '{"kind":') + '\n'), (err: unknown) => err instanceof InputError && /metrics line 2/.test(err.message));
  });

  it('rejects lines of the wrong shape, naming line and field', () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /line 2: expected an object, got \[1,2\]/],
      [{ ...train, kind: 'checkpoint' }, /line 2: "kind" must be "train" or "eval", got "checkpoint"/],
      [{ ...train, step: '3' }, /line 2: "step" must be a finite number, got "3"/],
      [{ ...evaluation, epoch: undefined }, /line 2: "epoch" must be a finite number, got nothing/],
      [{ ...train, loss: [1] }, /line 2: "loss" must be an object of numbers/],
      [{ ...train, loss: { kl: '1' } }, /line 2: "loss.kl" must be a number or null, got "1"/],
      [{ ...evaluation, metrics: undefined }, /line 2: "metrics" must be an object of numbers, got nothing/],
    ];
    for (const [line, pattern] of cases) {
      assert.throws(() => parseMetrics(jsonl(train, line, train)), (err: unknown) => err instanceof InputError && pattern.test(err.message), `expected ${pattern}`);
    }
  });

  it('reads null measurements (how JSON writes NaN and Infinity) as NaN', () => {
    const [line] = parseMetrics(JSON.stringify({ ...train, samplesPerSecond: Infinity, loss: { recon: NaN, kl: 1 } }));
    assert.ok(line.kind === 'train');
    assert.ok(Number.isNaN(line.samplesPerSecond) && Number.isNaN(line.loss.recon));
    assert.equal(line.loss.kl, 1);
  });
});

describe('lossCurvesSvg', () => {
  it('draws a panel per loss term and per evaluation metric, log scale where values span > 2 decades', async () => {
    const lines = syntheticRun(6, 500);
    const svg = await lossCurvesSvg(lines, 'vae-mlp & friends, mnist');
    assertWellFormed(svg);
    const words = texts(svg);
    for (const expected of ['vae-mlp & friends, mnist', 'training loss by step', 'evaluation by epoch', 'total', 'recon', 'kl', 'mse', 'step', 'epoch', 'loss', 'value']) {
      assert.ok(words.includes(expected), `has the text "${expected}"`);
    }
    assert.deepEqual(
      words.filter((w) => w.endsWith('(log scale)')),
      ['loss (log scale)'],
      'only mse spans more than two decades',
    );
    assert.ok(words.some((w) => w.startsWith('3,000 training steps logged (to step 2,999) · 6 evaluations')), 'the subtitle sums the run up');
    // Four training panels with a faint and a smoothed line each, two evaluation panels with a line and six points each.
    assert.equal((svg.match(/<g class="mark-line role-mark/g) ?? []).length, 4 * 2 + 2);
    assert.equal(svg.match(/<g class="mark-symbol role-mark[^"]*"[^>]*>([^]*?)<\/g>/g)?.map((g) => (g.match(/<path /g) ?? []).length).join(), '6,6');
    assert.ok(svg.length < 200_000, `compact: ${svg.length} bytes`);
  });

  it('keeps long runs small by thinning what it draws', async () => {
    const svg = await lossCurvesSvg(syntheticRun(40, 1000), 'long run');
    assertWellFormed(svg);
    assert.ok(svg.length < 250_000, `${svg.length} bytes for 40,000 steps`);
  });

  it('renders a placeholder before anything was logged', async () => {
    const svg = await lossCurvesSvg([], 'fresh run');
    assertWellFormed(svg);
    assert.ok(texts(svg).includes('no metrics to plot yet'));
  });

  it('leaves out non-finite values', async () => {
    const lines = syntheticRun(1, 40);
    for (const l of lines) if (l.kind === 'train' && l.step % 7 === 0) l.loss.kl = NaN;
    const svg = await lossCurvesSvg(lines, 'with gaps');
    assertWellFormed(svg);
    assert.ok(!/NaN/.test(svg.replace(/<text[^>]*>[^<]*<\/text>/g, '')), 'no NaN coordinates');
  });
});

describe('latentScatterSvg', () => {
  function codesOf(n: number, digits = 10) {
    const { uniform, gauss } = random(3);
    const codes = new Float32Array(2 * n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = Math.floor(uniform() * digits);
      const angle = (labels[i] / 10) * 2 * Math.PI;
      codes[2 * i] = 2 * Math.cos(angle) + 0.5 * gauss();
      codes[2 * i + 1] = 2 * Math.sin(angle) + 0.5 * gauss();
    }
    return { codes, labels };
  }

  it('draws 10,000 codes as 10,000 small points coloured by digit, with a 0-9 legend', async () => {
    const { codes, labels } = codesOf(10_000);
    const svg = await latentScatterSvg(codes, labels, 'vae-2d, mnist: test-set codes after epoch 3');
    assertWellFormed(svg);
    assert.equal(pointMarks(svg), 10_000);
    const words = texts(svg);
    for (const expected of ['vae-2d, mnist: test-set codes after epoch 3', '10,000 codes', 'z1', 'z2', 'digit', ...'0123456789']) {
      assert.ok(words.includes(expected), `has the text "${expected}"`);
    }
    const colours = new Set([...svg.matchAll(/<use [^>]*fill="(#[\da-f]{6})"/g)].map((m) => m[1]));
    assert.equal(colours.size, 10, 'one colour per digit');
    assert.ok(svg.length < 700_000, `a few hundred KB: ${svg.length} bytes`);
  });

  it('keeps the full 0-9 legend when some digits are missing, and draws a few points as plain paths', async () => {
    const { codes, labels } = codesOf(12, 3);
    const svg = await latentScatterSvg(codes, labels, 'three digits');
    assertWellFormed(svg);
    assert.equal(pointMarks(svg), 12);
    for (const digit of '0123456789') assert.ok(texts(svg).includes(digit), `legend has ${digit}`);
  });

  it('thins more than 10,000 codes and leaves out non-finite ones', async () => {
    const { codes, labels } = codesOf(15_000);
    codes[0] = NaN;
    const svg = await latentScatterSvg(codes, labels, 'big');
    assertWellFormed(svg);
    assert.equal(pointMarks(svg), 9_999);
    assert.ok(texts(svg).includes('10,000 of 15,000 codes (evenly spaced subset) · 1 with non-finite coordinates left out'));
  });

  it('rejects inconsistent input', async () => {
    const isInput = (pattern: RegExp) => (err: unknown) => err instanceof InputError && pattern.test(err.message);
    await assert.rejects(latentScatterSvg(new Float32Array(5), new Uint8Array(2), 't'), isInput(/n × 2/));
    await assert.rejects(latentScatterSvg(new Float32Array(6), new Uint8Array(2), 't'), isInput(/3 codes but 2 labels/));
    await assert.rejects(latentScatterSvg(new Float32Array(4), new Uint8Array([1, 12]), 't'), isInput(/label 1 is 12/));
  });
});

describe('compactSvg', () => {
  it('rounds coordinates to 0.1 px, exponents and signs included', () => {
    const svg = '<svg><path transform="translate(12.345,-0.04)" d="M1e-7,2.25L-3.96,4" fill="#123"/><text x="1.26">1.2345</text></svg>';
    assert.equal(compactSvg(svg), '<svg><path transform="translate(12.3,0)" d="M0,2.3L-4,4" fill="#123"/><text x="1.3">1.2345</text></svg>');
  });
});
