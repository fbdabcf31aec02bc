import { drainProgressTxn } from '../cordon-ops.js';
import type { RegistryKeys } from '../keys.js';
import type { LeaderFence, Revision } from '../model.js';
import type { DrainProgress, DrainRecord } from '../ports.js';
import type { MemoryStore } from './store.js';

/** `EtcdDrainProgress` on the in-memory store. */
export class MemoryDrainProgress implements DrainProgress {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  async record(
    fence: LeaderFence,
    machineID: string,
    modRevision: Revision,
    drain: DrainRecord,
  ): Promise<boolean> {
    const { guards, ops } = drainProgressTxn(this.keys, fence, machineID, modRevision, drain);
    const result = this.store.txn({
      compare: guards.map((guard) => ({ ...guard, op: '==' as const })),
      success: ops,
    });
    return result.succeeded;
  }
}
