import type { Requirements } from '../job/types.js';
import type { EngineSnapshot } from '../registry/engine-feed.js';
import type { ScheduleChange } from '../registry/schedule-writer.js';
import type { EngineTask, SchedulerMachine, SchedulerUnit } from './model.js';
import { decide } from './scheduler.js';

/** What one engine pass decided: the tasks as fleet logs them, and the writes that carry them out. */
export interface EnginePlan {
  tasks: EngineTask[];
  changes: ScheduleChange[];
}

/**
 * One reconcile pass of the leader, as a pure function of what it knows.
 *
 * `requirementsOf` gives a unit's requirements, or undefined while its body is still being
 * fetched; such units are left out of this pass. Units placed on a machine in
 * `unconfirmedMachines` (absent, but possibly only because this engine just became leader
 * and the machine has not re-registered yet) are left exactly where they are, and nothing
 * new is placed there: a leadership change must never reschedule the cluster (fleet #1289).
 */
export function planPass(
  snapshot: EngineSnapshot,
  requirementsOf: (name: string, hash: string) => Requirements | undefined,
  unconfirmedMachines: ReadonlySet<string>,
): EnginePlan {
  const units: SchedulerUnit[] = [];
  for (const [name, { record }] of snapshot.units) {
    const requirements = requirementsOf(name, record.hash);
    if (requirements === undefined) continue;
    const targetMachineID = snapshot.placements.get(name)?.machineID ?? null;
    if (targetMachineID !== null && unconfirmedMachines.has(targetMachineID)) continue;
    units.push({ name, targetState: record.desiredState, targetMachineID, requirements });
  }
  const machines: SchedulerMachine[] = [...snapshot.machines.values()].map((machine) => ({
    id: machine.id,
    metadata: machine.metadata,
  }));

  const tasks = decide(units, machines);
  return { tasks, changes: toChanges(tasks, snapshot) };
}

/**
 * Collapses the task sequence into one change per unit (an unschedule followed by a schedule
 * is a move), each carrying the revisions the decision was based on.
 */
function toChanges(tasks: readonly EngineTask[], snapshot: EngineSnapshot): ScheduleChange[] {
  const finalTarget = new Map<string, string | null>();
  for (const task of tasks) {
    finalTarget.set(task.unitName, task.type === 'AttemptScheduleUnit' ? task.machineID : null);
  }
  const changes: ScheduleChange[] = [];
  for (const [unitName, target] of finalTarget) {
    const placement = snapshot.placements.get(unitName);
    const from = placement?.machineID ?? null;
    const placementModRevision = placement?.modRevision ?? '0';
    if (target === from) continue;
    if (target === null) {
      if (from !== null) {
        changes.push({ type: 'unschedule', unitName, machineID: from, placementModRevision });
      }
      continue;
    }
    const unit = snapshot.units.get(unitName)!;
    changes.push({
      type: 'schedule',
      unitName,
      machineID: target,
      fromMachineID: from,
      entry: { hash: unit.record.hash, desiredState: unit.record.desiredState },
      unitModRevision: unit.modRevision,
      placementModRevision,
    });
  }
  return changes;
}
