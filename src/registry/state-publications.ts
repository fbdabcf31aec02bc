import type { Etcd3 } from 'etcd3';
import type { RegistryKeys } from './keys.js';
import type { StateUpdate } from './model.js';
import type { PresenceLease, RolloutHealth, StatePublications } from './ports.js';
import { healthReportOp } from './rollout-ops.js';
import { commitAll, etcdOps } from './txn.js';
import { stateUpdateTxns } from './txn-ops.js';

/**
 * Publishes this machine's unit states under its lease: they need no refreshing while the
 * machine lives, and vanish with it when it dies.
 */
export class EtcdStatePublications implements StatePublications {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly session: PresenceLease,
  ) {}

  async publish(updates: readonly StateUpdate[]): Promise<void> {
    for (const ops of stateUpdateTxns(this.keys, this.session, updates)) {
      await commitAll(this.etcd, etcdOps(this.etcd, ops));
    }
  }

  async publishHealth(unit: string, report: RolloutHealth | null): Promise<void> {
    const op = healthReportOp(this.keys, this.session, unit, report);
    await commitAll(this.etcd, etcdOps(this.etcd, [op]));
  }
}
