import { MAX_CHANGES_PER_TXN } from './limits.js';
import type { AppliedChanges, ScheduleChange } from './model.js';

/** How one fenced transaction of schedule changes ended. */
export type BatchOutcome =
  | { type: 'committed'; revision: bigint }
  | { type: 'conflict' }
  | { type: 'deposed' };

/**
 * Applies the engine's schedule changes in transactions of `MAX_CHANGES_PER_TXN`, up to
 * `inFlight` of them at once, each committed by `commit`. Returns those that committed and
 * the revision of the last commit (null when none did). A change left out lost a race with
 * another writer, and is decided again next pass, or was refused because the engine no
 * longer leads.
 */
export async function applyInBatches(
  changes: readonly ScheduleChange[],
  commit: (batch: readonly ScheduleChange[]) => Promise<BatchOutcome> | BatchOutcome,
  inFlight: number,
): Promise<AppliedChanges> {
  const applied: ScheduleChange[] = [];
  let revision = 0n;
  let deposed = false;
  const commitBatch = async (batch: readonly ScheduleChange[]): Promise<boolean> => {
    const outcome = await commit(batch);
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
      if ((await commitBatch(batch)) || batch.length === 1) continue;
      for (const change of batch) {
        if (deposed) break;
        await commitBatch([change]);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, batches.length) }, lane));
  return { applied, revision: revision === 0n ? null : revision.toString(), deposed };
}
