import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU times in these ticks (100 on every common build). */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  /** User plus system CPU time consumed so far, seconds. */
  cpuSeconds: number;
  /** Resident memory now, bytes. */
  rssBytes: number;
}

/** CPU time and resident memory of a running process, or null once it is gone. */
export function sampleProcess(pid: number): ProcessSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis don't.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    return {
      cpuSeconds: (utime + stime) / TICKS_PER_SECOND,
      rssBytes: rssPages * 4096,
    };
  } catch {
    return null;
  }
}

/** Tracks the CPU a set of processes used between two moments. */
export class CpuMeter {
  private readonly start = new Map<number, number>();
  private startedAt = performance.now();

  constructor(private readonly pids: () => ReadonlyMap<string, number>) {
    this.reset();
  }

  reset(): void {
    this.start.clear();
    for (const pid of this.pids().values()) {
      this.start.set(pid, sampleProcess(pid)?.cpuSeconds ?? 0);
    }
    this.startedAt = performance.now();
  }

  /** Per process name: CPU seconds used since `reset`, and that as a share of one core. */
  read(): Map<string, { cpuSeconds: number; coreShare: number; rssBytes: number }> {
    const elapsedSeconds = (performance.now() - this.startedAt) / 1000;
    const usage = new Map<string, { cpuSeconds: number; coreShare: number; rssBytes: number }>();
    for (const [name, pid] of this.pids()) {
      const now = sampleProcess(pid);
      if (now === null) continue;
      const cpuSeconds = now.cpuSeconds - (this.start.get(pid) ?? 0);
      usage.set(name, {
        cpuSeconds,
        coreShare: elapsedSeconds > 0 ? cpuSeconds / elapsedSeconds : 0,
        rssBytes: now.rssBytes,
      });
    }
    return usage;
  }
}
