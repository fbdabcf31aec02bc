import type { Etcd3 } from 'etcd3';
import { CORDONED, decodeCordons, drainStarted } from './cordon-ops.js';
import { calledOffBy } from './etcd-client.js';
import type { RegistryKeys } from './keys.js';
import type { BadRecordHandler, StoredCordon } from './model.js';
import { DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { MachineCordons, WriteOptions } from './ports.js';
import { encodeRecord } from './records.js';
import { guardedTxn } from './txn.js';

/** Cordons and drains on etcd: one key per cordoned machine, under no lease. */
export class EtcdMachineCordons implements MachineCordons {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly onBadRecord: BadRecordHandler,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
  ) {}

  async list(): Promise<Map<string, StoredCordon>> {
    const { kvs } = await readPrefix(this.etcd, this.keys.cordonsPrefix, {
      pageSize: this.pageSize,
    });
    const keyed = kvs.map((kv) => ({
      key: kv.key.toString(),
      value: kv.value.toString(),
      modRevision: kv.mod_revision,
    }));
    return decodeCordons(this.keys, keyed, this.onBadRecord);
  }

  async cordon(machineID: string, { signal }: WriteOptions = {}): Promise<void> {
    const key = this.keys.cordon(machineID);
    await calledOffBy(signal, () =>
      guardedTxn(this.etcd, [{ key, target: 'create', revision: '0' }])
        .then(this.etcd.put(key).value(encodeRecord(CORDONED)))
        .commit(),
    );
  }

  async drain(
    machineID: string,
    maxParallel: number,
    { signal }: WriteOptions = {},
  ): Promise<void> {
    const key = this.keys.cordon(machineID);
    await calledOffBy(signal, () =>
      this.etcd
        .put(key)
        .value(encodeRecord(drainStarted(maxParallel)))
        .exec(),
    );
  }

  async uncordon(machineID: string, { signal }: WriteOptions = {}): Promise<boolean> {
    const key = this.keys.cordon(machineID);
    const { deleted } = await calledOffBy(signal, () => this.etcd.delete().key(key).exec());
    return Number(deleted) > 0;
  }
}
