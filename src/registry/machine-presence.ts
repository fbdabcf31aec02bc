import type { Etcd3, Lease } from 'etcd3';
import type { RegistryKeys } from './keys.js';
import { MachineConflictError } from './model.js';
import type { MachinePresence, PresenceLease } from './ports.js';
import { decodeRecord, encodeRecord, type MachineRecord, machineRecordSchema } from './records.js';

/**
 * One machine's lease and presence. Everything a machine publishes (its presence record,
 * its unit states, engine leadership) hangs on this one lease, so it all vanishes together
 * when the machine stops renewing it, and renewing is one stream per machine however
 * many units it runs.
 */
export class EtcdPresenceLease implements PresenceLease {
  /** When etcd last answered that it renewed the lease (performance.now()). */
  private renewedAt = performance.now();

  private constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly lease: Lease,
    readonly leaseID: string,
    /** What etcd granted: it silently raises TTLs below its minimum. */
    readonly grantedTtlSeconds: number,
    private record: MachineRecord,
  ) {
    // Every keepalive answer renewed the lease; one that found it gone is a 'lost' instead.
    lease.on('keepaliveSucceeded', () => {
      this.renewedAt = performance.now();
    });
  }

  get machineID(): string {
    return this.record.id;
  }

  /**
   * Grants the lease and registers the machine. A presence record left by the same fleetd
   * session (a crash and restart within the TTL) is taken over at once; one from another
   * session means another host has this machine ID, and is refused.
   */
  static async open(
    etcd: Etcd3,
    keys: RegistryKeys,
    record: MachineRecord,
    ttlMs: number,
  ): Promise<EtcdPresenceLease> {
    const lease = etcd.lease(Math.max(1, Math.ceil(ttlMs / 1000)), { autoKeepAlive: true });
    // A lease whose grant failed must not throw an unhandled 'lost' later.
    lease.on('lost', () => undefined);
    try {
      const leaseID = await lease.grant();
      const granted = await etcd.leaseClient.leaseTimeToLive({ ID: leaseID });
      const session = new EtcdPresenceLease(
        etcd,
        keys,
        lease,
        leaseID,
        Number(granted.grantedTTL),
        record,
      );
      await session.register();
      return session;
    } catch (err) {
      await lease.revoke().catch(() => undefined);
      throw err;
    }
  }

  private async register(): Promise<void> {
    const key = this.keys.machine(this.record.id);
    const value = encodeRecord(this.record);
    const created = await this.etcd
      .if(key, 'Create', '==', 0)
      .then(this.etcd.put(key).value(value).lease(this.leaseID))
      .else(this.etcd.get(key))
      .commit();
    if (created.succeeded) return;

    const existing = created.responses[0]?.response_range?.kvs?.[0];
    if (existing === undefined) return this.register();
    const holder = decodeRecord(machineRecordSchema, key, existing.value.toString());
    if (holder.sessionToken !== this.record.sessionToken) {
      throw new MachineConflictError(
        `machine ID ${this.record.id} is already registered by another fleetd (public IP ${holder.publicIP || 'unknown'}); each host needs its own /etc/machine-id`,
      );
    }
    const takenOver = await this.etcd
      .if(key, 'Mod', '==', existing.mod_revision)
      .then(this.etcd.put(key).value(value).lease(this.leaseID))
      .commit();
    if (!takenOver.succeeded) return this.register();
  }

  /** Rewrites the presence record, e.g. after the public IP or configured metadata changed. */
  async update(record: MachineRecord): Promise<void> {
    this.record = record;
    await this.etcd
      .put(this.keys.machine(record.id))
      .value(encodeRecord(record))
      .lease(this.leaseID);
  }

  /**
   * Whether etcd still holds the lease (what the monitor checks). etcd answers -1 for a lease
   * it no longer holds, and rounds a live lease's remaining time down to whole seconds, so 0
   * is a live lease in its last second.
   */
  async isAlive(): Promise<boolean> {
    const response = await this.etcd.leaseClient.leaseTimeToLive({ ID: this.leaseID });
    return Number(response.TTL) >= 0;
  }

  /**
   * Whether etcd answered a keepalive within the last `ms`. Keepalives travel on their own
   * stream, so they can get through while unary calls (the heartbeat among them) time out:
   * a lease renewed within its TTL is still alive, whatever the heartbeat says.
   */
  renewedWithin(ms: number): boolean {
    return performance.now() - this.renewedAt < ms;
  }

  /** Called when etcd reports the lease gone: everything published under it is gone too. */
  onLost(handler: (err: Error) => void): void {
    this.lease.on('lost', handler);
  }

  /** Deletes the presence record and everything else under the lease. */
  async close(): Promise<void> {
    await this.lease.revoke();
  }

  /** Stops renewing without deleting anything, as a crashed fleetd would. */
  abandon(): void {
    this.lease.release();
  }
}

/** Registers machines on etcd, each with an `EtcdPresenceLease`. */
export class EtcdMachinePresence implements MachinePresence {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  open(record: MachineRecord, ttlMs: number): Promise<EtcdPresenceLease> {
    return EtcdPresenceLease.open(this.etcd, this.keys, record, ttlMs);
  }
}
