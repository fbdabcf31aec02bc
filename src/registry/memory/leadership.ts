import type { RegistryKeys } from '../keys.js';
import { type FoundLeaderKey, LeadershipBase } from '../leadership-base.js';
import type { Revision } from '../model.js';
import type { PresenceLease } from '../ports.js';
import type { MemoryStore } from './store.js';

/** `EtcdLeadership` on the in-memory store. */
export class MemoryLeadership extends LeadershipBase {
  constructor(
    private readonly store: MemoryStore,
    keys: RegistryKeys,
    lease: PresenceLease,
  ) {
    super(keys.engineLeader, lease);
  }

  protected async create(
    value: string,
  ): Promise<{ created: Revision } | { found: FoundLeaderKey | null }> {
    const key = this.leaderKey;
    const result = this.store.txn({
      compare: [{ key, target: 'create', op: '==', revision: 0 }],
      success: [{ type: 'put', key, value, lease: this.lease.leaseID }],
      failure: [{ type: 'get', key }],
    });
    if (result.succeeded) return { created: result.revision.toString() };
    const kv = result.reads.get(0) ?? null;
    return {
      found:
        kv === null
          ? null
          : { value: kv.value, lease: kv.lease, createRevision: kv.createRevision.toString() },
    };
  }

  protected async deleteIfCreatedAt(createRevision: Revision): Promise<void> {
    const key = this.leaderKey;
    this.store.txn({
      compare: [{ key, target: 'create', op: '==', revision: createRevision }],
      success: [{ type: 'delete', key }],
    });
  }
}
