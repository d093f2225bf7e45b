/**
 * The HTTP plumbing of the Worker, on web-standard Request/Response only (no runtime-specific APIs):
 * one error type that turns itself into a JSON response, and strict readers for query parameters and
 * JSON bodies. Every check here answers a bad request with a 4xx naming what is wrong.
 */

/** A request the server refuses, with the status and message the client gets as JSON. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }

  toResponse(): Response {
    return jsonResponse({ error: this.message }, this.status, this.headers);
  }
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

/**
 * The query parameters of `url`, refusing names outside `accepted` (a typo such as `lable=3` would
 * otherwise be ignored silently) and names given twice (which value wins would be a guess).
 */
export function queryParameters(url: URL, accepted: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (!accepted.includes(name)) throw new HttpError(400, `unknown query parameter "${name}"; this endpoint takes ${accepted.join(', ')}`);
    if (values.has(name)) throw new HttpError(400, `query parameter "${name}" is given more than once`);
    values.set(name, value);
  }
  return values;
}

/** A decimal integer in min..max; anything else (1.5, 1e3, 0x10, blanks, out of range) is a 400. */
export function integerParameter(name: string, text: string, min: number, max: number): number {
  const value = /^-?[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(400, `${name} must be an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A decimal number in min..max (1, 0.5, 2e-1); anything else (blanks, hex, inf, out of range) is a 400. */
export function numberParameter(name: string, text: string, min: number, max: number): number {
  const value = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new HttpError(400, `${name} must be a number in ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** One of `choices`, else a 400 listing them. */
export function choiceParameter<T extends string>(name: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new HttpError(400, `${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

/**
 * The request's body parsed as JSON, after checking its content type and reading at most `maxBytes`
 * (the declared Content-Length is checked first, and the stream is cut off past the limit for bodies
 * sent without one, so an oversized body is never held in memory whole).
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const contentType = request.headers.get('content-type') ?? '';
  if (contentType.split(';')[0].trim().toLowerCase() !== 'application/json') {
    throw new HttpError(415, `the body must be JSON, sent with content-type: application/json (got ${contentType ? JSON.stringify(contentType) : 'none'})`, { 'accept-post': 'application/json' });
  }
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readAtMost(request, maxBytes);
  if (bytes.length === 0) throw new HttpError(400, 'the request body is empty; send a JSON object');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `the request body is over the limit of ${maxBytes} bytes`);
}

async function readAtMost(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
