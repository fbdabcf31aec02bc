import type { Etcd3 } from 'etcd3';
import type { LeaderFence } from './engine-leadership.js';
import type { RegistryKeys } from './keys.js';
import { encodeRecord, type ScheduleEntry } from './records.js';
import type { Operation } from './txn.js';

/** One schedule change by the engine, with the revisions its decision was based on. */
export type ScheduleChange =
  | {
      type: 'schedule';
      unitName: string;
      machineID: string;
      /** Where the unit was scheduled before, when this change moves it. */
      fromMachineID: string | null;
      entry: ScheduleEntry;
      /** Mod revision of the unit record the entry was derived from. */
      unitModRevision: string;
      /** Mod revision of the placement the decision saw (`'0'` when unscheduled). */
      placementModRevision: string;
    }
  | {
      type: 'unschedule';
      unitName: string;
      machineID: string;
      placementModRevision: string;
    };

export interface AppliedChanges {
  applied: ScheduleChange[];
  revision: bigint;
}

/** etcd's default cap on operations per transaction is 128; a change takes up to three. */
const MAX_CHANGES_PER_TXN = 40;

/**
 * Writes the engine's schedule: a unit's placement and its machine's schedule entry,
 * together. Each change commits only if this engine still leads and the unit and its
 * placement are still as the decision saw them, so neither a deposed leader nor a stale
 * view can schedule a unit that was changed or destroyed meanwhile.
 */
export class ScheduleWriter {
  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
  ) {}

  /**
   * Applies the changes, batched. Returns those that committed and the revision of the
   * last commit (0 when none did). A change left out lost a race with another writer or
   * with a leadership change, and is decided again next pass.
   */
  async apply(fence: LeaderFence, changes: readonly ScheduleChange[]): Promise<AppliedChanges> {
    const applied: ScheduleChange[] = [];
    let revision = 0n;
    const commit = async (batch: readonly ScheduleChange[]) => {
      const committedAt = await this.commit(fence, batch);
      if (committedAt === null) return false;
      applied.push(...batch);
      if (committedAt > revision) revision = committedAt;
      return true;
    };
    for (let start = 0; start < changes.length; start += MAX_CHANGES_PER_TXN) {
      const batch = changes.slice(start, start + MAX_CHANGES_PER_TXN);
      if (!(await commit(batch)) && batch.length > 1) {
        for (const change of batch) await commit([change]);
      }
    }
    return { applied, revision };
  }

  /** The commit's revision, or null when a compare failed. */
  private async commit(
    fence: LeaderFence,
    batch: readonly ScheduleChange[],
  ): Promise<bigint | null> {
    let txn = this.etcd.if(fence.key, 'Create', '==', fence.createRevision);
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
    const result = await txn.then(...ops).commit();
    return result.succeeded ? BigInt(result.header.revision) : null;
  }
}
