import type { Logger } from 'pino';
import { RequirementsCache } from '../engine/requirements-cache.js';
import type { AgentFeed } from '../registry/agent-feed.js';
import { mergeMetadata } from '../registry/machine-store.js';
import type { UnitStateRecord } from '../registry/records.js';
import type { StatePublisher, StateUpdate } from '../registry/state-publisher.js';
import type { UnitFileCache } from '../registry/unit-file-cache.js';
import { UNKNOWN_UNIT_STATE, type UnitManager } from '../systemd/unit-manager.js';
import {
  type AgentTask,
  type DesiredUnit,
  desiredUnits,
  type LocalUnit,
  planTasks,
  REASONS,
} from './plan.js';

export interface AgentOptions {
  machineID: string;
  /** Metadata from this machine's configuration; API-set metadata is merged over it. */
  configuredMetadata: Readonly<Record<string, string>>;
  feed: AgentFeed;
  manager: UnitManager;
  bodies: UnitFileCache;
  publisher: StatePublisher;
  log: Logger;
  /** The safety-net tick; feed and systemd events drive reconciles (fleet: 5 s). */
  reconcileIntervalMs: number;
  /** False for fleet's `disable_watches`: re-list on every tick instead. */
  watches: boolean;
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
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private pending = false;
  private stopped = true;
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

  private feed: AgentFeed;
  private publisher: StatePublisher;

  constructor(private readonly options: AgentOptions) {
    this.feed = options.feed;
    this.publisher = options.publisher;
    this.requirements = new RequirementsCache(options.bodies, () => this.trigger(), options.log);
  }

  /**
   * After fleetd re-registers under a new lease: reads and publishes through the new
   * session, republishing every state (the old lease took the old ones with it).
   */
  replaceConnections(feed: AgentFeed, publisher: StatePublisher): void {
    this.feed = feed;
    this.publisher = publisher;
    this.published.clear();
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
    this.stopped = false;
    this.trigger();
  }

  /** Stops reconciling; units keep running (a restart or etcd loss must not stop them). */
  async stop(): Promise<void> {
    this.stops += 1;
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
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
    if (this.stopped) return;
    this.pending = true;
    // Start on the next turn: the events of one watch response then land in one pass.
    this.running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.runPending(),
    );
  }

  /** What the agent believes is loaded here; for SIGUSR1 dumps and tests. */
  localUnits(): ReadonlyMap<string, LocalUnit> {
    return this.local;
  }

  private async runPending(): Promise<void> {
    while (this.pending && !this.stopped) {
      this.pending = false;
      if (this.timer !== null) clearTimeout(this.timer);
      const started = Date.now();
      try {
        await this.reconcile();
        this.options.log.debug(
          `AgentReconciler completed reconciliation in ${Date.now() - started}ms`,
        );
      } catch (err) {
        this.options.log.error({ err }, 'AgentReconciler reconciliation failed');
      }
      if (!this.stopped)
        this.timer = setTimeout(() => this.trigger(), this.options.reconcileIntervalMs);
    }
    this.running = null;
  }

  private async reconcile(): Promise<void> {
    const { machineID, configuredMetadata } = this.options;
    if (!this.options.watches) await this.feed.relist();
    const snapshot = this.feed.snapshot();
    const { desired, pending } = desiredUnits({
      machine: {
        id: machineID,
        metadata: mergeMetadata(configuredMetadata, snapshot.dynamicMetadata),
      },
      scheduled: snapshot.scheduled,
      globals: snapshot.globals,
      requirementsOf: (name, hash) => this.requirements.get(name, hash),
    });
    this.requirements.endPass();
    const needsReload = (load: DesiredUnit) => this.reloadOwed || this.enables(load.hash);
    await this.execute(planTasks(desired, this.local, new Set(pending), needsReload), desired);
    await this.publishStates();
  }

  /**
   * Runs the tasks phase by phase (unload and load, reload, stop and start). Within a phase
   * units are independent: one failing task is logged and retried next pass, and never
   * holds the others back (fleet stopped at the first failure).
   */
  private async execute(
    tasks: readonly AgentTask[],
    desired: ReadonlyMap<string, { hash: string }> = new Map(),
  ): Promise<void> {
    const failedUnits = new Set<string>();
    const phases: Array<ReadonlyArray<AgentTask['type']>> = [
      ['UnloadUnit'],
      ['LoadUnit'],
      ['ReloadUnitFiles'],
      ['StopUnit', 'StartUnit'],
    ];
    for (const phase of phases) {
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
              `AgentReconciler task failed: type=${task.type} job=${'unitName' in task ? task.unitName : ''} reason=${JSON.stringify(task.reason)} err=${(err as Error).message}`,
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

  /** Publishes what changed since last time: systemd's view of every unit fleet loaded here. */
  private async publishStates(): Promise<void> {
    const names = [...this.local.keys()];
    const systemd = await this.options.manager.states(names);
    const updates: StateUpdate[] = [];
    for (const [name, unit] of this.local) {
      const reported = systemd.get(name);
      if (reported === undefined) continue;
      const state: UnitStateRecord = {
        ...reported,
        hash: unit.hash,
        launched: unit.state === 'launched',
      };
      const encoded = JSON.stringify(state);
      if (this.published.get(name) !== encoded) updates.push({ name, state });
    }
    for (const name of this.published.keys()) {
      if (!this.local.has(name)) updates.push({ name, state: null });
    }
    if (updates.length === 0) return;
    await this.publisher.publish(updates);
    for (const { name, state } of updates) {
      if (state === null) this.published.delete(name);
      else this.published.set(name, JSON.stringify(state));
    }
  }
}
