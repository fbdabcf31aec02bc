/**
 * Placement rules shared by the engine, which decides where units go, and the agent, which
 * decides which global units it runs: both must reach the same answer from the same inputs.
 */

import { matchGlob } from '../go/path-match.js';
import type { SchedulerMachine, SchedulerUnit } from './model.js';

const SHORT_ID_LENGTH = 8;

/** Orders units by name, the deterministic order that replaces Go's random map iteration. */
export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A `MachineID` requirement accepts the full ID or its first eight characters. */
export function matchesMachineID(machineID: string, required: string): boolean {
  const shortID =
    machineID.length <= SHORT_ID_LENGTH ? machineID : machineID.slice(0, SHORT_ID_LENGTH);
  return machineID === required || shortID === required;
}

/** The machine has every required key, each with one of that key's accepted values. */
export function hasMetadata(
  machine: SchedulerMachine,
  required: ReadonlyMap<string, ReadonlySet<string>>,
): boolean {
  for (const [key, accepted] of required) {
    // Only own keys: a key like `constructor` must not be found on the object's prototype.
    const value = Object.hasOwn(machine.metadata, key) ? machine.metadata[key] : undefined;
    if (value === undefined || !accepted.has(value)) return false;
  }
  return true;
}

/** Either unit's `Conflicts` globs match the other's name; a unit never conflicts with itself. */
export function conflicts(a: SchedulerUnit, b: SchedulerUnit): boolean {
  if (a.name === b.name) return false;
  return (
    a.requirements.conflicts.some((pattern) => matchGlob(pattern, b.name)) ||
    b.requirements.conflicts.some((pattern) => matchGlob(pattern, a.name))
  );
}

/** Some `Replaces` glob of `replacer` matches `replaced`'s name. */
export function declaresReplace(replacer: SchedulerUnit, replaced: SchedulerUnit): boolean {
  return (
    replacer.name !== replaced.name &&
    replacer.requirements.replaces.some((pattern) => matchGlob(pattern, replaced.name))
  );
}

/**
 * `replacer` replaces `replaced` and not the other way round: units that replace each other
 * are treated as unrelated, or each would keep pushing the other away.
 */
export function replacesOneWay(replacer: SchedulerUnit, replaced: SchedulerUnit): boolean {
  return declaresReplace(replacer, replaced) && !declaresReplace(replaced, replacer);
}

/**
 * The global units a machine runs, given the non-global units already placed there:
 * in name order, each global whose metadata the machine satisfies and that conflicts with
 * none of the units chosen so far. Of two conflicting globals the first by name wins.
 */
export function placeGlobals(
  machine: SchedulerMachine,
  placed: readonly SchedulerUnit[],
  globalsByName: readonly SchedulerUnit[],
): SchedulerUnit[] {
  const chosen: SchedulerUnit[] = [];
  for (const global of globalsByName) {
    if (!hasMetadata(machine, global.requirements.metadata)) continue;
    const clashes = (unit: SchedulerUnit) => conflicts(global, unit);
    if (placed.some(clashes) || chosen.some(clashes)) continue;
    chosen.push(global);
  }
  return chosen;
}

/**
 * Names of the global units `machine` runs, out of all `units` (global or not): the units
 * scheduled to it with a desired state other than inactive are placed first, as in the
 * engine's view of the machine.
 */
export function globalUnitsFor(
  machine: SchedulerMachine,
  units: readonly SchedulerUnit[],
): string[] {
  const placed = units.filter(
    (unit) =>
      !unit.requirements.global &&
      unit.targetMachineID === machine.id &&
      unit.targetState !== 'inactive',
  );
  const globals = units.filter((unit) => unit.requirements.global).sort(byName);
  return placeGlobals(machine, placed, globals).map((unit) => unit.name);
}
