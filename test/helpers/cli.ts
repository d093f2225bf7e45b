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
  return run(nodeFlags, args);
}

/** The command run with `env` as its whole environment (PATH and HOME are kept unless given). */
export function edgevaeWithEnv(env: Record<string, string | undefined>, ...args: string[]) {
  return run([], args, { PATH: process.env.PATH, HOME: process.env.HOME, ...env });
}

function run(nodeFlags: string[], args: string[], env?: Record<string, string | undefined>) {
  const result = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', CLI, ...args], { encoding: 'utf8', ...(env ? { env } : {}) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
