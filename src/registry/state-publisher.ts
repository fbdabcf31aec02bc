import type { Etcd3 } from 'etcd3';
import type { RegistryKeys } from './keys.js';
import { MAX_OPERATIONS_PER_TXN } from './limits.js';
import type { StateUpdate } from './model.js';
import type { PresenceLease, StatePublications } from './ports.js';
import { encodeRecord } from './records.js';
import { commitAll } from './txn.js';

/**
 * Publishes this machine's unit states under its lease: they need no refreshing while the
 * machine lives, and vanish with it when it dies.
 */
export class StatePublisher implements StatePublications {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly session: PresenceLease,
  ) {}

  async publish(updates: readonly StateUpdate[]): Promise<void> {
    for (let start = 0; start < updates.length; start += MAX_OPERATIONS_PER_TXN) {
      const batch = updates.slice(start, start + MAX_OPERATIONS_PER_TXN);
      await commitAll(
        this.etcd,
        batch.map(({ name, state }) => {
          const key = this.keys.unitState(name, this.session.machineID);
          return state === null
            ? this.etcd.delete().key(key)
            : this.etcd.put(key).value(encodeRecord(state)).lease(this.session.leaseID);
        }),
      );
    }
  }
}
