import type { Etcd3 } from 'etcd3';
import { listThenWatch } from './list-watch.js';
import { readPrefix } from './paged-range.js';
import type { MirroredValue, WatchHandle } from './watching.js';

/**
 * An in-memory copy of every key under a prefix, kept current by a watch (or by re-listing
 * when watches are disabled, fleet's `disable_watches`). Readers get the whole picture
 * without a round trip; `onChange` fires after every update so a reconciler can react.
 */
export class PrefixMirror {
  private readonly entries = new Map<string, MirroredValue>();
  private handle: WatchHandle | null = null;
  /** The newest revision this copy reflects. */
  private seenRevision = 0n;
  private waiters: Array<{ revision: bigint; resolve: (caughtUp: boolean) => void }> = [];

  constructor(
    private readonly etcd: Etcd3,
    readonly prefix: string,
    private readonly onChange: () => void,
  ) {}

  get values(): ReadonlyMap<string, MirroredValue> {
    return this.entries;
  }

  /** Lists the prefix and keeps watching it; resolves once the first listing is in. */
  async watch(): Promise<void> {
    this.handle = listThenWatch(this.etcd, this.prefix, {
      onReset: (kvs, revision) => {
        this.entries.clear();
        for (const kv of kvs) {
          this.entries.set(kv.key, { value: kv.value, modRevision: kv.modRevision.toString() });
        }
        this.advance(revision);
        this.onChange();
      },
      onEvent: (event) => {
        if (event.type === 'delete') this.entries.delete(event.key);
        else {
          this.entries.set(event.key, {
            value: event.value,
            modRevision: event.modRevision.toString(),
          });
        }
        this.advance(event.modRevision);
        this.onChange();
      },
    });
    await this.handle.ready;
  }

  /** Replaces the copy with a fresh listing: the periodic path when watches are disabled. */
  async relist(): Promise<void> {
    const response = await readPrefix(this.etcd, this.prefix);
    this.entries.clear();
    for (const kv of response.kvs) {
      this.entries.set(kv.key.toString(), {
        value: kv.value.toString(),
        modRevision: kv.mod_revision,
      });
    }
    this.advance(BigInt(response.revision));
    this.onChange();
  }

  /**
   * Resolves true once this copy reflects `revision` (say, the commit of a write the
   * reader made itself), or false after `timeoutMs`.
   */
  caughtUp(revision: bigint, timeoutMs: number): Promise<boolean> {
    if (this.seenRevision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { revision, resolve };
      this.waiters.push(waiter);
      setTimeout(() => {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        resolve(false);
      }, timeoutMs).unref();
    });
  }

  private advance(revision: bigint): void {
    if (revision <= this.seenRevision) return;
    this.seenRevision = revision;
    const ready = this.waiters.filter((waiter) => waiter.revision <= revision);
    this.waiters = this.waiters.filter((waiter) => waiter.revision > revision);
    for (const waiter of ready) waiter.resolve(true);
  }

  async stop(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.stop();
  }
}
