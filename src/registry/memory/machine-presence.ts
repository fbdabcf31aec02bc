import type { RegistryKeys } from '../keys.js';
import { MachineConflictError } from '../model.js';
import type { MachinePresence, MachineRecord, PresenceLease } from '../ports.js';
import { decodeRecord, encodeRecord, machineRecordSchema } from '../records.js';
import type { MemoryStore } from './store.js';

/** `EtcdPresenceLease` on the in-memory store; its lease renews on the store's clock. */
export class MemoryPresenceLease implements PresenceLease {
  private closed = false;
  private readonly lost: Array<(err: Error) => void> = [];

  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
    readonly leaseID: string,
    readonly grantedTtlSeconds: number,
    private record: MachineRecord,
  ) {
    store.onLeaseGone(leaseID, () => {
      if (this.closed) return;
      const err = new Error(`lease ${leaseID} is gone`);
      for (const handler of this.lost) handler(err);
    });
  }

  get machineID(): string {
    return this.record.id;
  }

  async update(record: MachineRecord): Promise<void> {
    this.record = record;
    this.store.txn({
      compare: [],
      success: [
        {
          type: 'put',
          key: this.keys.machine(record.id),
          value: encodeRecord(record),
          lease: this.leaseID,
        },
      ],
    });
  }

  async isAlive(): Promise<boolean> {
    return this.store.timeToLive(this.leaseID) >= 0;
  }

  renewedWithin(ms: number): boolean {
    const renewedAt = this.store.renewedAt(this.leaseID);
    return renewedAt !== null && this.store.clock.now() - renewedAt < ms;
  }

  onLost(handler: (err: Error) => void): void {
    this.lost.push(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.store.timeToLive(this.leaseID) >= 0) this.store.revoke(this.leaseID);
  }

  /** As etcd3's released lease: no renewal, and no word of its expiry. */
  abandon(): void {
    this.closed = true;
    this.store.release(this.leaseID);
  }

  /** Creates the presence record, taking over one of the same session; see `EtcdPresenceLease`. */
  async register(): Promise<void> {
    const key = this.keys.machine(this.record.id);
    const put = {
      type: 'put' as const,
      key,
      value: encodeRecord(this.record),
      lease: this.leaseID,
    };
    for (;;) {
      const created = this.store.txn({
        compare: [{ key, target: 'create', op: '==', revision: 0 }],
        success: [put],
        failure: [{ type: 'get', key }],
      });
      if (created.succeeded) return;
      const existing = created.reads.get(0);
      if (existing === null || existing === undefined) continue;
      const holder = decodeRecord(machineRecordSchema, key, existing.value);
      if (holder.sessionToken !== this.record.sessionToken) {
        throw new MachineConflictError(
          `machine ID ${this.record.id} is already registered by another fleetd (public IP ${holder.publicIP || 'unknown'}); each host needs its own /etc/machine-id`,
        );
      }
      const takenOver = this.store.txn({
        compare: [{ key, target: 'mod', op: '==', revision: existing.modRevision }],
        success: [put],
      });
      if (takenOver.succeeded) return;
    }
  }
}

/** `EtcdMachinePresence` on the in-memory store. */
export class MemoryMachinePresence implements MachinePresence {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  async open(record: MachineRecord, ttlMs: number): Promise<MemoryPresenceLease> {
    const lease = this.store.grant(Math.max(1, Math.ceil(ttlMs / 1000)));
    const session = new MemoryPresenceLease(
      this.store,
      this.keys,
      lease.id,
      lease.ttlSeconds,
      record,
    );
    try {
      await session.register();
      return session;
    } catch (err) {
      await session.close();
      throw err;
    }
  }
}
