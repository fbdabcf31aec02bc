import type { RegistryKeys } from '../keys.js';
import type { StateUpdate } from '../model.js';
import type { PresenceLease, RolloutHealth, StatePublications } from '../ports.js';
import { healthReportOp } from '../rollout-ops.js';
import { stateUpdateTxns } from '../txn-ops.js';
import type { MemoryStore } from './store.js';

/** `EtcdStatePublications` on the in-memory store. */
export class MemoryStatePublications implements StatePublications {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    private readonly lease: PresenceLease,
  ) {}

  async publish(updates: readonly StateUpdate[]): Promise<void> {
    for (const ops of stateUpdateTxns(this.keys, this.lease, updates)) {
      this.store.txn({ compare: [], success: ops });
    }
  }

  async publishHealth(unit: string, report: RolloutHealth | null): Promise<void> {
    const op = healthReportOp(this.keys, this.lease, unit, report);
    this.store.txn({ compare: [], success: [op] });
  }
}
