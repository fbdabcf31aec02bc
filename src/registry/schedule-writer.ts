import type { Etcd3 } from 'etcd3';
import { fenceRevision } from './fence.js';
import type { RegistryKeys } from './keys.js';
import { MAX_CHANGES_PER_TXN } from './limits.js';
import type { AppliedChanges, LeaderFence, ScheduleChange } from './model.js';
import type { FencedScheduleWrites } from './ports.js';
import { encodeRecord } from './records.js';
import type { Operation } from './txn.js';

/**
 * Batches committed at once. A pass over a backlog (a new leader, a burst of submissions)
 * writes hundreds of batches; one at a time, their round trips would add up to seconds.
 */
const MAX_BATCHES_IN_FLIGHT = 8;

type Outcome = { type: 'committed'; revision: bigint } | { type: 'conflict' } | { type: 'deposed' };

/**
 * Writes the engine's schedule: a unit's placement and its machine's schedule entry,
 * together. Each change commits only if this engine still leads and the unit and its
 * placement are still as the decision saw them, so neither a deposed leader nor a stale
 * view can schedule a unit that was changed or destroyed meanwhile.
 */
export class ScheduleWriter implements FencedScheduleWrites {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  /**
   * Applies the changes, batched. Returns those that committed and the revision of the
   * last commit (null when none did). A change left out lost a race with another writer, and
   * is decided again next pass, or was refused because this engine no longer leads.
   */
  async apply(fence: LeaderFence, changes: readonly ScheduleChange[]): Promise<AppliedChanges> {
    const applied: ScheduleChange[] = [];
    let revision = 0n;
    let deposed = false;
    const commit = async (batch: readonly ScheduleChange[]): Promise<boolean> => {
      const outcome = await this.commit(fence, batch);
      if (outcome.type === 'deposed') deposed = true;
      if (outcome.type !== 'committed') return false;
      applied.push(...batch);
      if (outcome.revision > revision) revision = outcome.revision;
      return true;
    };
    const batches: Array<readonly ScheduleChange[]> = [];
    for (let start = 0; start < changes.length; start += MAX_CHANGES_PER_TXN) {
      batches.push(changes.slice(start, start + MAX_CHANGES_PER_TXN));
    }
    // A change guards and writes only its own unit's keys, so batches are independent and
    // may commit in any order. A batch that lost a race is retried change by change, so
    // one stale unit does not hold back the others; once the fence fails, nothing is.
    let next = 0;
    const lane = async () => {
      for (let index = next++; index < batches.length && !deposed; index = next++) {
        const batch = batches[index]!;
        if ((await commit(batch)) || batch.length === 1) continue;
        for (const change of batch) {
          if (deposed) break;
          await commit([change]);
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(MAX_BATCHES_IN_FLIGHT, batches.length) }, lane),
    );
    return { applied, revision: revision === 0n ? null : revision.toString(), deposed };
  }

  private async commit(fence: LeaderFence, batch: readonly ScheduleChange[]): Promise<Outcome> {
    const leaderKeyName = this.keys.engineLeader;
    const createRevision = fenceRevision(fence);
    let txn = this.etcd.if(leaderKeyName, 'Create', '==', createRevision);
    const ops: Operation[] = [];
    for (const change of batch) {
      const placementKey = this.keys.placement(change.unitName);
      const scheduleKey = this.keys.scheduleEntry(change.machineID, change.unitName);
      txn = txn.and(placementKey, 'Mod', '==', change.placementModRevision);
      if (change.type === 'schedule') {
        txn = txn.and(this.keys.unit(change.unitName), 'Mod', '==', change.unitModRevision);
        ops.push(
          this.etcd.put(placementKey).value(change.machineID),
          this.etcd.put(scheduleKey).value(encodeRecord(change.entry)),
        );
        if (change.fromMachineID !== null) {
          ops.push(
            this.etcd.delete().key(this.keys.scheduleEntry(change.fromMachineID, change.unitName)),
          );
        }
      } else {
        ops.push(this.etcd.delete().key(placementKey), this.etcd.delete().key(scheduleKey));
      }
    }
    // A failed commit reads the leader key back: a lost fence fails every later commit too.
    const result = await txn
      .then(...ops)
      .else(this.etcd.get(leaderKeyName))
      .commit();
    if (result.succeeded) return { type: 'committed', revision: BigInt(result.header.revision) };
    const leaderKey = result.responses[0]?.response_range?.kvs?.[0];
    return leaderKey?.create_revision === createRevision
      ? { type: 'conflict' }
      : { type: 'deposed' };
  }
}
