import type { Etcd3, IKeyValue } from 'etcd3';
import { isGlobalUnit } from '../job/requirements.js';
import type { JobState } from '../job/types.js';
import type { UnitFile } from '../unit/unit-file.js';
import { calledOffBy } from './etcd-client.js';
import type { RegistryKeys } from './keys.js';
import {
  type BadRecordHandler,
  RegistryConflictError,
  type StoredUnit,
  UnitFileNotFoundError,
} from './model.js';
import { DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { UnitRecords, WriteOptions } from './ports.js';
import {
  decodeRecord,
  encodeRecord,
  RecordDecodeError,
  type UnitRecord,
  unitRecordSchema,
} from './records.js';
import type { UnitFileCache } from './unit-file-cache.js';

/** Optimistic writes retry when another writer got in between; past this, give up loudly. */
const MAX_WRITE_ATTEMPTS = 8;

/** Units whose keys this store last wrote, remembered as guesses for the next write. */
const MAX_REMEMBERED_WRITES = 4096;

/** A key as a write saw it: its mod revision (the guard) and its value. */
interface SeenKey {
  modRevision: string;
  value: string;
}

/** A unit's record and placement keys as seen; null is an absent key. */
interface SeenUnit {
  unit: SeenKey | null;
  placement: SeenKey | null;
}

/** A unit the store declined to change (see `createIfAbsent`). */
const UNCHANGED = Symbol('unchanged');

/**
 * Units as API clients (the HTTP API and fleetctl's etcd driver) read and write them.
 * A write that changes a scheduled unit also rewrites its machine's schedule entry in the
 * same transaction, guarded by mod revisions, so an agent always runs what the unit record
 * says and a destroyed unit never keeps a schedule entry.
 */
export class UnitStore implements UnitRecords {
  /**
   * The keys of the units this store last wrote, as its transactions left them. Only a
   * guess: every write stays guarded by mod revisions, and a wrong guess costs the round
   * trip that reads the keys back. It spares the read when a client changes a unit it just
   * wrote (fleetctl creates a unit, then sets its desired state).
   */
  private readonly lastWritten = new Map<string, SeenUnit>();

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly bodies: UnitFileCache,
    private readonly onBadRecord: BadRecordHandler,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {}

  /**
   * The unit, or null when there is none or its record or body is unusable (reported). A body
   * that could not be read for another reason (etcd unavailable) throws: taken for absent, it
   * would answer 404 and lead a client to create the unit again.
   */
  async get(name: string): Promise<StoredUnit | null> {
    const key = this.keys.unit(name);
    const value = await this.etcd.get(key).string();
    if (value === null) return null;
    try {
      return await this.decode(key, value);
    } catch (err) {
      if (!isUnusable(err)) throw err;
      this.onBadRecord(key, err);
      return null;
    }
  }

  /** Every unit, sorted by name; unusable records are reported and left out. */
  async list(): Promise<StoredUnit[]> {
    const { kvs } = await readPrefix(this.etcd, this.keys.unitsPrefix, { pageSize: this.pageSize });
    return this.fromKvs(kvs);
  }

  /**
   * The units stored in `kvs` (a read of the whole units prefix), sorted by name. Records
   * that cannot be decoded or whose body is gone are reported and left out; a body that could
   * not be read for another reason (etcd unavailable) fails the whole read, so that a cached
   * listing never keeps a sound unit out.
   */
  async fromKvs(kvs: readonly IKeyValue[]): Promise<StoredUnit[]> {
    const units = await Promise.all(
      kvs.map(async (kv): Promise<StoredUnit | null> => {
        const key = kv.key.toString();
        try {
          return await this.decode(key, kv.value.toString());
        } catch (err) {
          if (!isUnusable(err)) throw err;
          this.onBadRecord(key, err);
          return null;
        }
      }),
    );
    return units.filter((unit): unit is StoredUnit => unit !== null).sort(byName);
  }

  /** Creates the unit, or replaces its content; its desired state becomes `desiredState`. */
  async put(
    name: string,
    unitFile: UnitFile,
    desiredState: JobState,
    { signal }: WriteOptions = {},
  ): Promise<void> {
    const stored = this.bodies.remember(unitFile.hash, unitFile.serialized);
    // Most puts create a unit: that is tried first, in one transaction and no read.
    await this.write(
      name,
      () => ({
        record: { name, hash: unitFile.hash, desiredState },
        body: unitFile.serialized,
        global: isGlobalUnit(stored),
      }),
      { assumeAbsent: true, signal },
    );
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
        if (current !== null) return UNCHANGED;
        return {
          record: { name, hash: unitFile.hash, desiredState },
          body: unitFile.serialized,
          global: isGlobalUnit(stored),
        };
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

  /** A record with its parsed body; throws what decoding or reading the body threw. */
  private async decode(key: string, value: string): Promise<StoredUnit> {
    const record = decodeRecord(unitRecordSchema, key, value);
    const unitFile = await this.bodies.get(record.hash);
    return { ...record, unitFile, global: isGlobalUnit(unitFile) };
  }

  /**
   * Computes the unit's new state with `next` (null deletes the unit) from its record and
   * placement, and commits it only if neither changed meanwhile. A commit that lost a race
   * reads both back in the same transaction, so a retry costs one round trip. With
   * `assumeAbsent`, the first attempt guesses that neither exists (a new unit, the common
   * put) and so costs a single transaction. Once `signal` is aborted, nothing more is read
   * or committed.
   */
  private async write(
    name: string,
    next: NextWrite,
    { assumeAbsent = false, signal }: WriteOptions & { assumeAbsent?: boolean } = {},
  ): Promise<void> {
    return calledOffBy(signal, () => this.writeGuarded(name, next, assumeAbsent, signal));
  }

  private async writeGuarded(
    name: string,
    next: NextWrite,
    assumeAbsent: boolean,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const unitKey = this.keys.unit(name);
    const placementKey = this.keys.placement(name);
    let seen: SeenUnit | null =
      this.lastWritten.get(name) ?? (assumeAbsent ? { unit: null, placement: null } : null);
    // A guess may only lead to a write, which its guard checks; deciding to write nothing
    // needs the keys as they are.
    let guessed = seen !== null;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      signal?.throwIfAborted();
      const { unit, placement } = seen ?? (await this.read(unitKey, placementKey));
      const current = unit === null ? null : decodeRecord(unitRecordSchema, unitKey, unit.value);
      const change = await next(current);
      signal?.throwIfAborted();
      if (change === UNCHANGED || (change === null && current === null)) {
        if (!guessed) return;
        this.lastWritten.delete(name);
        seen = null;
        guessed = false;
        continue;
      }

      const machineID = placement?.value ?? null;
      const result = await this.etcd
        .if(unitKey, 'Mod', '==', unit?.modRevision ?? 0)
        .and(placementKey, 'Mod', '==', placement?.modRevision ?? 0)
        .then(...this.operations(name, change, machineID))
        .else(this.etcd.get(unitKey), this.etcd.get(placementKey))
        .commit();
      if (result.succeeded) {
        this.rememberWrite(name, change, placement, result.header.revision);
        return;
      }
      const [unitNow, placementNow] = result.responses.map((response) =>
        seenKey(response.response_range?.kvs?.[0]),
      );
      seen = { unit: unitNow ?? null, placement: placementNow ?? null };
      guessed = false;
    }
    throw new RegistryConflictError(
      `unit ${name} kept changing under concurrent writers; gave up after ${MAX_WRITE_ATTEMPTS} attempts`,
    );
  }

  /** The writes that take the unit (on `machineID`, if placed) to `change`; null deletes. */
  private operations(name: string, change: UnitWrite | null, machineID: string | null) {
    const unitKey = this.keys.unit(name);
    const ops = [];
    if (change === null) {
      ops.push(this.etcd.delete().key(unitKey), this.etcd.delete().key(this.keys.globalUnit(name)));
    } else {
      ops.push(this.etcd.put(unitKey).value(encodeRecord(change.record)));
      if (change.body !== undefined) {
        ops.push(this.etcd.put(this.keys.unitFile(change.record.hash)).value(change.body));
      }
      const entry = encodeRecord({
        hash: change.record.hash,
        desiredState: change.record.desiredState,
      });
      ops.push(
        change.global
          ? this.etcd.put(this.keys.globalUnit(name)).value(entry)
          : this.etcd.delete().key(this.keys.globalUnit(name)),
      );
    }
    if (machineID !== null) {
      const scheduleKey = this.keys.scheduleEntry(machineID, name);
      if (change !== null && keepsPlacement(change)) {
        ops.push(
          this.etcd.put(scheduleKey).value(
            encodeRecord({
              hash: change.record.hash,
              desiredState: change.record.desiredState,
            }),
          ),
        );
      } else {
        ops.push(
          this.etcd.delete().key(this.keys.placement(name)),
          this.etcd.delete().key(scheduleKey),
        );
      }
    }
    return ops;
  }

  /** How a successful write left the unit's keys, for the next write to guess from. */
  private rememberWrite(
    name: string,
    change: UnitWrite | null,
    placement: SeenKey | null,
    revision: string,
  ): void {
    this.lastWritten.delete(name);
    if (change === null) return;
    if (this.lastWritten.size >= MAX_REMEMBERED_WRITES) this.lastWritten.clear();
    this.lastWritten.set(name, {
      unit: { modRevision: revision, value: encodeRecord(change.record) },
      placement: placement !== null && keepsPlacement(change) ? placement : null,
    });
  }

  private async read(unitKey: string, placementKey: string): Promise<SeenUnit> {
    const [unit, placement] = await Promise.all([
      this.etcd.get(unitKey).exec(),
      this.etcd.get(placementKey).exec(),
    ]);
    return { unit: seenKey(unit.kvs[0]), placement: seenKey(placement.kvs[0]) };
  }
}

/** Whether a placed unit keeps its placement once `change` is written (null deletes it). */
function keepsPlacement(change: UnitWrite | null): boolean {
  return change !== null && !change.global && change.record.desiredState !== 'inactive';
}

function seenKey(kv: { mod_revision: string; value: Buffer } | undefined): SeenKey | null {
  return kv === undefined ? null : { modRevision: kv.mod_revision, value: kv.value.toString() };
}

/** What a write makes of the unit as it is: new content, null to delete, or no change. */
type NextWrite = (
  current: UnitRecord | null,
) => Promise<UnitWrite | null | typeof UNCHANGED> | UnitWrite | null | typeof UNCHANGED;

interface UnitWrite {
  record: UnitRecord;
  /** The canonical text to store under the record's hash, when it may be new. */
  body?: string;
  global: boolean;
}

/** A stored value that will never read (as opposed to a read that failed this time). */
function isUnusable(err: unknown): err is RecordDecodeError | UnitFileNotFoundError {
  return err instanceof RecordDecodeError || err instanceof UnitFileNotFoundError;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
