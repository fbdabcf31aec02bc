/**
 * A fleet cluster on real machines for the benchmarks, and the launch of N instances of one
 * template through `fleetctl start --no-block` (API driver, over a machine's unix socket, as
 * an operator on that machine would), timed from the command to every unit running.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../cluster/index.js';
import type { Machine } from '../../harness/index.js';
import { sampleProcess } from './proc-stats.js';
import {
  activeUnits,
  type Libraries,
  machinesCpu,
  reapedChildrenCpu,
  repoRoot,
  type StartedTimes,
  servicePids,
  waitForStarted,
} from './real-machines.js';
import { seconds } from './report.js';

/** The benchmark's template: a service that runs until stopped, active as soon as it forks. */
export const TEMPLATE_NAME = 'bench@.service';
export const TEMPLATE_TEXT =
  '[Unit]\nDescription=fleet benchmark unit %i\n\n[Service]\nExecStart=/bin/sleep infinity\n';
/** The template's prefix: instances are `bench@<n>.service`, in `system-bench.slice`. */
export const TEMPLATE_PREFIX = 'bench';

export function instanceNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${TEMPLATE_PREFIX}@${i + 1}.service`);
}

export interface FleetSettings {
  /** fleet.conf `agent_ttl`; fleet's default is 30s. */
  agentTtl: string;
  /** fleet.conf `engine_reconcile_interval` in seconds; fleet's default is 2. */
  engineReconcileInterval: string;
  /** More fleet.conf options (e.g. `verbosity`). */
  extra: Record<string, string>;
}

/** fleet's own defaults, what an operator runs: the figures are taken with these. */
export const FLEET_DEFAULTS: FleetSettings = {
  agentTtl: '30s',
  engineReconcileInterval: '2',
  extra: {},
};

/** Boots `machines` machines running fleetd with `settings`, all registered. */
export async function startFleetCluster(
  libraries: Libraries,
  name: string,
  machines: number,
  settings: FleetSettings,
): Promise<Cluster> {
  await libraries.cluster.ensureFreshBuild();
  return libraries.cluster.Cluster.start({
    name,
    machines,
    agentTtl: settings.agentTtl,
    engineReconcileInterval: settings.engineReconcileInterval,
    fleetConf: settings.extra,
    timeoutMs: 180_000,
  });
}

/**
 * Restarts every machine's fleetd under `node <flags(machine name)>` (V8 options, `--cpu-prof`,
 * which Node refuses in NODE_OPTIONS): a drop-in replacing the cluster's ExecStart; the
 * checkout is bound at the same path in the machines. Resolves once all are registered again.
 */
export async function restartFleetdWithNodeFlags(
  libraries: Libraries,
  cluster: Cluster,
  flags: (machine: string) => readonly string[],
): Promise<void> {
  const fleetd = join(repoRoot, 'bin', 'fleetd');
  for (const member of cluster.live()) {
    const argv = [
      process.execPath,
      ...flags(member.name),
      fleetd,
      '--config',
      libraries.cluster.FLEET_CONF,
    ];
    await libraries.harness.writeMachineFile(
      member.host,
      '/etc/systemd/system/fleet.service.d/20-bench-node-flags.conf',
      `[Service]\nExecStart=\nExecStart=${argv.join(' ')}\n`,
    );
    await cluster.execOk(member, ['systemctl', 'daemon-reload']);
    await cluster.restartFleet(member);
  }
  await cluster.waitForMachines(cluster.live().length);
}

/** The host PIDs of every machine's fleetd, by machine name. */
export function fleetdPids(cluster: Cluster): Map<string, number> {
  const pids = new Map<string, number>();
  for (const member of cluster.live()) {
    // MainPID is the PID in the machine's namespace; the cgroup lists host PIDs.
    const [pid] = servicePids(member.host, 'fleet.service');
    if (pid !== undefined) pids.set(member.name, pid);
  }
  return pids;
}

/**
 * A directory holding the template, fleetctl's working directory for the launch: inside the
 * run's results folder, so that nothing is left elsewhere whichever way the run ends.
 */
export function templateDirectory(resultsDir: string): string {
  const path = join(resultsDir, 'units');
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, TEMPLATE_NAME), TEMPLATE_TEXT);
  return path;
}

export interface LaunchResult {
  units: number;
  /** Wall clock (ms since the epoch) when the command was issued, to align journals. */
  startedAtEpochMs: number;
  /** From issuing the command until it exited. */
  commandMs: number;
  commandExit: number | null;
  commandStderr: string;
  /** From the command until systemd ran every unit (their cgroups, read from the host). */
  systemd: StartedTimes;
  /** From the command until the API reported every unit active/running. */
  reportedMs: number | null;
  /** Units systemd reported active after the wait (one list-units per machine); null if unknown. */
  confirmedActive: number | null;
  /**
   * CPU seconds used from the command until fleet reported every unit, by `<machine>\t<group>`
   * (see MACHINE_GROUPS), `etcd` and `fleetctl`.
   */
  cpu: Map<string, number>;
}

/** fleetctl's driver in a launch: the API (fleetctl's default) or straight to etcd. */
export type FleetctlDriver = 'API' | 'etcd';

/**
 * fleetctl from the host against the first machine's socket: this checkout's (as the cluster
 * library runs it), or another build's `bin/fleetctl`, to compare the two on one cluster.
 * With the etcd driver, this checkout's fleetctl runs in the harness network, where etcd is.
 */
async function runFleetctl(
  cluster: Cluster,
  fleetctl: string | undefined,
  driver: FleetctlDriver,
  args: readonly string[],
  opts: { cwd: string; timeoutMs: number },
): Promise<{ code: number | null; stderr: string }> {
  if (driver === 'etcd') {
    return cluster.fleetctlInNetwork(
      [
        '--driver=etcd',
        `--endpoint=${cluster.etcdEndpoints.join(',')}`,
        `--etcd-key-prefix=${cluster.keys.prefix}`,
        ...args,
      ],
      opts,
    );
  }
  if (fleetctl === undefined) return cluster.fleetctl('host', args, opts);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('FLEETCTL_')),
  );
  const argv = [fleetctl, `--endpoint=${cluster.apiMachine().endpoint}`, ...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      { cwd: opts.cwd, env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, _stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stderr });
      },
    );
  });
}

/** Active instances in all the machines, by `systemctl list-units`; null if one cannot tell. */
export async function countActive(
  libraries: Libraries,
  machines: readonly Machine[],
): Promise<number | null> {
  try {
    const counts = await Promise.all(
      machines.map((machine) => activeUnits(libraries, machine, `${TEMPLATE_PREFIX}@*`)),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  } catch {
    return null;
  }
}

/** CPU seconds so far of the cluster's machines, its etcd and this process's reaped children. */
function clusterCpu(cluster: Cluster): Map<string, number> {
  const usage = machinesCpu(cluster.live().map((member) => member.host));
  usage.set('etcd', sampleProcess(cluster.etcd.pid)?.cpuSeconds ?? 0);
  usage.set('fleetctl', reapedChildrenCpu());
  return usage;
}

/** What each entry of `after` grew by since `before`. */
export function cpuSince(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Map<string, number> {
  return new Map([...after].map(([key, value]) => [key, value - (before.get(key) ?? 0)]));
}

/**
 * `fleetctl start --no-block <names>` from the host against the first machine's socket,
 * timed until systemd runs every unit and until fleet reports them all active/running.
 * The API is polled only once systemd runs them all, so the wait itself costs fleetd nothing.
 */
export async function launch(
  libraries: Libraries,
  cluster: Cluster,
  names: readonly string[],
  opts: {
    cwd: string;
    timeoutMs: number;
    pollMs: number;
    log: (line: string) => void;
    /** Another build's `bin/fleetctl` to run instead of this checkout's. */
    fleetctl?: string;
    /** fleetctl's driver (default `API`). */
    driver?: FleetctlDriver;
  },
): Promise<LaunchResult> {
  const machines: Machine[] = cluster.live().map((member) => member.host);
  const cpuBefore = clusterCpu(cluster);
  const startedAtEpochMs = Date.now();
  const since = performance.now();
  let commandMs = 0;
  const command = runFleetctl(
    cluster,
    opts.fleetctl,
    opts.driver ?? 'API',
    ['start', '--no-block', ...names],
    {
      cwd: opts.cwd,
      timeoutMs: opts.timeoutMs,
    },
  ).then((result) => {
    commandMs = performance.now() - since;
    opts.log(`fleetctl start --no-block returned ${result.code} after ${seconds(commandMs)}`);
    if (result.code !== 0) opts.log(`fleetctl: ${result.stderr.trim().slice(0, 2000)}`);
    return result;
  });
  const systemd = await waitForStarted({
    machines,
    prefix: TEMPLATE_PREFIX,
    total: names.length,
    since,
    timeoutMs: opts.timeoutMs,
    pollMs: opts.pollMs,
    progress: (started) => opts.log(`${started} of ${names.length} units running`),
  });
  let reportedMs: number | null = null;
  if (systemd.allMs !== null) {
    opts.log(`systemd runs all ${names.length} units after ${seconds(systemd.allMs)}`);
    reportedMs = await waitForReported(cluster, names.length, since, opts.timeoutMs);
    opts.log(`fleet reports all active/running after ${seconds(reportedMs)}`);
  }
  const result = await command;
  const cpu = cpuSince(cpuBefore, clusterCpu(cluster));
  const confirmedActive = await countActive(libraries, machines);
  return {
    units: names.length,
    startedAtEpochMs,
    commandMs,
    commandExit: result.code,
    commandStderr: result.stderr,
    systemd,
    reportedMs,
    confirmedActive,
    cpu,
  };
}

const REPORT_POLL_MS = 100;

async function waitForReported(
  cluster: Cluster,
  total: number,
  since: number,
  timeoutMs: number,
): Promise<number | null> {
  for (;;) {
    const states = await cluster.unitStates().catch(() => []);
    const running = states.filter(
      (state) => state.systemdActiveState === 'active' && state.systemdSubState === 'running',
    ).length;
    const now = performance.now();
    if (running >= total) return now - since;
    if (now - since > timeoutMs) return null;
    await new Promise((resolve) => setTimeout(resolve, REPORT_POLL_MS));
  }
}
