import type { Etcd3 } from 'etcd3';
import type { RegistryKeys } from './keys.js';
import type { MachineSession } from './machine-session.js';
import type { Leadership } from './ports.js';
import { decodeRecord, encodeRecord, leaderRecordSchema } from './records.js';

/** The current leader, identified by the create revision of its leader key. */
export interface Leader {
  machineID: string;
  createRevision: string;
}

/**
 * Proof of leadership attached to every engine write: the write commits only while the
 * leader key is still the one this engine created. A deposed engine's writes fail instead
 * of racing its successor's (etcd's own election fences the same way).
 */
export interface LeaderFence {
  key: string;
  createRevision: string;
}

/**
 * Engine leadership on etcd: one key, created only if absent, held by the leader machine's
 * lease, so it goes away when that machine does.
 */
export class EngineLeadership implements Leadership {
  private held: Leader | null = null;

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly session: MachineSession,
  ) {}

  /** The fence of this engine's leadership, or null while it does not lead. */
  get fence(): LeaderFence | null {
    return this.held === null
      ? null
      : { key: this.keys.engineLeader, createRevision: this.held.createRevision };
  }

  /** Claims leadership if nobody holds it; returns whoever leads afterwards, or null. */
  async campaign(): Promise<Leader | null> {
    const key = this.keys.engineLeader;
    const result = await this.etcd
      .if(key, 'Create', '==', 0)
      .then(
        this.etcd
          .put(key)
          .value(encodeRecord({ machineID: this.session.machineID }))
          .lease(this.session.leaseID),
      )
      .else(this.etcd.get(key))
      .commit();
    if (result.succeeded) {
      this.held = { machineID: this.session.machineID, createRevision: result.header.revision };
      return this.held;
    }
    const kv = result.responses[0]?.response_range?.kvs?.[0];
    if (kv === undefined) {
      this.held = null;
      return null;
    }
    const leader = {
      machineID: decodeRecord(leaderRecordSchema, key, kv.value.toString()).machineID,
      createRevision: kv.create_revision,
    };
    // Our own key, still on our lease (a campaign after a component restart), is ours to keep.
    this.held = kv.lease === this.session.leaseID ? leader : null;
    return leader;
  }

  /** Gives up leadership if held, so another engine need not wait for the lease to expire. */
  async resign(): Promise<void> {
    const fence = this.fence;
    this.held = null;
    if (fence === null) return;
    await this.etcd
      .if(fence.key, 'Create', '==', fence.createRevision)
      .then(this.etcd.delete().key(fence.key))
      .commit();
  }

  /** Forgets leadership after a fenced write failed; the next campaign finds out who leads. */
  lose(): void {
    this.held = null;
  }
}
