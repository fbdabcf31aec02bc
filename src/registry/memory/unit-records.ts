import type { RegistryKeys } from '../keys.js';
import { type BadRecordHandler, RegistryConflictError, type StoredUnit } from '../model.js';
import type { WriteOptions } from '../ports.js';
import { decodeRecord, unitRecordSchema } from '../records.js';
import { unitWriteOps } from '../txn-ops.js';
import type { UnitTxn } from '../unit-batch-txns.js';
import {
  type BatchTxnResult,
  MAX_WRITE_ATTEMPTS,
  type NextWrite,
  type SeenKey,
  type SeenUnit,
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
    keys: RegistryKeys,
    bodies: MemoryUnitBodies,
    onBadRecord: BadRecordHandler,
  ) {
    super(bodies, keys, onBadRecord);
  }

  /** No memory of its own writes: a batch guesses its units new, and guards catch the rest. */
  protected guessKeys(): SeenUnit | null {
    return null;
  }

  protected async readKeys(names: readonly string[], signal?: AbortSignal): Promise<SeenUnit[]> {
    signal?.throwIfAborted();
    return names.map((name) => ({
      unit: seenKey(this.store.get(this.keys.unit(name))),
      placement: seenKey(this.store.get(this.keys.placement(name))),
    }));
  }

  protected async commitTxn(txn: UnitTxn, signal?: AbortSignal): Promise<BatchTxnResult> {
    signal?.throwIfAborted();
    const result = this.store.txn({
      compare: txn.guards.map(({ key, target, revision }) => ({ key, target, op: '==', revision })),
      success: txn.ops,
      failure: txn.reads.map((key) => ({ type: 'get', key })),
    });
    return {
      succeeded: result.succeeded,
      revision: result.revision.toString(),
      reads: txn.reads.map((_, index) => seenKey(result.reads.get(index) ?? null)),
    };
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

function seenKey(kv: MemoryKeyValue | null): SeenKey | null {
  return kv === null ? null : { modRevision: kv.modRevision.toString(), value: kv.value };
}

function revisionOf(kv: MemoryKeyValue | null): bigint {
  return kv?.modRevision ?? 0n;
}
