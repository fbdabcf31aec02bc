import { isGlobalUnit } from '../../job/requirements.js';
import type { JobState } from '../../job/types.js';
import { UnitFile } from '../../unit/unit-file.js';
import type { RegistryKeys } from '../keys.js';
import {
  type BadRecordHandler,
  RegistryConflictError,
  type StoredBody,
  type StoredUnit,
  UnitFileNotFoundError,
} from '../model.js';
import type { UnitBodies, UnitRecords, WriteOptions } from '../ports.js';
import {
  decodeRecord,
  encodeRecord,
  RecordDecodeError,
  type UnitRecord,
  unitRecordSchema,
} from '../records.js';
import type { MemoryKeyValue, MemoryStore, TxnOp } from './store.js';

/** As `UnitStore`'s: optimistic writes retry this often, then give up loudly. */
const MAX_WRITE_ATTEMPTS = 8;

/** `UnitFileCache` on the in-memory store, without its byte cap. */
export class MemoryBodies implements UnitBodies {
  private readonly parsed = new Map<string, StoredBody>();

  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  remember(hash: string, text: string): UnitFile {
    const known = this.parsed.get(hash);
    if (known !== undefined) return known.unitFile;
    const body = { text, unitFile: UnitFile.parse(text) };
    this.parsed.set(hash, body);
    return body.unitFile;
  }

  cached(hash: string): UnitFile | undefined {
    return this.parsed.get(hash)?.unitFile;
  }

  async get(hash: string): Promise<UnitFile> {
    return (await this.body(hash)).unitFile;
  }

  async body(hash: string): Promise<StoredBody> {
    const known = this.parsed.get(hash);
    if (known !== undefined) return known;
    const kv = this.store.get(this.keys.unitFile(hash));
    if (kv === null) throw new UnitFileNotFoundError(`unit file ${hash} is missing from etcd`);
    const body = { text: kv.value, unitFile: UnitFile.parse(kv.value) };
    this.parsed.set(hash, body);
    return body;
  }
}

interface UnitWrite {
  record: UnitRecord;
  body?: string;
  global: boolean;
}

const UNCHANGED = Symbol('unchanged');

/**
 * `UnitStore` on the in-memory store: every write reads the unit and its placement and
 * commits only if neither changed meanwhile, rewriting the schedule entry in the same
 * transaction. (The etcd store guesses the keys from its last write to save a read; the
 * outcome is the same.)
 */
export class MemoryUnitStore implements UnitRecords {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly bodies: MemoryBodies,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  async get(name: string): Promise<StoredUnit | null> {
    const key = this.keys.unit(name);
    const kv = this.store.get(key);
    return kv === null ? null : this.decodeUsable(key, kv.value);
  }

  /** Every usable unit, sorted by name; the others are reported and left out. */
  async list(): Promise<StoredUnit[]> {
    const { kvs } = this.store.range(this.keys.unitsPrefix);
    const units = await Promise.all(kvs.map((kv) => this.decodeUsable(kv.key, kv.value)));
    return units.filter((unit): unit is StoredUnit => unit !== null);
  }

  async put(
    name: string,
    unitFile: UnitFile,
    desiredState: JobState,
    { signal }: WriteOptions = {},
  ): Promise<void> {
    const stored = this.bodies.remember(unitFile.hash, unitFile.serialized);
    await this.write(
      name,
      () => ({
        record: { name, hash: unitFile.hash, desiredState },
        body: unitFile.serialized,
        global: isGlobalUnit(stored),
      }),
      signal,
    );
  }

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
      signal,
    );
    if (existing === null) return null;
    const record: UnitRecord = existing;
    const existingFile = await this.bodies.get(record.hash);
    return { ...record, unitFile: existingFile, global: isGlobalUnit(existingFile) };
  }

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
      signal,
    );
    return found;
  }

  async destroy(name: string, { signal }: WriteOptions = {}): Promise<boolean> {
    let found = true;
    await this.write(
      name,
      (current) => {
        found = current !== null;
        return null;
      },
      signal,
    );
    return found;
  }

  private async decodeUsable(key: string, value: string): Promise<StoredUnit | null> {
    try {
      const record = decodeRecord(unitRecordSchema, key, value);
      const unitFile = await this.bodies.get(record.hash);
      return { ...record, unitFile, global: isGlobalUnit(unitFile) };
    } catch (err) {
      if (!(err instanceof RecordDecodeError || err instanceof UnitFileNotFoundError)) throw err;
      this.onBadRecord(key, err);
      return null;
    }
  }

  private async write(
    name: string,
    next: (
      current: UnitRecord | null,
    ) => Promise<UnitWrite | null | typeof UNCHANGED> | UnitWrite | null | typeof UNCHANGED,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const unitKey = this.keys.unit(name);
    const placementKey = this.keys.placement(name);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      signal?.throwIfAborted();
      const unit = this.store.get(unitKey);
      const placement = this.store.get(placementKey);
      const current = unit === null ? null : decodeRecord(unitRecordSchema, unitKey, unit.value);
      const change = await next(current);
      signal?.throwIfAborted();
      if (change === UNCHANGED || (change === null && current === null)) return;
      const { succeeded } = this.store.txn({
        compare: [
          { key: unitKey, target: 'mod', op: '==', revision: revisionOf(unit) },
          { key: placementKey, target: 'mod', op: '==', revision: revisionOf(placement) },
        ],
        success: this.operations(name, change, placement?.value ?? null),
      });
      if (succeeded) return;
    }
    throw new RegistryConflictError(
      `unit ${name} kept changing under concurrent writers; gave up after ${MAX_WRITE_ATTEMPTS} attempts`,
    );
  }

  private operations(name: string, change: UnitWrite | null, machineID: string | null): TxnOp[] {
    const unitKey = this.keys.unit(name);
    const globalKey = this.keys.globalUnit(name);
    const ops: TxnOp[] = [];
    if (change === null) {
      ops.push({ type: 'delete', key: unitKey }, { type: 'delete', key: globalKey });
    } else {
      ops.push({ type: 'put', key: unitKey, value: encodeRecord(change.record) });
      if (change.body !== undefined) {
        ops.push({ type: 'put', key: this.keys.unitFile(change.record.hash), value: change.body });
      }
      ops.push(
        change.global
          ? { type: 'put', key: globalKey, value: entryOf(change.record) }
          : { type: 'delete', key: globalKey },
      );
    }
    if (machineID !== null) {
      const scheduleKey = this.keys.scheduleEntry(machineID, name);
      const keepsPlacement =
        change !== null && !change.global && change.record.desiredState !== 'inactive';
      if (keepsPlacement) {
        ops.push({ type: 'put', key: scheduleKey, value: entryOf(change.record) });
      } else {
        ops.push(
          { type: 'delete', key: this.keys.placement(name) },
          { type: 'delete', key: scheduleKey },
        );
      }
    }
    return ops;
  }
}

function entryOf(record: UnitRecord): string {
  return encodeRecord({ hash: record.hash, desiredState: record.desiredState });
}

function revisionOf(kv: MemoryKeyValue | null): bigint {
  return kv?.modRevision ?? 0n;
}
