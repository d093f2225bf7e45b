/**
 * Charts for training runs, as standalone SVG: loss curves from a run's metrics.jsonl and a scatter
 * of 2-d latent codes. They are Vega-Lite specs compiled to Vega and rendered headless with
 * `renderer: 'none'` (no browser, no `canvas` package; Vega then estimates text widths from the
 * font size, which only affects label layout slightly). The SVG is then made compact: coordinates
 * are rounded to 0.1 px and a large symbol mark (the scatter's points) becomes one shared `<path>`
 * in `<defs>` plus one `<use>` per point.
 *
 * Vega and Vega-Lite are imported on first use, so importing this module costs nothing.
 */
import type { TopLevelSpec } from 'vega-lite';
import { InputError } from '../errors.ts';

/**
 * One line of a run's metrics.jsonl. Training lines: { kind: 'train', step, epoch, samplesPerSecond, loss }.
 * Evaluation lines: { kind: 'eval', step, epoch, metrics }. `epoch` counts from 1, as the console and
 * samples/epoch-NNN.png do: a training line's is the epoch its step belongs to, an evaluation's the
 * epoch that just ended. (Runs written before that counted from 0; the trainer renumbers them on --resume.)
 */
export type MetricsLine =
  | { kind: 'train'; step: number; epoch: number; samplesPerSecond: number; loss: Record<string, number> }
  | { kind: 'eval'; step: number; epoch: number; metrics: Record<string, number> };

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses metrics.jsonl. Blank lines are skipped. A last line that is not valid JSON and has no
 * newline after it is the remains of a write cut short by a crash and is dropped; any other bad
 * line is an InputError naming its (1-based) line number. In the measured values (loss terms,
 * metrics, samplesPerSecond) `null` is read as NaN, since that is how JSON.stringify writes NaN and
 * ±Infinity; step and epoch must be finite numbers.
 */
export function parseMetrics(jsonl: string): MetricsLine[] {
  const rows = jsonl.split('\n');
  let last = rows.length - 1;
  while (last >= 0 && rows[last].trim() === '') last--;
  // If anything (even whitespace) follows the last line's newline, that line was written whole.
  const lastIsUnterminated = last === rows.length - 1;
  const lines: MetricsLine[] = [];
  for (let i = 0; i <= last; i++) {
    const text = rows[i].trim();
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (i === last && lastIsUnterminated) break;
      throw new InputError(`metrics line ${i + 1}: not valid JSON (${(err as Error).message}): ${preview(text)}`, { cause: err });
    }
    lines.push(checkLine(value, i + 1));
  }
  return lines;
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function checkLine(value: unknown, lineNumber: number): MetricsLine {
  const fail = (what: string): never => {
    throw new InputError(`metrics line ${lineNumber}: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`expected an object, got ${describe(value)}`);
  const record = value as Record<string, unknown>;
  const finite = (key: string): number => {
    const v = record[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : fail(`"${key}" must be a finite number, got ${describe(v)}`);
  };
  const measured = (v: unknown, name: string): number => (v === null ? NaN : typeof v === 'number' ? v : fail(`${name} must be a number or null, got ${describe(v)}`));
  const numbers = (key: string): Record<string, number> => {
    const v = record[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`"${key}" must be an object of numbers, got ${describe(v)}`);
    const out: Record<string, number> = {};
    for (const [name, x] of Object.entries(v)) out[name] = measured(x, `"${key}.${name}"`);
    return out;
  };
  const kind = record.kind;
  if (kind === 'train') {
    return { kind, step: finite('step'), epoch: finite('epoch'), samplesPerSecond: measured(record.samplesPerSecond, '"samplesPerSecond"'), loss: numbers('loss') };
  }
  if (kind === 'eval') return { kind, step: finite('step'), epoch: finite('epoch'), metrics: numbers('metrics') };
  return fail(`"kind" must be "train" or "eval", got ${describe(kind)}`);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const json = JSON.stringify(v);
  return json === undefined ? String(v) : preview(json);
}

// ---------------------------------------------------------------------------------------------
// Loss curves

/** Tableau 10, Vega's default categorical scheme: the same name gets the same colour in every panel. */
const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
/** Most points drawn for one raw training curve; beyond that each bucket keeps its minimum and maximum. */
const MAX_RAW_POINTS = 1200;
const MAX_SMOOTH_POINTS = 600;
const PANEL = { width: 300, height: 170 };
const COLUMNS = 3;

interface Point {
  x: number;
  y: number;
}

/**
 * Loss terms over steps, one panel per term (the logged values faint, a centred moving average
 * bold), then one panel per evaluation metric with a point per evaluation over epochs. A panel's
 * y axis is logarithmic when all its values are positive and span more than two decades. Steps are
 * sorted; non-finite values are left out.
 */
export async function lossCurvesSvg(lines: MetricsLine[], title: string): Promise<string> {
  const train = lines.filter((l) => l.kind === 'train').sort((a, b) => a.step - b.step);
  const evals = lines.filter((l) => l.kind === 'eval').sort((a, b) => a.epoch - b.epoch || a.step - b.step);
  const colours = new Map<string, string>();
  const colour = (name: string) => {
    if (!colours.has(name)) colours.set(name, PALETTE[colours.size % PALETTE.length]);
    return colours.get(name)!;
  };

  const trainPanels: object[] = [];
  let widest = 1;
  for (const term of keysInOrder(train.map((l) => l.loss))) {
    const points = train.map((l) => ({ x: l.step, y: l.loss[term] })).filter((p) => Number.isFinite(p.y));
    if (points.length === 0) continue;
    const log = wantsLogScale(points);
    widest = Math.max(widest, smoothingWindow(points.length));
    const smooth = movingAverage(points, smoothingWindow(points.length), log);
    trainPanels.push(curvePanel(term, colour(term), decimate(points, MAX_RAW_POINTS), smooth && strided(smooth, MAX_SMOOTH_POINTS), log));
  }
  const evalPanels: object[] = [];
  for (const name of keysInOrder(evals.map((l) => l.metrics))) {
    const points = evals.map((l) => ({ x: l.epoch, y: l.metrics[name] })).filter((p) => Number.isFinite(p.y));
    if (points.length > 0) evalPanels.push(evalPanel(name, colour(name), points, wantsLogScale(points)));
  }

  const sections: object[] = [];
  if (trainPanels.length > 0) sections.push({ title: section('training loss by step'), columns: COLUMNS, concat: trainPanels });
  if (evalPanels.length > 0) sections.push({ title: section('evaluation by epoch'), columns: COLUMNS, concat: evalPanels });
  const summary = [
    train.length > 0 ? `${count(train.length)} training steps logged (to step ${count(train.at(-1)!.step)})` : 'no training steps logged',
    evals.length > 0 ? `${count(evals.length)} evaluation${evals.length === 1 ? '' : 's'}` : 'no evaluations yet',
  ];
  if (widest > 1) summary.push(`faint: logged values, bold: centred moving average of ${widest} points`);
  const heading = { text: title, subtitle: summary.join(' · '), anchor: 'start', fontSize: 16, subtitleFontSize: 11, subtitleColor: '#555', offset: 12 };
  const spec = sections.length > 0 ? { title: heading, spacing: 24, vconcat: sections } : emptyChart(heading, 'no metrics to plot yet');
  return renderSvg({ ...spec, config: CONFIG } as TopLevelSpec);
}

/** 12345 → "12,345". */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

function section(text: string) {
  return { text, anchor: 'start', fontSize: 13, fontWeight: 'bold', color: '#333', offset: 10 };
}

function emptyChart(heading: object, message: string) {
  return {
    title: heading,
    width: PANEL.width,
    height: 60,
    data: { values: [{ message }] },
    mark: { type: 'text', fontSize: 13, color: '#777' },
    encoding: { text: { field: 'message', type: 'nominal' } },
  };
}

function yEncoding(title: string, points: Point[], log: boolean) {
  if (!log) {
    const first = points[0].y;
    if (points.some((p) => p.y !== first)) return { field: 'y', type: 'quantitative', title, scale: { zero: false } };
    // One value (say a single evaluation): centre it in a small range rather than a zero-width domain.
    const half = Math.abs(first) * 0.05 || 1;
    return { field: 'y', type: 'quantitative', title, scale: { domain: [first - half, first + half], nice: true } };
  }
  // Ticks, labels and grid lines at the powers of ten only (Vega's default adds 2× and 5× too).
  const ys = points.map((p) => p.y);
  const from = Math.floor(Math.log10(Math.min(...ys)));
  const to = Math.ceil(Math.log10(Math.max(...ys)));
  const step = Math.ceil((to - from) / 8);
  const values: number[] = [];
  for (let e = from; e <= to; e += step) values.push(Number(`1e${e}`));
  return { field: 'y', type: 'quantitative', title: `${title} (log scale)`, scale: { type: 'log', domain: [values[0], Number(`1e${to}`)] }, axis: { values, format: '~g' } };
}

function curvePanel(term: string, colour: string, raw: Point[], smooth: Point[] | undefined, log: boolean) {
  const x = { field: 'x', type: 'quantitative', title: 'step' };
  const y = yEncoding('loss', raw, log);
  const layer: object[] = [{ data: { values: raw }, mark: { type: 'line', color: colour, strokeWidth: smooth ? 1 : 1.5, opacity: smooth ? 0.3 : 1 }, encoding: { x, y } }];
  if (smooth) layer.push({ data: { values: smooth }, mark: { type: 'line', color: colour, strokeWidth: 2 }, encoding: { x, y } });
  return { title: term, ...PANEL, layer };
}

function evalPanel(name: string, colour: string, points: Point[], log: boolean) {
  const whole = points.every((p) => Number.isInteger(p.x));
  const first = points[0].x;
  const single = points.every((p) => p.x === first);
  const x = {
    field: 'x',
    type: 'quantitative',
    title: 'epoch',
    axis: whole ? { format: 'd', tickMinStep: 1 } : {},
    scale: single ? { domain: [first - 1, first + 1] } : { zero: false },
  };
  const y = yEncoding('value', points, log);
  return {
    title: name,
    ...PANEL,
    data: { values: points },
    encoding: { x, y },
    layer: [
      { mark: { type: 'line', color: colour, strokeWidth: 1, opacity: 0.4 } },
      { mark: { type: 'point', color: colour, filled: true, size: 36, opacity: 1 } },
    ],
  };
}

/** The names of the records' keys, in order of first appearance. */
function keysInOrder(records: Record<string, number>[]): string[] {
  const names = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) names.add(k);
  return [...names];
}

/** Log scale when every value is positive and max / min exceeds 100. */
function wantsLogScale(points: Point[]): boolean {
  let min = Infinity;
  let max = -Infinity;
  for (const { y } of points) {
    min = Math.min(min, y);
    max = Math.max(max, y);
  }
  return min > 0 && max / min > 100;
}

/** Odd window of about a twentieth of the points, capped at 201; 1 (no smoothing) below 20 points. */
function smoothingWindow(n: number): number {
  if (n < 20) return 1;
  const w = Math.min(201, Math.round(n / 20));
  return w % 2 === 1 ? w : w + 1;
}

/**
 * Centred moving average (cut off at the ends, so the curve stays smooth there), of log10 values when the
 * panel is logarithmic so the curve follows the geometric mean; undefined when window is 1.
 */
function movingAverage(points: Point[], width: number, log: boolean): Point[] | undefined {
  if (width <= 1) return undefined;
  const n = points.length;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + (log ? Math.log10(points[i].y) : points[i].y);
  const half = (width - 1) / 2;
  return points.map((p, i) => {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n - 1, i + half);
    const mean = (prefix[hi + 1] - prefix[lo]) / (hi - lo + 1);
    return { x: p.x, y: log ? 10 ** mean : mean };
  });
}

/** At most `max` points: buckets of consecutive points, each keeping its lowest and highest (spikes survive). */
function decimate(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const buckets = Math.floor(max / 2);
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * points.length) / buckets);
    const end = Math.floor(((b + 1) * points.length) / buckets);
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      if (points[i].y < points[lo].y) lo = i;
      if (points[i].y > points[hi].y) hi = i;
    }
    out.push(points[Math.min(lo, hi)]);
    if (lo !== hi) out.push(points[Math.max(lo, hi)]);
  }
  return out;
}

/** At most `max` evenly spaced points, always keeping the last (for an already smooth curve). */
function strided(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const out: Point[] = [];
  for (let k = 0; k < max - 1; k++) out.push(points[Math.floor((k * (points.length - 1)) / (max - 1))]);
  out.push(points[points.length - 1]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Latent scatter

/** Most points drawn; more codes are thinned to an evenly spaced subset of this many. */
export const MAX_SCATTER_POINTS = 10_000;

/**
 * The 2-d codes `codes` (n × 2, row-major) as points coloured by `labels` (digits 0-9, legend
 * 0-9 in the Tableau 10 palette), drawn in the given order on equal x and y scales. Codes with a
 * non-finite coordinate are left out (and counted in the subtitle).
 */
export async function latentScatterSvg(codes: Float32Array, labels: Uint8Array, title: string): Promise<string> {
  if (codes.length % 2 !== 0) throw new InputError(`codes must hold n × 2 values, got ${codes.length}`);
  const n = codes.length / 2;
  if (labels.length !== n) throw new InputError(`${n} codes but ${labels.length} labels`);
  const take = Math.min(n, MAX_SCATTER_POINTS);
  const values: { x: number; y: number; digit: number }[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  let dropped = 0;
  for (let k = 0; k < take; k++) {
    const i = take === n ? k : Math.floor((k * n) / take);
    const x = codes[2 * i];
    const y = codes[2 * i + 1];
    const digit = labels[i];
    if (digit > 9) throw new InputError(`label ${i} is ${digit}; digits are 0-9`);
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      dropped++;
      continue;
    }
    values.push({ x, y, digit });
    lo = Math.min(lo, x, y);
    hi = Math.max(hi, x, y);
  }
  if (values.length === 0) [lo, hi] = [-1, 1];
  else if (hi - lo < 1e-6) [lo, hi] = [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.04;
  const domain = [lo - pad, hi + pad];
  const subtitle = [take < n ? `${count(take)} of ${count(n)} codes (evenly spaced subset)` : `${count(n)} codes`];
  if (dropped > 0) subtitle.push(`${dropped} with non-finite coordinates left out`);

  const axis = (name: string) => ({ field: name, type: 'quantitative', title: name === 'x' ? 'z1' : 'z2', scale: { domain, nice: false } });
  const spec = {
    title: { text: title, subtitle: subtitle.join(' · '), anchor: 'start', fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555', offset: 12 },
    width: 440,
    height: 440,
    data: { values },
    mark: { type: 'point', filled: true, size: 9, opacity: 0.6, strokeWidth: null },
    encoding: {
      x: axis('x'),
      y: axis('y'),
      color: {
        field: 'digit',
        type: 'nominal',
        scale: { domain: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], range: PALETTE },
        legend: { title: 'digit', symbolType: 'circle', symbolSize: 70, symbolOpacity: 1, symbolStrokeWidth: 0 },
      },
    },
    config: CONFIG,
  };
  return renderSvg(spec as TopLevelSpec);
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** No ARIA attributes (they would be repeated on every point); plain white background. */
const CONFIG = { aria: false, background: 'white', font: 'sans-serif', view: { stroke: '#ddd' }, axis: { gridColor: '#eee', titleFontWeight: 'normal' } };

async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return compactSvg(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** Coordinate-carrying attributes whose numbers are rounded to 0.1 px. */
const ROUNDED = /\s(d|transform|x|y|x1|y1|x2|y2)="([^"]*)"/g;
const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?/gi;
/** A symbol mark's group, which holds one `<path>` per item and nothing else. */
const SYMBOL_GROUP = /(<g class="mark-symbol role-mark[^"]*"[^>]*>)((?:<path [^>]*\/>)+)<\/g>/g;
const SYMBOL_ITEM = /<path transform="translate\(([^,)]+),([^,)]+)\)" d="([^"]+)"((?: [a-z-]+="[^"]*")*)\/>/g;
/** Attributes an item may keep on its `<use>`: inherited by the shared path, or (opacity) applying to the instance as a whole. */
const PER_ITEM = new Set(['fill', 'fill-opacity', 'opacity', 'stroke', 'stroke-opacity']);
const MIN_SHARED_ITEMS = 20;

/** Rounds coordinates and turns every large symbol mark into a shared `<path>` plus one `<use>` per item. */
export function compactSvg(svg: string): string {
  const rounded = svg.replace(ROUNDED, (_, name: string, value: string) => ` ${name}="${value.replace(NUMBER, roundNumber)}"`);
  let groups = 0;
  return rounded.replace(SYMBOL_GROUP, (whole, open: string, body: string) => {
    const items = [...body.matchAll(SYMBOL_ITEM)];
    if (items.length < MIN_SHARED_ITEMS || items.reduce((sum, m) => sum + m[0].length, 0) !== body.length) return whole;
    const d = items[0][3];
    const attributes = items.map((m) => [...m[4].matchAll(/ ([a-z-]+)="([^"]*)"/g)].map(([, k, v]) => [k, v] as const));
    if (items.some((m) => m[3] !== d)) return whole;
    // Attributes with one value across all items move to the shared path; the others stay per item.
    const shared = new Map(attributes[0]);
    for (const attrs of attributes) {
      const own = new Map(attrs);
      for (const [k, v] of shared) if (own.get(k) !== v) shared.delete(k);
    }
    if (attributes.some((attrs) => attrs.some(([k]) => !shared.has(k) && !PER_ITEM.has(k)))) return whole;
    const id = `s${hash(d + [...shared].join())}${groups++}`;
    const sharedText = [...shared].map(([k, v]) => ` ${k}="${v}"`).join('');
    const uses = items.map((m, i) => {
      const own = attributes[i].filter(([k]) => !shared.has(k)).map(([k, v]) => ` ${k}="${v}"`).join('');
      return `<use href="#${id}" x="${m[1]}" y="${m[2]}"${own}/>`;
    });
    return `${open}<defs><path id="${id}" d="${d}"${sharedText}/></defs>${uses.join('')}</g>`;
  });
}

function roundNumber(text: string): string {
  const r = Math.round(Number(text) * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/** A short FNV-1a hash, so ids from different charts inlined in one page differ when their shapes do. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36).slice(0, 4);
}
