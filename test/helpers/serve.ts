/** Runs `edgevae serve` as users do (a child process) and hands back its URL once it listens. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts the CLI's server on a free port; rejects with its stderr if it exits before listening. */
export async function startServe(...args: string[]): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await listeningUrl(child);
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk;
      const match = /serving the edgevae demo at (http:\/\/\S+\/)/.exec(stdout);
      if (match) resolve(match[1]);
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('exit', (code) => reject(new Error(`edgevae serve exited with ${code} before listening: ${stderr}`)));
  });
}
