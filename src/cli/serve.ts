/**
 * `edgevae serve`: the web demo (examples/web/index.html with the <edgevae-sampler> bundle) and the
 * shipped models, over HTTP on the loopback interface by default. With --model FILE (repeatable), a
 * page of those models instead: each file is checked to load first, and is served at its own path
 * (never its folder).
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Server } from 'node:http';
import { basename, join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { Decoder, EdgeVaeError, InputError } from '../index.ts';
import { modelFolders, packageRoot, readInput, resolveModel } from '../node/files.ts';
import { createStaticServer, type Mount } from '../node/static-server.ts';

/** The element bundle `npm run build:web` writes; the demo page loads it as ./edgevae-sampler.js. */
export const SAMPLER_BUNDLE = join('dist', 'browser', 'edgevae-sampler.js');

export interface ServeOptions {
  port: number;
  host: string;
  /** Model files (or shipped model names) to show instead of the demo's two. */
  models?: string[];
}

/** A model the page shows: where it is read from, the path it is served at, and what it is. */
export interface ServedModel {
  file: string;
  urlPath: string;
  description: string;
}

/** Most --model files one page shows. */
export const MAX_SERVED_MODELS = 32;

/**
 * Resolves and loads each --model value (a file, or a shipped model's name), so that a missing file,
 * a folder or a file that is not an edgevae model is refused before the server starts, naming it.
 */
export async function checkServedModels(values: readonly string[]): Promise<ServedModel[]> {
  if (values.length > MAX_SERVED_MODELS) throw new InputError(`${values.length} --model files given; one page shows at most ${MAX_SERVED_MODELS}`);
  const served: ServedModel[] = [];
  for (const [i, value] of values.entries()) {
    const file = resolveModel(value);
    let decoder: Decoder;
    try {
      decoder = await Decoder.load(await readInput(file, 'model file'));
    } catch (err) {
      if (err instanceof EdgeVaeError) throw new InputError(`--model ${value}: ${err.message}`);
      throw err;
    }
    const { latentSize, classes, outputShape } = decoder.info;
    const description = `${latentSize}-d latent${classes ? `, ${classes} classes` : ''}, [${outputShape.join(', ')}] output`;
    served.push({ file, urlPath: `/given/${i + 1}/${basename(file)}`, description });
  }
  return served;
}

/** --host: an IP address or "localhost", so a typo fails here rather than as a DNS error. */
export function parseHost(value: string): string {
  if (value === 'localhost' || isIP(value) !== 0) return value;
  throw new InvalidArgumentError(`expected an IP address (such as 127.0.0.1 or ::1) or localhost, got "${value}"`);
}

/**
 * The URL paths the demo answers: /models/NAME.evae from each model folder (this package's cvae, and
 * aae and conv-vae where the models package is there), the bundle, and the page.
 */
export function demoMounts(root = packageRoot(), models = modelFolders()): Mount[] {
  return [
    ...models.map((dir) => ({ urlPrefix: '/models/', dir })),
    { urlPrefix: '/', dir: join(root, 'dist', 'browser') },
    { urlPrefix: '/', dir: join(root, 'examples', 'web') },
  ];
}

/** The page of --model files: one <edgevae-sampler> each, under the file's name. */
export function modelsPage(models: readonly ServedModel[]): string {
  const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const sections = models.map((m) => {
    const url = `.${m.urlPath.split('/').map(encodeURIComponent).join('/')}`;
    return `    <section>
      <h2><code>${escape(m.file)}</code></h2>
      <p>${escape(m.description)}</p>
      <edgevae-sampler model="${escape(url)}" seed="1" count="16"></edgevae-sampler>
    </section>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <title>edgevae: your models in the browser</title>
  <script type="module" src="./edgevae-sampler.js"></script>
  <style>
    body { font: 15px system-ui, sans-serif; margin: 24px; color: #222; }
    main { display: flex; flex-wrap: wrap; gap: 40px; align-items: flex-start; }
    h1 { font-size: 20px; margin: 0 0 4px; }
    h2 { font-size: 16px; margin: 0 0 4px; }
    p { margin: 0 0 8px; color: #555; }
  </style>
</head>
<body>
  <h1>edgevae in the browser</h1>
  <p>Each decoder runs in WebAssembly SIMD on this page; the same seed draws the same pixels as <code>npx edgevae sample</code>.</p>
  <main>
${sections.join('\n')}
  </main>
</body>
</html>
`;
}

/** Starts the demo server; resolves once it listens, with its URL (and the models it shows, given --model). */
export async function serveDemo(options: ServeOptions): Promise<{ server: Server; url: string; models: ServedModel[] }> {
  const root = packageRoot();
  if (!existsSync(join(root, SAMPLER_BUNDLE))) throw new InputError(`${SAMPLER_BUNDLE} is missing: build it with "npm run build" (or "npm run build:web")`);
  const models = await checkServedModels(options.models ?? []);
  const page = modelsPage(models);
  const given: Mount[] = models.length ? [{ urlPath: '/', html: page }, { urlPath: '/index.html', html: page }, ...models.map((m) => ({ urlPath: m.urlPath, file: m.file }))] : [];
  const server = createStaticServer([...given, ...demoMounts(root)]);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, options)));
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as { port: number };
  const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
  return { server, url: `http://${host}:${port}/`, models };
}

function listenError(err: NodeJS.ErrnoException, { port, host }: ServeOptions): Error {
  if (err.code === 'EADDRINUSE') return new InputError(`port ${port} on ${host} is in use: choose another with --port (0 picks a free one)`);
  if (err.code === 'EACCES') return new InputError(`not allowed to listen on port ${port} (ports below 1024 need privileges): choose another with --port`);
  if (err.code === 'EADDRNOTAVAIL') return new InputError(`cannot listen on ${host}: it is not an address of this machine`);
  return err;
}
