import { fenceRevision } from '../fence.js';
import type { RegistryKeys } from '../keys.js';
import { MAX_CHANGES_PER_TXN } from '../limits.js';
import type { AppliedChanges, LeaderFence, ScheduleChange } from '../model.js';
import type { FencedScheduleWrites } from '../ports.js';
import { encodeRecord } from '../records.js';
import type { Compare, MemoryStore, TxnOp } from './store.js';

type Outcome = { type: 'committed'; revision: bigint } | { type: 'conflict' } | { type: 'deposed' };

/**
 * `ScheduleWriter` on the in-memory store: the same fence and guards, the same batches and
 * fallback to one change at a time, committed one batch after another.
 */
export class MemoryScheduleWriter implements FencedScheduleWrites {
  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  async apply(fence: LeaderFence, changes: readonly ScheduleChange[]): Promise<AppliedChanges> {
    const applied: ScheduleChange[] = [];
    let revision = 0n;
    let deposed = false;
    const commit = (batch: readonly ScheduleChange[]): boolean => {
      const outcome = this.commit(fence, batch);
      if (outcome.type === 'deposed') deposed = true;
      if (outcome.type !== 'committed') return false;
      applied.push(...batch);
      revision = outcome.revision;
      return true;
    };
    for (let start = 0; start < changes.length && !deposed; start += MAX_CHANGES_PER_TXN) {
      const batch = changes.slice(start, start + MAX_CHANGES_PER_TXN);
      if (commit(batch) || batch.length === 1) continue;
      for (const change of batch) {
        if (deposed) break;
        commit([change]);
      }
    }
    return { applied, revision: revision === 0n ? null : revision.toString(), deposed };
  }

  private commit(fence: LeaderFence, batch: readonly ScheduleChange[]): Outcome {
    const leaderKey = this.keys.engineLeader;
    const createRevision = fenceRevision(fence);
    const compare: Compare[] = [
      { key: leaderKey, target: 'create', op: '==', revision: createRevision },
    ];
    const ops: TxnOp[] = [];
    for (const change of batch) {
      const placementKey = this.keys.placement(change.unitName);
      const scheduleKey = this.keys.scheduleEntry(change.machineID, change.unitName);
      compare.push({
        key: placementKey,
        target: 'mod',
        op: '==',
        revision: change.placementModRevision,
      });
      if (change.type === 'schedule') {
        compare.push({
          key: this.keys.unit(change.unitName),
          target: 'mod',
          op: '==',
          revision: change.unitModRevision,
        });
        ops.push(
          { type: 'put', key: placementKey, value: change.machineID },
          { type: 'put', key: scheduleKey, value: encodeRecord(change.entry) },
        );
        if (change.fromMachineID !== null) {
          ops.push({
            type: 'delete',
            key: this.keys.scheduleEntry(change.fromMachineID, change.unitName),
          });
        }
      } else {
        ops.push({ type: 'delete', key: placementKey }, { type: 'delete', key: scheduleKey });
      }
    }
    const result = this.store.txn({
      compare,
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
