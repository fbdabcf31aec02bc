import type { Etcd3, IKeyValue } from 'etcd3';
import { DEFAULT_PAGE_SIZE, readPrefix } from './paged-range.js';

/** How long a snapshot nobody read is kept: the pages of one listing come well within it. */
const DEFAULT_IDLE_MS = 10_000;

/**
 * A consistent read of registry prefixes, reused while they do not change: `readPrefixes`
 * reads several at one go, each a `PrefixRead`.
 */

/**
 * The decoded content of every key under one prefix, read once and reused for as long as
 * the prefix is unchanged, so the pages of a listing do not each read and decode it all.
 *
 * Every read still asks etcd first whether the snapshot is current, with linearizable reads
 * that see every write completed before them. The first is etcd's revision: if nothing at
 * all was written since the snapshot was read, it is current. Otherwise one range of the
 * prefix, sorted by mod revision and limited to one key, answers how many keys the prefix
 * holds and the newest mod revision among them. Any write under the prefix since the
 * snapshot changes that pair (a put leaves a key with a newer mod revision; deletes alone
 * lower the count), so a snapshot that passes either check is what a full read would return.
 * The snapshot is dropped once nobody read it for a while.
 */
export class PrefixRead<T> {
  /** `revision`: etcd's revision at which the content was known to be `value`. */
  private held: { fingerprint: string; revision: string; value: T } | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly etcd: Etcd3,
    private readonly prefix: string,
    private readonly decode: (kvs: readonly IKeyValue[]) => T | Promise<T>,
    private readonly options: { idleMs?: number; pageSize?: number } = {},
  ) {}

  /** The prefix's current content, decoded. Callers share it and must not change it. */
  async read(): Promise<T> {
    const [value] = await readPrefixes([this as PrefixRead<T>]);
    return value;
  }

  /** Drops the snapshot now. */
  clear(): void {
    this.held = null;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** Whether there is a snapshot to check. */
  get holding(): boolean {
    return this.held !== null;
  }

  /** etcd's current revision, from a count of the prefix: that reads etcd's index, no value. */
  async currentRevision(): Promise<string> {
    const { request_range: count } = await this.etcd.getAll().prefix(this.prefix).op();
    const response = await this.etcd.kv.range({ ...count, count_only: true });
    return response.header.revision;
  }

  /** The content, from the snapshot if it is current at `revision` (etcd's, just read) or now. */
  async readAt(revision: string | null): Promise<T> {
    const held = this.held;
    if (held !== null) {
      if (held.revision === revision) return this.keep(held).value;
      const probed = await this.etcd
        .getAll()
        .prefix(this.prefix)
        .sort('Mod', 'Descend')
        .limit(1)
        .exec();
      if (fingerprintOf(Number(probed.count), probed.kvs) === held.fingerprint) {
        // Unchanged up to this revision: later reads need not sort the prefix again.
        return this.keep({ ...held, revision: probed.header.revision }).value;
      }
    }
    const { revision: readAt, kvs } = await readPrefix(this.etcd, this.prefix, {
      pageSize: this.options.pageSize ?? DEFAULT_PAGE_SIZE,
    });
    const value = await this.decode(kvs);
    return this.keep({ fingerprint: fingerprintOf(kvs.length, kvs), revision: readAt, value })
      .value;
  }

  private keep(held: { fingerprint: string; revision: string; value: T }) {
    this.held = held;
    if (this.idleTimer !== null) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.clear(), this.options.idleMs ?? DEFAULT_IDLE_MS);
      this.idleTimer.unref();
    }
    return held;
  }
}

type Contents<S extends readonly PrefixRead<unknown>[]> = {
  [K in keyof S]: S[K] extends PrefixRead<infer T> ? T : never;
};

/**
 * Reads several prefixes: one read of etcd's revision tells whether any held content can be
 * current without more; only the prefixes that changed are then read in full.
 */
export async function readPrefixes<const S extends readonly PrefixRead<unknown>[]>(
  reads: S,
): Promise<Contents<S>> {
  const holding = reads.find((read) => read.holding);
  const revision = holding === undefined ? null : await holding.currentRevision();
  return (await Promise.all(reads.map((read) => read.readAt(revision)))) as Contents<S>;
}

function fingerprintOf(count: number, kvs: readonly IKeyValue[]): string {
  let newest = 0n;
  for (const kv of kvs) {
    const revision = BigInt(kv.mod_revision);
    if (revision > newest) newest = revision;
  }
  return `${count}@${newest}`;
}
