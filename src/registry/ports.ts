/**
 * The registry's seam: what the engine, the agent, fleetd's wiring, the API and fleetctl's
 * etcd driver need from the cluster's data, named for that need. `src/registry/` implements
 * it on etcd (`registry.ts`) and in memory (`memory/`); one contract suite
 * (test/registry/contract.test.ts) holds both to the same behaviour. No etcd type appears
 * here: revisions are `Revision`s, fences and leases opaque; the data they carry is in
 * `model.ts`.
 */

import type { JobState } from '../job/types.js';
import type { UnitFile } from '../unit/unit-file.js';
import type {
  AgentSnapshot,
  AppliedChanges,
  ClusterChangeBatch,
  ClusterSnapshot,
  ClusterUnit,
  EngineSnapshot,
  Leader,
  LeaderFence,
  Machine,
  MetadataEdit,
  Revision,
  ScheduleChange,
  StateUpdate,
  StoredBody,
  StoredCordon,
  StoredUnit,
  UnitState,
} from './model.js';
import type {
  CordonRecord,
  DrainRecord,
  MachineRecord,
  RolloutHealth,
  RolloutRecord,
  UnitRecord,
} from './records.js';
import type { PinWrite, StoredHealth, StoredRollout } from './rollout-ops.js';

export type {
  CordonRecord,
  DrainRecord,
  MachineRecord,
  PinWrite,
  RolloutHealth,
  RolloutRecord,
  StoredHealth,
  StoredRollout,
  UnitRecord,
};

/**
 * The engine's view: every engine follows the leader key; the leader also mirrors units,
 * placements, machines and their metadata, listed completely before it first decides.
 */
export interface EngineView {
  /** Starts following the leader key; resolves once it has been read. */
  watch(): Promise<void>;
  /** Re-reads everything followed: the tick of `disable_watches`. */
  relist(): Promise<void>;
  /** Starts mirroring the registry state; resolves once all of it is listed and caught up. */
  mirrorState(options: { watch: boolean }): Promise<void>;
  /** Stops mirroring the registry state and forgets it (leadership lost). */
  releaseState(): Promise<void>;
  readonly mirrorsState: boolean;
  stop(): Promise<void>;
  /** The machine in the leader key as last seen, or null when nobody leads. */
  leaderMachineID(): string | null;
  /**
   * Whether the leader key as last seen is at least as new as the leadership `fence`
   * proves: a leader that does not see itself there then has really lost it.
   */
  leaderKeySeenSince(fence: LeaderFence): Promise<boolean>;
  /** Resolves true once placements reflect `revision`, false after `timeoutMs`. */
  placementsCaughtUp(revision: Revision, timeoutMs: number): Promise<boolean>;
  /** The mirrored state; only while mirroring. */
  snapshot(): EngineSnapshot;
}

/**
 * The engine's fenced writes: each change commits only while `fence` still holds and the
 * unit and its placement are as the decision saw them.
 */
export interface FencedScheduleWrites {
  apply(fence: LeaderFence, changes: readonly ScheduleChange[]): Promise<AppliedChanges>;
}

/** Engine leadership, held by the leader machine's lease. */
export interface Leadership {
  /** This engine's fence, or null while it does not lead. */
  readonly fence: LeaderFence | null;
  /** Claims leadership if nobody holds it; returns whoever leads afterwards, or null. */
  campaign(): Promise<Leader | null>;
  /** Gives leadership up at once, if held. */
  resign(): Promise<void>;
  /** Forgets leadership after a fenced write was refused. */
  lose(): void;
}

/** One agent's schedule: its own entries, the global units, its API-set metadata. */
export interface AgentSchedule {
  /** Lists and keeps watching; resolves once everything is listed. */
  watch(): Promise<void>;
  /** Re-reads everything: the tick of `disable_watches`. */
  relist(): Promise<void>;
  stop(): Promise<void>;
  snapshot(): AgentSnapshot;
}

/** An agent's publications: unit states under its machine's lease. */
export interface StatePublications {
  publish(updates: readonly StateUpdate[]): Promise<void>;
  /** How a rollout's health command for `unit` last ended here; null withdraws it. */
  publishHealth(unit: string, report: RolloutHealth | null): Promise<void>;
}

/**
 * A machine's presence: one lease that holds its record, its states and its leadership, a
 * heartbeat, and word of its loss.
 */
export interface PresenceLease {
  readonly machineID: string;
  /** Opaque; for logs, and for the backend that granted it. */
  readonly leaseID: string;
  /** What the store granted, which may exceed what was asked. */
  readonly grantedTtlSeconds: number;
  /** Rewrites the presence record. */
  update(record: MachineRecord): Promise<void>;
  /** Heartbeat: whether the store still holds the lease. */
  isAlive(): Promise<boolean>;
  /** Whether a renewal was acknowledged within the last `ms`. */
  renewedWithin(ms: number): boolean;
  /** Hears that the store no longer holds the lease (everything under it is gone). */
  onLost(handler: (err: Error) => void): void;
  /** Revokes the lease: presence, states and leadership vanish at once. */
  close(): Promise<void>;
  /** Stops renewing, as a crashed fleetd would: everything expires with the TTL. */
  abandon(): void;
}

/** Registers machines: creates a presence, taking over one left by the same session. */
export interface MachinePresence {
  /** Rejects with `MachineConflictError` while another session holds the machine ID. */
  open(record: MachineRecord, ttlMs: number): Promise<PresenceLease>;
}

/**
 * How an API client's write may be called off, when the client it serves has gone away:
 * once `signal` is aborted the write commits nothing more and rejects with its reason. So a
 * request that timed out cannot land after a later one, as long as it is called off before
 * that one is answered. A commit already on its way to the store may still land.
 */
export interface WriteOptions {
  signal?: AbortSignal;
}

/** What a batch does to one unit: create or replace its content, or change its desired state. */
export type UnitChange =
  | { type: 'put'; unitFile: UnitFile; desiredState: JobState }
  | { type: 'desired-state'; desiredState: JobState };

/** One unit of a batch. */
export interface BatchEntry {
  name: string;
  /**
   * Decides the unit's change from its record as it is (null: absent); null writes nothing.
   * Asked again whenever the unit turns out to have changed before the write committed.
   */
  decide(current: UnitRecord | null): UnitChange | null;
}

/** How one unit of a batch ended: its change committed, nothing to write, or failed. */
export type BatchResult =
  | { outcome: 'written' }
  | { outcome: 'unchanged' }
  | { outcome: 'failed'; error: unknown };

/** Unit reads and writes of API clients (the HTTP API, fleetctl's etcd driver). */
export interface UnitRecords {
  /** The unit, or null when absent or unusable; throws when the store could not answer. */
  get(name: string): Promise<StoredUnit | null>;
  /** Creates or replaces the unit, keeping its schedule entry in step. */
  put(
    name: string,
    unitFile: UnitFile,
    desiredState: JobState,
    options?: WriteOptions,
  ): Promise<void>;
  /** Creates the unit unless one exists; resolves with the existing one, else null. */
  createIfAbsent(
    name: string,
    unitFile: UnitFile,
    desiredState: JobState,
    options?: WriteOptions,
  ): Promise<StoredUnit | null>;
  /** False when there is no such unit. */
  setDesiredState(name: string, desiredState: JobState, options?: WriteOptions): Promise<boolean>;
  /** Deletes record, placement and schedule entry; false when there was no such unit. */
  destroy(name: string, options?: WriteOptions): Promise<boolean>;
  /**
   * Decides and writes many units in as few transactions as the store takes, each unit
   * guarded as a single write is: one that changed meanwhile is decided again, and a
   * transaction that failed its guards is retried without losing the other units' writes.
   * Each unit is all or nothing. Results come in the order of `entries`; once `signal` is
   * aborted nothing more is committed and the call rejects with its reason.
   */
  applyBatch(entries: readonly BatchEntry[], options?: WriteOptions): Promise<BatchResult[]>;
}

/** The cluster as API clients show it; both drivers read through this. */
export interface ClusterReads {
  units(): Promise<readonly ClusterUnit[]>;
  unit(name: string): Promise<ClusterUnit | null>;
  machines(): Promise<Machine[]>;
  unitStates(): Promise<readonly UnitState[]>;
}

/** Hears a followed cluster's changes; each call comes after the previous one returned. */
export interface ClusterChangeHandlers {
  /**
   * Every object as of a revision: the start of a stream asked for without a revision, or
   * for one the store no longer holds (compacted) or has not reached. Comes once, first.
   */
  onSnapshot(snapshot: ClusterSnapshot): void;
  /** What one revision changed; revisions in order, each once, none without a change. */
  onChanges(batch: ClusterChangeBatch): void;
  /** Trouble the follow recovers from by itself (store unreachable, watch broken). */
  onError?(err: Error): void;
}

export interface ClusterChangesHandle {
  /** Stops following; no handler runs after it resolves. */
  stop(): Promise<void>;
}

/**
 * The cluster's objects as API clients see them (units, unit states, machines), followed
 * change by change: the API's event stream. Resumable: following from the revision of the
 * last batch seen delivers every later change, and none twice.
 */
export interface ClusterChanges {
  /**
   * Follows changes after `since`, or from a snapshot when `since` is null, compacted or
   * ahead of the store. Changes the store cannot tell apart from none (a key rewritten with
   * what the API already showed) are not reported.
   */
  follow(since: Revision | null, handlers: ClusterChangeHandlers): ClusterChangesHandle;
}

/** The states every machine reports for one unit, sorted by machine ID. */
export interface UnitStateReads {
  forUnit(name: string): Promise<UnitState[]>;
}

/** `PATCH /fleet/v1/machines`: all edits in one transaction. */
export interface MachineMetadataWrites {
  editMetadata(edits: readonly MetadataEdit[], options?: WriteOptions): Promise<void>;
}

/**
 * Cordons and drains as API clients set them: durable records, not held by any lease, so a
 * cordon outlives the machine's fleetd and the engine leader that drives its drain.
 */
export interface MachineCordons {
  /** Every cordon, by machine ID. */
  list(): Promise<Map<string, StoredCordon>>;
  /** Cordons the machine; a cordon already there, and its drain, stay as they are. */
  cordon(machineID: string, options?: WriteOptions): Promise<void>;
  /** Cordons the machine and starts draining it afresh, `maxParallel` units at a time. */
  drain(machineID: string, maxParallel: number, options?: WriteOptions): Promise<void>;
  /** Lifts the cordon and ends its drain; false when the machine was not cordoned. */
  uncordon(machineID: string, options?: WriteOptions): Promise<boolean>;
}

/** The engine leader's record of a drain's progress. */
export interface DrainProgress {
  /**
   * Rewrites the drain of `machineID`, only while `fence` holds and the cordon is still at
   * `modRevision` (as the decision saw it); false when either changed.
   */
  record(
    fence: LeaderFence,
    machineID: string,
    modRevision: Revision,
    drain: DrainRecord,
  ): Promise<boolean>;
}

/**
 * Rolling updates: durable records the API creates and the engine leader rewrites, with
 * the pins that hold a machine's unit to a content (`rollout-pins/<machine>/<name>`), which
 * that machine's agent runs instead of the unit's record.
 */
export interface RolloutRecords {
  /** Every rollout, oldest first. */
  list(): Promise<StoredRollout[]>;
  /** Every machine's health-command results. */
  health(): Promise<StoredHealth[]>;
  get(id: string): Promise<StoredRollout | null>;
  /** Writes a new rollout and its pins; false when the ID exists or a pin is already held. */
  create(record: RolloutRecord, pins: readonly PinWrite[]): Promise<boolean>;
  /**
   * Rewrites a rollout and its pins, only while it is still at `modRevision` and, when a
   * `fence` is given (the engine leader's), while that leadership holds; false otherwise.
   */
  update(
    modRevision: Revision,
    record: RolloutRecord,
    pins: readonly PinWrite[],
    fence: LeaderFence | null,
  ): Promise<boolean>;
}

/** Unit bodies by hash, immutable and cached. */
export interface UnitBodies {
  cached(hash: string): UnitFile | undefined;
  get(hash: string): Promise<UnitFile>;
  body(hash: string): Promise<StoredBody>;
}

/** Removal of bodies no unit references, asked for after destroys and replacements. */
export interface BodySweeps {
  sweepSoon(): void;
  flush(): Promise<void>;
}

/**
 * Everything above over one store and key prefix: what fleetd wires and what the API and
 * the etcd driver are handed. Leadership and publications hang on a lease this seam's
 * presence granted.
 */
export interface RegistrySeam {
  readonly units: UnitRecords;
  readonly cluster: ClusterReads;
  readonly changes: ClusterChanges;
  readonly states: UnitStateReads;
  readonly machines: MachineMetadataWrites;
  readonly cordons: MachineCordons;
  readonly drainProgress: DrainProgress;
  readonly rollouts: RolloutRecords;
  readonly bodies: UnitBodies;
  readonly unitFileCollector: BodySweeps;
  readonly scheduleWriter: FencedScheduleWrites;
  readonly presence: MachinePresence;
  engineView(onChange: () => void): EngineView;
  agentSchedule(machineID: string, onChange: () => void): AgentSchedule;
  leadership(lease: PresenceLease): Leadership;
  publications(lease: PresenceLease): StatePublications;
  /** Closes the connection to the store. */
  close(): void;
}
