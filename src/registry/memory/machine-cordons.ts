import { CORDONED, decodeCordons, drainStarted } from '../cordon-ops.js';
import type { RegistryKeys } from '../keys.js';
import type { BadRecordHandler, StoredCordon } from '../model.js';
import type { MachineCordons, WriteOptions } from '../ports.js';
import { encodeRecord } from '../records.js';
import type { MemoryStore } from './store.js';

/** `EtcdMachineCordons` on the in-memory store. */
export class MemoryMachineCordons implements MachineCordons {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
  ) {}

  async list(): Promise<Map<string, StoredCordon>> {
    const { kvs } = this.store.range(this.keys.cordonsPrefix);
    const keyed = kvs.map((kv) => ({ ...kv, modRevision: kv.modRevision.toString() }));
    return decodeCordons(this.keys, keyed, this.onBadRecord);
  }

  async cordon(machineID: string, { signal }: WriteOptions = {}): Promise<void> {
    signal?.throwIfAborted();
    const key = this.keys.cordon(machineID);
    this.store.txn({
      compare: [{ key, target: 'create', op: '==', revision: 0n }],
      success: [{ type: 'put', key, value: encodeRecord(CORDONED) }],
    });
  }

  async drain(
    machineID: string,
    maxParallel: number,
    { signal }: WriteOptions = {},
  ): Promise<void> {
    signal?.throwIfAborted();
    const key = this.keys.cordon(machineID);
    this.store.txn({
      compare: [],
      success: [{ type: 'put', key, value: encodeRecord(drainStarted(maxParallel)) }],
    });
  }

  async uncordon(machineID: string, { signal }: WriteOptions = {}): Promise<boolean> {
    signal?.throwIfAborted();
    const key = this.keys.cordon(machineID);
    if (this.store.get(key) === null) return false;
    this.store.txn({ compare: [], success: [{ type: 'delete', key }] });
    return true;
  }
}
