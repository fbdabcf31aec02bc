import { isGlobalUnit } from '../job/requirements.js';
import type { JobState } from '../job/types.js';
import type { UnitFile } from '../unit/unit-file.js';
import { compareStrings, type StoredKey } from './decode.js';
import type { RegistryKeys } from './keys.js';
import {
  ABSENT,
  type BadRecordHandler,
  RegistryConflictError,
  type Revision,
  type StoredUnit,
  UnitFileNotFoundError,
} from './model.js';
import type { BatchEntry, BatchResult, UnitChange, UnitRecords, WriteOptions } from './ports.js';
import { decodeRecord, RecordDecodeError, type UnitRecord, unitRecordSchema } from './records.js';
import { type KeyOp, type UnitWrite, unitWriteOps } from './txn-ops.js';
import { packUnitTxns, type UnitTxn } from './unit-batch-txns.js';

/** A unit whose write alone exceeds etcd's request size. */
export class UnitTooLargeError extends Error {
  override name = 'UnitTooLargeError';
}

/** Optimistic writes retry when another writer got in between; past this, give up loudly. */
export const MAX_WRITE_ATTEMPTS = 8;

/** A unit the store declined to change (see `createIfAbsent`). */
export const UNCHANGED = Symbol('unchanged');

/** What a write makes of the unit as it is: new content, null to delete, or no change. */
export type NextWrite = (
  current: UnitRecord | null,
) => Promise<UnitWrite | null | typeof UNCHANGED> | UnitWrite | null | typeof UNCHANGED;

/** A key as a write saw it: its mod revision (the guard) and its value. */
export interface SeenKey {
  modRevision: Revision;
  value: string;
}

/** A unit's record and placement keys as seen; null is an absent key. */
export interface SeenUnit {
  unit: SeenKey | null;
  placement: SeenKey | null;
}

const NEVER_WRITTEN: SeenUnit = { unit: null, placement: null };

/** What a batch transaction came to: on failure, the keys it read back, in order. */
export interface BatchTxnResult {
  succeeded: boolean;
  revision: Revision;
  reads: Array<SeenKey | null>;
}

/** A unit of a batch still to be written, with its keys as last seen (null: to be read). */
interface PendingUnit {
  index: number;
  entry: BatchEntry;
  seen: SeenUnit | null;
  /** Whether `seen` is a guess, which only a write's guard may confirm. */
  guessed: boolean;
  attempts: number;
}

/** The bodies a unit store reads and remembers: etcd's cache, or the twin's. */
export interface BodyStore {
  remember(hash: string, text: string): UnitFile;
  get(hash: string): Promise<UnitFile>;
}

/**
 * `UnitRecords` on either store: each API write as the new content it makes of the unit,
 * and the decoding of stored units. A store supplies `write`, which commits `next`'s
 * answer only if the unit and its placement did not change meanwhile, rewriting the
 * schedule entry in the same transaction; and for batches, its guesses of a unit's keys, a
 * read of them, and a guarded transaction that reads them back when it fails.
 */
export abstract class UnitRecordsBase implements UnitRecords {
  constructor(
    protected readonly bodies: BodyStore,
    protected readonly keys: RegistryKeys,
    protected readonly onBadRecord: BadRecordHandler,
  ) {}

  /** The unit's keys as this store guesses them without reading, or null for no guess. */
  protected abstract guessKeys(name: string): SeenUnit | null;

  /** The units' keys as they are, in the order of `names`. */
  protected abstract readKeys(names: readonly string[], signal?: AbortSignal): Promise<SeenUnit[]>;

  /** Commits `txn`: its ops if every guard holds, else it reads back its `reads`. */
  protected abstract commitTxn(txn: UnitTxn, signal?: AbortSignal): Promise<BatchTxnResult>;

  /** Hears that a unit's write committed at `revision`, its placement as it was seen. */
  protected noteWritten(
    _name: string,
    _change: UnitWrite,
    _placement: SeenKey | null,
    _revision: Revision,
  ): void {}

  abstract get(name: string): Promise<StoredUnit | null>;

  /**
   * Computes the unit's new state with `next` (null deletes it) and commits it. With
   * `assumeAbsent`, a store may first guess that the unit and its placement do not exist
   * (a new unit, the common put). Once `signal` is aborted, nothing more is committed.
   */
  protected abstract write(
    name: string,
    next: NextWrite,
    options: WriteOptions & { assumeAbsent?: boolean },
  ): Promise<void>;

  /** Creates the unit, or replaces its content; its desired state becomes `desiredState`. */
  async put(
    name: string,
    unitFile: UnitFile,
    desiredState: JobState,
    { signal }: WriteOptions = {},
  ): Promise<void> {
    const stored = this.bodies.remember(unitFile.hash, unitFile.serialized);
    // Most puts create a unit: that is tried first, in one transaction and no read.
    await this.write(name, () => newUnit(name, unitFile, desiredState, stored), {
      assumeAbsent: true,
      signal,
    });
  }

  /**
   * Creates the unit if there is none, in one transaction when the guess that it is new
   * holds; otherwise leaves the registry as it is and resolves with the unit that exists.
   */
  async createIfAbsent(
    name: string,
    unitFile: UnitFile,
    desiredState: JobState,
    { signal }: WriteOptions = {},
  ): Promise<StoredUnit | null> {
    const stored = this.bodies.remember(unitFile.hash, unitFile.serialized);
    let existing: UnitRecord | null = null;
    await this.write(
      name,
      (current) => {
        existing = current;
        return current !== null ? UNCHANGED : newUnit(name, unitFile, desiredState, stored);
      },
      { assumeAbsent: true, signal },
    );
    if (existing === null) return null;
    const record: UnitRecord = existing;
    const existingFile = await this.bodies.get(record.hash);
    return { ...record, unitFile: existingFile, global: isGlobalUnit(existingFile) };
  }

  /** Changes the desired state of an existing unit; false when there is no such unit. */
  async setDesiredState(
    name: string,
    desiredState: JobState,
    { signal }: WriteOptions = {},
  ): Promise<boolean> {
    let found = true;
    await this.write(
      name,
      async (current) => {
        found = current !== null;
        if (current === null) return null;
        const unitFile = await this.bodies.get(current.hash);
        return { record: { ...current, desiredState }, global: isGlobalUnit(unitFile) };
      },
      { signal },
    );
    return found;
  }

  /** Deletes the unit and its schedule; false when there was no such unit. */
  async destroy(name: string, { signal }: WriteOptions = {}): Promise<boolean> {
    let found = true;
    await this.write(
      name,
      (current) => {
        found = current !== null;
        return null;
      },
      { signal },
    );
    return found;
  }

  /**
   * Each round decides the units still pending from their keys as last seen (guessed new at
   * first, read when a guess led to writing nothing), then commits the writes packed into
   * transactions. A unit whose guard failed is decided again from the keys its transaction
   * read back; the others of that transaction go again as they were.
   */
  async applyBatch(
    entries: readonly BatchEntry[],
    { signal }: WriteOptions = {},
  ): Promise<BatchResult[]> {
    const results: Array<BatchResult | undefined> = entries.map(() => undefined);
    // New units are the common batch: guessed absent, they are written without a read.
    let pending: PendingUnit[] = entries.map((entry, index) => ({
      index,
      entry,
      seen: this.guessKeys(entry.name) ?? NEVER_WRITTEN,
      guessed: true,
      attempts: 0,
    }));
    while (pending.length > 0) {
      signal?.throwIfAborted();
      const round = pending;
      pending = [];
      try {
        await this.readUnseen(round, signal);
      } catch (err) {
        signal?.throwIfAborted();
        for (const unit of round) results[unit.index] = { outcome: 'failed', error: err };
        break;
      }
      const writes: Array<{ unit: PendingUnit; change: UnitWrite }> = [];
      for (const unit of round) {
        let change: UnitWrite | null;
        try {
          change = await this.batchWrite(unit);
        } catch (err) {
          results[unit.index] = { outcome: 'failed', error: err };
          continue;
        }
        if (change !== null) writes.push({ unit, change });
        else if (unit.guessed) pending.push({ ...unit, seen: null, guessed: false });
        else results[unit.index] = { outcome: 'unchanged' };
      }
      const parts = writes.map(({ unit, change }) => batchPart(this.keys, unit, change));
      for (const txn of packUnitTxns(parts)) {
        signal?.throwIfAborted();
        if (txn.tooLarge) {
          const { unit } = writes[txn.parts[0]!]!;
          results[unit.index] = {
            outcome: 'failed',
            error: new UnitTooLargeError(
              `unit ${unit.entry.name} is larger than one etcd request may be`,
            ),
          };
          continue;
        }
        let result: BatchTxnResult;
        try {
          result = await this.commitTxn(txn, signal);
        } catch (err) {
          signal?.throwIfAborted();
          // The store is failing: what is not written yet is not written at all.
          for (const unit of [...round, ...pending]) {
            results[unit.index] ??= { outcome: 'failed', error: err };
          }
          pending = [];
          break;
        }
        txn.parts.forEach((part, position) => {
          const { unit, change } = writes[part]!;
          if (result.succeeded) {
            this.noteWritten(
              unit.entry.name,
              change,
              unit.seen?.placement ?? null,
              result.revision,
            );
            results[unit.index] = { outcome: 'written' };
            return;
          }
          const now: SeenUnit = {
            unit: result.reads[position * 2] ?? null,
            placement: result.reads[position * 2 + 1] ?? null,
          };
          if (sameKeys(now, unit.seen)) {
            pending.push(unit);
            return;
          }
          if (unit.attempts + 1 >= MAX_WRITE_ATTEMPTS) {
            results[unit.index] = {
              outcome: 'failed',
              error: new RegistryConflictError(
                `unit ${unit.entry.name} kept changing under concurrent writers; gave up after ${MAX_WRITE_ATTEMPTS} attempts`,
              ),
            };
            return;
          }
          pending.push({ ...unit, seen: now, guessed: false, attempts: unit.attempts + 1 });
        });
      }
      pending.sort((a, b) => a.index - b.index);
    }
    return results.map((result) => result ?? { outcome: 'unchanged' });
  }

  /** Reads the keys of the units that have neither a guess nor a read of them. */
  private async readUnseen(units: readonly PendingUnit[], signal?: AbortSignal): Promise<void> {
    const unseen = units.filter((unit) => unit.seen === null);
    if (unseen.length === 0) return;
    const read = await this.readKeys(
      unseen.map((unit) => unit.entry.name),
      signal,
    );
    unseen.forEach((unit, index) => {
      unit.seen = read[index] ?? NEVER_WRITTEN;
    });
  }

  /** The unit's new content by its entry's decision, or null to write nothing. */
  private async batchWrite(unit: PendingUnit): Promise<UnitWrite | null> {
    const { name } = unit.entry;
    const seen = unit.seen ?? NEVER_WRITTEN;
    const current =
      seen.unit === null
        ? null
        : decodeRecord(unitRecordSchema, this.keys.unit(name), seen.unit.value);
    const change: UnitChange | null = unit.entry.decide(current);
    if (change === null) return null;
    if (change.type === 'put') {
      const stored = this.bodies.remember(change.unitFile.hash, change.unitFile.serialized);
      return newUnit(name, change.unitFile, change.desiredState, stored);
    }
    if (current === null) return null;
    const unitFile = await this.bodies.get(current.hash);
    return {
      record: { ...current, desiredState: change.desiredState },
      global: isGlobalUnit(unitFile),
    };
  }

  /**
   * The unit stored as `value`, or null when its record or body is unusable (reported). A
   * body that could not be read for another reason (the store unavailable) throws: taken for
   * absent, it would answer 404 and lead a client to create the unit again.
   */
  protected async usable(key: string, value: string): Promise<StoredUnit | null> {
    try {
      const record = decodeRecord(unitRecordSchema, key, value);
      const unitFile = await this.bodies.get(record.hash);
      return { ...record, unitFile, global: isGlobalUnit(unitFile) };
    } catch (err) {
      if (!isUnusable(err)) throw err;
      this.onBadRecord(key, err);
      return null;
    }
  }

  /**
   * The units stored in `kvs` (a read of the whole units prefix), sorted by name. Records
   * that cannot be decoded or whose body is gone are reported and left out; a body that could
   * not be read for another reason fails the whole read, so that a cached listing never
   * keeps a sound unit out.
   */
  protected async usableUnits(kvs: readonly StoredKey[]): Promise<StoredUnit[]> {
    const units = await Promise.all(kvs.map(({ key, value }) => this.usable(key, value)));
    return units
      .filter((unit): unit is StoredUnit => unit !== null)
      .sort((a, b) => compareStrings(a.name, b.name));
  }
}

/** A unit's guards, writes and read-backs in a batch transaction. */
function batchPart(keys: RegistryKeys, unit: PendingUnit, change: UnitWrite) {
  const name = unit.entry.name;
  const seen = unit.seen ?? NEVER_WRITTEN;
  const ops: KeyOp[] = unitWriteOps(keys, name, change, seen.placement?.value ?? null);
  return {
    guards: [
      { key: keys.unit(name), target: 'mod' as const, revision: seen.unit?.modRevision ?? ABSENT },
      {
        key: keys.placement(name),
        target: 'mod' as const,
        revision: seen.placement?.modRevision ?? ABSENT,
      },
    ],
    ops,
    reads: [keys.unit(name), keys.placement(name)],
  };
}

function sameKeys(now: SeenUnit, seen: SeenUnit | null): boolean {
  const revision = (key: SeenKey | null | undefined) => key?.modRevision ?? ABSENT;
  return (
    revision(now.unit) === revision(seen?.unit) &&
    revision(now.placement) === revision(seen?.placement)
  );
}

function newUnit(
  name: string,
  unitFile: UnitFile,
  desiredState: JobState,
  stored: UnitFile,
): UnitWrite {
  return {
    record: { name, hash: unitFile.hash, desiredState },
    body: unitFile.serialized,
    global: isGlobalUnit(stored),
  };
}

/** A stored value that will never read (as opposed to a read that failed this time). */
function isUnusable(err: unknown): err is RecordDecodeError | UnitFileNotFoundError {
  return err instanceof RecordDecodeError || err instanceof UnitFileNotFoundError;
}
