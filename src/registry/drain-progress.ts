import type { Etcd3 } from 'etcd3';
import { drainProgressTxn } from './cordon-ops.js';
import type { RegistryKeys } from './keys.js';
import type { LeaderFence, Revision } from './model.js';
import type { DrainProgress, DrainRecord } from './ports.js';
import { etcdOps, guardedTxn } from './txn.js';

/** The engine's drain progress on etcd, fenced like its schedule writes. */
export class EtcdDrainProgress implements DrainProgress {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  async record(
    fence: LeaderFence,
    machineID: string,
    modRevision: Revision,
    drain: DrainRecord,
  ): Promise<boolean> {
    const { guards, ops } = drainProgressTxn(this.keys, fence, machineID, modRevision, drain);
    const result = await guardedTxn(this.etcd, guards)
      .then(...etcdOps(this.etcd, ops))
      .commit();
    return result.succeeded;
  }
}
