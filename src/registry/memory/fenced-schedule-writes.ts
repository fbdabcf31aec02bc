import { fenceRevision } from '../fence.js';
import type { RegistryKeys } from '../keys.js';
import type { AppliedChanges, LeaderFence, ScheduleChange } from '../model.js';
import type { FencedScheduleWrites } from '../ports.js';
import { applyInBatches, type BatchOutcome } from '../schedule-batches.js';
import { scheduleBatchTxn } from '../txn-ops.js';
import type { MemoryStore } from './store.js';

/**
 * `EtcdFencedScheduleWrites` on the in-memory store: the same fence and guards, the same
 * batches and fallback to one change at a time, committed one batch after another.
 */
export class MemoryFencedScheduleWrites implements FencedScheduleWrites {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  apply(fence: LeaderFence, changes: readonly ScheduleChange[]): Promise<AppliedChanges> {
    return applyInBatches(changes, (batch) => this.commit(fence, batch), 1);
  }

  private commit(fence: LeaderFence, batch: readonly ScheduleChange[]): BatchOutcome {
    const leaderKey = this.keys.engineLeader;
    const createRevision = fenceRevision(fence);
    const { guards, ops } = scheduleBatchTxn(this.keys, fence, batch);
    const result = this.store.txn({
      compare: guards.map((guard) => ({ ...guard, op: '==' as const })),
      success: ops,
      failure: [{ type: 'get', key: leaderKey }],
    });
    if (result.succeeded) return { type: 'committed', revision: result.revision };
    const held = result.reads.get(0) ?? null;
    return held?.createRevision.toString() === createRevision
      ? { type: 'conflict' }
      : { type: 'deposed' };
  }
}
