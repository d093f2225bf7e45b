/**
 * Builds a Worker folder the way `wrangler deploy` does, without wrangler: esbuild with wrangler's
 * options (ES modules, es2022, the workerd/worker/browser conditions, `minify` from wrangler.toml),
 * and wrangler's module collector, which takes imports matching the [[rules]] globs (plus its default
 * rules) out of the bundle as separate modules named `./<sha1>-<basename>`. The result is the list of
 * modules wrangler would upload, which miniflare runs in workerd as they are. Used by the Worker's
 * tests, its load test and the peer comparison, so all three run what a deployment would.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { Miniflare } from 'miniflare';

export type ModuleType = 'ESModule' | 'CompiledWasm' | 'Data' | 'Text';
export interface WorkerModule {
  /** The name the bundle imports it by, as wrangler names it. */
  name: string;
  type: ModuleType;
  contents: Uint8Array;
  /** The file it came from (the entry's bundle has none). */
  source?: string;
}

interface ModuleRule {
  type: ModuleType;
  globs: string[];
  fallthrough?: boolean;
}

export interface WranglerConfig {
  name: string;
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  minify?: boolean;
  vars?: Record<string, string | number | boolean>;
  rules?: ModuleRule[];
}

export interface WorkerBundle {
  dir: string;
  config: WranglerConfig;
  /** The entry's bundled JavaScript first, then the modules the rules took out. */
  modules: WorkerModule[];
}

// wrangler's defaults (deployment-bundle/rules.ts and bundle.ts).
const DEFAULT_RULES: ModuleRule[] = [
  { type: 'Text', globs: ['**/*.txt', '**/*.html', '**/*.sql'] },
  { type: 'Data', globs: ['**/*.bin'] },
  { type: 'CompiledWasm', globs: ['**/*.wasm', '**/*.wasm?module'] },
];
const BUILD_CONDITIONS = ['workerd', 'worker', 'browser'];

/** Bundles the Worker in `dir` (which holds wrangler.toml) as `wrangler deploy` would. */
export async function bundleWorker(dir: string): Promise<WorkerBundle> {
  const config = readWranglerToml(join(dir, 'wrangler.toml'));
  const collected: WorkerModule[] = [];
  const result = await esbuild.build({
    entryPoints: [resolve(dir, config.main)],
    absWorkingDir: dir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    conditions: BUILD_CONDITIONS,
    minify: config.minify ?? false,
    loader: { '.js': 'jsx', '.mjs': 'jsx', '.cjs': 'jsx' },
    external: ['__STATIC_CONTENT_MANIFEST'],
    plugins: [moduleCollector(activeRules(config.rules ?? []), collected)],
    write: false,
    outdir: join(dir, 'dist'),
    logLevel: 'silent',
  });
  const entry = result.outputFiles.find((file) => file.path.endsWith('.js'));
  if (!entry) throw new Error(`esbuild produced no JavaScript for ${config.main}`);
  return { dir, config, modules: [{ name: basename(entry.path), type: 'ESModule', contents: entry.contents }, ...collected] };
}

/** User rules first, then the defaults; a rule type without `fallthrough = true` hides later rules of that type. */
function activeRules(userRules: ModuleRule[]): ModuleRule[] {
  const closedTypes = new Set<ModuleType>();
  return [...userRules, ...DEFAULT_RULES].filter((rule) => {
    if (closedTypes.has(rule.type)) return false;
    if (!rule.fallthrough) closedTypes.add(rule.type);
    return true;
  });
}

/** glob-to-regexp without flags, as wrangler uses it: `*` matches anything, slashes included, anchored at both ends. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\/?]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

function moduleCollector(rules: ModuleRule[], collected: WorkerModule[]): esbuild.Plugin {
  return {
    name: 'wrangler-module-collector',
    setup(build) {
      for (const rule of rules) {
        for (const glob of rule.globs) {
          build.onResolve({ filter: globToRegExp(glob) }, async (args) => {
            if (args.pluginData?.collecting) return undefined;
            const filePath = await resolveImport(build, args);
            const contents = await readFile(filePath);
            const name = `./${createHash('sha1').update(contents).digest('hex')}-${basename(args.path)}`;
            collected.push({ name, type: rule.type, contents, source: filePath });
            return { path: name, external: true, namespace: `wrangler-module-${rule.type}` };
          });
        }
      }
    },
  };
}

/** Package paths through their package.json "exports" (wrangler's resolve.exports step), others relative to the importer. */
async function resolveImport(build: esbuild.PluginBuild, args: esbuild.OnResolveArgs): Promise<string> {
  if (args.path.includes('/') && !args.path.startsWith('.')) {
    const found = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { collecting: true } });
    if (found.errors.length === 0) return found.path;
  }
  return join(args.resolveDir, args.path);
}

/**
 * Gives the example what `npm install` does for its `"edgevae": "file:../.."` dependency: a link
 * node_modules/edgevae to the package root, so it imports the package by name as a user's Worker would.
 */
export function linkPackageInto(dir: string, packageRoot: string): void {
  const link = join(dir, 'node_modules', 'edgevae');
  if (existsSync(link) || isDanglingLink(link)) return;
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(relative(dirname(link), packageRoot), link, 'dir');
}

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Bytes of each module gzipped (as the Workers size limit counts them), and their sum. */
export function gzippedSizes(modules: WorkerModule[]): { name: string; type: ModuleType; bytes: number; gzipped: number }[] {
  return modules.map((m) => ({ name: m.name, type: m.type, bytes: m.contents.length, gzipped: gzipSync(m.contents).length }));
}

/** Runs a bundle in workerd. `port` makes it listen on 127.0.0.1 (0: any free port); otherwise use dispatchFetch. */
export function startWorker(bundle: WorkerBundle, options: { bindings?: Record<string, string | number | boolean>; port?: number } = {}): Miniflare {
  return new Miniflare({
    modulesRoot: bundle.dir,
    modules: bundle.modules.map((m) => ({ type: m.type, path: join(bundle.dir, m.name), contents: m.contents })),
    compatibilityDate: bundle.config.compatibility_date,
    compatibilityFlags: bundle.config.compatibility_flags ?? [],
    bindings: { ...bundle.config.vars, ...options.bindings },
    ...(options.port === undefined ? {} : { host: '127.0.0.1', port: options.port }),
  });
}

// ---- wrangler.toml ----

/**
 * Reads the part of TOML a wrangler.toml uses here: `key = value` pairs (strings, integers, booleans,
 * one-line arrays of strings), [tables] and [[arrays of tables]], and # comments. Anything else is an
 * error naming the line, rather than a silently different configuration.
 */
export function readWranglerToml(path: string): WranglerConfig {
  const root: Record<string, unknown> = {};
  let table = root;
  readFileSync(path, 'utf8').split('\n').forEach((raw, i) => {
    const line = stripComment(raw).trim();
    if (!line) return;
    const where = `${path}:${i + 1}`;
    const header = /^(\[\[?)([A-Za-z0-9_.-]+)\]\]?$/.exec(line);
    if (header) {
      table = {};
      if (header[1] === '[[') ((root[header[2]] ??= []) as unknown[]).push(table);
      else root[header[2]] = table;
      return;
    }
    const pair = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(line);
    if (!pair) throw new Error(`${where}: cannot read ${JSON.stringify(raw)}`);
    table[pair[1]] = tomlValue(pair[2], where);
  });
  for (const key of ['name', 'main', 'compatibility_date']) {
    if (typeof root[key] !== 'string') throw new Error(`${path}: "${key}" must be set`);
  }
  return root as unknown as WranglerConfig;
}

function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (line[i] === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}

function tomlValue(text: string, where: string): unknown {
  if (/^"[^"\\]*"$/.test(text)) return text.slice(1, -1);
  if (/^-?[0-9]+$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^\[.*\]$/.test(text)) {
    const items = text.slice(1, -1).split(',').map((item) => item.trim()).filter(Boolean);
    return items.map((item) => {
      if (!/^"[^"\\]*"$/.test(item)) throw new Error(`${where}: arrays here hold plain strings, got ${item}`);
      return item.slice(1, -1);
    });
  }
  throw new Error(`${where}: unsupported TOML value ${text}`);
}
