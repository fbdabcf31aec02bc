/**
 * Real systemd machines for the benchmarks (launch, lists, steady): loads the functional
 * harness and cluster library, counts started units and finds fleetd from the host through
 * the machines' cgroups, and describes the host. The harness tears every machine, netns and
 * etcd down when this process exits, including on SIGINT, SIGTERM and SIGHUP.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { register } from 'node:module';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type * as ClusterLibrary from '../../cluster/index.js';
import type * as HarnessLibrary from '../../harness/index.js';
import type { Machine } from '../../harness/index.js';

/** The checkout: benchmarks run from `.bench-build/bench/<name>/`. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface Libraries {
  cluster: typeof ClusterLibrary;
  harness: typeof HarnessLibrary;
}

/**
 * The harness and cluster library from their TypeScript sources, as `npm run cluster` runs
 * them: compiled into `.bench-build/` they would locate the checkout (the fleetd machines
 * run, the boot script) under `.bench-build/` instead.
 */
export async function loadLibraries(): Promise<Libraries> {
  register(pathToFileURL(join(repoRoot, 'cluster/ts-hooks.mjs')));
  const load = (path: string) => import(pathToFileURL(join(repoRoot, path)).href);
  const harness = (await load('harness/index.ts')) as typeof HarnessLibrary;
  const cluster = (await load('cluster/index.ts')) as typeof ClusterLibrary;
  return { cluster, harness };
}

/** Host directory of the machine's `system.slice` (cgroup2), where its services' cgroups live. */
function systemSlice(machine: Machine): string {
  return join(machine.cgroups.unified, 'system.slice');
}

/**
 * How many instances of the template `<prefix>@.service` have a cgroup in the machine:
 * systemd creates a service's cgroup (instances go into `system-<prefix>.slice`) as it forks
 * the service's process, in the same step that makes a `Type=simple` service active, and
 * removes it when the service ends. Read from the host (one directory listing), so polling
 * it costs the machines nothing.
 */
function startedInstances(machine: Machine, prefix: string): number {
  try {
    let count = 0;
    for (const entry of readdirSync(join(systemSlice(machine), `system-${prefix}.slice`))) {
      if (entry.startsWith(`${prefix}@`) && entry.endsWith('.service')) count++;
    }
    return count;
  } catch {
    return 0;
  }
}

/** Host PIDs in a service's cgroup (fleetd is the only process of fleet.service). */
export function servicePids(machine: Machine, service: string): number[] {
  try {
    return readFileSync(join(systemSlice(machine), service, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The groups of a machine whose CPU the benchmarks account for, as paths below the machine's
 * cgroup2 directory; `''` is the whole machine. The units are the instances of the
 * benchmarks' template `bench@.service` (see fleet-launch.ts).
 */
export const MACHINE_GROUPS: ReadonlyArray<readonly [label: string, path: string]> = [
  ['systemd (PID 1)', 'init.scope'],
  ['fleetd', 'system.slice/fleet.service'],
  ['dbus-daemon', 'system.slice/dbus.service'],
  ['journald', 'system.slice/systemd-journald.service'],
  ['the units', 'system.slice/system-bench.slice'],
  ['machine total', ''],
];

/**
 * CPU seconds used so far by the processes of a group of the machine, from its cgroup2
 * `cpu.stat` (there whether or not the cpu controller is enabled; this host's controllers
 * are cgroup v1). 0 once the group is gone.
 */
export function groupCpuSeconds(machine: Machine, path: string): number {
  try {
    const stat = readFileSync(join(machine.cgroups.unified, path, 'cpu.stat'), 'utf8');
    const usage = /^usage_usec (\d+)$/m.exec(stat)?.[1];
    return usage === undefined ? 0 : Number(usage) / 1e6;
  } catch {
    return 0;
  }
}

/** CPU seconds of every machine group, keyed `<machine>\t<label>`. */
export function machinesCpu(machines: readonly Machine[]): Map<string, number> {
  const usage = new Map<string, number>();
  for (const machine of machines) {
    for (const [label, path] of MACHINE_GROUPS) {
      usage.set(`${machine.name}\t${label}`, groupCpuSeconds(machine, path));
    }
  }
  return usage;
}

/** CPU seconds of this process's children that have ended and been waited for. */
export function reapedChildrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime, fields 16 and 17 of stat (13 and 14 after the command name).
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** `systemctl list-units --state=active` of units matching `pattern`, counted, in a machine. */
export async function activeUnits(
  libraries: Libraries,
  machine: Machine,
  pattern: string,
): Promise<number> {
  const r = await libraries.harness.execOk(
    machine,
    ['systemctl', 'list-units', '--state=active', '--no-legend', '--plain', '--all', pattern],
    { timeoutMs: 60_000 },
  );
  return r.stdout.split('\n').filter((line) => line.trim() !== '').length;
}

export interface StartedTimes {
  /** From `since` until every machine had its share started, ms (null: not within the bound). */
  allMs: number | null;
  /** Per machine, from `since` until its count stopped growing at its final value. */
  perMachineMs: Map<string, number | null>;
  /** How many had started when the wait ended. */
  started: number;
}

/**
 * Polls the machines' cgroups every `pollMs` until `total` instances of the template
 * `<prefix>@.service` run across them (each machine's share is not known beforehand when
 * fleet schedules).
 */
export async function waitForStarted(opts: {
  machines: readonly Machine[];
  prefix: string;
  total: number;
  since: number;
  timeoutMs: number;
  pollMs: number;
  progress?: (started: number) => void;
  progressEveryMs?: number;
}): Promise<StartedTimes> {
  const reachedAt = new Map<string, { count: number; at: number }>();
  let lastProgress = performance.now();
  for (;;) {
    const now = performance.now();
    let started = 0;
    for (const machine of opts.machines) {
      const count = startedInstances(machine, opts.prefix);
      started += count;
      if (reachedAt.get(machine.name)?.count !== count) {
        reachedAt.set(machine.name, { count, at: now - opts.since });
      }
    }
    const perMachineMs = () =>
      new Map(opts.machines.map((m) => [m.name, reachedAt.get(m.name)?.at ?? null]));
    if (started >= opts.total) {
      return { allMs: now - opts.since, perMachineMs: perMachineMs(), started };
    }
    if (now - opts.since > opts.timeoutMs) {
      return { allMs: null, perMachineMs: perMachineMs(), started };
    }
    if (opts.progress !== undefined && now - lastProgress > (opts.progressEveryMs ?? 5_000)) {
      lastProgress = now;
      opts.progress(started);
    }
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs));
  }
}

export interface HostDescription {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  systemd: string;
  etcd: string;
  loadAverage: [number, number, number];
}

/** What the figures were measured on. */
export async function describeHost(): Promise<HostDescription> {
  const firstLine = async (file: string, ...args: string[]) => {
    const r = await promisify(execFile)(file, args, { timeout: 10_000 }).catch(() => null);
    return r?.stdout.split('\n')[0]?.trim() || 'unknown';
  };
  const [load1, load5, load15] = loadavg();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    systemd: await firstLine('systemctl', '--version'),
    etcd: await firstLine('etcd', '--version'),
    loadAverage: [load1 ?? 0, load5 ?? 0, load15 ?? 0],
  };
}

export function hostLines(host: HostDescription): string {
  const gib = (host.memoryBytes / 1024 ** 3).toFixed(1);
  const load = host.loadAverage.map((value) => value.toFixed(2)).join(', ');
  return [
    `host: ${host.cpus} CPUs (${host.cpuModel}), ${gib} GiB memory, Linux ${host.kernel}`,
    `versions: node ${host.node}, ${host.systemd}, ${host.etcd}`,
    `load average at start: ${load}`,
  ].join('\n');
}
