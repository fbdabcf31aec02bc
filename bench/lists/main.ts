/**
 * The lists benchmark (targets in docs/performance.md): whole-process `fleetctl list-units`
 * and `fleetctl list-unit-files` with 1,100 units running on three real machines
 * of the harness, and fleetctl's own cold start (`fleetctl version`) in the same run. Each
 * command runs from the host against the first machine's unix socket (API driver), several
 * times; prints the spread, the targets, and the CPU the answering fleetd spent per command.
 * Never fails on timing.
 *
 * Run: npm run bench:lists -- [--units 1100] [--runs 10] ... (see --help)
 */
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import type { Cluster } from '../../cluster/index.js';
import {
  FLEET_DEFAULTS,
  instanceNames,
  type LaunchResult,
  launch,
  startFleetCluster,
  templateDirectory,
} from '../support/fleet-launch.js';
import { integerOption } from '../support/options.js';
import {
  describeHost,
  groupCpuSeconds,
  type HostDescription,
  hostLines,
  type Libraries,
} from '../support/real-machines.js';
import { fixed, percentile, ratio, seconds, table } from '../support/report.js';
import { progressLog, resultsDirectory } from '../support/results.js';
import { runOnMachines } from '../support/run-on-machines.js';

const HELP = `Usage: npm run bench:lists -- [options]

  --units N        template instances running while the lists are taken (default 1100)
  --machines N     machines (default 3)
  --runs N         timed runs of each command, after one untimed (default 10)
  --timeout S      give up waiting for the units after this long (default 300)
  --help
`;

/** The project's targets (docs/performance.md), whole process, with 1,100 units. */
const TARGETS: Readonly<Record<string, number>> = {
  'list-units': 200,
  'list-unit-files': 250,
};
const ORIGINAL: Readonly<Record<string, string>> = {
  'list-units': '0.24 to 0.71 s',
  'list-unit-files': '1.0 to 1.6 s',
};

interface Options {
  units: number;
  machines: number;
  runs: number;
  timeoutMs: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      units: { type: 'string', default: '1100' },
      machines: { type: 'string', default: '3' },
      runs: { type: 'string', default: '10' },
      timeout: { type: 'string', default: '300' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  return {
    units: integerOption('units', values.units),
    machines: integerOption('machines', values.machines),
    runs: integerOption('runs', values.runs),
    timeoutMs: integerOption('timeout', values.timeout) * 1000,
  };
}

const log = progressLog('lists');

interface CommandTiming {
  argv: string[];
  /** Wall time of each timed run, ms, from spawning fleetctl to its exit. */
  runsMs: number[];
  /** Lines fleetctl printed on the last run, and its exit status. */
  lines: number;
  exit: number | null;
  /** CPU seconds the answering fleetd spent per run. */
  serverCpuPerRun: number;
}

interface Results {
  options: Options;
  host: HostDescription | null;
  launch: LaunchResult | null;
  nodeStartMs: number[];
  commands: CommandTiming[];
  notes: string[];
}

const COMMANDS: readonly string[][] = [['version'], ['list-units'], ['list-unit-files']];

class ListsBenchmark {
  private cluster: Cluster | null = null;
  readonly resultsDir = resultsDirectory('lists');
  readonly results: Results;

  constructor(
    private readonly libraries: Libraries,
    private readonly options: Options,
  ) {
    this.results = { options, host: null, launch: null, nodeStartMs: [], commands: [], notes: [] };
  }

  async run(): Promise<void> {
    const { options } = this;
    this.results.host = await describeHost();
    log(`booting ${options.machines} machines with fleetd (fleet's defaults)`);
    this.cluster = await startFleetCluster(
      this.libraries,
      'bench-lists',
      options.machines,
      FLEET_DEFAULTS,
    );
    const units = templateDirectory(this.resultsDir);
    log(`starting ${options.units} units`);
    this.results.launch = await launch(this.libraries, this.cluster, instanceNames(options.units), {
      cwd: units,
      timeoutMs: options.timeoutMs,
      pollMs: 50,
      log,
    });
    if (this.results.launch.reportedMs === null) {
      this.results.notes.push('not every unit was reported running; lists taken anyway');
    }
    this.results.nodeStartMs = await this.nodeStart();
    for (const argv of COMMANDS) this.results.commands.push(await this.time(this.cluster, argv));
  }

  /** Node's own cold start (`node -e ''`), the part of every figure fleetctl cannot save. */
  private async nodeStart(): Promise<number[]> {
    const runs: number[] = [];
    for (let run = 0; run <= this.options.runs; run++) {
      const started = performance.now();
      await promisify(execFile)(process.execPath, ['-e', '']);
      if (run > 0) runs.push(performance.now() - started);
    }
    return runs;
  }

  private async time(cluster: Cluster, argv: string[]): Promise<CommandTiming> {
    const member = cluster.apiMachine();
    const fleetService = 'system.slice/fleet.service';
    const runsMs: number[] = [];
    let lines = 0;
    let exit: number | null = null;
    let serverCpu = 0;
    for (let run = 0; run <= this.options.runs; run++) {
      const cpuBefore = groupCpuSeconds(member.host, fleetService);
      const started = performance.now();
      const result = await cluster.fleetctl('host', argv);
      const elapsed = performance.now() - started;
      // The first run warms the page cache and fleetd; it is not counted.
      if (run === 0) continue;
      runsMs.push(elapsed);
      serverCpu += groupCpuSeconds(member.host, fleetService) - cpuBefore;
      lines = result.stdout.split('\n').filter((line) => line !== '').length;
      exit = result.code;
    }
    log(
      `fleetctl ${argv.join(' ')}: median ${seconds(
        percentile(
          [...runsMs].sort((a, b) => a - b),
          50,
        ),
      )}`,
    );
    return { argv, runsMs, lines, exit, serverCpuPerRun: serverCpu / this.options.runs };
  }

  report(): string {
    const { results, options } = this;
    let out = `\nfleet-ts lists benchmark: ${options.units} units on ${options.machines} machines, fleetctl from the host over the first machine's unix socket (API driver)\n`;
    out += "fleetd: fleet's defaults; each command timed whole-process (spawn to exit), ";
    out += `${options.runs} runs after one untimed\n`;
    if (results.host !== null) out += `${hostLines(results.host)}\n`;
    if (results.launch !== null) {
      out += `units: ${results.launch.units} started in ${seconds(results.launch.reportedMs)} (fleetctl start --no-block to all reported running)\n`;
    }
    out += '\n';
    const stats = (runs: readonly number[]) => {
      const sorted = [...runs].sort((a, b) => a - b);
      return {
        min: sorted[0] ?? 0,
        median: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        max: sorted.at(-1) ?? 0,
      };
    };
    const rows: string[][] = [];
    if (results.nodeStartMs.length > 0) {
      const s = stats(results.nodeStartMs);
      rows.push([
        "node -e '' (Node's own start)",
        seconds(s.min),
        seconds(s.median),
        seconds(s.p90),
        seconds(s.max),
        '',
        '',
        '',
        '',
      ]);
    }
    for (const command of results.commands) {
      const s = stats(command.runsMs);
      const name = command.argv.join(' ');
      const target = TARGETS[name];
      rows.push([
        `fleetctl ${name}`,
        seconds(s.min),
        seconds(s.median),
        seconds(s.p90),
        seconds(s.max),
        target === undefined ? '' : seconds(target),
        target === undefined ? '' : ratio(s.median, target),
        `${command.lines}${command.exit === 0 ? '' : ` (exit ${command.exit})`}`,
        `${fixed(command.serverCpuPerRun * 1000, 0)} ms`,
      ]);
    }
    out += table(
      [
        'command',
        'min',
        'median',
        'p90',
        'max',
        'target',
        'median/target',
        'lines',
        'fleetd cpu/run',
      ],
      rows,
    );
    out += '\noriginal fleet on this machine class: ';
    out += Object.entries(ORIGINAL)
      .map(([name, figure]) => `${name} ${figure}`)
      .join(', ');
    out += '\n';
    for (const note of results.notes) out += `note: ${note}\n`;
    out += `\nfull results: ${this.resultsDir}/results.json\n`;
    return out;
  }

  async cleanup(): Promise<void> {
    this.cluster = null;
    await this.libraries.harness.teardown();
  }
}

const options = parseOptions();
process.exitCode = await runOnMachines(
  'lists',
  (libraries) => new ListsBenchmark(libraries, options),
);
