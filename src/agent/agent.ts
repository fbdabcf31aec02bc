import type { Logger } from 'pino';
import { type Clock, SYSTEM_CLOCK } from '../clock.js';
import { errorMessage } from '../error-message.js';
import { ReconcileLoop } from '../reconcile/loop.js';
import { RequirementsCache } from '../reconcile/requirements-cache.js';
import { type HealthCheck, mergeMetadata } from '../registry/model.js';
import type { AgentSchedule, StatePublications, UnitBodies } from '../registry/ports.js';
import type { ScheduleEntry } from '../registry/records.js';
import {
  type SystemdUnitState,
  UNKNOWN_UNIT_STATE,
  type UnitManager,
} from '../systemd/unit-manager.js';
import { type HealthCommandRunner, runHealthCommand } from './health-command.js';
import {
  type AgentTask,
  type DesiredUnit,
  desiredUnits,
  healthChecksDue,
  type LocalUnit,
  planPublications,
  planTasks,
  publishedForm,
  REASONS,
  TASK_PHASES,
  withPins,
} from './plan.js';

export interface AgentOptions {
  machineID: string;
  /** Metadata from this machine's configuration; API-set metadata is merged over it. */
  configuredMetadata: Readonly<Record<string, string>>;
  feed: AgentSchedule;
  manager: UnitManager;
  bodies: UnitBodies;
  publisher: StatePublications;
  log: Logger;
  /** The safety-net tick; feed and systemd events drive reconciles (fleet: 5 s). */
  reconcileIntervalMs: number;
  /** False for fleet's `disable_watches`: re-list on every tick instead. */
  watches: boolean;
  clock?: Clock;
  /** Runs rollouts' health commands; a child process of fleetd by default. */
  healthCommand?: HealthCommandRunner;
}

/** systemd active states that mean a start was requested and took hold. */
const RUNNING_STATES = new Set(['active', 'activating', 'reloading', 'deactivating']);

/**
 * fleet's agent: makes this machine's systemd run what the registry schedules here, and
 * publishes what systemd reports. Decisions are `plan.ts`'s; this class runs them.
 */
export class Agent {
  private readonly local = new Map<string, LocalUnit>();
  private readonly published = new Map<string, string>();
  private readonly clock: Clock;
  private readonly loop: ReconcileLoop;
  /** Counts stops, so a start that a stop overtook knows it must not carry on. */
  private stops = 0;
  /**
   * Removes this agent's listener from the unit manager, which outlives it: a SIGHUP reload
   * makes a new agent over the same manager.
   */
  private unsubscribe: (() => void) | null = null;
  /**
   * Whether systemd may hold unit files older than the directory's: a fleetd that stopped
   * between removing a file and reloading, or a reload that failed. Until a reload
   * succeeds, every load reloads.
   */
  private reloadOwed = true;
  private readonly requirements: RequirementsCache;
  /** Units whose health command runs now: one at a time each. */
  private readonly healthRuns = new Set<string>();
  /** The health report last published for each unit, as JSON. */
  private readonly healthReported = new Map<string, string>();

  private feed: AgentSchedule;
  private publisher: StatePublications;

  constructor(private readonly options: AgentOptions) {
    this.feed = options.feed;
    this.publisher = options.publisher;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.requirements = new RequirementsCache(options.bodies, () => this.trigger(), options.log);
    this.loop = new ReconcileLoop({
      pass: () => this.timedReconcile(),
      onError: (err) => options.log.error({ err }, 'AgentReconciler reconciliation failed'),
      intervalMs: options.reconcileIntervalMs,
      clock: this.clock,
    });
  }

  /**
   * After fleetd re-registers under a new lease: reads and publishes through the new
   * session, republishing every state (the old lease took the old ones with it).
   */
  replaceConnections(feed: AgentSchedule, publisher: StatePublications): void {
    this.feed = feed;
    this.publisher = publisher;
    this.published.clear();
    this.healthReported.clear();
  }

  /**
   * Learns what fleet left on this machine (unit files, whether systemd finds them and
   * whether it runs them) before acting, so a restarted fleetd leaves running units running
   * (fleet #993) and links again a file it wrote but had not linked when it stopped.
   */
  async start(): Promise<void> {
    const { manager } = this.options;
    const stops = this.stops;
    this.unsubscribe ??= manager.onChange(() => this.trigger());
    const files = await manager.listUnitFiles();
    const states = await manager.states([...files.keys()]);
    for (const [name, hash] of files) {
      if (this.local.has(name)) continue;
      const state = states.get(name);
      const running = RUNNING_STATES.has(state?.activeState ?? '');
      const unlinked = state?.loadState === UNKNOWN_UNIT_STATE.loadState;
      this.local.set(name, {
        hash,
        state: running ? 'launched' : 'loaded',
        ...(unlinked && { unlinked: true }),
      });
    }
    // Only once every prefix is listed: a pass on a partial view would unload what it misses.
    if (this.options.watches) await this.feed.watch();
    if (this.stops !== stops) throw new Error('the agent was stopped while it started');
    this.loop.start();
  }

  /** Stops reconciling; units keep running (a restart or etcd loss must not stop them). */
  async stop(): Promise<void> {
    this.stops += 1;
    const passDone = this.loop.stop();
    this.unsubscribe?.();
    this.unsubscribe = null;
    await passDone;
    await this.feed.stop();
  }

  /**
   * Graceful shutdown: stops and unloads every unit fleet loaded here and withdraws their
   * states, so `systemctl stop fleet` leaves nothing of fleet's running.
   */
  async purge(): Promise<void> {
    await this.stop();
    const { manager } = this.options;
    const names = new Set([...this.local.keys(), ...(await manager.listUnitFiles()).keys()]);
    const tasks: AgentTask[] = [...names].sort().map((unitName) => ({
      type: 'UnloadUnit',
      unitName,
      reason: REASONS.purge,
    }));
    if (tasks.length > 0) tasks.push({ type: 'ReloadUnitFiles', reason: REASONS.reload });
    await this.execute(tasks);
    await this.publishStates();
  }

  /** Reconciles as soon as the current pass (if any) is done. */
  trigger(): void {
    this.loop.trigger();
  }

  /** What the agent believes is loaded here; for SIGUSR1 dumps and tests. */
  localUnits(): ReadonlyMap<string, LocalUnit> {
    return this.local;
  }

  private async timedReconcile(): Promise<void> {
    const started = this.clock.now();
    await this.reconcile();
    this.options.log.debug(
      `AgentReconciler completed reconciliation in ${this.clock.now() - started}ms`,
    );
  }

  private async reconcile(): Promise<void> {
    const { machineID, configuredMetadata } = this.options;
    if (!this.options.watches) await this.feed.relist();
    const snapshot = this.feed.snapshot();
    const scheduled = withPins(snapshot.scheduled, snapshot.pins);
    const globals = withPins(snapshot.globals, snapshot.pins);
    const { desired, pending, missingBodies } = desiredUnits({
      machine: {
        id: machineID,
        metadata: mergeMetadata(configuredMetadata, snapshot.dynamicMetadata),
      },
      scheduled,
      globals,
      known: this.requirements.known(unitBodies(scheduled, globals)),
    });
    // Each body read triggers another pass, which decides what this one left pending.
    this.requirements.fetch(missingBodies);
    const needsReload = (load: DesiredUnit) => this.reloadOwed || this.enables(load.hash);
    await this.execute(planTasks(desired, this.local, new Set(pending), needsReload), desired);
    const reported = await this.publishStates();
    await this.checkHealth(snapshot.healthChecks, reported);
  }

  /**
   * Withdraws the health reports of checks that ended, and starts the checks due, each in the
   * background: a slow command never holds a pass up. A result is published when it differs
   * from the last, and only while its check is still the one asked for.
   */
  private async checkHealth(
    checks: ReadonlyMap<string, HealthCheck>,
    reported: ReadonlyMap<string, SystemdUnitState>,
  ): Promise<void> {
    for (const name of [...this.healthReported.keys()]) {
      if (checks.has(name)) continue;
      await this.publisher.publishHealth(name, null);
      this.healthReported.delete(name);
    }
    const run = this.options.healthCommand ?? runHealthCommand;
    for (const name of healthChecksDue(checks, this.local, reported)) {
      if (this.healthRuns.has(name)) continue;
      const check = checks.get(name)!;
      const stops = this.stops;
      this.healthRuns.add(name);
      void run(check.command, name)
        .then(async (ok) => {
          const current = this.feed.snapshot().healthChecks.get(name);
          if (this.stops !== stops || current?.hash !== check.hash) return;
          const report = { rollout: check.rollout, hash: check.hash, ok };
          const form = JSON.stringify(report);
          if (this.healthReported.get(name) === form) return;
          await this.publisher.publishHealth(name, report);
          this.healthReported.set(name, form);
          this.options.log.info(
            { unit: name, rollout: check.rollout, ok },
            ok ? 'Rollout health command succeeded' : 'Rollout health command failed',
          );
        })
        .catch((err) =>
          this.options.log.error({ err, unit: name }, 'Publishing a health report failed'),
        )
        .finally(() => this.healthRuns.delete(name));
    }
  }

  /**
   * Runs the tasks phase by phase, in `TASK_PHASES`' order. Within a phase units are
   * independent: one failing task is logged and retried next pass, and never
   * holds the others back (fleet stopped at the first failure).
   */
  private async execute(
    tasks: readonly AgentTask[],
    desired: ReadonlyMap<string, { hash: string }> = new Map(),
  ): Promise<void> {
    const failedUnits = new Set<string>();
    for (const phase of TASK_PHASES) {
      const inPhase = tasks.filter(
        (task) =>
          phase.includes(task.type) && !('unitName' in task && failedUnits.has(task.unitName)),
      );
      await Promise.all(
        inPhase.map(async (task) => {
          try {
            await this.run(task, desired);
            this.options.log.info(
              `AgentReconciler completed task: type=${task.type} job=${'unitName' in task ? task.unitName : ''} reason=${JSON.stringify(task.reason)}`,
            );
          } catch (err) {
            if ('unitName' in task) failedUnits.add(task.unitName);
            this.options.log.error(
              { err },
              `AgentReconciler task failed: type=${task.type} job=${'unitName' in task ? task.unitName : ''} reason=${JSON.stringify(task.reason)} err=${errorMessage(err)}`,
            );
          }
        }),
      );
    }
  }

  private async run(
    task: AgentTask,
    desired: ReadonlyMap<string, { hash: string }>,
  ): Promise<void> {
    const { manager, bodies } = this.options;
    switch (task.type) {
      case 'UnloadUnit':
        await manager.unload(task.unitName);
        this.local.delete(task.unitName);
        return;
      case 'LoadUnit': {
        const hash = desired.get(task.unitName)!.hash;
        const { text } = await bodies.body(hash);
        await manager.load(task.unitName, text);
        this.local.set(task.unitName, { hash, state: 'loaded' });
        return;
      }
      case 'ReloadUnitFiles':
        this.reloadOwed = true;
        await manager.reload();
        this.reloadOwed = false;
        return;
      case 'StartUnit':
        await manager.start(task.unitName);
        this.setState(task.unitName, 'launched');
        return;
      case 'StopUnit':
        await manager.stop(task.unitName);
        this.setState(task.unitName, 'loaded');
        return;
    }
  }

  /** Whether loading this body enables the unit (an unknown body is assumed to). */
  private enables(hash: string): boolean {
    return this.options.bodies.cached(hash)?.contents.has('Install') ?? true;
  }

  private setState(name: string, state: LocalUnit['state']): void {
    const unit = this.local.get(name);
    if (unit !== undefined) this.local.set(name, { ...unit, state });
  }

  /**
   * Publishes what changed since last time: systemd's view of every unit fleet loaded here.
   * Returns that view.
   */
  private async publishStates(): Promise<Map<string, SystemdUnitState>> {
    const reported = await this.options.manager.states([...this.local.keys()]);
    const updates = planPublications(this.local, reported, this.published);
    if (updates.length === 0) return reported;
    await this.publisher.publish(updates);
    for (const { name, state } of updates) {
      if (state === null) this.published.delete(name);
      else this.published.set(name, publishedForm(state));
    }
    return reported;
  }
}

/** Each entry's unit name and the hash of its body. */
function* unitBodies(
  ...entries: ReadonlyArray<ReadonlyMap<string, ScheduleEntry>>
): Iterable<[string, string]> {
  for (const map of entries) {
    for (const [name, { hash }] of map) yield [name, hash];
  }
}
