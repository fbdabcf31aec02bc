import {
  type RequirementsByUnit,
  requirementsOf,
  type SchedulerMachine,
  type SchedulerUnit,
} from '../placement/model.js';
import {
  ABSENT,
  type EngineSnapshot,
  type Revision,
  type ScheduleChange,
  type UnitState,
} from '../registry/model.js';
import type { DrainRecord } from '../registry/records.js';
import { type Arrival, arrivalOf, type DrainStep, planDrain } from './drain.js';
import type { EngineTask } from './model.js';
import { decideWithCordons } from './scheduler.js';

/** A drain's new record, to write before the moves it lists (see `Engine`). */
export interface DrainUpdate {
  machineID: string;
  /** The cordon's revision the decision saw. */
  modRevision: Revision;
  drain: DrainRecord;
  /** The units this pass moves off the machine. */
  moved: string[];
}

/** What one engine pass decided, and what it could not see. */
export interface EnginePlan {
  /** The tasks as fleet logs them. */
  tasks: EngineTask[];
  /** The writes that carry them out. */
  changes: ScheduleChange[];
  /** Hashes of the unit bodies the pass lacked: read them, and pass again. */
  missingBodies: string[];
  /** Drains whose record this pass changes. */
  drains: DrainUpdate[];
  /** Some drain is unfinished: its moved units' states, which are not mirrored, may change. */
  draining: boolean;
}

/**
 * One reconcile pass of the leader, as a pure function of what it knows: the registry
 * snapshot, the requirements known so far, and the machines it must not judge yet.
 *
 * Nothing is decided that depends on a unit whose requirements the pass cannot see (its
 * body is unread): that unit stays where it is, and so does every unit on its machine (the
 * unseen unit may be the peer they follow, or conflict with or replace them), and every
 * unit whose `MachineOf` names it; nothing new is placed on such a machine, and the
 * machine of a unit left in place that way is held too, so the units there keep the peer
 * they see. Units on a machine in `unconfirmedMachines` (absent, but possibly only because
 * this engine just became leader and the machine has not re-registered yet) are held the
 * same way: a leadership change must never reschedule the cluster (fleet #1289).
 *
 * An unseen unit placed nowhere holds nothing back. Were it global, the only decision it
 * could have changed is where a unit goes first: a placed unit never yields to a global.
 *
 * Cordoned machines take no new non-global units. A drain moves its machine's units only
 * while that machine is not held; `statesOf` holds the published states of the units its
 * drain moved (see `unitsOnTheirWay`).
 */
export function planPass(
  snapshot: EngineSnapshot,
  known: RequirementsByUnit,
  unconfirmedMachines: ReadonlySet<string>,
  statesOf: ReadonlyMap<string, readonly UnitState[]> = new Map(),
): EnginePlan {
  const unseen = new Set<string>();
  const missingBodies = new Set<string>();
  for (const [name, { record }] of snapshot.units) {
    if (requirementsOf(known, name, record.hash) !== undefined) continue;
    unseen.add(name);
    missingBodies.add(record.hash);
  }
  const held = new Set(unconfirmedMachines);
  const candidates: SchedulerUnit[] = [];
  for (const [name, { record }] of snapshot.units) {
    const targetMachineID = snapshot.placements.get(name)?.machineID ?? null;
    const requirements = requirementsOf(known, name, record.hash);
    if (requirements === undefined || requirements.peers.some((peer) => unseen.has(peer))) {
      if (targetMachineID !== null) held.add(targetMachineID);
      continue;
    }
    candidates.push({ name, targetState: record.desiredState, targetMachineID, requirements });
  }
  const units = candidates.filter(
    (unit) => unit.targetMachineID === null || !held.has(unit.targetMachineID),
  );
  const machines: SchedulerMachine[] = [];
  for (const machine of snapshot.machines.values()) {
    if (!held.has(machine.id)) machines.push({ id: machine.id, metadata: machine.metadata });
  }

  const steps: Array<{ machineID: string; modRevision: Revision; step: DrainStep }> = [];
  for (const [machineID, { record, modRevision }] of snapshot.cordons) {
    const drain = record.drain;
    if (drain === null || drain.done || held.has(machineID)) continue;
    const arrivals = new Map<string, Arrival>(
      drain.moving.map((name) => [
        name,
        arrivalOf(snapshot, machineID, name, statesOf.get(name) ?? []),
      ]),
    );
    const live = snapshot.machines.has(machineID);
    steps.push({
      machineID,
      modRevision,
      step: planDrain({ machineID, drain, live, units, arrivals }),
    });
  }
  const evictions = steps.flatMap(({ step }) => (step.eviction === null ? [] : [step.eviction]));
  const cordoned = new Set(snapshot.cordons.keys());
  const { tasks, unmovable } = decideWithCordons(units, machines, { cordoned, evictions });
  const drains: DrainUpdate[] = [];
  for (const { machineID, modRevision, step } of steps) {
    const moved = tasks
      .filter(
        (task) =>
          task.cause === 'drained' &&
          task.type === 'UnscheduleUnit' &&
          task.machineID === machineID,
      )
      .map((task) => task.unitName);
    const drain = step.after(moved, unmovable);
    const before = snapshot.cordons.get(machineID)!.record.drain;
    // Moves are written only after their record, guarded by the revision decided from, even
    // when unchanged: a drain called off since must not move anything more.
    if (moved.length > 0 || JSON.stringify(drain) !== JSON.stringify(before)) {
      drains.push({ machineID, modRevision, drain, moved });
    }
  }
  return {
    tasks,
    changes: toChanges(tasks, snapshot),
    missingBodies: [...missingBodies],
    drains,
    draining: steps.length > 0,
  };
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
    const placementModRevision = placement?.modRevision ?? ABSENT;
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
