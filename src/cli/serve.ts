/**
 * `edgevae serve`: the web demo (examples/web/index.html with the <edgevae-sampler> bundle) and the
 * shipped models, over HTTP on the loopback interface by default.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { InputError } from '../errors.ts';
import { packageRoot } from '../node/files.ts';
import { createStaticServer, type Mount } from '../node/static-server.ts';

/** The element bundle `npm run build:web` writes; the demo page loads it as ./edgevae-sampler.js. */
export const SAMPLER_BUNDLE = join('dist', 'browser', 'edgevae-sampler.js');

export interface ServeOptions {
  port: number;
  host: string;
}

/** --host: an IP address or "localhost", so a typo fails here rather than as a DNS error. */
export function parseHost(value: string): string {
  if (value === 'localhost' || isIP(value) !== 0) return value;
  throw new InvalidArgumentError(`expected an IP address (such as 127.0.0.1 or ::1) or localhost, got "${value}"`);
}

/** The URL paths the demo answers: /models/NAME.evae, the bundle, and the page. */
export function demoMounts(root = packageRoot()): Mount[] {
  return [
    { urlPrefix: '/models/', dir: join(root, 'models') },
    { urlPrefix: '/', dir: join(root, 'dist', 'browser') },
    { urlPrefix: '/', dir: join(root, 'examples', 'web') },
  ];
}

/** Starts the demo server; resolves once it listens, with its URL. */
export async function serveDemo(options: ServeOptions): Promise<{ server: Server; url: string }> {
  const root = packageRoot();
  if (!existsSync(join(root, SAMPLER_BUNDLE))) throw new InputError(`${SAMPLER_BUNDLE} is missing: build it with "npm run build" (or "npm run build:web")`);
  const server = createStaticServer(demoMounts(root));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, options)));
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as { port: number };
  const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
  return { server, url: `http://${host}:${port}/` };
}

function listenError(err: NodeJS.ErrnoException, { port, host }: ServeOptions): Error {
  if (err.code === 'EADDRINUSE') return new InputError(`port ${port} on ${host} is in use: choose another with --port (0 picks a free one)`);
  if (err.code === 'EACCES') return new InputError(`not allowed to listen on port ${port} (ports below 1024 need privileges): choose another with --port`);
  if (err.code === 'EADDRNOTAVAIL') return new InputError(`cannot listen on ${host}: it is not an address of this machine`);
  return err;
}
