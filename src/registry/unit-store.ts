import type { Etcd3, IKeyValue } from 'etcd3';
import { isGlobalUnit } from '../job/requirements.js';
import type { JobState } from '../job/types.js';
import type { UnitFile } from '../unit/unit-file.js';
import type { RegistryKeys } from './keys.js';
import { decodeRecord, encodeRecord, type UnitRecord, unitRecordSchema } from './records.js';
import type { UnitFileCache } from './unit-file-cache.js';

/** A unit as stored: its record and its parsed body. */
export interface StoredUnit {
  name: string;
  hash: string;
  desiredState: JobState;
  unitFile: UnitFile;
  global: boolean;
}

export class RegistryConflictError extends Error {
  override name = 'RegistryConflictError';
}

/** Optimistic writes retry when another writer got in between; past this, give up loudly. */
const MAX_WRITE_ATTEMPTS = 8;

/** Reports a stored value that cannot be used; the store skips it and carries on. */
export type BadRecordHandler = (key: string, error: Error) => void;

/**
 * Units as API clients (the HTTP API and fleetctl's etcd driver) read and write them.
 * A write that changes a scheduled unit also rewrites its machine's schedule entry in the
 * same transaction, guarded by mod revisions, so an agent always runs what the unit record
 * says and a destroyed unit never keeps a schedule entry.
 */
export class UnitStore {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly bodies: UnitFileCache,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  async get(name: string): Promise<StoredUnit | null> {
    const key = this.keys.unit(name);
    const value = await this.etcd.get(key).string();
    if (value === null) return null;
    return this.toStoredUnit(key, value);
  }

  /** Every unit, sorted by name; unusable records are reported and left out. */
  async list(): Promise<StoredUnit[]> {
    const kvs = (await this.etcd.getAll().prefix(this.keys.unitsPrefix).exec()).kvs;
    const units = await Promise.all(
      kvs.map((kv) => this.toStoredUnit(kv.key.toString(), kv.value.toString())),
    );
    return units.filter((unit): unit is StoredUnit => unit !== null).sort(byName);
  }

  /** Creates the unit, or replaces its content; its desired state becomes `desiredState`. */
  async put(name: string, unitFile: UnitFile, desiredState: JobState): Promise<void> {
    this.bodies.remember(unitFile.hash, unitFile.serialized);
    const stored = await this.bodies.get(unitFile.hash);
    // Most puts create a unit: that is tried first, in one transaction and no read.
    await this.write(
      name,
      () => ({
        record: { name, hash: unitFile.hash, desiredState },
        body: unitFile.serialized,
        global: isGlobalUnit(stored),
      }),
      { assumeAbsent: true },
    );
  }

  /** Changes the desired state of an existing unit; false when there is no such unit. */
  async setDesiredState(name: string, desiredState: JobState): Promise<boolean> {
    let found = true;
    await this.write(name, async (current) => {
      if (current === null) {
        found = false;
        return null;
      }
      const unitFile = await this.bodies.get(current.hash);
      return { record: { ...current, desiredState }, global: isGlobalUnit(unitFile) };
    });
    return found;
  }

  /** Deletes the unit and its schedule; false when there was no such unit. */
  async destroy(name: string): Promise<boolean> {
    let found = true;
    await this.write(name, (current) => {
      found = current !== null;
      return null;
    });
    return found;
  }

  private async toStoredUnit(key: string, value: string): Promise<StoredUnit | null> {
    try {
      const record = decodeRecord(unitRecordSchema, key, value);
      const unitFile = await this.bodies.get(record.hash);
      return { ...record, unitFile, global: isGlobalUnit(unitFile) };
    } catch (err) {
      this.onBadRecord(key, err as Error);
      return null;
    }
  }

  /**
   * Computes the unit's new state with `next` (null deletes the unit) from its record and
   * placement, and commits it only if neither changed meanwhile. A commit that lost a race
   * reads both back in the same transaction, so a retry costs one round trip. With
   * `assumeAbsent`, the first attempt guesses that neither exists (a new unit, the common
   * put) and so costs a single transaction.
   */
  private async write(
    name: string,
    next: (current: UnitRecord | null) => Promise<UnitWrite | null> | UnitWrite | null,
    { assumeAbsent = false }: { assumeAbsent?: boolean } = {},
  ): Promise<void> {
    const unitKey = this.keys.unit(name);
    const placementKey = this.keys.placement(name);
    let seen: [IKeyValue | null, IKeyValue | null] | null = assumeAbsent ? [null, null] : null;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const [unitKv, placementKv] =
        seen ?? (await Promise.all([this.readKv(unitKey), this.readKv(placementKey)]));
      const current =
        unitKv === null ? null : decodeRecord(unitRecordSchema, unitKey, unitKv.value.toString());
      const change = await next(current);
      if (change === null && current === null) return;

      const machineID = placementKv?.value.toString() ?? null;
      const result = await this.etcd
        .if(unitKey, 'Mod', '==', unitKv?.mod_revision ?? 0)
        .and(placementKey, 'Mod', '==', placementKv?.mod_revision ?? 0)
        .then(...this.operations(name, change, machineID))
        .else(this.etcd.get(unitKey), this.etcd.get(placementKey))
        .commit();
      if (result.succeeded) return;
      const [unitNow, placementNow] = result.responses.map(
        (response) => response.response_range?.kvs?.[0] ?? null,
      );
      seen = [unitNow ?? null, placementNow ?? null];
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
      const keepsPlacement =
        change !== null && !change.global && change.record.desiredState !== 'inactive';
      const scheduleKey = this.keys.scheduleEntry(machineID, name);
      if (keepsPlacement) {
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

  private async readKv(key: string): Promise<IKeyValue | null> {
    const response = await this.etcd.get(key).exec();
    return response.kvs[0] ?? null;
  }
}

interface UnitWrite {
  record: UnitRecord;
  /** The canonical text to store under the record's hash, when it may be new. */
  body?: string;
  global: boolean;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
