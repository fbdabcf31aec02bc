import type { Etcd3 } from 'etcd3';
import { fenceRevision } from './fence.js';
import type { RegistryKeys } from './keys.js';
import type { AppliedChanges, LeaderFence, ScheduleChange } from './model.js';
import type { FencedScheduleWrites } from './ports.js';
import { applyInBatches, type BatchOutcome } from './schedule-batches.js';
import { etcdOps, guardedTxn } from './txn.js';
import { scheduleBatchTxn } from './txn-ops.js';

/**
 * Batches committed at once. A pass over a backlog (a new leader, a burst of submissions)
 * writes hundreds of batches; one at a time, their round trips would add up to seconds.
 */
const MAX_BATCHES_IN_FLIGHT = 8;

/**
 * Writes the engine's schedule: a unit's placement and its machine's schedule entry,
 * together. Each change commits only if this engine still leads and the unit and its
 * placement are still as the decision saw them, so neither a deposed leader nor a stale
 * view can schedule a unit that was changed or destroyed meanwhile.
 */
export class EtcdFencedScheduleWrites implements FencedScheduleWrites {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  /** Applies the changes, batched, several batches in flight (see `applyInBatches`). */
  apply(fence: LeaderFence, changes: readonly ScheduleChange[]): Promise<AppliedChanges> {
    return applyInBatches(changes, (batch) => this.commit(fence, batch), MAX_BATCHES_IN_FLIGHT);
  }

  private async commit(
    fence: LeaderFence,
    batch: readonly ScheduleChange[],
  ): Promise<BatchOutcome> {
    const leaderKeyName = this.keys.engineLeader;
    const createRevision = fenceRevision(fence);
    const { guards, ops } = scheduleBatchTxn(this.keys, fence, batch);
    // A failed commit reads the leader key back: a lost fence fails every later commit too.
    const result = await guardedTxn(this.etcd, guards)
      .then(...etcdOps(this.etcd, ops))
      .else(this.etcd.get(leaderKeyName))
      .commit();
    if (result.succeeded) return { type: 'committed', revision: BigInt(result.header.revision) };
    const leaderKey = result.responses[0]?.response_range?.kvs?.[0];
    return leaderKey?.create_revision === createRevision
      ? { type: 'conflict' }
      : { type: 'deposed' };
  }
}
