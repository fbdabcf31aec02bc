/**
 * The scale benchmark (targets in docs/performance.md): a simulated cluster of 1,000 machines
 * and 10,000 units against one real etcd. Every machine is a complete FleetServer
 * with an in-memory unit manager, many of them per child process. Measures registration,
 * scheduling and launching of units submitted through the registry's EtcdUnitRecords (as the API
 * does), etcd requests per unit, steady-state load, and rescheduling after 10 % of the
 * machines die. Prints figures and their ratio to the targets; never fails on timing.
 *
 * Run: npm run bench:scale -- [--machines 1000] [--units 10000] ... (see --help)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Etcd3, Lease } from 'etcd3';
import { DEFAULT_KEY_PREFIX } from '../../src/config/defaults.js';
import { parseGoDuration } from '../../src/go/duration.js';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { encodeRecord } from '../../src/registry/records.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { type EtcdCluster, startEtcd } from '../../test/support/etcd.js';
import { ChildWorker } from '../support/child-worker.js';
import {
  grpcCalls,
  grpcFailures,
  type MetricsSample,
  type StoreCounters,
  scrapeMetrics,
  storeCounters,
  watchGauges,
} from '../support/etcd-metrics.js';
import { CpuMeter } from '../support/proc-stats.js';
import { fixed, mebibytes, percentile, ratio, seconds, table } from '../support/report.js';
import { ClusterObserver } from './observer.js';
import type { MachineSpec, WorkerCommand, WorkerReport, WorkerStats } from './protocol.js';

const HELP = `Usage: npm run bench:scale -- [options]

  --machines N              simulated machines (default 1000)
  --units N                 units to submit, instances of one template (default 10000)
  --workers N               child processes sharing the machines (default 2); with
                            --engines N, the engine machines get one more of their own
  --engines all|N           machines that run an engine (default all: fleetd's default,
                            every fleetd runs one). With a number N, N machines run an
                            engine in a worker process of their own and the others set
                            disable_engine
  --agent-ttl D             agent_ttl (default 10s)
  --engine-reconcile S      engine_reconcile_interval in seconds (default 2)
  --etcd-request-timeout S  etcd_request_timeout of every fleetd (default 1, fleet's)
  --submit-concurrency N    EtcdUnitRecords.put calls in flight (default 64)
  --kill-fraction F         share of machines stopped in the failure phase (default 0.1)
  --idle S                  seconds of steady state measured after launch (default 10)
  --phase-timeout S         give up waiting for a phase after this long (default 300)
  --log-level L             pino level of the machines in the shared workers (default
                            info, fleetd's); with --engines N the engine process logs at
                            debug, so engine passes are timed
  --backlog                 submit every unit while the benchmark itself holds the engine
                            leader key, then release it: times an election, the new
                            leader's listing and the scheduling of the whole backlog
  --shared-client           one etcd client per worker instead of one per machine
  --cpu-prof                write V8 CPU profiles of the workers into the results folder
  --help
`;

const TARGET_SCHEDULE_MS = 10_000;
const PLACEHOLDER_LEADER = 'scale-benchmark';
/** The project's targets: idle CPU under 1 % of a core, resident memory under 100 MB. */
const TARGET_IDLE_CPU_SHARE = 0.01;
const MIB = 1024 * 1024;
const TARGET_RSS_BYTES = 100 * MIB;
const TARGET_RESCHEDULE_TTLS = 2;
const PROGRESS_INTERVAL_MS = 5_000;
const POLL_MS = 10;
const SETTLE_MS = 2_000;

interface Options {
  machines: number;
  units: number;
  workers: number;
  engines: number | 'all';
  agentTtl: string;
  agentTtlMs: number;
  engineReconcile: string;
  etcdRequestTimeoutMs: number;
  submitConcurrency: number;
  killFraction: number;
  idleMs: number;
  phaseTimeoutMs: number;
  logLevel: string;
  sharedClient: boolean;
  backlog: boolean;
  cpuProf: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      machines: { type: 'string', default: '1000' },
      units: { type: 'string', default: '10000' },
      workers: { type: 'string', default: '2' },
      engines: { type: 'string', default: 'all' },
      'agent-ttl': { type: 'string', default: '10s' },
      'engine-reconcile': { type: 'string', default: '2' },
      'etcd-request-timeout': { type: 'string', default: '1' },
      'submit-concurrency': { type: 'string', default: '64' },
      'kill-fraction': { type: 'string', default: '0.1' },
      idle: { type: 'string', default: '10' },
      'phase-timeout': { type: 'string', default: '300' },
      'log-level': { type: 'string', default: 'info' },
      'shared-client': { type: 'boolean', default: false },
      backlog: { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const positive = (name: string, raw: string) => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a number > 0`);
    return value;
  };
  const machines = Math.floor(positive('machines', values.machines));
  const engines =
    values.engines === 'all' ? 'all' : Math.floor(positive('engines', values.engines));
  if (engines !== 'all' && engines > machines) throw new Error('--engines exceeds --machines');
  return {
    machines,
    units: Math.floor(positive('units', values.units)),
    workers: Math.floor(positive('workers', values.workers)),
    engines: engines === machines ? 'all' : engines,
    agentTtl: values['agent-ttl'],
    agentTtlMs: parseGoDuration(values['agent-ttl']),
    engineReconcile: values['engine-reconcile'],
    etcdRequestTimeoutMs: positive('etcd-request-timeout', values['etcd-request-timeout']) * 1000,
    submitConcurrency: Math.floor(positive('submit-concurrency', values['submit-concurrency'])),
    killFraction: positive('kill-fraction', values['kill-fraction']),
    idleMs: Number(values.idle) * 1000,
    phaseTimeoutMs: positive('phase-timeout', values['phase-timeout']) * 1000,
    logLevel: values['log-level'],
    sharedClient: values['shared-client'],
    backlog: values.backlog,
    cpuProf: values['cpu-prof'],
  };
}

type Worker = ChildWorker<WorkerCommand, WorkerReport>;

interface PhaseLoad {
  durationMs: number;
  calls: ReturnType<typeof grpcCalls>;
  failures: Map<string, number>;
  store: StoreCounters;
  cpu: ReturnType<CpuMeter['read']>;
  workers: Map<string, WorkerStats>;
}

interface Results {
  options: Options;
  registerMs: number | null;
  registerAllStartedMs: number | null;
  submitMs: number | null;
  putLatencyMs: { p50: number; p99: number; max: number } | null;
  firstPlacedMs: number | null;
  allPlacedMs: number | null;
  allLaunchedMs: number | null;
  /** With --backlog: from starting the engine machines to all scheduled, and launched. */
  backlogPlacedMs: number | null;
  backlogLaunchedMs: number | null;
  victims: number;
  victimUnits: number;
  leader: string | null;
  stopAckMs: number | null;
  expiredMs: number | null;
  rescheduledMs: number | null;
  relaunchedMs: number | null;
  everythingLaunchedAfterKillMs: number | null;
  phases: Record<string, PhaseLoad>;
  watchGauges: { streams: number; watchers: number } | null;
  enginePasses: EnginePassSummary[];
  notes: string[];
}

interface EnginePassSummary {
  machine: string;
  passes: number;
  totalMs: number;
  maxMs: number;
  lostRaces: number;
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const log = (line: string) => process.stderr.write(`[scale ${new Date().toISOString()}] ${line}\n`);

function machineID(index: number): string {
  return createHash('sha1').update(`bench-machine-${index}`).digest('hex').slice(0, 32);
}

const ETCD_DATA_PARENT = '/dev/shm';

/**
 * Removes etcd data directories that a run killed outright (SIGKILL: no handler runs, and
 * its etcd died with it) left in memory. A directory still named on a running process's
 * command line belongs to a live run and is left alone.
 */
function removeOrphanedEtcdData(): void {
  const commandLines = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    });
  for (const entry of readdirSync(ETCD_DATA_PARENT)) {
    if (!entry.startsWith('fleet-etcd-')) continue;
    const directory = join(ETCD_DATA_PARENT, entry);
    if (commandLines.some((line) => line.includes(directory))) continue;
    rmSync(directory, { recursive: true, force: true });
    log(`removed ${directory}, left by a run that was killed`);
  }
}

class ScaleBenchmark {
  private etcdCluster: EtcdCluster | null = null;
  private client: Etcd3 | null = null;
  private registry: Registry | null = null;
  private observer: ClusterObserver | null = null;
  private workers: Worker[] = [];
  private readonly placement = new Map<string, Worker>();
  private readonly specs: MachineSpec[] = [];
  private readonly resultsDir: string;
  private readonly prefix = DEFAULT_KEY_PREFIX;
  private cpu: CpuMeter | null = null;
  private workerFailure: string | null = null;
  private runFailure: string | null = null;
  private closing = false;
  /** With --backlog: the lease of the leader key the benchmark holds while submitting. */
  private placeholderLeader: Lease | null = null;
  readonly results: Results;

  constructor(private readonly options: Options) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    this.resultsDir = join(repoRoot, '.bench-results', `scale-${stamp}`);
    mkdirSync(this.resultsDir, { recursive: true });
    this.results = {
      options,
      registerMs: null,
      registerAllStartedMs: null,
      submitMs: null,
      putLatencyMs: null,
      firstPlacedMs: null,
      allPlacedMs: null,
      allLaunchedMs: null,
      backlogPlacedMs: null,
      backlogLaunchedMs: null,
      victims: 0,
      victimUnits: 0,
      leader: null,
      stopAckMs: null,
      expiredMs: null,
      rescheduledMs: null,
      relaunchedMs: null,
      everythingLaunchedAfterKillMs: null,
      phases: {},
      watchGauges: null,
      enginePasses: [],
      notes: [],
    };
  }

  async run(): Promise<void> {
    const { options } = this;
    log(`results and logs in ${this.resultsDir}`);
    await this.startEtcd();
    await this.startWorkers();
    this.cpu = new CpuMeter(() => this.pids());
    if (options.backlog) await this.holdLeaderKey();

    const registered = await this.registerPhase();
    if (!registered) return;
    await sleep(SETTLE_MS);
    const launched = await this.launchPhase();
    if (this.crash !== null) return;
    this.results.watchGauges = watchGauges(await this.scrape());
    if (options.idleMs > 0) await this.idlePhase();
    if (launched && this.crash === null) await this.killPhase();
  }

  // ---- setup -------------------------------------------------------------------------

  private async startEtcd(): Promise<void> {
    // startEtcd keeps its data under os.tmpdir(): put it on tmpfs, as the tests' etcd is
    // on a fast disk, so fsync latency does not dominate.
    removeOrphanedEtcdData();
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = ETCD_DATA_PARENT;
    try {
      this.etcdCluster = await startEtcd();
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
    log(`etcd ${this.etcdCluster.endpoints[0]} (pid ${this.etcdCluster.pids()[0]})`);
    this.client = createEtcdClient({
      ...this.etcdCluster.clientConfig(),
      requestTimeoutMs: 30_000,
    });
    this.registry = openRegistry(this.client, this.prefix, (key, err) =>
      log(`bad record ${key}: ${err.message}`),
    );
    this.observer = new ClusterObserver(this.client, this.registry.keys);
    await this.observer.start();
  }

  private async startWorkers(): Promise<void> {
    const { options } = this;
    const engineCount = options.engines === 'all' ? options.machines : options.engines;
    for (let index = 0; index < options.machines; index++) {
      this.specs.push({ id: machineID(index), engine: index < engineCount });
    }
    const groups = new Map<string, MachineSpec[]>();
    const agentWorkers = Array.from({ length: options.workers }, (_, i) => `agents-${i}`);
    let next = 0;
    for (const spec of this.specs) {
      // A few engine machines get a process of their own: the leader's passes are then
      // not queued behind hundreds of agents' callbacks (it would have a host of its own).
      const group =
        spec.engine && options.engines !== 'all'
          ? 'engines'
          : agentWorkers[next++ % agentWorkers.length]!;
      groups.set(group, [...(groups.get(group) ?? []), spec]);
    }
    const modulePath = fileURLToPath(new URL('./worker.js', import.meta.url));
    const profileDir = join(this.resultsDir, 'profiles');
    const execArgv = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const etcdConfig = {
      ...this.etcdCluster!.clientConfig(),
      requestTimeoutMs: options.etcdRequestTimeoutMs,
    };
    for (const [name, machines] of groups) {
      const worker: Worker = new ChildWorker(name, modulePath, execArgv, (from, report) => {
        if (report.type === 'error') {
          this.workerFailure = `${from}: ${report.message}`;
          log(`worker ${this.workerFailure}`);
        }
      });
      void worker.exited.then((code) => {
        if (code !== 0 && this.workerFailure === null && !this.closing) {
          this.workerFailure = `${name} exited with code ${code}`;
          log(`worker ${this.workerFailure}`);
        }
      });
      this.workers.push(worker);
      for (const machine of machines) this.placement.set(machine.id, worker);
      await worker.request(
        {
          type: 'init',
          etcd: etcdConfig,
          prefix: this.prefix,
          agentTtl: options.agentTtl,
          engineReconcileInterval: options.engineReconcile,
          machines,
          logLevel: name === 'engines' ? 'debug' : options.logLevel,
          logFile: join(this.resultsDir, `${name}.log`),
          sharedClient: options.sharedClient,
        },
        'ready',
      );
      log(`worker ${name} (pid ${worker.pid}): ${machines.length} machines`);
    }
  }

  /**
   * Takes the engine leader key before any engine starts, as an engine would, so every
   * engine sees a leader and none decides until the key's lease is revoked.
   */
  private async holdLeaderKey(): Promise<void> {
    const client = this.client!;
    const key = this.registry!.keys.engineLeader;
    const lease = client.lease(60, { autoKeepAlive: true });
    lease.on('lost', () => undefined);
    const leaseID = await lease.grant();
    const taken = await client
      .if(key, 'Create', '==', 0)
      .then(
        client
          .put(key)
          .value(encodeRecord({ machineID: PLACEHOLDER_LEADER }))
          .lease(leaseID),
      )
      .commit();
    if (!taken.succeeded) throw new Error('the engine leader key is already held');
    this.placeholderLeader = lease;
    log(`holding the engine leader key as ${PLACEHOLDER_LEADER} until every unit is submitted`);
  }

  /**
   * Polls `done` until it holds; resolves with the time that took, or null on a timeout or
   * once a worker has failed (the run is then over).
   */
  private async waitUntil(
    done: () => boolean,
    timeoutMs: number,
    progress: () => string,
  ): Promise<number | null> {
    const started = performance.now();
    let lastProgress = started;
    while (!done()) {
      const now = performance.now();
      if (this.workerFailure !== null) return null;
      if (now - started > timeoutMs) {
        log(`timed out after ${seconds(now - started)}: ${progress()}`);
        return null;
      }
      if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
        lastProgress = now;
        log(progress());
      }
      await sleep(POLL_MS);
    }
    return performance.now() - started;
  }

  private pids(): Map<string, number> {
    const pids = new Map<string, number>([['etcd', this.etcdCluster?.pids()[0] ?? -1]]);
    pids.set('coordinator', process.pid);
    for (const worker of this.workers) if (worker.alive) pids.set(worker.name, worker.pid);
    return pids;
  }

  private scrape(): Promise<MetricsSample> {
    return scrapeMetrics(this.etcdCluster!.endpoints[0]!);
  }

  private async workerStats(): Promise<Map<string, WorkerStats>> {
    const stats = new Map<string, WorkerStats>();
    await Promise.all(
      this.workers
        .filter((worker) => worker.alive)
        .map(async (worker) => {
          const report = await worker.request({ type: 'stats' }, 'stats');
          stats.set(worker.name, report.stats);
        }),
    );
    return stats;
  }

  /** Starts measuring a phase; the returned function ends it and records its load. */
  private async beginPhase(name: string): Promise<() => Promise<PhaseLoad>> {
    await this.workerStats(); // resets the workers' event-loop histograms
    const before = await this.scrape();
    this.cpu!.reset();
    const started = performance.now();
    return async () => {
      const durationMs = performance.now() - started;
      const cpu = this.cpu!.read();
      const after = await this.scrape();
      const load: PhaseLoad = {
        durationMs,
        calls: grpcCalls(before, after),
        failures: grpcFailures(before, after),
        store: storeCounters(before, after),
        cpu,
        workers: await this.workerStats(),
      };
      this.results.phases[name] = load;
      return load;
    };
  }

  private progress(): string {
    const observer = this.observer!;
    const cpu = [...this.cpu!.read()]
      .map(([name, usage]) => `${name} ${Math.round(usage.coreShare * 100)}%`)
      .join(', ');
    return `machines ${observer.machines.size}, placed ${observer.placedCount}, launched ${observer.launchedCount} | cpu since phase start: ${cpu}${this.workerFailure === null ? '' : ` | WORKER FAILED: ${this.workerFailure}`}`;
  }

  // ---- phases ------------------------------------------------------------------------

  private async registerPhase(): Promise<boolean> {
    const { options } = this;
    const observer = this.observer!;
    const expected = options.machines;
    log(`registering ${expected} machines`);
    const end = await this.beginPhase('register');
    const started = performance.now();
    let allStarted: number | null = null;
    const starting = Promise.all(
      this.workers.map((worker) => worker.request({ type: 'start' }, 'started')),
    )
      .then(() => {
        allStarted = performance.now() - started;
      })
      .catch((err: unknown) => log(`start failed: ${(err as Error).message}`));
    this.results.registerMs = await this.waitUntil(
      () => observer.machines.size >= expected,
      options.phaseTimeoutMs,
      () => this.progress(),
    );
    const remaining = Math.max(0, options.phaseTimeoutMs - (performance.now() - started));
    await Promise.race([starting, sleep(remaining, undefined, { ref: false })]);
    this.results.registerAllStartedMs = allStarted;
    await end();
    if (this.workerFailure !== null) {
      this.results.registerMs = null;
      return false;
    }
    log(
      `registered in ${seconds(this.results.registerMs)}; every FleetServer.start() resolved in ${seconds(allStarted)}`,
    );
    return this.results.registerMs !== null;
  }

  private async launchPhase(): Promise<boolean> {
    const { options } = this;
    const observer = this.observer!;
    const units = this.registry!.units;
    const template = UnitFile.parse(
      '[Unit]\nDescription=scale benchmark %i\n\n[Service]\nExecStart=/bin/sleep infinity\n',
    );
    log(`submitting ${options.units} units, ${options.submitConcurrency} at a time`);
    const end = await this.beginPhase('launch');
    const started = performance.now();
    const latencies: number[] = [];
    let nextIndex = 0;
    let submitFailures = 0;
    const submitter = async () => {
      for (let index = nextIndex++; index < options.units; index = nextIndex++) {
        const putStarted = performance.now();
        for (let attempt = 1; ; attempt++) {
          try {
            await units.put(`bench@${index}.service`, template, 'launched');
            break;
          } catch (err) {
            submitFailures++;
            if (submitFailures <= 5) log(`put failed: ${(err as Error).message}`);
            if (attempt === 5) throw err;
          }
        }
        latencies.push(performance.now() - putStarted);
      }
    };
    let firstPlaced: number | null = null;
    const submitted = Promise.all(
      Array.from({ length: options.submitConcurrency }, () => submitter()),
    ).then(() => {
      this.results.submitMs = performance.now() - started;
      log(`all ${options.units} submitted in ${seconds(this.results.submitMs)}`);
    });
    let engineStartedAt: number | null = null;
    const placeholder = this.placeholderLeader;
    if (placeholder !== null) {
      void submitted.then(async () => {
        engineStartedAt = performance.now() - started;
        log('releasing the engine leader key: the engines elect a leader for the backlog');
        await placeholder.revoke();
      });
    }
    const watchFirst = this.waitUntil(
      () => observer.placedCount > 0,
      options.phaseTimeoutMs,
      () => '',
    ).then((ms) => {
      firstPlaced = ms;
    });
    this.results.allPlacedMs = await this.waitUntil(
      () => observer.placedCount >= options.units,
      options.phaseTimeoutMs,
      () => `submitted ${nextIndex}, ${this.progress()}`,
    );
    await watchFirst;
    this.results.firstPlacedMs = firstPlaced;
    if (this.results.allPlacedMs !== null) {
      log(`all placed ${seconds(this.results.allPlacedMs)} after the first submit`);
      const remaining = options.phaseTimeoutMs - (performance.now() - started);
      this.results.allLaunchedMs = await this.waitUntil(
        () => observer.launchedCount >= options.units,
        remaining,
        () => this.progress(),
      );
      if (this.results.allLaunchedMs !== null) {
        this.results.allLaunchedMs += this.results.allPlacedMs;
        log(`all launched ${seconds(this.results.allLaunchedMs)} after the first submit`);
      }
    }
    if (engineStartedAt !== null) {
      const since = (ms: number | null) => (ms === null ? null : ms - engineStartedAt!);
      this.results.backlogPlacedMs = since(this.results.allPlacedMs);
      this.results.backlogLaunchedMs = since(this.results.allLaunchedMs);
    }
    await submitted;
    latencies.sort((a, b) => a - b);
    this.results.putLatencyMs = {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? 0,
    };
    if (submitFailures > 0)
      this.results.notes.push(
        `${submitFailures} EtcdUnitRecords.put calls failed and were retried`,
      );
    await end();
    return this.results.allLaunchedMs !== null && this.workerFailure === null;
  }

  private async idlePhase(): Promise<void> {
    log(`steady state: measuring ${this.options.idleMs / 1000} s of idle load`);
    const end = await this.beginPhase('idle');
    await sleep(this.options.idleMs);
    await end();
  }

  private async killPhase(): Promise<void> {
    const { options } = this;
    const observer = this.observer!;
    const leaderValue = await this.client!.get(this.registry!.keys.engineLeader).string();
    const leader =
      leaderValue === null ? null : (JSON.parse(leaderValue) as { machineID: string }).machineID;
    this.results.leader = leader;
    // Every n-th machine, never an engine machine of a dedicated engine process, never the
    // leader: a leader's death adds an election and the new leader's grace of one TTL.
    const step = Math.max(1, Math.round(1 / options.killFraction));
    const wanted = Math.round(options.machines * options.killFraction);
    const victims = this.specs
      .filter((spec, index) => index % step === step - 1 && spec.id !== leader)
      .filter((spec) => options.engines === 'all' || !spec.engine)
      .slice(0, wanted)
      .map((spec) => spec.id);
    const victimSet = new Set(victims);
    const victimUnits = [...observer.placements]
      .filter(([, machine]) => victimSet.has(machine))
      .map(([name]) => name);
    this.results.victims = victims.length;
    this.results.victimUnits = victimUnits.length;
    log(
      `killing ${victims.length} machines holding ${victimUnits.length} units (FleetServer.stop(): no purge, lease abandoned, client closed)`,
    );
    const end = await this.beginPhase('kill');
    const started = performance.now();
    const byWorker = new Map<Worker, string[]>();
    for (const id of victims) {
      const worker = this.placement.get(id)!;
      byWorker.set(worker, [...(byWorker.get(worker) ?? []), id]);
    }
    void Promise.all(
      [...byWorker].map(([worker, ids]) => worker.request({ type: 'stop', ids }, 'stopped')),
    )
      .then(() => {
        this.results.stopAckMs = performance.now() - started;
      })
      .catch(() => undefined); // a worker that died is reported as such

    const moved = (name: string) => {
      const target = observer.placements.get(name);
      return target !== undefined && !victimSet.has(target);
    };
    let expired: number | null = null;
    let rescheduled: number | null = null;
    const elapsed = () => performance.now() - started;
    const progress = () => {
      const movedCount = victimUnits.filter(moved).length;
      const relaunched = victimUnits.filter((name) => moved(name) && observer.isLaunched(name));
      return `victims still present ${victims.filter((id) => observer.machines.has(id)).length}, units moved ${movedCount}/${victimUnits.length}, relaunched ${relaunched.length} | ${this.progress()}`;
    };
    this.results.relaunchedMs = await this.waitUntil(
      () => {
        if (expired === null && victims.every((id) => !observer.machines.has(id))) {
          expired = elapsed();
        }
        if (rescheduled === null && victimUnits.every(moved)) rescheduled = elapsed();
        return victimUnits.every((name) => moved(name) && observer.isLaunched(name));
      },
      options.phaseTimeoutMs,
      progress,
    );
    this.results.expiredMs = expired;
    this.results.rescheduledMs = rescheduled;
    if (this.results.relaunchedMs !== null) {
      const remaining = options.phaseTimeoutMs - elapsed();
      const rest = await this.waitUntil(
        () => observer.launchedCount >= options.units,
        remaining,
        () => this.progress(),
      );
      this.results.everythingLaunchedAfterKillMs = rest === null ? null : elapsed();
    }
    await end();
  }

  // ---- results -----------------------------------------------------------------------

  summariseEngineLog(): void {
    const path = join(this.resultsDir, 'engines.log');
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return;
    }
    const byMachine = new Map<string, EnginePassSummary>();
    for (const line of text.split('\n')) {
      if (!line.includes('Engine completed reconciliation') && !line.includes('lost a race')) {
        continue;
      }
      const entry = JSON.parse(line) as { machine: string; msg: string };
      const summary = byMachine.get(entry.machine) ?? {
        machine: entry.machine,
        passes: 0,
        totalMs: 0,
        maxMs: 0,
        lostRaces: 0,
      };
      const match = /reconciliation in (\d+)ms/.exec(entry.msg);
      if (match !== null) {
        const ms = Number(match[1]);
        summary.passes++;
        summary.totalMs += ms;
        summary.maxMs = Math.max(summary.maxMs, ms);
      } else {
        summary.lostRaces++;
      }
      byMachine.set(entry.machine, summary);
    }
    this.results.enginePasses = [...byMachine.values()];
  }

  report(): string {
    const { options, results } = this;
    const ttlS = options.agentTtlMs / 1000;
    const engineWorkers =
      options.engines === 'all'
        ? 'every fleetd runs an engine, as by default'
        : `${options.engines} engine machines in a process of their own, the others disable_engine`;
    let out = `\nfleet-ts scale benchmark: ${options.machines} machines, ${options.units} units, agent_ttl ${options.agentTtl}, engine_reconcile_interval ${options.engineReconcile}s\n`;
    out += `${this.workers.length} worker processes (${engineWorkers}), ${options.sharedClient ? 'one etcd client per worker' : 'one etcd client per machine'}, etcd 3.4 on tmpfs, ${options.submitConcurrency} submissions in flight\n`;
    if (this.crash !== null) out += `\nCRASHED: ${this.crash}\n`;
    out += '\n';

    const rescheduleTarget = TARGET_RESCHEDULE_TTLS * options.agentTtlMs;
    const inTtls = (ms: number | null) =>
      ms === null ? seconds(ms) : `${seconds(ms)} = ${fixed(ms / options.agentTtlMs)} × TTL`;
    const requests = this.requestsPerUnit();
    const steady = this.steadyPerFleetd();
    const rows: string[][] = [
      [
        `schedule all ${options.units} units, from the first submit`,
        seconds(results.allPlacedMs),
        `< ${seconds(TARGET_SCHEDULE_MS)}`,
        ratio(results.allPlacedMs, TARGET_SCHEDULE_MS),
      ],
      [
        '  of which after the last submit (backlog left)',
        results.allPlacedMs === null || results.submitMs === null
          ? '-'
          : seconds(Math.max(0, results.allPlacedMs - results.submitMs)),
        '',
        '',
      ],
    ];
    if (options.backlog) {
      rows.push([
        '  from the leader key’s release (whole backlog)',
        seconds(results.backlogPlacedMs),
        `< ${seconds(TARGET_SCHEDULE_MS)}`,
        ratio(results.backlogPlacedMs, TARGET_SCHEDULE_MS),
      ]);
    }
    rows.push(
      [
        `launch all ${options.units} units, from the first submit`,
        seconds(results.allLaunchedMs),
        '',
        '',
      ],
      [
        'etcd requests per unit while launching (net of idle)',
        requests === null ? '-' : `${fixed(requests.total)} (${fixed(requests.net)})`,
        '',
        '',
      ],
      [
        `reschedule ${results.victimUnits} units of ${results.victims} dead machines`,
        inTtls(results.rescheduledMs),
        `< ${TARGET_RESCHEDULE_TTLS} × TTL`,
        ratio(results.rescheduledMs, rescheduleTarget),
      ],
      [
        '  relaunched elsewhere',
        inTtls(results.relaunchedMs),
        `< ${TARGET_RESCHEDULE_TTLS} × TTL`,
        ratio(results.relaunchedMs, rescheduleTarget),
      ],
      [
        'steady CPU per fleetd',
        steady === null ? '-' : `${fixed(steady.cpuShare * 100, 3)} % of a core`,
        `< ${TARGET_IDLE_CPU_SHARE * 100} %`,
        steady === null ? '-' : fixed(steady.cpuShare / TARGET_IDLE_CPU_SHARE, 3),
      ],
      [
        'steady RSS per fleetd',
        steady === null ? '-' : `${fixed(steady.rssBytes / MIB, 1)} MB`,
        `< ${TARGET_RSS_BYTES / MIB} MB`,
        steady === null ? '-' : fixed(steady.rssBytes / TARGET_RSS_BYTES, 3),
      ],
      [
        'steady CPU of etcd',
        steady === null ? '-' : `${fixed(steady.etcdCpuShare * 100, 1)} % of a core`,
        '',
        '',
      ],
    );
    out += table(['measurement', 'value', 'target', 'ratio'], rows);
    out +=
      'Per fleetd: the worker processes’ CPU and RSS over the idle phase, divided by the machines they host.\n';

    out += '\ndetails:\n';
    out += table(
      ['step', 'value'],
      [
        [
          `register ${options.machines} machines (all present in etcd)`,
          seconds(results.registerMs),
        ],
        [
          `submit ${options.units} units (EtcdUnitRecords.put, as the API does)`,
          seconds(results.submitMs),
        ],
        ['first unit scheduled, from the first submit', seconds(results.firstPlacedMs)],
        [`dead machines’ leases expired, from their stop`, inTtls(results.expiredMs)],
        [
          'all units launched again after the kill, from the stop',
          seconds(results.everythingLaunchedAfterKillMs),
        ],
      ],
    );
    if (results.putLatencyMs !== null) {
      const { p50, p99, max } = results.putLatencyMs;
      out += `\nEtcdUnitRecords.put latency: p50 ${fixed(p50, 1)} ms, p99 ${fixed(p99, 1)} ms, max ${fixed(max, 1)} ms\n`;
    }
    if (results.stopAckMs !== null) {
      out += `FleetServer.stop() of the victims took ${seconds(results.stopAckMs)} (their keepalives stop when it resolves); TTL ${ttlS} s\n`;
    }

    const launch = results.phases.launch;
    const idle = results.phases.idle;
    if (launch !== undefined) out += this.requestsTable(launch, idle);
    out += this.loadTable();
    if (results.watchGauges !== null) {
      out += `\netcd watch streams ${results.watchGauges.streams}, watchers ${results.watchGauges.watchers} (after launch)\n`;
    }
    if (results.enginePasses.length > 0) {
      out += "\nengine passes (from the engine machines' debug log):\n";
      out += table(
        ['machine', 'passes', 'total', 'longest', 'lost races'],
        results.enginePasses.map((pass) => [
          pass.machine,
          String(pass.passes),
          seconds(pass.totalMs),
          `${pass.maxMs} ms`,
          String(pass.lostRaces),
        ]),
      );
    }
    for (const note of results.notes) out += `note: ${note}\n`;
    out += `\nfull results: ${join(this.resultsDir, 'results.json')}\n`;
    return out;
  }

  /** Unary etcd calls per unit during the launch phase, and the same net of the idle rate. */
  private requestsPerUnit(): { total: number; net: number } | null {
    const { launch, idle } = this.results.phases;
    if (launch === undefined) return null;
    const sum = (calls: Map<string, number>) => [...calls.values()].reduce((a, b) => a + b, 0);
    const total = sum(launch.calls.unary);
    const background =
      idle === undefined ? 0 : (sum(idle.calls.unary) / idle.durationMs) * launch.durationMs;
    const units = this.options.units;
    return { total: total / units, net: Math.max(0, total - background) / units };
  }

  /** Idle load of the fleetd worker processes, per machine they host, and etcd's. */
  private steadyPerFleetd(): { cpuShare: number; rssBytes: number; etcdCpuShare: number } | null {
    const idle = this.results.phases.idle;
    if (idle === undefined) return null;
    let cpuShare = 0;
    let rssBytes = 0;
    for (const worker of this.workers) {
      const usage = idle.cpu.get(worker.name);
      if (usage === undefined) continue;
      cpuShare += usage.coreShare;
      rssBytes += usage.rssBytes;
    }
    const machines = this.options.machines;
    return {
      cpuShare: cpuShare / machines,
      rssBytes: rssBytes / machines,
      etcdCpuShare: idle.cpu.get('etcd')?.coreShare ?? 0,
    };
  }

  private requestsTable(launch: PhaseLoad, idle: PhaseLoad | undefined): string {
    const units = this.options.units;
    const seconds = launch.durationMs / 1000;
    const background = (count: Map<string, number> | undefined, method: string) =>
      idle === undefined ? 0 : ((count?.get(method) ?? 0) / idle.durationMs) * 1000 * seconds;
    const rows: string[][] = [];
    const methods = [
      ...[...launch.calls.unary].map(([method, count]) => ({ kind: 'unary', method, count })),
      ...[...launch.calls.streamMessages].map(([method, count]) => ({
        kind: 'stream msgs',
        method,
        count,
      })),
    ].sort((a, b) => b.count - a.count);
    for (const { kind, method, count } of methods) {
      const idleCount = kind === 'unary' ? idle?.calls.unary : idle?.calls.streamMessages;
      const net = Math.max(0, count - background(idleCount, method));
      rows.push([
        `${method} (${kind})`,
        String(count),
        fixed(count / units, 3),
        idle === undefined ? '-' : fixed(net / units, 3),
      ]);
    }
    const store = launch.store;
    const storeRows = (
      [
        ['keys put', store.puts],
        ['keys deleted', store.deletes],
        ['txn requests', store.txns],
        ['range requests', store.ranges],
        ['watch events sent', store.watchEvents],
        ['lease renewals', store.leaseRenewals],
      ] as const
    ).map(([label, value]) => [`${label} (mvcc)`, String(value), fixed(value / units, 3), '-']);
    let out = `\netcd requests from first submit to all launched (${fixed(seconds, 1)} s), per unit; "net" subtracts the steady-state rate:\n`;
    out += table(['request', 'total', 'per unit', 'net per unit'], [...rows, ...storeRows]);
    if (launch.failures.size > 0) {
      out += `failed calls: ${[...launch.failures].map(([key, count]) => `${key} ${count}`).join(', ')}\n`;
    }
    return out;
  }

  private loadTable(): string {
    const rows: string[][] = [];
    for (const [phase, load] of Object.entries(this.results.phases)) {
      for (const [name, usage] of load.cpu) {
        const worker = load.workers.get(name);
        rows.push([
          phase,
          name,
          `${fixed(load.durationMs / 1000, 1)} s`,
          `${Math.round(usage.coreShare * 100)}%`,
          mebibytes(usage.rssBytes),
          worker === undefined ? '' : `${fixed(worker.loopDelayP99Ms, 0)} ms`,
          worker === undefined ? '' : `${fixed(worker.loopDelayMaxMs, 0)} ms`,
          worker === undefined ? '' : String(worker.warnings),
        ]);
      }
      const calls = [...load.calls.unary.values()].reduce((sum, count) => sum + count, 0);
      rows.push([
        phase,
        'etcd unary calls/s',
        '',
        fixed((calls / load.durationMs) * 1000, 0),
        '',
        '',
        '',
        '',
      ]);
    }
    return `\nload by phase (CPU as share of one core; event-loop delay of workers):\n${table(
      ['phase', 'process', 'duration', 'cpu', 'rss', 'loop p99', 'loop max', 'warnings'],
      rows,
    )}`;
  }

  writeResults(): void {
    const serialisable = JSON.stringify(
      this.results,
      (_key, value: unknown) => (value instanceof Map ? Object.fromEntries(value) : value),
      2,
    );
    writeFileSync(join(this.resultsDir, 'results.json'), serialisable);
  }

  /** Stops everything this run started; safe to call more than once, and after failures. */
  /** What crashed the run (the benchmark or a worker), or null. */
  get crash(): string | null {
    return this.runFailure ?? this.workerFailure;
  }

  recordCrash(err: unknown): void {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`benchmark failed: ${message}`);
    this.runFailure ??= err instanceof Error ? err.message : String(err);
  }

  /** Kills the workers at once: the last resort of a second interrupt. */
  killWorkers(): void {
    for (const worker of this.workers) worker.kill();
  }

  async cleanup(): Promise<void> {
    this.closing = true;
    await this.observer?.stop().catch(() => undefined);
    this.observer = null;
    await Promise.all(this.workers.map((worker) => worker.close({ type: 'shutdown' }, 20_000)));
    this.client?.close();
    this.client = null;
    await this.etcdCluster?.stop();
    this.etcdCluster = null;
  }
}

async function main(): Promise<number> {
  const options = parseOptions();
  const benchmark = new ScaleBenchmark(options);
  // A first interrupt stops workers and etcd cleanly; a second one kills the workers, and
  // exiting kills etcd (test/support/etcd.ts; etcd also dies with this process by PDEATHSIG).
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      benchmark.killWorkers();
      process.exit(130);
    }
    interrupted = true;
    log(`${signal}: stopping workers and etcd (again to kill them)`);
    void benchmark.cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onCrash = (err: unknown) => {
    benchmark.recordCrash(err);
    void benchmark.cleanup().finally(() => process.exit(1));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  try {
    await benchmark.run();
  } catch (err) {
    benchmark.recordCrash(err);
  } finally {
    await benchmark.cleanup();
  }
  benchmark.summariseEngineLog();
  benchmark.writeResults();
  process.stdout.write(benchmark.report());
  // Timing never fails the run; only a crash of the benchmark or of a fleetd worker does.
  return benchmark.crash === null ? 0 : 1;
}

// Exit explicitly: a timer or handle left behind must not keep a finished run waiting.
process.exit(await main());
