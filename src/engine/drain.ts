/**
 * A drain's decisions for one pass, pure: which of the units it moved have arrived, which
 * groups of units it may move next, and the drain's record once the pass has decided.
 */

import type { SchedulerUnit } from '../placement/model.js';
import { byName, matchesMachineID } from '../placement/rules.js';
import type { EngineSnapshot, UnitState } from '../registry/model.js';
import type { DrainRecord } from '../registry/records.js';
import type { Eviction } from './scheduler.js';

/**
 * Where a unit the drain moved stands: running at its new place (for a unit meant to be
 * loaded only, loaded there), still on its way, or no longer the drain's concern (destroyed,
 * stopped, or its move never committed and it is still on the drained machine).
 */
export type Arrival = 'arrived' | 'on-its-way' | 'dropped';

export function arrivalOf(
  snapshot: EngineSnapshot,
  drainedMachineID: string,
  unitName: string,
  states: readonly UnitState[],
): Arrival {
  const unit = snapshot.units.get(unitName)?.record;
  const placedOn = snapshot.placements.get(unitName)?.machineID ?? null;
  if (unit === undefined || unit.desiredState === 'inactive') return 'dropped';
  if (placedOn === null || placedOn === drainedMachineID) return 'dropped';
  const there = states.find((state) => state.machineID === placedOn && state.hash === unit.hash);
  if (there === undefined) return 'on-its-way';
  return unit.desiredState === 'loaded' || there.activeState === 'active'
    ? 'arrived'
    : 'on-its-way';
}

/** The units every unfinished drain of `snapshot` waits for: whose states a pass needs. */
export function unitsOnTheirWay(snapshot: EngineSnapshot): string[] {
  const names: string[] = [];
  for (const { record } of snapshot.cordons.values()) {
    if (record.drain !== null && !record.drain.done) names.push(...record.drain.moving);
  }
  return names;
}

export interface DrainInput {
  machineID: string;
  drain: DrainRecord;
  /** Whether the machine is live; a dead machine's units move by the usual failure path. */
  live: boolean;
  /** The units this pass decides on. */
  units: readonly SchedulerUnit[];
  /** The arrival of each unit in `drain.moving`. */
  arrivals: ReadonlyMap<string, Arrival>;
}

export interface DrainStep {
  /** What the scheduler should try to move this pass; null when nothing. */
  eviction: Eviction | null;
  /** The drain's record after a pass that moved `moved` off the machine. */
  after(moved: readonly string[], unmovable: ReadonlySet<string>): DrainRecord;
}

const PINNED = 'pinned to this machine by MachineID';
const NOWHERE = 'no other machine can run it';

/**
 * One pass of the drain of `machineID`: the units it moved that arrived or are still on
 * their way, the groups it may move next within its budget, and, once the scheduler has
 * tried them, its new record.
 */
export function planDrain({ machineID, drain, live, units, arrivals }: DrainInput): DrainStep {
  const waiting = drain.moving.filter((name) => arrivals.get(name) === 'on-its-way');
  const arrived = drain.moving.filter((name) => arrivals.get(name) === 'arrived');
  const onMachine = units.filter(
    (unit) =>
      unit.targetMachineID === machineID &&
      !unit.requirements.global &&
      unit.targetState !== 'inactive',
  );
  const pinned = new Map<string, string>();
  const movable: SchedulerUnit[][] = [];
  for (const group of groupsOf(onMachine)) {
    const anchor = group.find((unit) => pinnedTo(unit, machineID));
    if (anchor === undefined) {
      movable.push(group);
      continue;
    }
    for (const unit of group) {
      pinned.set(unit.name, unit === anchor ? PINNED : `MachineOf ties it to ${anchor.name}`);
    }
  }
  const eviction: Eviction | null =
    live && movable.length > 0
      ? {
          machineID,
          groups: movable,
          budget: drain.maxParallel - waiting.length,
          idle: waiting.length === 0,
        }
      : null;

  return {
    eviction,
    after(moved, unmovable) {
      const movedNow = new Set(moved);
      const stayedBefore = new Map(drain.stayed.map(({ name, reason }) => [name, reason]));
      const stayed: DrainRecord['stayed'] = [];
      for (const unit of onMachine) {
        if (movedNow.has(unit.name)) continue;
        // A unit not tried this pass (the budget ran out first) keeps what was last said.
        const reason =
          pinned.get(unit.name) ??
          (unmovable.has(unit.name) ? NOWHERE : stayedBefore.get(unit.name));
        if (reason !== undefined) stayed.push({ name: unit.name, reason });
      }
      stayed.sort(byName);
      const moving = [...waiting, ...moved];
      const remaining = onMachine.filter((unit) => !movedNow.has(unit.name));
      return {
        maxParallel: drain.maxParallel,
        moving,
        moved: [...drain.moved, ...arrived.filter((name) => !drain.moved.includes(name))],
        stayed,
        done: moving.length === 0 && remaining.length === stayed.length,
      };
    },
  };
}

function pinnedTo(unit: SchedulerUnit, machineID: string): boolean {
  const required = unit.requirements.machineID;
  return required !== null && matchesMachineID(machineID, required);
}

/**
 * The units as groups that must share a machine (linked by `MachineOf` either way), each
 * ordered so that a unit comes after the peers it names; groups in the order of their
 * first unit by name.
 */
function groupsOf(units: readonly SchedulerUnit[]): SchedulerUnit[][] {
  const byUnitName = new Map(units.map((unit) => [unit.name, unit]));
  const links = new Map<string, Set<string>>(units.map((unit) => [unit.name, new Set()]));
  for (const unit of units) {
    for (const peer of unit.requirements.peers) {
      if (!byUnitName.has(peer)) continue;
      links.get(unit.name)!.add(peer);
      links.get(peer)!.add(unit.name);
    }
  }
  const seen = new Set<string>();
  const groups: SchedulerUnit[][] = [];
  for (const unit of [...units].sort(byName)) {
    if (seen.has(unit.name)) continue;
    const members: SchedulerUnit[] = [];
    const pending = [unit.name];
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      if (seen.has(name)) continue;
      seen.add(name);
      members.push(byUnitName.get(name)!);
      pending.push(...links.get(name)!);
    }
    groups.push(leadersFirst(members.sort(byName)));
  }
  return groups;
}

/** `members` so that each follows the peers it names; a cycle keeps name order. */
function leadersFirst(members: readonly SchedulerUnit[]): SchedulerUnit[] {
  const names = new Set(members.map((unit) => unit.name));
  const ordered: SchedulerUnit[] = [];
  const placed = new Set<string>();
  let left = [...members];
  while (left.length > 0) {
    const ready = left.filter((unit) =>
      unit.requirements.peers.every((peer) => !names.has(peer) || placed.has(peer)),
    );
    const next = ready.length > 0 ? ready : left;
    for (const unit of next) {
      ordered.push(unit);
      placed.add(unit.name);
    }
    left = left.filter((unit) => !placed.has(unit.name));
  }
  return ordered;
}
