import type { Etcd3 } from 'etcd3';
import type { RegistryKeys } from './keys.js';
import { type FoundLeaderKey, LeadershipBase } from './leadership-base.js';
import type { Revision } from './model.js';
import type { PresenceLease } from './ports.js';

/** Engine leadership on etcd (see `LeadershipBase`). */
export class EtcdLeadership extends LeadershipBase {
  constructor(
    private readonly etcd: Etcd3,
    keys: RegistryKeys,
    session: PresenceLease,
  ) {
    super(keys.engineLeader, session);
  }

  protected async create(
    value: string,
  ): Promise<{ created: Revision } | { found: FoundLeaderKey | null }> {
    const key = this.leaderKey;
    const result = await this.etcd
      .if(key, 'Create', '==', 0)
      .then(this.etcd.put(key).value(value).lease(this.lease.leaseID))
      .else(this.etcd.get(key))
      .commit();
    if (result.succeeded) return { created: result.header.revision };
    const kv = result.responses[0]?.response_range?.kvs?.[0];
    return {
      found:
        kv === undefined
          ? null
          : { value: kv.value.toString(), lease: kv.lease, createRevision: kv.create_revision },
    };
  }

  protected async deleteIfCreatedAt(createRevision: Revision): Promise<void> {
    const key = this.leaderKey;
    await this.etcd
      .if(key, 'Create', '==', createRevision)
      .then(this.etcd.delete().key(key))
      .commit();
  }
}
