import type { Logger } from 'pino';
import { type Clock, SYSTEM_CLOCK, type TimerHandle } from '../clock.js';
import { ReconcileLoop } from '../reconcile/loop.js';
import { RequirementsCache } from '../reconcile/requirements-cache.js';
import type { EngineSnapshot, LeaderFence, ScheduleChange, UnitState } from '../registry/model.js';
import type {
  DrainProgress,
  EngineView,
  FencedScheduleWrites,
  Leadership,
  RolloutRecords,
  UnitBodies,
  UnitStateReads,
} from '../registry/ports.js';
import { unitsOnTheirWay } from './drain.js';
import { displacementOf, type EngineMetrics, NO_ENGINE_METRICS } from './metrics.js';
import type { EngineTask } from './model.js';
import { type EnginePlan, planPass } from './plan.js';
import { RolloutDriver } from './rollout-driver.js';
import { SettledPass } from './settled-pass.js';

export interface EngineOptions {
  machineID: string;
  feed: EngineView;
  leadership: Leadership;
  writer: FencedScheduleWrites;
  bodies: UnitBodies;
  /** Drains: the states of the units they moved, and where the leader records progress. */
  drains: { states: UnitStateReads; progress: DrainProgress };
  /** Rolling updates, which the leader drives; none without (a store without rollouts). */
  rollouts?: RolloutRecords;
  log: Logger;
  /** `engine_reconcile_interval`: the safety-net tick; watch events drive reconciles. */
  reconcileIntervalMs: number;
  /**
   * How long a new leader waits for absent machines to re-register before moving their
   * units away: the machine lease TTL etcd granted.
   */
  machineGraceMs: number;
  /** False for fleet's `disable_watches`: re-list on every tick instead. */
  watches: boolean;
  metrics?: EngineMetrics;
  clock?: Clock;
}

/**
 * fleet's engine: every fleetd runs one, one of them leads, and the leader keeps the
 * schedule in line with the units and machines. Decisions are `planPass`'s; this class
 * only runs passes, one at a time, and carries their changes out.
 */
export class Engine {
  private readonly clock: Clock;
  private readonly metrics: EngineMetrics;
  private readonly loop: ReconcileLoop;
  /** Counts stops, so a start that a stop overtook knows it must not carry on. */
  private stops = 0;
  private leaderSince: number | null = null;
  private knownLeader: string | null = null;
  private graceTimer: TimerHandle | null = null;
  private readonly requirements: RequirementsCache;
  private readonly settled = new SettledPass();
  private readonly rollouts: RolloutDriver | null;

  constructor(private readonly options: EngineOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.metrics = options.metrics ?? NO_ENGINE_METRICS;
    this.requirements = new RequirementsCache(options.bodies, () => this.trigger(), options.log);
    this.rollouts =
      options.rollouts === undefined
        ? null
        : new RolloutDriver(options.rollouts, options.drains.states, options.log, this.clock);
    this.loop = new ReconcileLoop({
      pass: () => this.reconcile(),
      onError: (err) => {
        if (!this.loop.stopped) options.log.error({ err }, 'Engine reconciliation failed');
      },
      intervalMs: options.reconcileIntervalMs,
      clock: this.clock,
    });
  }

  async start(): Promise<void> {
    const stops = this.stops;
    // Only the leader key: the registry state is mirrored once this engine wins leadership.
    if (this.options.watches) await this.options.feed.watch();
    if (this.stops !== stops) throw new Error('the engine was stopped while it started');
    this.loop.start();
  }

  /**
   * Stops reconciling. With `resign`, a leader gives leadership up at once (graceful
   * shutdown) rather than leaving it to expire with its machine's lease.
   */
  async stop({ resign }: { resign: boolean }): Promise<void> {
    this.stops += 1;
    const passDone = this.loop.stop();
    if (this.graceTimer !== null) this.clock.clearTimeout(this.graceTimer);
    this.graceTimer = null;
    // The feed first: that ends a listing the running pass may be waiting on (etcd gone).
    await this.options.feed.stop();
    await passDone;
    if (resign) await this.options.leadership.resign();
  }

  /** Asks for a reconcile as soon as the current one (if any) is done. */
  trigger(): void {
    this.loop.trigger();
  }

  private async reconcile(): Promise<void> {
    const { feed, leadership, log, machineID } = this.options;
    if (!this.options.watches) await feed.relist();
    if (!(await this.ensureLeadership())) return;

    const started = this.clock.now();
    const snapshot = feed.snapshot();
    // Rollouts wait on unit states and the clock, which no mirror follows: every pass drives them.
    const rolloutFence = leadership.fence;
    if (this.rollouts !== null && rolloutFence !== null) {
      // Scheduling must not wait on a rollout the store could not answer for.
      await this.rollouts
        .pass(rolloutFence, snapshot)
        .catch((err) => log.error({ err }, 'Rollout pass failed; trying again on the next pass'));
    }
    const unconfirmed = this.unconfirmedMachines(snapshot.placements, snapshot.machines);
    if (this.settled.repeats(snapshot, unconfirmed)) {
      this.metrics.passCompleted();
      log.debug('Engine reconciliation skipped: nothing changed since the last pass');
      return;
    }
    const known = this.requirements.known(unitBodies(snapshot));
    const plan = planPass(snapshot, known, unconfirmed, await this.statesOnTheirWay(snapshot));
    // Each body read triggers another pass, which decides what this one held back.
    this.requirements.fetch(plan.missingBodies);
    const complete = plan.missingBodies.length === 0;
    // A drain waits on unit states, which are not mirrored: only passes notice them change.
    const settled = complete && plan.changes.length === 0 && !plan.draining;
    this.settled.passed(snapshot, unconfirmed, settled);
    const fence = leadership.fence;
    const changes = fence === null ? [] : await this.recordDrains(fence, plan);
    if (changes.length > 0 && fence !== null) {
      const { applied, revision, deposed } = await this.options.writer.apply(fence, changes);
      if (deposed) await this.loseLeadership();
      // Decide the next pass on a view that includes these writes, or loads are stale.
      if (this.options.watches && revision !== null) {
        await feed.placementsCaughtUp(revision, this.options.reconcileIntervalMs);
      }
      const appliedUnits = new Set(applied.map((change) => change.unitName));
      for (const task of plan.tasks) {
        if (appliedUnits.has(task.unitName)) {
          logTask(log, task);
          this.metrics.taskApplied(task.type);
        } else {
          this.metrics.taskFailed(task.type);
        }
        const displacement = displacementOf(task.cause);
        if (displacement !== undefined) this.metrics.unitDisplaced(displacement);
      }
      if (applied.length < changes.length && !deposed) {
        log.debug(
          { skipped: changes.length - applied.length, machineID },
          'Engine changes lost a race; deciding again on the next pass',
        );
        this.trigger();
      }
    }
    this.metrics.passCompleted();
    const elapsed = this.clock.now() - started;
    const level = elapsed > this.options.reconcileIntervalMs ? 'warn' : 'debug';
    log[level](`Engine completed reconciliation in ${elapsed}ms`);
  }

  /** The published states of the units drains moved and wait for, by unit. */
  private async statesOnTheirWay(
    snapshot: EngineSnapshot,
  ): Promise<Map<string, readonly UnitState[]>> {
    const names = unitsOnTheirWay(snapshot);
    const states = await Promise.all(names.map((name) => this.options.drains.states.forUnit(name)));
    return new Map(names.map((name, index) => [name, states[index]!]));
  }

  /**
   * Records each drain's progress before its moves: a move the record does not list could
   * be taken for finished by a later leader, and the next one started too soon. The moves
   * of a drain whose record changed meanwhile (uncordoned, drained again) are left out and
   * decided again. Returns the changes to apply.
   */
  private async recordDrains(fence: LeaderFence, plan: EnginePlan): Promise<ScheduleChange[]> {
    const withheld = new Set<string>();
    for (const update of plan.drains) {
      const { machineID, modRevision, drain, moved } = update;
      const recorded = await this.options.drains.progress.record(
        fence,
        machineID,
        modRevision,
        drain,
      );
      if (!recorded) {
        for (const name of moved) withheld.add(name);
        this.trigger();
        continue;
      }
      this.options.log.info(
        {
          machineID,
          moving: drain.moving,
          moved: drain.moved.length,
          stayed: drain.stayed,
          done: drain.done,
        },
        drain.done ? 'Drain finished' : 'Drain progressed',
      );
    }
    return plan.changes.filter((change) => !withheld.has(change.unitName));
  }

  /** Campaigns when not leading; notices a lost leadership; true while this engine leads. */
  private async ensureLeadership(): Promise<boolean> {
    const { feed, leadership, log, machineID } = this.options;
    const recordedLeader = feed.leaderMachineID();
    const fence = leadership.fence;
    if (fence !== null && recordedLeader !== machineID && (await feed.leaderKeySeenSince(fence))) {
      await this.loseLeadership();
    }
    if (leadership.fence === null) {
      // Another engine leads: nothing to ask etcd. Its key's deletion wakes this engine up.
      if (recordedLeader !== null && recordedLeader !== machineID) {
        this.noteLeader(recordedLeader);
        return false;
      }
      const leader = await leadership.campaign();
      if (leadership.fence === null) {
        this.noteLeader(leader?.machineID ?? null);
        return false;
      }
      this.leaderSince = this.clock.now();
      this.knownLeader = machineID;
      log.info('Engine leadership acquired');
      this.metrics.leadershipAcquired(Math.floor(this.leaderSince / 1000));
    }
    // A new leader decides only on a view listed after its election: complete and current.
    // Once listed, this returns at once; a listing that failed is finished on the next pass.
    await feed.mirrorState({ watch: this.options.watches });
    return true;
  }

  /** Stops deciding: forgets the fence and the registry state only a leader mirrors. */
  private async loseLeadership(): Promise<void> {
    this.options.leadership.lose();
    this.leaderSince = null;
    this.settled.forget();
    this.options.log.error(
      'Engine leadership lost, renewal failed: leader key no longer held by this machine',
    );
    await this.options.feed.releaseState();
  }

  private noteLeader(leaderID: string | null): void {
    if (leaderID === this.knownLeader) return;
    if (leaderID !== null) this.options.log.info(`Engine leader is ${leaderID}`);
    this.knownLeader = leaderID;
  }

  /**
   * Machines that hold placements but are absent, while this engine has led for less than
   * the grace period: after an election they may simply not have re-registered yet.
   */
  private unconfirmedMachines(
    placements: ReadonlyMap<string, { machineID: string }>,
    machines: ReadonlyMap<string, unknown>,
  ): Set<string> {
    const unconfirmed = new Set<string>();
    if (this.leaderSince === null) return unconfirmed;
    const inGrace = this.clock.now() - this.leaderSince < this.options.machineGraceMs;
    if (!inGrace) return unconfirmed;
    for (const { machineID } of placements.values()) {
      if (!machines.has(machineID)) unconfirmed.add(machineID);
    }
    if (unconfirmed.size > 0 && this.graceTimer === null) {
      const graceLeft = this.options.machineGraceMs - (this.clock.now() - this.leaderSince);
      this.graceTimer = this.clock.setTimeout(() => {
        this.graceTimer = null;
        this.trigger();
      }, graceLeft);
    }
    return unconfirmed;
  }
}

/** Each unit's name and the hash of the body its record names. */
function* unitBodies(snapshot: EngineSnapshot): Iterable<[string, string]> {
  for (const [name, { record }] of snapshot.units) yield [name, record.hash];
}

/** The lines fleet's engine logged for each task; operators and tests grep for them. */
function logTask(log: Logger, task: EngineTask): void {
  if (task.type === 'AttemptScheduleUnit') {
    log.info(`Scheduled Unit(${task.unitName}) to Machine(${task.machineID})`);
  } else {
    log.info(`Unscheduled Job(${task.unitName}) from Machine(${task.machineID})`);
  }
  log.info(
    `EngineReconciler completed task: {Type: ${task.type}, JobName: ${task.unitName}, MachineID: ${task.machineID}, Reason: ${JSON.stringify(task.reason)}}`,
  );
}
