import type { Etcd3 } from 'etcd3';
import type { RegistryKeys } from './keys.js';
import type { MachineSession } from './machine-session.js';
import type { StatePublications } from './ports.js';
import { encodeRecord, type UnitStateRecord } from './records.js';
import { commitAll, MAX_OPERATIONS_PER_TXN } from './txn.js';

/** A state to publish for a unit, or null to withdraw the unit's state. */
export interface StateUpdate {
  name: string;
  state: UnitStateRecord | null;
}

/**
 * Publishes this machine's unit states under its lease: they need no refreshing while the
 * machine lives, and vanish with it when it dies.
 */
export class StatePublisher implements StatePublications {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly session: MachineSession,
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
