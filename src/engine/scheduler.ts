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
 * The tasks that bring the schedule closer to what the units require, in execution order.
 * Units are visited by name (fleet visited them in random map order); every decision
 * updates the view the following ones are taken against.
 */
export function decide(
  units: readonly SchedulerUnit[],
  machines: readonly SchedulerMachine[],
): EngineTask[] {
  const jobs = units.filter((unit) => !unit.requirements.global).sort(byName);
  const globals = units.filter((unit) => unit.requirements.global).sort(byName);
  const pass = new Pass(units, new PassView(jobs, globals, machines));
  for (const job of jobs) pass.recheckScheduled(job);
  for (const job of jobs) pass.placeUnscheduled(job);
  return pass.tasks;
}

class Pass {
  readonly tasks: EngineTask[] = [];
  private readonly unitsByName: ReadonlyMap<string, SchedulerUnit>;
  private readonly cluster: PassView;

  constructor(units: readonly SchedulerUnit[], cluster: PassView) {
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
      .find((view) => ableToRun(view, job).action !== 'unschedule');
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
        .find((other) => other !== view && ableToRun(other, replaced).action === 'schedule');
      if (destination === undefined) continue;
      const reason = `found replace with locally-scheduled Unit(${replaced.name})`;
      this.unschedule(replaced, machineID, 'replaced', reason);
      this.schedule(replaced, destination.machine.id, 'replaced', reason);
      return;
    }
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
