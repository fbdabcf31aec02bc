/**
 * The engine's scheduling decisions for one reconcile pass, as a pure function of the units
 * and the live machines. Carrying the tasks out (and logging them) is the reconciler's job.
 */

import type { SchedulerMachine, SchedulerUnit } from '../placement/model.js';
import { byName, replacesOneWay } from '../placement/rules.js';
import { ableToRun } from './able-to-run.js';
import type { AgentView } from './agent-view.js';
import type { EngineTask, EngineTaskCause } from './model.js';
import { PassView } from './pass-view.js';

/**
 * Machines that take no new non-global units, and the units to move off those being
 * drained. Global units ignore cordons: the engine never places them.
 */
export interface Cordons {
  cordoned: ReadonlySet<string>;
  evictions: readonly Eviction[];
}

/**
 * A drain's moves for one pass: `groups` in the order to try them, each a set of units that
 * must share a machine (`MachineOf`), leaders before their followers; at most `budget`
 * units move, though while nothing of the drain is on its way (`idle`), a group larger than
 * the budget may move alone.
 */
export interface Eviction {
  machineID: string;
  groups: readonly (readonly SchedulerUnit[])[];
  budget: number;
  idle: boolean;
}

export const NO_CORDONS: Cordons = { cordoned: new Set(), evictions: [] };

/** A pass's tasks, and the drained units that had nowhere to go. */
export interface Decision {
  tasks: EngineTask[];
  /** Names of the units of eviction groups no machine could take. */
  unmovable: Set<string>;
}

/**
 * The tasks that bring the schedule closer to what the units require, in execution order.
 * Units are visited by name (fleet visited them in random map order); every decision
 * updates the view the following ones are taken against.
 */
export function decide(
  units: readonly SchedulerUnit[],
  machines: readonly SchedulerMachine[],
  cordons: Cordons = NO_CORDONS,
): EngineTask[] {
  return decideWithCordons(units, machines, cordons).tasks;
}

/**
 * `decide`, with drains: after the scheduled units are rechecked, each eviction's groups
 * move off their machine, each to one uncordoned machine that takes the whole group, before
 * unscheduled units are placed.
 */
export function decideWithCordons(
  units: readonly SchedulerUnit[],
  machines: readonly SchedulerMachine[],
  cordons: Cordons,
): Decision {
  const jobs = units.filter((unit) => !unit.requirements.global).sort(byName);
  const globals = units.filter((unit) => unit.requirements.global).sort(byName);
  const pass = new Pass(units, new PassView(jobs, globals, machines), cordons.cordoned);
  for (const job of jobs) pass.recheckScheduled(job);
  const unmovable = new Set<string>();
  for (const eviction of cordons.evictions) {
    let budget = eviction.budget;
    let idle = eviction.idle;
    for (const group of eviction.groups) {
      if (budget <= 0) break;
      if (group.length > budget && !idle) continue;
      if (pass.evict(group, eviction.machineID)) {
        budget -= group.length;
        idle = false;
      } else {
        for (const unit of group) unmovable.add(unit.name);
      }
    }
  }
  for (const job of jobs) pass.placeUnscheduled(job);
  return { tasks: pass.tasks, unmovable };
}

class Pass {
  readonly tasks: EngineTask[] = [];
  private readonly unitsByName: ReadonlyMap<string, SchedulerUnit>;
  private readonly cluster: PassView;

  constructor(
    units: readonly SchedulerUnit[],
    cluster: PassView,
    private readonly cordoned: ReadonlySet<string>,
  ) {
    this.unitsByName = new Map(units.map((unit) => [unit.name, unit]));
    this.cluster = cluster;
  }

  /** Phase A: keep a scheduled unit where it is unless it may no longer run there. */
  recheckScheduled(job: SchedulerUnit): void {
    const machineID = this.cluster.targetOf(job.name);
    if (machineID === null) return;
    if (job.targetState === 'inactive') {
      this.unschedule(job, machineID, 'target-inactive', 'target state inactive');
      return;
    }
    const view = this.cluster.viewOf(machineID);
    if (view === undefined) {
      this.unschedule(job, machineID, 'machine-away', `target Machine(${machineID}) went away`);
      return;
    }
    const verdict = ableToRun(view, job);
    if (verdict.action === 'unschedule') {
      this.unschedule(
        job,
        machineID,
        'unable-to-run',
        `target Machine(${machineID}) unable to run unit: ${verdict.reason}`,
      );
    } else if (verdict.action === 'reschedule') {
      this.pushOutReplaced(job, view);
    }
  }

  /** Phase B: offer an unscheduled unit to the machines, least loaded first. */
  placeUnscheduled(job: SchedulerUnit): void {
    if (this.cluster.targetOf(job.name) !== null || job.targetState === 'inactive') return;
    // A `reschedule` verdict is acceptable: that is how a replacing unit lands next to the
    // unit it replaces, which a later pass then moves away.
    const target = this.cluster
      .candidatesFor(job)
      .find((view) => this.open(view) && ableToRun(view, job).action !== 'unschedule');
    if (target === undefined) return;
    this.schedule(
      job,
      target.machine.id,
      'not-scheduled',
      `target state ${job.targetState} and unit not scheduled`,
    );
  }

  /**
   * Moves one unit that `replacer` replaces off `replacer`'s machine, to the least-loaded
   * other machine where it can run without any conflict or replace relation. Only the
   * declaring side triggers a move, so the replacer always stays. A unit with nowhere to go
   * stays too, and so does one the replacer needs beside it through `MachineOf`, since the
   * replacer would only follow it and push it away again, pass after pass.
   */
  private pushOutReplaced(replacer: SchedulerUnit, view: AgentView): void {
    const machineID = view.machine.id;
    const needed = this.transitivePeers(replacer);
    for (const replaced of view.scheduledUnits()) {
      if (!replacesOneWay(replacer, replaced) || needed.has(replaced.name)) continue;
      const destination = this.cluster
        .candidatesFor(replaced)
        .find(
          (other) =>
            other !== view && this.open(other) && ableToRun(other, replaced).action === 'schedule',
        );
      if (destination === undefined) continue;
      const reason = `found replace with locally-scheduled Unit(${replaced.name})`;
      this.unschedule(replaced, machineID, 'replaced', reason);
      this.schedule(replaced, destination.machine.id, 'replaced', reason);
      return;
    }
  }

  /**
   * Drain: moves `group` off `from` to the least-loaded open machine where each unit, in
   * order, may run with no conflict or replace relation; false (nothing moved) when none can.
   */
  evict(group: readonly SchedulerUnit[], from: string): boolean {
    for (const unit of group) this.cluster.unschedule(unit);
    // A copy: trying a machine reorders the live list by load.
    for (const view of [...this.cluster.candidatesFor(group[0]!)]) {
      if (view.machine.id === from || !this.open(view)) continue;
      if (!this.fits(group, view)) continue;
      const reason = `Machine(${from}) is being drained`;
      for (const unit of group) {
        this.tasks.push({
          type: 'UnscheduleUnit',
          unitName: unit.name,
          machineID: from,
          reason,
          cause: 'drained',
        });
      }
      for (const unit of group) {
        this.tasks.push({
          type: 'AttemptScheduleUnit',
          unitName: unit.name,
          machineID: view.machine.id,
          reason,
          cause: 'drained',
        });
      }
      return true;
    }
    for (const unit of group) this.cluster.schedule(unit, from);
    return false;
  }

  /** Places the group's units on `view` one by one, or none of them. */
  private fits(group: readonly SchedulerUnit[], view: AgentView): boolean {
    const placed: SchedulerUnit[] = [];
    for (const unit of group) {
      if (ableToRun(view, unit).action !== 'schedule') {
        for (const undone of placed) this.cluster.unschedule(undone);
        return false;
      }
      this.cluster.schedule(unit, view.machine.id);
      placed.push(unit);
    }
    return true;
  }

  /** Whether new non-global units may be placed on the machine: it is not cordoned. */
  private open(view: AgentView): boolean {
    return !this.cordoned.has(view.machine.id);
  }

  /** Units that must share `unit`'s machine, directly or through their own `MachineOf`. */
  private transitivePeers(unit: SchedulerUnit): Set<string> {
    const peers = new Set<string>();
    const pending = [...unit.requirements.peers];
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      if (peers.has(name)) continue;
      peers.add(name);
      pending.push(...(this.unitsByName.get(name)?.requirements.peers ?? []));
    }
    return peers;
  }

  private unschedule(
    unit: SchedulerUnit,
    machineID: string,
    cause: EngineTaskCause,
    reason: string,
  ): void {
    this.tasks.push({ type: 'UnscheduleUnit', unitName: unit.name, machineID, reason, cause });
    this.cluster.unschedule(unit);
  }

  private schedule(
    unit: SchedulerUnit,
    machineID: string,
    cause: EngineTaskCause,
    reason: string,
  ): void {
    this.tasks.push({ type: 'AttemptScheduleUnit', unitName: unit.name, machineID, reason, cause });
    this.cluster.schedule(unit, machineID);
  }
}
