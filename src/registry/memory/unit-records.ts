import type { RegistryKeys } from '../keys.js';
import { type BadRecordHandler, RegistryConflictError, type StoredUnit } from '../model.js';
import type { WriteOptions } from '../ports.js';
import { decodeRecord, unitRecordSchema } from '../records.js';
import { unitWriteOps } from '../txn-ops.js';
import {
  MAX_WRITE_ATTEMPTS,
  type NextWrite,
  UNCHANGED,
  UnitRecordsBase,
} from '../unit-records-base.js';
import type { MemoryKeyValue, MemoryStore } from './store.js';
import type { MemoryUnitBodies } from './unit-bodies.js';

/**
 * `EtcdUnitRecords` on the in-memory store: every write reads the unit and its placement and
 * commits only if neither changed meanwhile, rewriting the schedule entry in the same
 * transaction. (The etcd store guesses the keys from its last write to save a read; the
 * outcome is the same.)
 */
export class MemoryUnitRecords extends UnitRecordsBase {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    bodies: MemoryUnitBodies,
    onBadRecord: BadRecordHandler,
  ) {
    super(bodies, onBadRecord);
  }

  async get(name: string): Promise<StoredUnit | null> {
    const key = this.keys.unit(name);
    const kv = this.store.get(key);
    return kv === null ? null : this.usable(key, kv.value);
  }

  /** Every usable unit, sorted by name; the others are reported and left out. */
  async list(): Promise<StoredUnit[]> {
    return this.usableUnits(this.store.range(this.keys.unitsPrefix).kvs);
  }

  protected async write(name: string, next: NextWrite, { signal }: WriteOptions): Promise<void> {
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
        success: unitWriteOps(this.keys, name, change, placement?.value ?? null),
      });
      if (succeeded) return;
    }
    throw new RegistryConflictError(
      `unit ${name} kept changing under concurrent writers; gave up after ${MAX_WRITE_ATTEMPTS} attempts`,
    );
  }
}

function revisionOf(kv: MemoryKeyValue | null): bigint {
  return kv?.modRevision ?? 0n;
}
