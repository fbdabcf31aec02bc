/**
 * The launch benchmark (target in docs/performance.md): `fleetctl start --no-block` of 1,000
 * instances of one template on three real machines of the harness, timed from the
 * command to every unit active/running, against the floor set by systemd itself, measured in
 * the same run: freshly booted machines of the same build, the template installed and
 * systemd reloaded beforehand, `systemctl start --no-block` of each machine's share of the
 * same names in one call. Prints the figures, the ratio to the floor and the phases of the
 * launch (from fleetd's journal); never fails on timing.
 *
 * Run: npm run bench:launch -- [--units 1000] ... (see --help)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Cluster } from '../../cluster/index.js';
import { launchPhases, type MachinePhases, phasesTable } from '../support/fleet-journal.js';
import {
  FLEET_DEFAULTS,
  type FleetctlDriver,
  type FleetSettings,
  instanceNames,
  type LaunchResult,
  launch,
  restartFleetdWithNodeFlags,
  startFleetCluster,
  templateDirectory,
} from '../support/fleet-launch.js';
import { integerOption } from '../support/options.js';
import {
  describeHost,
  type HostDescription,
  hostLines,
  type Libraries,
  MACHINE_GROUPS,
} from '../support/real-machines.js';
import { fixed, ratio, seconds, table } from '../support/report.js';
import { progressLog, resultsDirectory } from '../support/results.js';
import { runOnMachines } from '../support/run-on-machines.js';
import { type FloorResult, measureFloor } from '../support/systemd-floor.js';

const HELP = `Usage: npm run bench:launch -- [options]

  --units N             template instances to start (default 1000)
  --machines N          machines, for fleet and for the floor (default 3)
  --floor-runs N        floor measurements, each on freshly booted machines (default 1)
  --no-floor            skip the floor
  --agent-ttl D         fleet.conf agent_ttl (default 30s, fleet's default)
  --engine-reconcile S  fleet.conf engine_reconcile_interval (default 2, fleet's default)
  --verbosity N         fleet.conf verbosity (default 0; 1 logs the agents' passes)
  --poll-ms N           how often the machines' cgroups are read (default 20)
  --timeout S           give up waiting after this long (default 300)
  --cpu-prof            V8 CPU profiles of every fleetd into the results folder
  --fleetctl PATH       another build's bin/fleetctl to launch with (default: this checkout's)
  --driver API|etcd     fleetctl's driver (default API: the first machine's unix socket; etcd:
                        straight to the cluster's etcd, from the harness network)
  --node-flags="F ..."  run every fleetd as node F ... bin/fleetd (e.g. V8 memory options)
  --help
`;

const TARGET_RATIO = 1.25;

interface Options {
  units: number;
  machines: number;
  floorRuns: number;
  settings: FleetSettings;
  pollMs: number;
  timeoutMs: number;
  cpuProf: boolean;
  nodeFlags: string[];
  fleetctl: string | undefined;
  driver: FleetctlDriver;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      units: { type: 'string', default: '1000' },
      machines: { type: 'string', default: '3' },
      'floor-runs': { type: 'string', default: '1' },
      'no-floor': { type: 'boolean', default: false },
      'agent-ttl': { type: 'string', default: FLEET_DEFAULTS.agentTtl },
      'engine-reconcile': { type: 'string', default: FLEET_DEFAULTS.engineReconcileInterval },
      verbosity: { type: 'string', default: '0' },
      'poll-ms': { type: 'string', default: '20' },
      timeout: { type: 'string', default: '300' },
      'cpu-prof': { type: 'boolean', default: false },
      'node-flags': { type: 'string', default: '' },
      fleetctl: { type: 'string' },
      driver: { type: 'string', default: 'API' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const verbosity = integerOption('verbosity', values.verbosity, 0);
  const driver = values.driver;
  if (driver !== 'API' && driver !== 'etcd') throw new Error('--driver: expected API or etcd');
  return {
    units: integerOption('units', values.units, 1),
    machines: integerOption('machines', values.machines, 1),
    floorRuns: values['no-floor'] ? 0 : integerOption('floor-runs', values['floor-runs'], 0),
    settings: {
      agentTtl: values['agent-ttl'],
      engineReconcileInterval: values['engine-reconcile'],
      extra: verbosity > 0 ? { verbosity: String(verbosity) } : {},
    },
    pollMs: integerOption('poll-ms', values['poll-ms'], 1),
    timeoutMs: integerOption('timeout', values.timeout, 1) * 1000,
    cpuProf: values['cpu-prof'],
    nodeFlags: values['node-flags'].split(' ').filter((flag) => flag !== ''),
    fleetctl: values.fleetctl,
    driver,
  };
}

const log = progressLog('launch');

interface Results {
  options: Options;
  host: HostDescription | null;
  floors: FloorResult[];
  launch: LaunchResult | null;
  phases: MachinePhases[];
  profiles: string | null;
  notes: string[];
}

class LaunchBenchmark {
  private cluster: Cluster | null = null;
  readonly resultsDir: string;
  readonly results: Results;

  constructor(
    private readonly libraries: Libraries,
    private readonly options: Options,
  ) {
    this.resultsDir = resultsDirectory('launch');
    this.results = {
      options,
      host: null,
      floors: [],
      launch: null,
      phases: [],
      profiles: null,
      notes: [],
    };
  }

  async run(): Promise<void> {
    const { options } = this;
    this.results.host = await describeHost();
    const names = instanceNames(options.units);
    for (let run = 1; run <= options.floorRuns; run++) {
      log(`floor ${run}/${options.floorRuns}: booting ${options.machines} machines`);
      const floor = await measureFloor(this.libraries, {
        machines: options.machines,
        names,
        timeoutMs: options.timeoutMs,
        pollMs: options.pollMs,
        log,
      });
      log(`floor ${run}: all running after ${seconds(floor.started.allMs)}`);
      this.results.floors.push(floor);
    }

    log(
      `booting ${options.machines} machines with fleetd (agent_ttl ${options.settings.agentTtl}, engine_reconcile_interval ${options.settings.engineReconcileInterval})`,
    );
    this.cluster = await startFleetCluster(
      this.libraries,
      'bench-launch',
      options.machines,
      options.settings,
    );
    if (options.cpuProf) await this.enableProfiles(this.cluster);
    else if (options.nodeFlags.length > 0) {
      await restartFleetdWithNodeFlags(this.libraries, this.cluster, () => options.nodeFlags);
    }

    const units = templateDirectory(this.resultsDir);
    log(`fleetctl start --no-block of ${names.length} instances of bench@.service`);
    this.results.launch = await launch(this.libraries, this.cluster, names, {
      cwd: units,
      timeoutMs: options.timeoutMs,
      pollMs: options.pollMs,
      log,
      ...(options.fleetctl === undefined ? {} : { fleetctl: options.fleetctl }),
      driver: options.driver,
    });
    if (this.results.launch.commandExit !== 0) {
      this.results.notes.push(
        `fleetctl exited ${this.results.launch.commandExit}: ${this.results.launch.commandStderr.slice(0, 500)}`,
      );
    }
    this.results.phases = await launchPhases(this.cluster, this.results.launch.startedAtEpochMs);
    if (options.cpuProf) await this.collectProfiles(this.cluster);
  }

  /** fleetd under `node --cpu-prof` (plus `--node-flags`) in every machine. */
  private async enableProfiles(cluster: Cluster): Promise<void> {
    const dir = join(this.resultsDir, 'profiles');
    await restartFleetdWithNodeFlags(this.libraries, cluster, (machine) => [
      ...this.options.nodeFlags,
      '--cpu-prof',
      `--cpu-prof-dir=${join(dir, machine)}`,
    ]);
    this.results.profiles = dir;
  }

  /** A profile is written when fleetd exits: a graceful stop, which unloads its units. */
  private async collectProfiles(cluster: Cluster): Promise<void> {
    log('stopping fleetd everywhere to write the CPU profiles (units are unloaded)');
    await Promise.all(cluster.live().map((member) => cluster.stopFleet(member)));
    log(
      `profiles in ${this.results.profiles}; summarise with node .bench-build/bench/tools/profile-summary.js FILE`,
    );
  }

  report(): string {
    const { results, options } = this;
    let out = `\nfleet-ts launch benchmark: ${options.units} instances of one template on ${options.machines} machines\n`;
    out += `fleetd: fleet's defaults (agent_ttl ${options.settings.agentTtl}, engine_reconcile_interval ${options.settings.engineReconcileInterval})${Object.keys(options.settings.extra).length > 0 ? `, ${JSON.stringify(options.settings.extra)}` : ''}; fleetctl${options.fleetctl === undefined ? '' : ` ${options.fleetctl}`}: ${options.driver === 'API' ? "API driver over the first machine's unix socket" : 'etcd driver, from the harness network'}\n`;
    if (results.host !== null) out += `${hostLines(results.host)}\n`;
    out += '\n';

    const floors = results.floors
      .map((floor) => floor.started.allMs)
      .filter((ms): ms is number => ms !== null);
    const floorMs =
      floors.length === 0 ? null : floors.reduce((sum, ms) => sum + ms, 0) / floors.length;
    const launched = results.launch;
    const rows: string[][] = [];
    results.floors.forEach((floor, i) => {
      rows.push([
        `floor ${i + 1}: systemctl start --no-block (${floor.shares.join('/')}) to all running`,
        seconds(floor.started.allMs),
        '',
        '',
      ]);
    });
    if (launched !== null) {
      rows.push([
        'fleetctl start --no-block: command returned',
        seconds(launched.commandMs),
        '',
        '',
      ]);
      rows.push([
        'to all running in systemd (their cgroups)',
        seconds(launched.systemd.allMs),
        floorMs === null ? '' : `${TARGET_RATIO} × floor`,
        floorMs === null ? '' : ratio(launched.systemd.allMs, floorMs),
      ]);
      rows.push([
        'to all reported active/running by fleet (API)',
        seconds(launched.reportedMs),
        floorMs === null ? '' : `${TARGET_RATIO} × floor`,
        floorMs === null ? '' : ratio(launched.reportedMs, floorMs),
      ]);
    }
    out += table(['measurement', 'value', 'target', 'ratio to floor'], rows);
    if (floorMs !== null && launched?.reportedMs != null) {
      const verdict = launched.reportedMs / floorMs <= TARGET_RATIO ? 'within' : 'above';
      out += `\nfloor ${seconds(floorMs)}${floors.length > 1 ? ` (mean of ${floors.length})` : ''}; launch ${fixed(launched.reportedMs / floorMs)} × floor: ${verdict} the target of ${TARGET_RATIO} × (original fleet: 4 to 8 ×)\n`;
    }
    if (launched !== null) {
      const per = [...launched.systemd.perMachineMs]
        .map(([name, ms]) => `${name} ${seconds(ms)}`)
        .join(', ');
      out += `last unit running per machine: ${per}; systemd confirms ${launched.confirmedActive} active\n`;
    }
    if (launched !== null) out += cpuTable(results.floors[0]?.cpu, launched.cpu);
    if (results.phases.length > 0) {
      out += `\nphases of the launch (seconds after the command, from fleetd's journal):\n${phasesTable(results.phases)}`;
    }
    for (const note of results.notes) out += `note: ${note}\n`;
    out += `\nfull results: ${join(this.resultsDir, 'results.json')}\n`;
    return out;
  }

  async cleanup(): Promise<void> {
    this.cluster = null;
    await this.libraries.harness.teardown();
  }
}

/**
 * CPU seconds by kind of process, summed over the machines: the floor's (systemd alone) and
 * the launch's, from the command until every unit ran (floor) or fleet reported them (launch).
 */
function cpuTable(
  floor: ReadonlyMap<string, number> | undefined,
  launched: ReadonlyMap<string, number>,
): string {
  const byGroup = (usage: ReadonlyMap<string, number> | undefined) => {
    const sums = new Map<string, number>();
    for (const [key, seconds] of usage ?? []) {
      const group = key.includes('\t') ? key.slice(key.indexOf('\t') + 1) : key;
      sums.set(group, (sums.get(group) ?? 0) + seconds);
    }
    return sums;
  };
  const floorSums = byGroup(floor);
  const launchSums = byGroup(launched);
  const groups = [...MACHINE_GROUPS.map(([label]) => label), 'etcd', 'fleetctl'];
  const cell = (sums: Map<string, number>, group: string) => {
    const value = sums.get(group);
    return value === undefined ? '-' : `${fixed(value)} s`;
  };
  const rows = groups.map((group) => [
    group,
    floor === undefined ? '-' : cell(floorSums, group),
    cell(launchSums, group),
  ]);
  return `\nCPU used, summed over the machines (the machine total includes the rows above it):\n${table(['process', 'floor', 'fleet launch'], rows)}`;
}

const options = parseOptions();
process.exitCode = await runOnMachines(
  'launch',
  (libraries) => new LaunchBenchmark(libraries, options),
);
