import type { Etcd3 } from 'etcd3';
import { fenceRevision, leaderFence } from './fence.js';
import type { RegistryKeys } from './keys.js';
import type { Leader, LeaderFence, Revision } from './model.js';
import type { Leadership, PresenceLease } from './ports.js';
import { decodeRecord, encodeRecord, leaderRecordSchema } from './records.js';

/**
 * Engine leadership on etcd: one key, created only if absent, held by the leader machine's
 * lease, so it goes away when that machine does. Its fence is the key's create revision: a
 * write commits only while the key is still the one this engine created (etcd's own
 * election fences the same way).
 */
export class EngineLeadership implements Leadership {
  private held: { leader: Leader; createRevision: Revision } | null = null;

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly session: PresenceLease,
  ) {}

  /** The fence of this engine's leadership, or null while it does not lead. */
  get fence(): LeaderFence | null {
    return this.held === null ? null : leaderFence(this.held.createRevision);
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
      this.held = {
        leader: { machineID: this.session.machineID },
        createRevision: result.header.revision,
      };
      return this.held.leader;
    }
    const kv = result.responses[0]?.response_range?.kvs?.[0];
    if (kv === undefined) {
      this.held = null;
      return null;
    }
    const leader = {
      machineID: decodeRecord(leaderRecordSchema, key, kv.value.toString()).machineID,
    };
    // Our own key, still on our lease (a campaign after a component restart), is ours to keep.
    this.held =
      kv.lease === this.session.leaseID ? { leader, createRevision: kv.create_revision } : null;
    return leader;
  }

  /** Gives up leadership if held, so another engine need not wait for the lease to expire. */
  async resign(): Promise<void> {
    const fence = this.fence;
    this.held = null;
    if (fence === null) return;
    const key = this.keys.engineLeader;
    await this.etcd
      .if(key, 'Create', '==', fenceRevision(fence))
      .then(this.etcd.delete().key(key))
      .commit();
  }

  /** Forgets leadership after a fenced write failed; the next campaign finds out who leads. */
  lose(): void {
    this.held = null;
  }
}
