import { isGlobalUnit } from '../job/requirements.js';
import type { JobState } from '../job/types.js';
import type { UnitFile } from '../unit/unit-file.js';
import { compareStrings, type StoredKey } from './decode.js';
import { type BadRecordHandler, type StoredUnit, UnitFileNotFoundError } from './model.js';
import type { UnitRecords, WriteOptions } from './ports.js';
import { decodeRecord, RecordDecodeError, type UnitRecord, unitRecordSchema } from './records.js';
import type { UnitWrite } from './txn-ops.js';

/** Optimistic writes retry when another writer got in between; past this, give up loudly. */
export const MAX_WRITE_ATTEMPTS = 8;

/** A unit the store declined to change (see `createIfAbsent`). */
export const UNCHANGED = Symbol('unchanged');

/** What a write makes of the unit as it is: new content, null to delete, or no change. */
export type NextWrite = (
  current: UnitRecord | null,
) => Promise<UnitWrite | null | typeof UNCHANGED> | UnitWrite | null | typeof UNCHANGED;

/** The bodies a unit store reads and remembers: etcd's cache, or the twin's. */
export interface BodyStore {
  remember(hash: string, text: string): UnitFile;
  get(hash: string): Promise<UnitFile>;
}

/**
 * `UnitRecords` on either store: each API write as the new content it makes of the unit,
 * and the decoding of stored units. A store supplies `write`, which commits `next`'s
 * answer only if the unit and its placement did not change meanwhile, rewriting the
 * schedule entry in the same transaction.
 */
export abstract class UnitRecordsBase implements UnitRecords {
  constructor(
    protected readonly bodies: BodyStore,
    protected readonly onBadRecord: BadRecordHandler,
  ) {}

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
