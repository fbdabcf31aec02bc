import type { RegistryKeys } from '../keys.js';
import type { BadRecordHandler, LeaderFence, Revision } from '../model.js';
import type { RolloutRecords } from '../ports.js';
import type { RolloutRecord } from '../records.js';
import {
  createRolloutTxn,
  decodeHealth,
  decodeRollouts,
  type PinWrite,
  type StoredHealth,
  type StoredRollout,
  updateRolloutTxn,
} from '../rollout-ops.js';
import type { MemoryStore } from './store.js';

/** `EtcdRolloutRecords` on the in-memory store. */
export class MemoryRolloutRecords implements RolloutRecords {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  async list(): Promise<StoredRollout[]> {
    return this.decode(this.store.range(this.keys.rolloutsPrefix).kvs);
  }

  async health(): Promise<StoredHealth[]> {
    return decodeHealth(
      this.keys,
      this.store.range(this.keys.rolloutHealthPrefix).kvs,
      this.onBadRecord,
    );
  }

  async get(id: string): Promise<StoredRollout | null> {
    const kv = this.store.get(this.keys.rollout(id));
    return kv === null ? null : (this.decode([kv])[0] ?? null);
  }

  async create(record: RolloutRecord, pins: readonly PinWrite[]): Promise<boolean> {
    return this.commit(createRolloutTxn(this.keys, record, pins));
  }

  async update(
    modRevision: Revision,
    record: RolloutRecord,
    pins: readonly PinWrite[],
    fence: LeaderFence | null,
  ): Promise<boolean> {
    return this.commit(updateRolloutTxn(this.keys, modRevision, record, pins, fence));
  }

  private decode(kvs: ReadonlyArray<{ key: string; value: string; modRevision: bigint }>) {
    const keyed = kvs.map((kv) => ({ ...kv, modRevision: kv.modRevision.toString() }));
    return decodeRollouts(this.keys, keyed, this.onBadRecord);
  }

  private commit({ guards, ops }: ReturnType<typeof createRolloutTxn>): boolean {
    const result = this.store.txn({
      compare: guards.map((guard) => ({ ...guard, op: '==' as const })),
      success: ops,
    });
    return result.succeeded;
  }
}
