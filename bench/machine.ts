/** The machine a benchmark ran on, how busy it is, and where results go: shared by the benchmarks. */
import { cpus, hostname, totalmem, arch, platform } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import type { MachineInfo } from './results.ts';

export const RESULTS_FOLDER = 'bench/results';

export function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    cpu: cores[0]?.model.trim() ?? 'unknown',
    logicalCores: cores.length,
    hostname: hostname(),
    platform: platform(),
    arch: arch(),
    node: process.version,
    v8: process.versions.v8,
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    vectorFlags: vectorFlags(),
  };
}

/** The SIMD-related CPU flags, from /proc/cpuinfo where there is one. */
function vectorFlags(): string[] {
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return [];
  }
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1].trim().split(/\s+/) ?? [];
  return flags.filter((flag) => /^(sse4_[12]|avx.*|fma|f16c|amx.*)$/.test(flag));
}

/** CPU seconds all processes and this one (all its threads) have used; null where /proc/stat is missing. */
export function cpuClock(): { all: number; ours: number; wall: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const ours = process.cpuUsage();
  // /proc/stat counts in USER_HZ ticks, 100 per second on Linux.
  return { all: (user + nice + system + irq + softirq + steal) / 100, ours: (ours.user + ours.system) / 1e6, wall: performance.now() / 1000 };
}
