import { fenceRevision, leaderFence } from './fence.js';
import type { Leader, LeaderFence, Revision } from './model.js';
import type { Leadership, PresenceLease } from './ports.js';
import { decodeRecord, encodeRecord, leaderRecordSchema } from './records.js';

/** The leader key as a lost campaign found it. */
export interface FoundLeaderKey {
  value: string;
  lease: string;
  createRevision: Revision;
}

/**
 * `Leadership` on either store: one key, created only if absent, held by the leader
 * machine's lease, so it goes away when that machine does. Its fence is the key's create
 * revision: a write commits only while the key is still the one this engine created (etcd's
 * own election fences the same way). A store supplies the two transactions.
 */
export abstract class LeadershipBase implements Leadership {
  private held: { leader: Leader; createRevision: Revision } | null = null;

  constructor(
    protected readonly leaderKey: string,
    protected readonly lease: PresenceLease,
  ) {}

  /** The fence of this engine's leadership, or null while it does not lead. */
  get fence(): LeaderFence | null {
    return this.held === null ? null : leaderFence(this.held.createRevision);
  }

  /** Claims leadership if nobody holds it; returns whoever leads afterwards, or null. */
  async campaign(): Promise<Leader | null> {
    const outcome = await this.create(encodeRecord({ machineID: this.lease.machineID }));
    if ('created' in outcome) {
      this.held = { leader: { machineID: this.lease.machineID }, createRevision: outcome.created };
      return this.held.leader;
    }
    const kv = outcome.found;
    if (kv === null) {
      this.held = null;
      return null;
    }
    const leader = {
      machineID: decodeRecord(leaderRecordSchema, this.leaderKey, kv.value).machineID,
    };
    // Our own key, still on our lease (a campaign after a component restart), is ours to keep.
    this.held =
      kv.lease === this.lease.leaseID ? { leader, createRevision: kv.createRevision } : null;
    return leader;
  }

  /** Gives up leadership if held, so another engine need not wait for the lease to expire. */
  async resign(): Promise<void> {
    const fence = this.fence;
    this.held = null;
    if (fence !== null) await this.deleteIfCreatedAt(fenceRevision(fence));
  }

  /** Forgets leadership after a fenced write failed; the next campaign finds out who leads. */
  lose(): void {
    this.held = null;
  }

  /**
   * Creates the leader key with `value` under the lease unless it exists: the revision of
   * the creation, or the key as found.
   */
  protected abstract create(
    value: string,
  ): Promise<{ created: Revision } | { found: FoundLeaderKey | null }>;

  /** Deletes the leader key if it is still the one created at `createRevision`. */
  protected abstract deleteIfCreatedAt(createRevision: Revision): Promise<void>;
}
