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
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** Bytes of the regular files under `dir` (symlinks, such as node_modules/.bin's, not followed). */
export function fileBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += fileBytes(path);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

/**
 * The runtime package installed into an empty project: its own files, and those of each package its
 * dependencies bring (every one, transitively, as the lockfile resolves them, read from this
 * checkout's node_modules). npm's own node_modules/.package-lock.json is left out.
 */
export function installedRuntime(root = ROOT, packed = packDryRun(root)): { bytes: number; packages: string[] } {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dependencies?: Record<string, string> }> };
  const packages: string[] = [];
  const visit = (deps: Record<string, string> = {}) => {
    for (const name of Object.keys(deps)) {
      if (packages.includes(name)) continue;
      packages.push(name);
      visit(lock.packages[`node_modules/${name}`]?.dependencies);
    }
  };
  visit(lock.packages[''].dependencies);
  const bytes = packed.unpackedSize + packages.reduce((sum, name) => sum + fileBytes(join(root, 'node_modules', name)), 0);
  return { bytes, packages: packages.sort() };
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
  const installed = installedRuntime(root, runtime);
  const models = packDryRun(root, 'packages/models');
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
| \`${runtime.name}\`: the runtime, the sampling commands, the default cvae | ${int(runtime.size)} (${mb(runtime.size)}; limit ${mb(TARBALL_LIMIT)}) | ${runtime.files.length} | ${int(runtime.unpackedSize)} | ${int(installed.bytes)} (${mb(installed.bytes)}; limit ${mb(INSTALLED_LIMIT)}), with ${installed.packages.map((p) => `\`${p}\``).join(', ')} |
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
