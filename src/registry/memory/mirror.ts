import type { MirroredValue, WatchHandle } from '../watching.js';
import { listThenWatchMemory } from './list-watch.js';
import type { MemoryStore } from './store.js';

/** `PrefixMirror` (../prefix-mirror.ts) on the in-memory store. */
export class MemoryMirror {
  private readonly entries = new Map<string, MirroredValue>();
  private handle: WatchHandle | null = null;
  private seenRevision = 0n;
  private waiters: Array<{ revision: bigint; resolve: (caughtUp: boolean) => void }> = [];

  constructor(
    private readonly store: MemoryStore,
    readonly prefix: string,
    private readonly onChange: () => void,
  ) {}

  get values(): ReadonlyMap<string, MirroredValue> {
    return this.entries;
  }

  async watch(): Promise<void> {
    this.handle = listThenWatchMemory(this.store, this.prefix, {
      onReset: (records, revision) => {
        this.entries.clear();
        for (const { key, value, modRevision } of records) {
          this.entries.set(key, { value, modRevision: modRevision.toString() });
        }
        this.advance(revision);
        this.onChange();
      },
      onEvent: ({ type, key, value, modRevision }) => {
        if (type === 'delete') this.entries.delete(key);
        else this.entries.set(key, { value, modRevision: modRevision.toString() });
        this.advance(modRevision);
        this.onChange();
      },
    });
    await this.handle.ready;
  }

  async relist(): Promise<void> {
    const { kvs, revision } = this.store.range(this.prefix);
    this.entries.clear();
    for (const kv of kvs) {
      this.entries.set(kv.key, { value: kv.value, modRevision: kv.modRevision.toString() });
    }
    this.advance(revision);
    this.onChange();
  }

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

  async stop(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.stop();
  }

  private advance(revision: bigint): void {
    if (revision <= this.seenRevision) return;
    this.seenRevision = revision;
    const ready = this.waiters.filter((waiter) => waiter.revision <= revision);
    this.waiters = this.waiters.filter((waiter) => waiter.revision > revision);
    for (const waiter of ready) waiter.resolve(true);
  }
}
