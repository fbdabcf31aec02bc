import type { Etcd3 } from 'etcd3';
import type { RegistryKeys } from './keys.js';
import type { BadRecordHandler, LeaderFence, Revision } from './model.js';
import { DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { RolloutRecords } from './ports.js';
import type { RolloutRecord } from './records.js';
import {
  createRolloutTxn,
  decodeHealth,
  decodeRollouts,
  type PinWrite,
  type StoredHealth,
  type StoredRollout,
  updateRolloutTxn,
} from './rollout-ops.js';
import { etcdOps, guardedTxn } from './txn.js';

/** Rollouts on etcd: one key per rollout and one per pin, under no lease. */
export class EtcdRolloutRecords implements RolloutRecords {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {}

  async list(): Promise<StoredRollout[]> {
    const { kvs } = await readPrefix(this.etcd, this.keys.rolloutsPrefix, {
      pageSize: this.pageSize,
    });
    const keyed = kvs.map((kv) => ({
      key: kv.key.toString(),
      value: kv.value.toString(),
      modRevision: kv.mod_revision,
    }));
    return decodeRollouts(this.keys, keyed, this.onBadRecord);
  }

  async health(): Promise<StoredHealth[]> {
    const { kvs } = await readPrefix(this.etcd, this.keys.rolloutHealthPrefix, {
      pageSize: this.pageSize,
    });
    const keyed = kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
    return decodeHealth(this.keys, keyed, this.onBadRecord);
  }

  async get(id: string): Promise<StoredRollout | null> {
    const key = this.keys.rollout(id);
    const { kvs } = await this.etcd.get(key).exec();
    const kv = kvs[0];
    if (kv === undefined) return null;
    const keyed = { key, value: kv.value.toString(), modRevision: kv.mod_revision };
    return decodeRollouts(this.keys, [keyed], this.onBadRecord)[0] ?? null;
  }

  create(record: RolloutRecord, pins: readonly PinWrite[]): Promise<boolean> {
    return this.commit(createRolloutTxn(this.keys, record, pins));
  }

  update(
    modRevision: Revision,
    record: RolloutRecord,
    pins: readonly PinWrite[],
    fence: LeaderFence | null,
  ): Promise<boolean> {
    return this.commit(updateRolloutTxn(this.keys, modRevision, record, pins, fence));
  }

  private async commit(txn: ReturnType<typeof createRolloutTxn>): Promise<boolean> {
    const result = await guardedTxn(this.etcd, txn.guards)
      .then(...etcdOps(this.etcd, txn.ops))
      .commit();
    return result.succeeded;
  }
}
