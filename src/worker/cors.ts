/**
 * Cross-origin access to the sampling API (CORS), on web-standard Headers only: which origins may read
 * its responses, and the answer to a browser's preflight. The API is public and takes no credentials,
 * so no response allows them.
 */
import { InputError } from '../errors.ts';

export interface CorsOptions {
  /**
   * Who may read the responses from a page: `'*'` (default) any origin; one origin such as
   * `'https://example.com'`, or a list of them: a request whose Origin is one of them gets it back in
   * Access-Control-Allow-Origin (with `Vary: Origin`), any other gets no Access-Control-Allow-Origin,
   * so its browser keeps the response from the page.
   */
  origin?: string | readonly string[];
  /** Seconds a browser may keep a preflight's answer (Access-Control-Max-Age): 0..86400, default 86400. */
  maxAge?: number;
}

/** CorsOptions checked: build one with corsPolicy(). */
export interface CorsPolicy {
  /** '*', or the origins allowed, each as browsers send it in Origin. */
  readonly origins: '*' | ReadonlySet<string>;
  readonly maxAge: number;
}

/** Longest preflight cache that browsers honour (Firefox: 24 hours; Chromium caps it at 2 hours). */
const MAX_AGE_LIMIT = 86_400;
/** Request headers a page may send beyond the CORS-safelisted ones: a JSON body's content type, and a revalidation. */
const ALLOW_HEADERS = 'content-type, if-none-match';
/** Response headers a page can read without being told it may (the CORS-safelisted response headers). */
const SAFELISTED_RESPONSE_HEADERS = new Set(['cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma']);

/** Checks CorsOptions; a wrong one is an InputError naming it, thrown when the Worker is made (at deploy, not at the first request). */
export function corsPolicy(options: CorsOptions = {}): CorsPolicy {
  if (typeof options !== 'object' || options === null) throw new InputError(`cors must be an object { origin?, maxAge? }, got ${JSON.stringify(options)}`);
  const unknown = Object.keys(options).filter((key) => key !== 'origin' && key !== 'maxAge');
  if (unknown.length) throw new InputError(`unknown cors option "${unknown[0]}"; it takes origin and maxAge`);
  const { origin = '*', maxAge = MAX_AGE_LIMIT } = options;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0 || maxAge > MAX_AGE_LIMIT) {
    throw new InputError(`cors.maxAge must be an integer number of seconds in 0..${MAX_AGE_LIMIT}, got ${JSON.stringify(maxAge)}`);
  }
  if (origin === '*') return { origins: '*', maxAge };
  const list = typeof origin === 'string' ? [origin] : origin;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InputError(`cors.origin must be '*', an origin such as "https://example.com", or a non-empty array of origins, got ${JSON.stringify(origin)}`);
  }
  return { origins: new Set(list.map(checkOrigin)), maxAge };
}

/** The policy of createWorker and handleRequest when none is given: any origin may read. */
export const ANY_ORIGIN: CorsPolicy = corsPolicy();

/** An origin exactly as a browser sends it (scheme://host[:port], lower case, no path or trailing slash), since Origin is compared as a string. */
function checkOrigin(origin: unknown): string {
  if (origin === '*') throw new InputError(`cors.origin: '*' stands alone, not in a list of origins`);
  let serialized: string | undefined;
  try {
    serialized = typeof origin === 'string' ? new URL(origin).origin : undefined;
  } catch {
    serialized = undefined;
  }
  if (serialized === origin) return origin as string;
  const hint = serialized && serialized !== 'null' ? `; did you mean "${serialized}"?` : '';
  throw new InputError(`cors.origin: ${JSON.stringify(origin)} is not an origin as browsers send it (scheme://host[:port], nothing after)${hint}`);
}

/**
 * Adds the CORS headers for `request` to `headers`: Access-Control-Allow-Origin when the request's
 * origin may read, Access-Control-Expose-Headers naming every header beyond the safelisted ones (so a
 * page can read x-edgevae-seed, ETag, Allow), and, on the 204 answer to OPTIONS, the preflight's
 * methods (from its Allow header), request headers and max age.
 */
export function addCorsHeaders(headers: Headers, request: Request, status: number, policy: CorsPolicy): void {
  const origin = request.headers.get('origin');
  if (policy.origins !== '*') headers.append('vary', 'Origin');
  const allowed = policy.origins === '*' ? '*' : origin !== null && policy.origins.has(origin) ? origin : undefined;
  if (allowed === undefined) return;
  const exposed = [...headers.keys()].filter((name) => !SAFELISTED_RESPONSE_HEADERS.has(name) && name !== 'vary');
  headers.set('access-control-allow-origin', allowed);
  if (exposed.length) headers.set('access-control-expose-headers', exposed.join(', '));
  if (request.method === 'OPTIONS' && status === 204) {
    headers.set('access-control-allow-methods', headers.get('allow') ?? '');
    headers.set('access-control-allow-headers', ALLOW_HEADERS);
    headers.set('access-control-max-age', String(policy.maxAge));
  }
}
