import type { JobState, Requirements } from '../job/types.js';

/** A unit as placement sees it: desired state, current placement, constraints. */
export interface SchedulerUnit {
  name: string;
  targetState: JobState;
  /** The machine the unit is scheduled to; `null` when it is not scheduled. */
  targetMachineID: string | null;
  requirements: Requirements;
}

/** A live machine: one whose presence is currently registered. */
export interface SchedulerMachine {
  id: string;
  metadata: Readonly<Record<string, string>>;
}

/** A unit's requirements, with the hash of the body they were read from. */
export interface KnownRequirements {
  hash: string;
  requirements: Requirements;
}

/**
 * Unit name → the requirements known for it so far. A unit is known only for the body its
 * record names now: after a replacement, its old requirements say nothing.
 */
export type RequirementsByUnit = ReadonlyMap<string, KnownRequirements>;

/** The requirements of unit `name` with body `hash`, or undefined while that body is unread. */
export function requirementsOf(
  known: RequirementsByUnit,
  name: string,
  hash: string,
): Requirements | undefined {
  const entry = known.get(name);
  return entry?.hash === hash ? entry.requirements : undefined;
}
