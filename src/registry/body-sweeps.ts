import type { Etcd3 } from 'etcd3';
import { RegistryKeys } from './keys.js';
import { DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';
import type { BodySweeps } from './ports.js';
import { decodeRecord, unitRecordSchema } from './records.js';
import { heldHashesOf } from './rollout-ops.js';

/**
 * Guarded deletes per transaction: a compare and a delete each, well under
 * `MAX_OPERATIONS_PER_TXN`.
 */
const DELETES_PER_TXN = 60;
/** How long a sweep waits for more destroys or replacements of the same burst. */
const DEFAULT_DELAY_MS = 250;

/**
 * Deletes `unit-files/<hash>` for each hash whose body was last written at or before
 * `revision`, and returns how many such deletes committed. Sound when no unit referenced
 * those hashes at `revision`: every write that makes a unit reference a body also writes
 * the body in the same transaction (EtcdUnitRecords.put), so a unit referencing it since would
 * have moved its mod revision past `revision`, and the delete does not commit.
 */
export async function removeBodiesUnchangedSince(
  etcd: Etcd3,
  keys: RegistryKeys,
  hashes: readonly string[],
  revision: bigint,
): Promise<number> {
  let removed = 0;
  const after = (revision + 1n).toString();
  const commit = async (batch: readonly string[]): Promise<boolean> => {
    let txn = etcd.if(keys.unitFile(batch[0]!), 'Mod', '<', after);
    for (const hash of batch.slice(1)) txn = txn.and(keys.unitFile(hash), 'Mod', '<', after);
    const result = await txn
      .then(...batch.map((hash) => etcd.delete().key(keys.unitFile(hash))))
      .commit();
    if (result.succeeded) removed += batch.length;
    return result.succeeded;
  };
  for (let start = 0; start < hashes.length; start += DELETES_PER_TXN) {
    const batch = hashes.slice(start, start + DELETES_PER_TXN);
    // A batch fails as a whole when one body was written again: retry the rest one by one.
    if (!(await commit(batch)) && batch.length > 1) {
      for (const hash of batch) await commit([hash]);
    }
  }
  return removed;
}

/**
 * Removes unit bodies no unit references any more. Bodies are shared by hash (a thousand
 * instances of a template share one), so a destroy or a replacement cannot delete the old
 * body itself; instead it asks for a sweep, and a sweep compares every body with every unit
 * record at one revision. Sweeps asked for in a burst run once; a failed sweep leaves its
 * garbage to the next one, which looks at everything again.
 */
export class EtcdBodySweeps implements BodySweeps {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly etcd: Etcd3,
    private readonly keys: RegistryKeys,
    private readonly options: { delayMs?: number; pageSize?: number } = {},
  ) {}

  /** A unit was destroyed or its content replaced: sweep shortly. */
  sweepSoon(): void {
    if (this.running !== null) {
      this.again = true;
      return;
    }
    if (this.timer !== null) return;
    this.timer = setTimeout(() => this.start(), this.options.delayMs ?? DEFAULT_DELAY_MS);
    this.timer.unref();
  }

  /** Runs a sweep that is due at once and waits for it (a client about to close). */
  async flush(): Promise<void> {
    if (this.timer !== null) this.start();
    while (this.running !== null) await this.running;
  }

  private start(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.sweep()
      .then(
        () => undefined,
        // Nothing to do: the next sweep looks at every body again.
        () => undefined,
      )
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.sweepSoon();
        }
      });
  }

  /**
   * Lists every unit record, every rollout and every body at one revision and removes the
   * bodies no record references and no rollout holds (unless written again since); returns
   * how many were removed. Skips the sweep when a unit record or a rollout cannot be read,
   * as it may reference any body.
   */
  async sweep(): Promise<number> {
    const pageSize = this.options.pageSize ?? DEFAULT_PAGE_SIZE;
    const { revision, kvs: units } = await readPrefix(this.etcd, this.keys.unitsPrefix, {
      pageSize,
    });
    const referenced = new Set<string>();
    for (const { key, value } of units) {
      try {
        referenced.add(decodeRecord(unitRecordSchema, key.toString(), value.toString()).hash);
      } catch {
        return 0;
      }
    }
    const rollouts = await readPrefix(this.etcd, this.keys.rolloutsPrefix, { revision, pageSize });
    for (const { key, value } of rollouts.kvs) {
      // An unreadable rollout may hold any body, as an unreadable unit may reference any.
      const hashes = heldHashesOf(key.toString(), value.toString());
      if (hashes === null) return 0;
      for (const hash of hashes) referenced.add(hash);
    }
    // Keys only: bodies are up to 1 MiB each.
    const bodies = await readPrefix(this.etcd, this.keys.unitFilesPrefix, {
      keysOnly: true,
      revision,
      pageSize,
    });
    const unused = bodies.kvs
      .map(({ key }) => RegistryKeys.nameUnder(this.keys.unitFilesPrefix, key.toString()))
      .filter((hash): hash is string => hash !== null && !referenced.has(hash));
    if (unused.length === 0) return 0;
    return removeBodiesUnchangedSince(this.etcd, this.keys, unused, BigInt(revision));
  }
}
