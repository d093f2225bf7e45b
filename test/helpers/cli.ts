/** Runs the edgevae command from source (through tsx), as a user would, capturing its exit code and output. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The command's entry in the source tree. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export function edgevae(...args: string[]) {
  return edgevaeWithNodeFlags([], ...args);
}

/** The command run by a node started with `nodeFlags` (e.g. --experimental-wasm-relaxed-simd). */
export function edgevaeWithNodeFlags(nodeFlags: string[], ...args: string[]) {
  const result = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', CLI, ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
