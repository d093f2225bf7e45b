/** The machine a benchmark ran on, and where results go: shared by bench/decode.ts and bench/int8-dot.ts. */
import { cpus, hostname, totalmem, arch, platform } from 'node:os';
import { readFileSync } from 'node:fs';
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
