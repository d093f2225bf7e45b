/**
 * The sampling API over HTTP, for any runtime with web-standard Request/Response (Cloudflare Workers,
 * Deno, Bun, Node 18+): routing, validation and responses around one loaded Decoder.
 *
 *   GET  /sample?n=16&seed=42&label=3&stddev=2&prior=model|standard&format=png|json   a PNG grid, or the samples as JSON
 *   POST /decode?format=png|json&layout=NHWC|NCHW   {"latents": [[...], ...], "labels": 3 | [...]}
 *   GET  /info                      the model's description and this server's limits
 *
 * Each latent row holds the model's latentSize numbers; an image latent's in the order the runtime
 * holds it (channels-last [h, w, c], /info's latentShape), or channels-first [c, h, w] (PyTorch's)
 * with layout=NCHW. Colour models come back as colour PNGs, scaled from the file's output range.
 *
 * HEAD is GET without the body; OPTIONS gets a 204 with Allow (and, from a browser, the CORS
 * preflight's answer); any other method a 405. Every bad request gets a 4xx with a JSON body
 * {"error": "..."} naming what is wrong. Every response carries the CORS headers of its policy
 * (cors.ts). Samples of a given seed, and /info, carry an ETag (a hash of the body), and an
 * If-None-Match naming it gets a 304; samples of a drawn seed, POST /decode and errors are not stored.
 */
import { PRIOR_CHOICES, checkLabel, type Decoder } from '../runtime/decoder.ts';
import { LATENT_LAYOUTS } from '../runtime/layout.ts';
import { toImageGrid } from '../runtime/image.ts';
import { encodePng } from '../runtime/png.ts';
import { InputError } from '../errors.ts';
import { ANY_ORIGIN, addCorsHeaders, type CorsPolicy } from './cors.ts';
import { HttpError, choiceParameter, integerParameter, jsonResponse, numberParameter, queryParameters, readJsonBody } from './http.ts';
import { LIMITS } from '../format/spec.ts';

export interface Limits {
  /** Most samples one request may ask for (n, or rows of latents). */
  maxSamples: number;
  /** Largest POST body accepted, in bytes. */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: Limits = { maxSamples: 256, maxBodyBytes: 1 << 20 };

const FORMATS = ['png', 'json'] as const;
type Format = (typeof FORMATS)[number];
/** The seed is drawn when the request gives none, and returned so the same samples can be asked for again. */
const SEED_HEADER = 'x-edgevae-seed';
const MAX_SEED = Number.MAX_SAFE_INTEGER;
/**
 * Samples of a given seed are the same bytes every time (strict build): caches may keep them for a day,
 * then revalidate with the ETag (a new model, or another edgevae version, gives other bytes and so
 * another ETag). A drawn seed's samples differ on every request: they are never stored.
 */
const SEEDED_CACHE = 'public, max-age=86400';
const NOT_STORED = 'no-store';
/** /info changes only with a deployment: revalidated on every use, a 304 while its ETag holds. */
const REVALIDATED = 'no-cache';

interface Context {
  request: Request;
  url: URL;
  decoder: Decoder;
  limits: Limits;
}

type Route = (context: Context) => Response | Promise<Response>;

const ROUTES = new Map<string, Record<string, Route>>([
  ['/sample', { GET: sample }],
  ['/decode', { POST: decode }],
  ['/info', { GET: info }],
]);

/** Answers one request; never throws: failures become JSON error responses. */
export function handleRequest(request: Request, decoder: Decoder, limits: Limits = DEFAULT_LIMITS, cors: CorsPolicy = ANY_ORIGIN): Promise<Response> {
  return respond(request, cors, () => route(request, decoder, limits));
}

/**
 * The path's route for the request's method (HEAD runs GET's); OPTIONS gets a 204 with Allow; a 404
 * for an unknown path, a 405 with Allow for a method the path does not take.
 */
export function route(request: Request, decoder: Decoder, limits: Limits): Response | Promise<Response> {
  const url = new URL(request.url);
  const methods = ROUTES.get(url.pathname);
  if (!methods) throw new HttpError(404, `no endpoint at ${url.pathname}; there are GET /sample, POST /decode and GET /info`);
  const allowed = [...Object.keys(methods), ...('GET' in methods ? ['HEAD'] : []), 'OPTIONS'].join(', ');
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow: allowed } });
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  // Own keys only: a method named "toString" is no route.
  const run = Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (!run) throw new HttpError(405, `${url.pathname} takes ${allowed}, not ${request.method}`, { allow: allowed });
  return run({ request, url, decoder, limits });
}

/**
 * What `answer` gives for `request` (or the JSON error it throws), finished for HTTP; never throws.
 * A response that does not say how it may be cached gets `no-store`. A cacheable 200 to GET or HEAD
 * gets an ETag, and becomes a 304 (without body or content type) when If-None-Match names it. HEAD
 * gets the GET's status and headers (Content-Length included) without the body. Last, the CORS headers.
 */
export async function respond(request: Request, cors: CorsPolicy, answer: () => Response | Promise<Response>): Promise<Response> {
  let response: Response;
  try {
    response = await answer();
  } catch (err) {
    response = errorResponse(err);
  }
  // The handler's own Responses, whose headers can be changed; the body stays as it is (of known length) where it can.
  const { headers } = response;
  if (!headers.has('cache-control')) headers.set('cache-control', NOT_STORED);
  const head = request.method === 'HEAD';
  const tagged = response.status === 200 && (head || request.method === 'GET') && headers.get('cache-control') !== NOT_STORED;
  if (!head && !tagged) {
    addCorsHeaders(headers, request, response.status, cors);
    return response;
  }
  const bytes = await response.arrayBuffer();
  let status = response.status;
  if (head) headers.set('content-length', String(bytes.byteLength));
  if (tagged) {
    const etag = await entityTag(bytes);
    headers.set('etag', etag);
    if (ifNoneMatchHolds(request.headers.get('if-none-match'), etag)) {
      status = 304;
      headers.delete('content-type');
      headers.delete('content-length');
    }
  }
  addCorsHeaders(headers, request, status, cors);
  return new Response(head || status === 304 ? null : bytes, { status, headers });
}

/** A strong ETag for these bytes: the first 128 bits of their SHA-256 (Web Crypto, in every runtime the handler serves from). */
async function entityTag(bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return `"${Array.from(digest.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join('')}"`;
}

/** If-None-Match: "*" or a list of entity tags, compared weakly (W/"x" matches "x": the edge weakens ETags of bodies it compresses). */
function ifNoneMatchHolds(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

/** HttpErrors as they are, the decoder's InputErrors (a label out of range, a non-finite latent) as 400s, anything else as a logged 500. */
export function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) return err.toResponse();
  if (err instanceof InputError) return new HttpError(400, err.message).toResponse();
  console.error(err);
  return jsonResponse({ error: `internal error: ${(err as Error)?.message ?? String(err)}` }, 500);
}

function sample({ url, decoder, limits }: Context): Response {
  const query = queryParameters(url, ['n', 'seed', 'label', 'stddev', 'prior', 'format']);
  const n = integerParameter('n', query.get('n') ?? '16', 1, limits.maxSamples);
  const seed = query.has('seed') ? integerParameter('seed', query.get('seed')!, 0, MAX_SEED) : Math.floor(Math.random() * 2 ** 32);
  const label = labelParameter(query.get('label'), decoder);
  const prior = choiceParameter('prior', query.get('prior') ?? 'model', PRIOR_CHOICES);
  // Default: the prior the model was trained against (the file's priorStddev), or 1 within a fitted mixture.
  const stddev = query.has('stddev') ? numberParameter('stddev', query.get('stddev')!, 0, LIMITS.priorStddev) : decoder.defaultStddev(prior);
  const format = choiceParameter('format', query.get('format') ?? 'png', FORMATS);
  const samples = decoder.sample(n, { seed, prior, stddev, labels: label });
  const cache = query.has('seed') ? SEEDED_CACHE : NOT_STORED;
  return samplesResponse(samples, decoder, format, { seed, n, prior, stddev, ...(label === undefined ? {} : { label }) }, { [SEED_HEADER]: String(seed), 'cache-control': cache });
}

async function decode({ request, url, decoder, limits }: Context): Promise<Response> {
  const query = queryParameters(url, ['format', 'layout']);
  const format = choiceParameter('format', query.get('format') ?? 'png', FORMATS);
  const layout = choiceParameter('layout', query.get('layout') ?? 'NHWC', LATENT_LAYOUTS);
  const body = await readJsonBody(request, limits.maxBodyBytes);
  const { latents, labels, n } = decodeRequest(body, decoder.info.latentShape, limits.maxSamples);
  // A layout that does not fit the model (NCHW for a vector latent) is the decoder's InputError: a 400.
  const samples = decoder.decode(latents, labels, { layout });
  return samplesResponse(samples, decoder, format, { n, ...(labels === undefined ? {} : { labels }), ...(query.has('layout') ? { layout } : {}) });
}

function info({ url, decoder, limits }: Context): Response {
  queryParameters(url, []);
  // latentLayout as null where the file records none, so clients see the field either way (JSON drops undefined).
  const model = { ...decoder.info, latentLayout: decoder.info.latentLayout ?? null };
  return jsonResponse({ model, limits }, 200, { 'cache-control': REVALIDATED });
}

/** The label query parameter: absent (sample i gets class i mod classes), or one class for all samples. */
function labelParameter(text: string | undefined, decoder: Decoder): number | undefined {
  if (text === undefined) return undefined;
  const classes = decoder.info.classes;
  if (!classes) throw new HttpError(400, 'this model is not conditional: it takes no label');
  if (!/^[0-9]+$/.test(text)) throw new HttpError(400, `label must be a class: an integer in 0..${classes - 1}, got ${JSON.stringify(text)}`);
  // One past the classes is refused saying how many there are (checkLabel's InputError becomes a 400).
  return checkLabel(Number(text), 'label', classes);
}

/** Checks a POST /decode body: {"latents": rows of latentSize numbers (an image latent's flattened), "labels"?: one class or one per row}. */
function decodeRequest(body: unknown, latentShape: readonly number[], maxSamples: number): { latents: Float32Array; labels?: number | number[]; n: number } {
  const latentSize = latentShape.reduce((a, b) => a * b, 1);
  const rowMeaning = latentShape.length === 1 ? "the model's latent size" : `the model's [${latentShape.join(', ')}] image latent, flattened`;
  const shape = `{"latents": [[${latentSize} numbers], ...], "labels": a class or one per row (conditional models)}`;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, `the body must be a JSON object: ${shape}`);
  const unknown = Object.keys(body).filter((key) => key !== 'latents' && key !== 'labels');
  if (unknown.length) throw new HttpError(400, `unknown field ${JSON.stringify(unknown[0])} in the body; it takes ${shape}`);
  const { latents: rows, labels } = body as { latents?: unknown; labels?: unknown };
  if (!Array.isArray(rows) || rows.length === 0) throw new HttpError(400, `"latents" must be a non-empty array of rows: ${shape}`);
  if (rows.length > maxSamples) throw new HttpError(400, `${rows.length} latent rows is over the limit of ${maxSamples} per request`);
  const latents = new Float32Array(rows.length * latentSize);
  rows.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== latentSize) throw new HttpError(400, `latents[${i}] must be an array of ${latentSize} numbers (${rowMeaning})`);
    row.forEach((value: unknown, j) => {
      if (typeof value !== 'number') throw new HttpError(400, `latents[${i}][${j}] must be a number, got ${JSON.stringify(value)}`);
      latents[i * latentSize + j] = value;
    });
  });
  const labelsValid = labels === undefined || typeof labels === 'number' || Array.isArray(labels);
  if (!labelsValid) throw new HttpError(400, `"labels" must be one integer class or an array of them, got ${JSON.stringify(labels)}`);
  return { latents, labels: labels as number | number[] | undefined, n: rows.length };
}

/** The samples as one PNG grid, or as JSON: each sample's values in the output shape's order (h, w, c). */
function samplesResponse(samples: Float32Array, decoder: Decoder, format: Format, echo: Record<string, unknown>, headers: Record<string, string> = {}): Response {
  const { outputShape, outputSize, range } = decoder.info;
  if (format === 'png') {
    // fast-png's bytes always sit in a plain ArrayBuffer; the cast only tells the DOM typings so.
    const png = encodePng(toImageGrid(samples, { shape: outputShape, range })) as Uint8Array<ArrayBuffer>;
    return new Response(png, { headers: { 'content-type': 'image/png', ...headers } });
  }
  const rows = Array.from({ length: samples.length / outputSize }, (_, i) => Array.from(samples.subarray(i * outputSize, (i + 1) * outputSize)));
  return jsonResponse({ ...echo, shape: outputShape, range, samples: rows }, 200, headers);
}
