/**
 * The size figures the docs state, measured from this checkout's build: the wasm runtime (build/),
 * the browser bundles (dist/browser/) and the example Worker as `wrangler deploy` bundles it
 * (scripts/wrangler-bundle.ts), each raw and gzipped by node:zlib's default level (as the Workers
 * size limit counts them); and what installs: the runtime package's and the models package's
 * tarballs as `npm pack` makes them, and the runtime's node_modules in an empty project.
 * docs/SIZES.md is this script's output; test/sizes.test.ts regenerates it from the current build and
 * fails when the committed file differs, so the figures cannot go stale. The installed figure is
 * predicted here (the package's files and its dependencies' as the lockfile installs them);
 * test/pack-install.test.ts installs the tarball and holds the real node_modules to it.
 *
 *   npm run build && node --import tsx scripts/sizes.ts --write   # rewrites docs/SIZES.md
 *   node --import tsx scripts/sizes.ts                            # prints it
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundleWorker, gzippedSizes, linkPackageInto } from './wrangler-bundle.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The runtime package's limits (issue 24): its tarball, and node_modules in an empty project. */
export const TARBALL_LIMIT = 1_500_000;
export const INSTALLED_LIMIT = 2_000_000;

export interface PackedPackage {
  name: string;
  /** The tarball's bytes. */
  size: number;
  /** The bytes of the files in it. */
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** What `npm pack` puts in a package (the root's, or a workspace's), without running its scripts. */
export function packDryRun(root = ROOT, workspace?: string): PackedPackage {
  const args = ['pack', '--dry-run', '--json', '--ignore-scripts', ...(workspace ? ['-w', workspace] : [])];
  const result = spawnSync('npm', args, { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed: ${result.stderr}`);
  const [packed] = JSON.parse(result.stdout) as PackedPackage[];
  return packed;
}

/**
 * Bytes of the regular files under `dir` (symlinks, such as node_modules/.bin's, not followed); with
 * `ownOnly`, a package's own, without the node_modules folders nested in it.
 */
export function fileBytes(dir: string, ownOnly = false): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += ownOnly && entry.name === 'node_modules' ? 0 : fileBytes(path, ownOnly);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

interface Lockfile {
  packages: Record<string, { link?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }>;
}

/** The lockfile entry a package `from` (a lockfile path; '' for the root) gets for `name`: the nearest node_modules up. */
function resolveInLock(lock: Lockfile, from: string, name: string): string | undefined {
  for (let base = from; ; ) {
    const key = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock.packages[key]) return key;
    if (!base) return undefined;
    const parent = base.lastIndexOf('/node_modules/');
    base = parent < 0 ? '' : base.slice(0, parent);
  }
}

/** The lockfile entries (paths such as node_modules/commander) that a package's dependencies bring, transitively. */
export function dependencyClosure(root = ROOT, from = ''): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const found = new Set<string>();
  const visit = (dependencies: Record<string, string> = {}, at: string) => {
    for (const name of Object.keys(dependencies)) {
      const key = resolveInLock(lock, at, name);
      if (key === undefined || found.has(key) || lock.packages[key].link) continue;
      found.add(key);
      visit({ ...lock.packages[key].dependencies, ...lock.packages[key].optionalDependencies }, key);
    }
  };
  visit(lock.packages[from].dependencies, from);
  return [...found].sort();
}

/**
 * A package installed into an empty project: its own files (as packed), and those of each package
 * its dependencies bring, as the lockfile resolves them, read from this checkout's node_modules (an
 * optional one not installed on this platform counts nothing). npm's own
 * node_modules/.package-lock.json is left out.
 */
export function installedBytes(packed: PackedPackage, root = ROOT, from = ''): { bytes: number; packages: string[] } {
  const packages = dependencyClosure(root, from);
  const bytes = packed.unpackedSize + packages.reduce((sum, key) => sum + (existsSync(join(root, key)) ? fileBytes(join(root, key), true) : 0), 0);
  return { bytes, packages };
}

const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
const int = (n: number): string => n.toLocaleString('en-US');

function fileRow(root: string, path: string, what: string): string {
  const bytes = readFileSync(join(root, path));
  const gz = gzipSync(bytes).length;
  return `| \`${path}\` | ${what} | ${int(bytes.length)} | ${int(gz)} (${kib(gz)}) |`;
}

/** docs/SIZES.md as the current build gives it. */
export async function sizesMarkdown(root = ROOT): Promise<string> {
  const files = [
    fileRow(root, 'build/edgevae.wasm', 'the runtime, strict SIMD build'),
    fileRow(root, 'build/edgevae-relaxed.wasm', 'the runtime, relaxed SIMD build'),
    fileRow(root, 'build/edgevae-threads.wasm', 'the runtime for one decode shared by threads (shared memory, strict SIMD)'),
    fileRow(root, 'dist/browser/edgevae-sampler.js', '`<edgevae-sampler>`: the element, the runtime and both wasm builds as base64'),
    fileRow(root, 'dist/browser/edgevae-pool.js', '`createWebPool` for pages without a bundler'),
    fileRow(root, 'dist/browser/pool-worker.js', 'the pool\'s module worker, with the runtime and its wasm'),
  ];
  const exampleDir = join(root, 'examples/worker');
  linkPackageInto(exampleDir, root);
  const bundle = await bundleWorker(exampleDir);
  const sizes = gzippedSizes(bundle.modules);
  const sum = (types: string[]) => sizes.filter((s) => types.includes(s.type)).reduce((a, s) => a + s.gzipped, 0);
  const code = sum(['ESModule', 'Text']);
  const wasm = sum(['CompiledWasm']);
  const data = sum(['Data']);
  const runtime = packDryRun(root);
  const installed = installedBytes(runtime, root);
  const models = packDryRun(root, 'packages/models');
  const train = packDryRun(root, 'packages/train');
  const training = installedBytes(train, root, 'packages/train');
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  return `# Sizes

<!-- generated by scripts/sizes.ts from the build (npm run build, then node --import tsx scripts/sizes.ts --write);
test/sizes.test.ts checks it against the current build. Do not edit by hand. -->

Measured from this checkout's build; gzipped by node:zlib's default level.

| file | what | bytes | gzipped |
|---|---|---|---|
${files.join('\n')}

The example Worker (\`examples/worker\`, bundled as \`wrangler deploy\` bundles it, by
\`scripts/wrangler-bundle.ts\`), gzipped as Workers' size limit counts it: ${kib(code + wasm)} without its model
(the bundled JavaScript ${kib(code)}, the wasm ${kib(wasm)}); the shipped cvae adds ${kib(data)}.
How that compares with Workers' limits: [BENCHMARKS.md](BENCHMARKS.md#bundle-size-against-workers-limits).

## What installs

\`npm pack\` of each package, and the runtime package installed into an empty project (what is in,
and why: [API.md](API.md#what-installs-what)).

| package | tarball | files | bytes unpacked | installed: node_modules |
|---|---|---|---|---|
| \`${runtime.name}\`: the runtime, the sampling commands, the default cvae | ${int(runtime.size)} (${mb(runtime.size)}; limit ${mb(TARBALL_LIMIT)}) | ${runtime.files.length} | ${int(runtime.unpackedSize)} | ${int(installed.bytes)} (${mb(installed.bytes)}; limit ${mb(INSTALLED_LIMIT)}), with ${installed.packages.map((p) => `\`${p.slice('node_modules/'.length)}\``).join(', ')} |
| \`${train.name}\`: the training side (its \`dist/\`, copied from the build) | ${int(train.size)} (${mb(train.size)}) | ${train.files.length} | ${int(train.unpackedSize)} | ${int(training.bytes)} (${mb(training.bytes)}), with ${training.packages.length} packages: TensorFlow.js and the other training libraries |
| \`${models.name}\`: conv-vae, aae, the judge | ${int(models.size)} (${mb(models.size)}) | ${models.files.length} | ${int(models.unpackedSize)} | ${int(models.unpackedSize)}, beside edgevae (no dependencies) |

Installed bytes are the files' own sizes, as npm counts a package's unpacked size; \`du\` reports
more, since it counts each small file as whole 4 KiB blocks. \`test/pack-install.test.ts\` packs the
runtime package, installs it offline into a temporary project, checks both limits and these figures
against that node_modules, and samples from it.
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await sizesMarkdown();
  if (process.argv.includes('--write')) writeFileSync(join(ROOT, 'docs/SIZES.md'), text);
  else process.stdout.write(text);
}
