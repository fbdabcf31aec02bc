import type { JobState } from '../job/types.js';
import {
  type RequirementsByUnit,
  requirementsOf,
  type SchedulerMachine,
  type SchedulerUnit,
} from '../placement/model.js';
import { byName, globalUnitsFor } from '../placement/rules.js';
import type { HealthCheck, StateUpdate } from '../registry/model.js';
import type { ScheduleEntry, UnitStateRecord } from '../registry/records.js';
import type { SystemdUnitState } from '../systemd/unit-manager.js';

/** A unit this machine should have loaded, and whether it should run. */
export interface DesiredUnit {
  name: string;
  hash: string;
  targetState: 'loaded' | 'launched';
}

/** A unit fleet has loaded on this machine, as the agent knows it. */
export interface LocalUnit {
  hash: string;
  /** `loaded` (file written and linked) or `launched` (start requested). */
  state: Exclude<JobState, 'inactive'>;
  /**
   * A file found at startup that systemd does not know (`not-found`): fleetd stopped between
   * writing and linking it. Loading it again links it.
   */
  unlinked?: true;
}

export type UnitTaskType = 'UnloadUnit' | 'LoadUnit' | 'StopUnit' | 'StartUnit';

export type AgentTask =
  | { type: UnitTaskType; unitName: string; reason: string }
  | { type: 'ReloadUnitFiles'; reason: string };

/** fleet's task reasons; operators grep the agent's log for them. */
export const REASONS = {
  scheduledNotLoaded: 'unit scheduled here but not loaded',
  loadedNotScheduled: 'unit loaded but not scheduled here',
  hashDiffers: 'unit loaded but hash differs to expected',
  shouldLaunch: 'unit currently loaded but desired state is launched',
  shouldStop: 'unit currently launched but desired state is loaded',
  notLinked: 'unit file found but systemd does not know it',
  reload: 'unit files unloaded, replaced or enabled',
  purge: 'purging agent',
} as const;

/**
 * The phases tasks run in, in order. Within a phase every task concerns another unit, so
 * they run side by side; listed in the order `planTasks` returns them.
 */
export const TASK_PHASES: ReadonlyArray<ReadonlyArray<AgentTask['type']>> = [
  ['UnloadUnit'],
  ['LoadUnit'],
  ['ReloadUnitFiles'],
  ['StopUnit', 'StartUnit'],
];

const TASK_ORDER = new Map(TASK_PHASES.flat().map((type, index) => [type, index]));

/**
 * The entries with the content a rollout holds each unit to on this machine, where one
 * does: the machine keeps running it while the unit's record already names newer content.
 */
export function withPins(
  entries: ReadonlyMap<string, ScheduleEntry>,
  pins: ReadonlyMap<string, string>,
): ReadonlyMap<string, ScheduleEntry> {
  if (pins.size === 0) return entries;
  const held = new Map(entries);
  for (const [name, entry] of entries) {
    const hash = pins.get(name);
    if (hash !== undefined) held.set(name, { ...entry, hash });
  }
  return held;
}

/**
 * The units this machine should run: those the engine scheduled here, plus the global units
 * whose metadata this machine matches and that conflict with nothing placed before them (by
 * name), the rule the engine counts with. Units whose requirements are not `known` yet are
 * `pending`, and `missingBodies` are the hashes of their bodies.
 */
export function desiredUnits(input: {
  machine: SchedulerMachine;
  scheduled: ReadonlyMap<string, ScheduleEntry>;
  globals: ReadonlyMap<string, ScheduleEntry>;
  known: RequirementsByUnit;
}): { desired: Map<string, DesiredUnit>; pending: string[]; missingBodies: string[] } {
  const pending: string[] = [];
  const missingBodies = new Set<string>();
  const candidates: SchedulerUnit[] = [];
  const entries = new Map<string, ScheduleEntry>();
  const consider = (name: string, entry: ScheduleEntry, targetMachineID: string | null) => {
    const requirements = requirementsOf(input.known, name, entry.hash);
    if (requirements === undefined) {
      pending.push(name);
      missingBodies.add(entry.hash);
      return;
    }
    entries.set(name, entry);
    candidates.push({ name, targetState: entry.desiredState, targetMachineID, requirements });
  };
  for (const [name, entry] of input.scheduled) consider(name, entry, input.machine.id);
  for (const [name, entry] of input.globals) consider(name, entry, null);

  const running = new Set(globalUnitsFor(input.machine, candidates));
  for (const unit of candidates) {
    if (!unit.requirements.global) running.add(unit.name);
  }

  const desired = new Map<string, DesiredUnit>();
  for (const unit of candidates.filter((candidate) => running.has(candidate.name)).sort(byName)) {
    const entry = entries.get(unit.name)!;
    if (entry.desiredState === 'inactive') continue;
    desired.set(unit.name, { name: unit.name, hash: entry.hash, targetState: entry.desiredState });
  }
  return { desired, pending, missingBodies: [...missingBodies] };
}

/**
 * The tasks that make local systemd match `desired` (fleet's agent reconciler), in the
 * order they must run: unloads, loads, a daemon-reload if one is needed, stops, starts.
 * Units in `undecided` (scheduled here, but their body is not read yet) are left exactly as
 * they are.
 *
 * Deviation: fleet reloaded after every pass that loaded or unloaded anything. systemd loads
 * a unit file it has not loaded on first use, and retries one it holds as not-found once its
 * unit directories changed, so a pass reloads only when a unit was unloaded (its file
 * removed or replaced: systemd may still hold the old one) or when loading `needsReload`
 * (enabling a unit adds dependencies to units already loaded; see docs/systemd.md).
 */
export function planTasks(
  desired: ReadonlyMap<string, DesiredUnit>,
  local: ReadonlyMap<string, LocalUnit>,
  undecided: ReadonlySet<string> = new Set(),
  needsReload: (load: DesiredUnit) => boolean = () => false,
): AgentTask[] {
  const tasks: AgentTask[] = [];
  const names = [...new Set([...desired.keys(), ...local.keys()])]
    .filter((name) => !undecided.has(name))
    .sort();
  for (const name of names) {
    const want = desired.get(name);
    const have = local.get(name);
    const task = (type: UnitTaskType, reason: string) =>
      tasks.push({ type, unitName: name, reason });

    if (want === undefined) {
      task('UnloadUnit', REASONS.loadedNotScheduled);
      continue;
    }
    let current: JobState = have?.state ?? 'inactive';
    if (have === undefined) {
      task('LoadUnit', REASONS.scheduledNotLoaded);
    } else if (have.unlinked === true) {
      // Nothing to undo: systemd never loaded it. Loading writes the wanted text and links it.
      task('LoadUnit', REASONS.notLinked);
    } else if (have.hash !== want.hash) {
      task('UnloadUnit', REASONS.hashDiffers);
      task('LoadUnit', REASONS.hashDiffers);
      current = 'inactive';
    }
    if (want.targetState === 'launched' && current !== 'launched') {
      task('StartUnit', REASONS.shouldLaunch);
    } else if (want.targetState === 'loaded' && current === 'launched') {
      task('StopUnit', REASONS.shouldStop);
    }
  }
  if (
    tasks.some(
      (task) =>
        task.type === 'UnloadUnit' ||
        (task.type === 'LoadUnit' && needsReload(desired.get(task.unitName)!)),
    )
  ) {
    tasks.push({ type: 'ReloadUnitFiles', reason: REASONS.reload });
  }
  return tasks.sort((a, b) => TASK_ORDER.get(a.type)! - TASK_ORDER.get(b.type)!);
}

/**
 * The rollout health checks to run this pass: each unit with a check whose content here is the
 * checked one and that systemd reports active. A check of content not running is pointless:
 * the step is not healthy until the unit is active anyway.
 */
export function healthChecksDue(
  checks: ReadonlyMap<string, HealthCheck>,
  local: ReadonlyMap<string, LocalUnit>,
  reported: ReadonlyMap<string, SystemdUnitState>,
): string[] {
  return [...checks]
    .filter(
      ([name, check]) =>
        local.get(name)?.hash === check.hash && reported.get(name)?.activeState === 'active',
    )
    .map(([name]) => name)
    .sort();
}

/** How a published state is remembered, to tell whether it changed since. */
export function publishedForm(state: UnitStateRecord): string {
  return JSON.stringify(state);
}

/**
 * The state updates to publish: systemd's view of each unit fleet loaded here, where it
 * differs from what was `published` last (by unit name, in `publishedForm`), and a
 * withdrawal for each published unit fleet no longer has here. A unit systemd did not
 * report on is left as it was published.
 */
export function planPublications(
  local: ReadonlyMap<string, LocalUnit>,
  reported: ReadonlyMap<string, SystemdUnitState>,
  published: ReadonlyMap<string, string>,
): StateUpdate[] {
  const updates: StateUpdate[] = [];
  for (const [name, unit] of local) {
    const systemd = reported.get(name);
    if (systemd === undefined) continue;
    const state: UnitStateRecord = {
      ...systemd,
      hash: unit.hash,
      launched: unit.state === 'launched',
    };
    if (published.get(name) !== publishedForm(state)) updates.push({ name, state });
  }
  for (const name of published.keys()) {
    if (!local.has(name)) updates.push({ name, state: null });
  }
  return updates;
}
