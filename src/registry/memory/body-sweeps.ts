import { RegistryKeys } from '../keys.js';
import type { BodySweeps } from '../ports.js';
import { decodeRecord, unitRecordSchema } from '../records.js';
import { heldHashesOf } from '../rollout-ops.js';
import type { MemoryStore } from './store.js';

/**
 * `EtcdBodySweeps` on the in-memory store: sweeps asked for in one turn run once, on the
 * next; `flush` runs a due sweep at once.
 */
export class MemoryBodySweeps implements BodySweeps {
  private due = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: MemoryStore,
    private readonly keys: RegistryKeys,
  ) {}

  sweepSoon(): void {
    if (this.due) return;
    this.due = true;
    setImmediate(() => void this.flush());
  }

  async flush(): Promise<void> {
    if (this.due && this.running === null) {
      this.due = false;
      this.running = Promise.resolve()
        .then(() => {
          this.sweep();
        })
        .finally(() => {
          this.running = null;
        });
    }
    await this.running;
  }

  /**
   * Removes every body no unit record references and no rollout holds; nothing while a
   * record is unreadable.
   */
  sweep(): number {
    const { kvs: units, revision } = this.store.range(this.keys.unitsPrefix);
    const referenced = new Set<string>();
    for (const { key, value } of units) {
      try {
        referenced.add(decodeRecord(unitRecordSchema, key, value).hash);
      } catch {
        return 0;
      }
    }
    for (const { key, value } of this.store.range(this.keys.rolloutsPrefix, revision).kvs) {
      const hashes = heldHashesOf(key, value);
      if (hashes === null) return 0;
      for (const hash of hashes) referenced.add(hash);
    }
    let removed = 0;
    for (const { key } of this.store.range(this.keys.unitFilesPrefix, revision).kvs) {
      const hash = RegistryKeys.nameUnder(this.keys.unitFilesPrefix, key);
      if (hash === null || referenced.has(hash)) continue;
      const { succeeded } = this.store.txn({
        compare: [{ key, target: 'mod', op: '<', revision: revision + 1n }],
        success: [{ type: 'delete', key }],
      });
      if (succeeded) removed++;
    }
    return removed;
  }
}
