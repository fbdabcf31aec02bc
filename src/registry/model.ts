/**
 * What the registry's users and its two implementations (etcd and in memory) share: the
 * data they exchange, the errors they raise and the few rules both apply. Nothing here
 * knows etcd, so loading the in-memory twin or the seam's interfaces never loads etcd3.
 */

import type { JobState } from '../job/types.js';
import type { UnitFile } from '../unit/unit-file.js';
import type {
  CordonRecord,
  MachineRecord,
  ScheduleEntry,
  UnitRecord,
  UnitStateRecord,
} from './records.js';

/**
 * A store revision: decimal digits, as etcd reports them; `'0'` is the revision of an absent
 * key. Users compare revisions only for equality and hand them back; only the registry
 * orders them.
 */
export type Revision = string;

/** The revision of a key that does not exist: what a guard expects of an unscheduled unit. */
export const ABSENT: Revision = '0';

/** Reports a stored value that cannot be used; the store skips it and carries on. */
export type BadRecordHandler = (key: string, error: Error) => void;

/** A write gave up after other writers kept changing the unit between its read and its commit. */
export class RegistryConflictError extends Error {
  override name = 'RegistryConflictError';
}

/** A unit's body is not in the store: its unit is unusable. */
export class UnitFileNotFoundError extends Error {
  override name = 'UnitFileNotFoundError';
}

/** Another fleetd session holds this machine ID. */
export class MachineConflictError extends Error {
  override name = 'MachineConflictError';
}

/** A unit as stored: its record and its parsed body. */
export interface StoredUnit {
  name: string;
  hash: string;
  desiredState: JobState;
  unitFile: UnitFile;
  global: boolean;
}

/**
 * A unit body as stored: the exact text (what an agent writes to disk, so the file hashes
 * to the record's hash) and that text parsed again, which is what readers see. Like
 * fleet, the parse can differ from the options once submitted (a value holding a newline
 * and a section header becomes a section).
 */
export interface StoredBody {
  text: string;
  unitFile: UnitFile;
}

/** A live machine with its configured and API-set metadata merged. */
export type Machine = Omit<MachineRecord, 'sessionToken'>;

/** One metadata edit of `PATCH /fleet/v1/machines`: a value to set, or null to remove. */
export interface MetadataEdit {
  machineID: string;
  key: string;
  value: string | null;
}

/** API-set values win over configured ones; an empty API-set value removes the key. */
export function mergeMetadata(
  configured: Readonly<Record<string, string>>,
  dynamic: ReadonlyMap<string, string> | undefined,
): Record<string, string> {
  const merged: Record<string, string> = { ...configured };
  for (const [key, value] of dynamic ?? []) {
    if (value === '') delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** What systemd reports for one unit on one machine. */
export interface UnitState extends UnitStateRecord {
  name: string;
  machineID: string;
}

/** A unit as the API and fleetctl show it. */
export interface ClusterUnit {
  name: string;
  hash: string;
  unitFile: UnitFile;
  desiredState: JobState;
  /** Derived as fleet derives it (see `currentStateOf`); `null` for global units, which have none. */
  currentState: JobState | null;
  /** The machine the unit is scheduled to; `null` when unscheduled or global. */
  machineID: string | null;
  global: boolean;
}

/**
 * fleet's current state of a non-global unit: `inactive` unless scheduled and its target
 * machine reports a state for it; then `launched` if that agent has started it, else
 * `loaded`. So `launched` means "the target agent started it", not "systemd says active".
 *
 * Only a state for the unit's current content counts. Right after a replace, the target may
 * still report the old content (which it is about to unload); fleet took that for the new
 * content, so `start --replace` could return before the new unit ran.
 */
export function currentStateOf(
  unitHash: string,
  machineID: string | null,
  stateOnTarget: Pick<UnitState, 'launched' | 'hash'> | undefined,
): JobState {
  if (machineID === null || stateOnTarget === undefined) return 'inactive';
  if (stateOnTarget.hash !== unitHash) return 'inactive';
  return stateOnTarget.launched ? 'launched' : 'loaded';
}

/** What the leader decides from: every unit, every placement, every live machine. */
export interface EngineSnapshot {
  units: ReadonlyMap<string, { record: UnitRecord; modRevision: Revision }>;
  placements: ReadonlyMap<string, { machineID: string; modRevision: Revision }>;
  /** Live machines with merged metadata, by ID. */
  machines: ReadonlyMap<string, Machine>;
  /** Cordoned machines, live or not, by ID. */
  cordons: ReadonlyMap<string, StoredCordon>;
}

/** A cordon as stored, with the revision a rewrite of it is guarded by. */
export interface StoredCordon {
  record: CordonRecord;
  modRevision: Revision;
}

/** What one machine's agent runs from: its own schedule, the global units, its API metadata. */
export interface AgentSnapshot {
  /** Units the engine scheduled to this machine, by name. */
  scheduled: ReadonlyMap<string, ScheduleEntry>;
  /** Every global unit, by name; the agent decides which apply here. */
  globals: ReadonlyMap<string, ScheduleEntry>;
  /** Metadata set for this machine through the API (`''` hides a configured key). */
  dynamicMetadata: ReadonlyMap<string, string>;
  /** The content a rollout holds units to on this machine, by name; empty when none runs. */
  pins: ReadonlyMap<string, string>;
  /** The health commands of the pinned units whose rollout step is under way, by name. */
  healthChecks: ReadonlyMap<string, HealthCheck>;
}

/** A command to run on a machine while a rollout's step there updates to `hash`. */
export interface HealthCheck {
  rollout: string;
  hash: string;
  command: string;
}

/** One schedule change by the engine, with the revisions its decision was based on. */
export type ScheduleChange =
  | {
      type: 'schedule';
      unitName: string;
      machineID: string;
      /** Where the unit was scheduled before, when this change moves it. */
      fromMachineID: string | null;
      entry: ScheduleEntry;
      /** Mod revision of the unit record the entry was derived from. */
      unitModRevision: Revision;
      /** Mod revision of the placement the decision saw (`ABSENT` when unscheduled). */
      placementModRevision: Revision;
    }
  | {
      type: 'unschedule';
      unitName: string;
      machineID: string;
      placementModRevision: Revision;
    };

export interface AppliedChanges {
  applied: ScheduleChange[];
  /** The revision of the last commit; null when none committed. */
  revision: Revision | null;
  /** The leader key is no longer the fence's: this engine no longer leads. */
  deposed: boolean;
}

/** The current leader. */
export interface Leader {
  machineID: string;
}

declare const fenceBrand: unique symbol;

/**
 * Proof of leadership attached to every engine write: the write commits only while the
 * leadership it proves still holds, so a deposed engine's writes fail instead of racing its
 * successor's. Opaque: only the registry that issued it reads it (see `fence.ts`).
 */
export interface LeaderFence {
  readonly [fenceBrand]: true;
}

/** A state to publish for a unit, or null to withdraw the unit's state. */
export interface StateUpdate {
  name: string;
  state: UnitStateRecord | null;
}

/**
 * One object of the cluster as API clients see it, before and after a change (null: absent),
 * keyed by its type and name: a unit, the state one machine reports for a unit, a machine.
 * Only objects whose content changed are reported.
 */
export type ClusterObjectChange =
  | { type: 'unit'; name: string; before: ClusterUnit | null; after: ClusterUnit | null }
  | {
      type: 'state';
      name: string;
      machineID: string;
      before: UnitState | null;
      after: UnitState | null;
    }
  | { type: 'machine'; name: string; before: Machine | null; after: Machine | null };

/** Every object of the cluster as of `revision`: units, states and machines, each sorted. */
export interface ClusterSnapshot {
  revision: Revision;
  units: ClusterUnit[];
  states: UnitState[];
  machines: Machine[];
}

/** What one revision changed: units, then states, then machines, each sorted by name. */
export interface ClusterChangeBatch {
  revision: Revision;
  changes: ClusterObjectChange[];
}
