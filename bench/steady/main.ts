/**
 * The steady-state benchmark (targets in docs/performance.md): three real machines of the
 * harness running 1,000 units started through fleet, then 30 s of nothing happening,
 * measured: each fleetd's CPU (its cgroup's `cpu.stat`) and resident memory (its
 * `/proc/<pid>/status`, sampled every second), with systemd, D-Bus and etcd alongside.
 * Targets: under 1 % of a core and under 100 MB per fleetd. Never fails on timing.
 *
 * Run: npm run bench:steady -- [--units 1000] [--seconds 30] ... (see --help)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Cluster } from '../../cluster/index.js';
import {
  FLEET_DEFAULTS,
  fleetdPids,
  instanceNames,
  type LaunchResult,
  launch,
  restartFleetdWithNodeFlags,
  startFleetCluster,
  templateDirectory,
} from '../support/fleet-launch.js';
import { integerOption } from '../support/options.js';
import { sampleProcess } from '../support/proc-stats.js';
import {
  describeHost,
  groupCpuSeconds,
  type HostDescription,
  hostLines,
  type Libraries,
  MACHINE_GROUPS,
} from '../support/real-machines.js';
import { fixed, mebibytes, seconds, table } from '../support/report.js';
import { progressLog, resultsDirectory } from '../support/results.js';
import { runOnMachines } from '../support/run-on-machines.js';

const HELP = `Usage: npm run bench:steady -- [options]

  --units N        template instances running (default 1000)
  --machines N     machines (default 3)
  --seconds S      length of the measured steady state (default 30)
  --settle S       wait after every unit is reported running, before measuring (default 90:
                   V8 hands the launch's memory back about a minute after it)
  --timeout S      give up waiting for the units after this long (default 300)
  --node-flags="F ..."
                   run every fleetd as node F ... bin/fleetd (e.g. V8 memory options)
  --help
`;

const TARGET_CORE_SHARE = 0.01;
const TARGET_RSS_BYTES = 100 * 1024 * 1024;
const SAMPLE_MS = 1000;

interface Options {
  units: number;
  machines: number;
  measureMs: number;
  settleMs: number;
  timeoutMs: number;
  nodeFlags: string[];
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      units: { type: 'string', default: '1000' },
      machines: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '30' },
      settle: { type: 'string', default: '90' },
      timeout: { type: 'string', default: '300' },
      'node-flags': { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  return {
    units: integerOption('units', values.units, 1),
    machines: integerOption('machines', values.machines, 1),
    measureMs: integerOption('seconds', values.seconds, 1) * 1000,
    settleMs: integerOption('settle', values.settle, 0) * 1000,
    timeoutMs: integerOption('timeout', values.timeout, 1) * 1000,
    nodeFlags: values['node-flags'].split(' ').filter((flag) => flag !== ''),
  };
}

const log = progressLog('steady');

interface MachineLoad {
  machine: string;
  /** CPU seconds over the measured window, by group (see MACHINE_GROUPS). */
  cpuSeconds: Record<string, number>;
  fleetdPid: number | null;
  fleetdRssBytes: { mean: number; max: number };
  engineLeader: boolean;
}

interface Results {
  options: Options;
  host: HostDescription | null;
  launch: LaunchResult | null;
  windowMs: number;
  machines: MachineLoad[];
  etcdCpuSeconds: number | null;
  etcdRssBytes: number | null;
  notes: string[];
}

/** Resident memory of a process now (VmRSS), or null once it is gone. */
function residentBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

class SteadyBenchmark {
  readonly resultsDir = resultsDirectory('steady');
  readonly results: Results;

  constructor(
    private readonly libraries: Libraries,
    private readonly options: Options,
  ) {
    this.results = {
      options,
      host: null,
      launch: null,
      windowMs: 0,
      machines: [],
      etcdCpuSeconds: null,
      etcdRssBytes: null,
      notes: [],
    };
  }

  async run(): Promise<void> {
    const { options } = this;
    this.results.host = await describeHost();
    log(`booting ${options.machines} machines with fleetd (fleet's defaults)`);
    const cluster = await startFleetCluster(
      this.libraries,
      'bench-steady',
      options.machines,
      FLEET_DEFAULTS,
    );
    if (options.nodeFlags.length > 0) {
      log(`restarting fleetd as node ${options.nodeFlags.join(' ')}`);
      await restartFleetdWithNodeFlags(this.libraries, cluster, () => options.nodeFlags);
    }
    const units = templateDirectory(this.resultsDir);
    log(`starting ${options.units} units`);
    this.results.launch = await launch(this.libraries, cluster, instanceNames(options.units), {
      cwd: units,
      timeoutMs: options.timeoutMs,
      pollMs: 50,
      log,
    });
    if (this.results.launch.reportedMs === null) {
      this.results.notes.push('not every unit was reported running; measured anyway');
    }
    log(`settling for ${options.settleMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    await this.measure(cluster);
  }

  private async measure(cluster: Cluster): Promise<void> {
    const members = cluster.live();
    const leader = await cluster.leaderMachineId().catch(() => null);
    const pids = fleetdPids(cluster);
    const cpuOf = () =>
      new Map<string, number>(
        members.flatMap((member) =>
          MACHINE_GROUPS.map(
            ([label, path]) =>
              [`${member.name}\t${label}`, groupCpuSeconds(member.host, path)] as const,
          ),
        ),
      );
    const rss = new Map<string, number[]>(members.map((member) => [member.name, []]));
    const sample = () => {
      for (const member of members) {
        const pid = pids.get(member.name);
        const bytes = pid === undefined ? null : residentBytes(pid);
        if (bytes !== null) rss.get(member.name)!.push(bytes);
      }
    };
    log(`measuring ${this.options.measureMs / 1000} s of steady state`);
    const before = cpuOf();
    const etcdBefore = sampleProcess(cluster.etcd.pid);
    const started = performance.now();
    sample();
    while (performance.now() - started < this.options.measureMs) {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      sample();
    }
    const windowMs = performance.now() - started;
    const after = cpuOf();
    const etcdAfter = sampleProcess(cluster.etcd.pid);
    this.results.windowMs = windowMs;
    this.results.etcdCpuSeconds =
      etcdBefore === null || etcdAfter === null
        ? null
        : etcdAfter.cpuSeconds - etcdBefore.cpuSeconds;
    this.results.etcdRssBytes = etcdAfter?.rssBytes ?? null;
    this.results.machines = members.map((member) => {
      const cpuSeconds: Record<string, number> = {};
      for (const [label] of MACHINE_GROUPS) {
        const key = `${member.name}\t${label}`;
        cpuSeconds[label] = (after.get(key) ?? 0) - (before.get(key) ?? 0);
      }
      const samples = rss.get(member.name) ?? [];
      return {
        machine: member.name,
        cpuSeconds,
        fleetdPid: pids.get(member.name) ?? null,
        fleetdRssBytes: {
          mean: samples.length === 0 ? 0 : samples.reduce((sum, v) => sum + v, 0) / samples.length,
          max: samples.length === 0 ? 0 : Math.max(...samples),
        },
        engineLeader: member.id === leader,
      };
    });
  }

  report(): string {
    const { results, options } = this;
    const windowS = results.windowMs / 1000;
    let out = `\nfleet-ts steady-state benchmark: ${options.units} units running on ${options.machines} machines, ${fixed(windowS, 1)} s measured after ${options.settleMs / 1000} s of settling\n`;
    const flags = options.nodeFlags.length > 0 ? `, node ${options.nodeFlags.join(' ')}` : '';
    out += `fleetd: fleet's defaults (agent_ttl ${FLEET_DEFAULTS.agentTtl}, engine_reconcile_interval ${FLEET_DEFAULTS.engineReconcileInterval})${flags}; CPU from each machine's cgroup2 cpu.stat, memory VmRSS sampled every ${SAMPLE_MS / 1000} s\n`;
    if (results.host !== null) out += `${hostLines(results.host)}\n`;
    if (results.launch !== null) {
      out += `units: ${results.launch.units} started in ${seconds(results.launch.reportedMs)} (fleetctl start --no-block to all reported running)\n`;
    }
    out += '\n';
    const share = (cpu: number) => (windowS > 0 ? cpu / windowS : 0);
    const pct = (value: number) => `${fixed(value * 100, 2)} %`;
    const rows = results.machines.map((m) => {
      const fleetd = share(m.cpuSeconds.fleetd ?? 0);
      return [
        `${m.machine}${m.engineLeader ? ' (engine leader)' : ''}`,
        pct(fleetd),
        pct(TARGET_CORE_SHARE),
        fleetd <= TARGET_CORE_SHARE ? 'yes' : 'no',
        mebibytes(m.fleetdRssBytes.mean),
        mebibytes(m.fleetdRssBytes.max),
        mebibytes(TARGET_RSS_BYTES),
        m.fleetdRssBytes.max <= TARGET_RSS_BYTES ? 'yes' : 'no',
      ];
    });
    out += `fleetd (target: under ${pct(TARGET_CORE_SHARE)} of a core, under ${mebibytes(TARGET_RSS_BYTES)} each):\n`;
    out += table(['machine', 'cpu', 'target', 'met', 'rss mean', 'rss max', 'target', 'met'], rows);
    out += '\nthe rest of each machine over the same window (share of one core):\n';
    out += table(
      ['machine', ...MACHINE_GROUPS.map(([label]) => label)],
      results.machines.map((m) => [
        m.machine,
        ...MACHINE_GROUPS.map(([label]) => pct(share(m.cpuSeconds[label] ?? 0))),
      ]),
    );
    if (results.etcdCpuSeconds !== null) {
      out += `etcd: ${pct(share(results.etcdCpuSeconds))} of a core, ${results.etcdRssBytes === null ? '?' : mebibytes(results.etcdRssBytes)} resident\n`;
    }
    out +=
      'original fleet: engine leader 73 % of a core, other fleetds 5 %, etcd 7 %; fleetd 25 to 27 MB\n';
    for (const note of results.notes) out += `note: ${note}\n`;
    out += `\nfull results: ${this.resultsDir}/results.json\n`;
    return out;
  }

  async cleanup(): Promise<void> {
    await this.libraries.harness.teardown();
  }
}

const options = parseOptions();
process.exitCode = await runOnMachines(
  'steady',
  (libraries) => new SteadyBenchmark(libraries, options),
);
