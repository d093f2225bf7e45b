/**
 * A small static file server (node:http) for the web demo: GET and HEAD of files under a few mounted
 * folders, of single files each mounted at one path, and of pages made in memory; nothing else. A
 * request can never reach a file outside its mount: `..` segments, backslashes and NUL bytes are
 * refused before any path is built, and the real path (symlinks followed) must still lie inside the
 * mount's real path. A single file's mount answers its one path only.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';

/**
 * Files under `dir` answer URLs under `urlPrefix` (which starts and ends with '/'); a single `file`, or
 * a page's `html`, answers the one (decoded) path `urlPath`.
 */
export type Mount = { urlPrefix: string; dir: string } | { urlPath: string; file: string } | { urlPath: string; html: string };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.evae': 'application/octet-stream',
};

type Lookup = { file: string; size: number } | { html: string } | { status: 400 | 404; message: string };

/** A server for `mounts`, tried in order: the first mount holding the requested file answers. */
export function createStaticServer(mounts: readonly Mount[]): Server {
  for (const m of mounts) {
    if ('urlPrefix' in m && (!m.urlPrefix.startsWith('/') || !m.urlPrefix.endsWith('/'))) throw new Error(`mount prefix must start and end with "/", got "${m.urlPrefix}"`);
    if ('urlPath' in m && !m.urlPath.startsWith('/')) throw new Error(`mount path must start with "/", got "${m.urlPath}"`);
  }
  return createServer((request, response) => {
    respond(mounts, request, response).catch((err: Error) => sendText(response, 500, `internal error: ${err.message}`));
  });
}

async function respond(mounts: readonly Mount[], request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return sendText(response, 405, `method ${request.method} is not allowed: this server only reads files`);
  }
  const found = await lookUp(mounts, request.url ?? '/');
  if ('status' in found) return sendText(response, found.status, found.message);
  if ('html' in found) {
    const body = Buffer.from(found.html);
    response.writeHead(200, { 'Content-Type': CONTENT_TYPES['.html'], 'Content-Length': body.length, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    return void response.end(request.method === 'HEAD' ? undefined : body);
  }
  response.writeHead(200, {
    'Content-Type': CONTENT_TYPES[extname(found.file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': found.size,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  if (request.method === 'HEAD') return void response.end();
  createReadStream(found.file).on('error', () => response.destroy()).pipe(response);
}

/** The file a request URL names, or why there is none. */
export async function lookUp(mounts: readonly Mount[], requestUrl: string): Promise<Lookup> {
  const segments = pathSegments(requestUrl);
  if (segments === undefined) return { status: 400, message: 'bad request path: it must not hold "..", "\\", NUL or broken %-escapes' };
  const path = `/${segments.join('/')}`;
  for (const mount of mounts) {
    if ('urlPath' in mount) {
      if (path !== mount.urlPath) continue;
      if ('html' in mount) return { html: mount.html };
      const file = await regularFile(mount.file);
      if (file) return file;
      continue;
    }
    if (!path.startsWith(mount.urlPrefix) && `${path}/` !== mount.urlPrefix) continue;
    const file = await fileInside(mount.dir, path.slice(mount.urlPrefix.length).split('/').filter(Boolean));
    if (file) return file;
  }
  return { status: 404, message: `not found: ${path}` };
}

/** The decoded path segments of a request URL, or undefined when any could step outside a folder. */
function pathSegments(requestUrl: string): string[] | undefined {
  const rawPath = requestUrl.split(/[?#]/, 1)[0];
  let segments: string[];
  try {
    segments = rawPath.split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const unsafe = segments.some((s) => s === '..' || s.includes('/') || s.includes('\\') || s.includes('\0'));
  return unsafe ? undefined : segments.filter((s) => s !== '' && s !== '.');
}

/** The regular file at `segments` under `dir` (index.html for a folder), if its real path is inside `dir`. */
async function fileInside(dir: string, segments: string[]): Promise<{ file: string; size: number } | undefined> {
  try {
    const root = await realpath(dir);
    let file = join(root, ...segments);
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    file = await realpath(file);
    if (!file.startsWith(root + sep)) return undefined;
    const info = await stat(file);
    return info.isFile() ? { file, size: info.size } : undefined;
  } catch {
    return undefined; // missing file or folder
  }
}

/** `path` and its size, when it is a regular file. */
async function regularFile(path: string): Promise<{ file: string; size: number } | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? { file: path, size: info.size } : undefined;
}

function sendText(response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) return void response.destroy();
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  response.end(`${message}\n`);
}
