import { setTimeout as sleep } from 'node:timers/promises';
import type { IKeyValue, IWatchResponse, Namespace, Watcher } from 'etcd3';
import { DEFAULT_PAGE_SIZE, type PrefixContent, readPrefix } from './paged-range.js';
import type {
  KeyValueRecord,
  MirrorHandle,
  MirrorHandlers,
  MirrorSource,
} from './prefix-mirror.js';

export interface EtcdMirrorSourceOptions {
  /** Keys per Range request while listing to follow; bounds the size of one response. */
  pageSize?: number;
}

const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 5_000;
// etcd3's Watcher.cancel() waits for an answer that may never come (see releaseWatcher).
const CANCEL_TIMEOUT_MS = 1_000;

/** etcd's answer to a read at a revision compacted away, or not reached yet. */
const UNREADABLE_REVISION = /required revision (has been compacted|is a future revision)/;

type WatchOutcome = 'resume' | 'relist' | 'stopped';

function toRecord(kv: IKeyValue): KeyValueRecord {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    modRevision: BigInt(kv.mod_revision),
  };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Detaches a watcher that etcd still knows. etcd3 (1.1.2) sends a cancel request and waits for
 * the watcher's 'end', which never comes if the stream breaks meanwhile or etcd no longer knows
 * the id, so the wait is bounded. Never call this for a watcher etcd canceled itself: etcd3
 * has already dropped it, yet sends the cancel; etcd 3.4 still answers it, and etcd3, finding
 * no watcher for the answer, throws from its stream handler and takes the process down
 * ("Failed to find watcher for IWatchResponse").
 */
async function releaseWatcher(watcher: Watcher): Promise<void> {
  const cancelled = Promise.resolve()
    .then(() => watcher.cancel())
    .catch(() => undefined);
  await Promise.race([cancelled, sleep(CANCEL_TIMEOUT_MS, undefined, { ref: false })]);
}

/**
 * `PrefixMirror`'s source on etcd. `follow` is the informer pattern over one prefix: list it
 * (paged, at one revision), hand the snapshot to `onReset`, then watch from the next revision
 * and hand every change to `onEvent`.
 *
 * The resume revision is our own: etcd3 resumes a broken watch from the revision in the last
 * response header, which for the watch's creation acknowledgement and for catch-up batches is
 * the store's current revision, ahead of events not yet delivered. So each broken watcher is
 * dropped and a new one created from the revision after the last event seen.
 */
export function etcdMirrorSource(
  client: Namespace,
  options: EtcdMirrorSourceOptions = {},
): MirrorSource {
  return {
    follow(prefix, handlers, { since } = {}) {
      // A namespace of its own (same keys, same connections) gives each followed prefix a
      // watch stream of its own in etcd3. When etcd cancels our watcher just as we cancel it,
      // etcd3 closes a stream left without watchers before etcd's reply to our cancel can
      // arrive; on a shared stream that reply would reach the crash described at
      // releaseWatcher.
      const ownStream = client.namespace('');
      return new EtcdPrefixFollow(
        ownStream,
        prefix,
        handlers,
        options.pageSize ?? DEFAULT_PAGE_SIZE,
        since,
      );
    },
    async list(prefix) {
      const { revision, kvs } = await readPrefix(client, prefix);
      return { records: kvs.map(toRecord), revision: BigInt(revision) };
    },
    async newestRevision(prefix) {
      const newest = await client.getAll().prefix(prefix).sort('Mod', 'Descend').limit(1).exec();
      const revision = newest.kvs[0]?.mod_revision;
      return revision === undefined ? null : BigInt(revision);
    },
  };
}

class EtcdPrefixFollow implements MirrorHandle {
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private failReady!: (err: Error) => void;
  private stopped = false;
  private needsList = true;
  /** The first revision whose events have not been delivered. */
  private resumeRevision = 0n;
  private retryDelayMs = RETRY_INITIAL_MS;
  /** The only watcher whose events count; etcd3 may still emit on ones we dropped. */
  private current: Watcher | undefined;
  private endCurrentWatch: ((outcome: WatchOutcome) => void) | undefined;
  private endPause: (() => void) | undefined;

  constructor(
    private readonly client: Namespace,
    private readonly prefix: string,
    private readonly handlers: MirrorHandlers,
    private readonly pageSize: number,
    /** The revision the first listing is asked for; cleared once it has been tried. */
    private since: bigint | undefined,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    // A caller that stops without ever awaiting `ready` must not get an unhandled rejection.
    this.ready.catch(() => undefined);
    void this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.failReady(new Error(`list-then-watch of ${this.prefix} stopped before it was ready`));
    this.endPause?.();
    const watcher = this.current;
    this.endCurrentWatch?.('stopped');
    if (watcher !== undefined) await releaseWatcher(watcher);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.needsList) await this.list();
        if (this.stopped) return;
        // Still set if onReset threw: list again rather than watch from a view it rejected.
        if (!this.needsList && (await this.watch()) === 'stopped') return;
      } catch (err) {
        this.report(asError(err));
      }
      await this.pause();
    }
  }

  private async list(): Promise<void> {
    const { revision, kvs } = await this.listing();
    if (this.stopped) return;
    const records = kvs.map(toRecord);
    const snapshotRevision = BigInt(revision);
    this.needsList = false;
    this.resumeRevision = snapshotRevision + 1n;
    this.deliver(() => this.handlers.onReset(records, snapshotRevision));
  }

  /** The prefix as of `since` while that is to be tried and etcd still holds it, else now. */
  private async listing(): Promise<PrefixContent> {
    const since = this.since;
    if (since !== undefined) {
      try {
        const content = await readPrefix(this.client, this.prefix, {
          pageSize: this.pageSize,
          revision: since.toString(),
        });
        this.since = undefined;
        return content;
      } catch (err) {
        if (!UNREADABLE_REVISION.test(asError(err).message)) throw err;
        this.since = undefined;
      }
    }
    return readPrefix(this.client, this.prefix, { pageSize: this.pageSize });
  }

  /** Watches until the watch breaks or stop() is called. */
  private watch(): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      const watcher = this.client
        .watch()
        .prefix(this.prefix)
        .startRevision(this.resumeRevision.toString())
        .watcher();
      this.current = watcher;
      this.endCurrentWatch = (outcome) => {
        if (this.current !== watcher) return;
        this.current = undefined;
        this.endCurrentWatch = undefined;
        resolve(outcome);
      };
      const end = (outcome: WatchOutcome) => this.endCurrentWatch?.(outcome);
      watcher.on('connected', () => {
        if (this.current !== watcher) return;
        this.retryDelayMs = RETRY_INITIAL_MS;
        this.markReady();
      });
      watcher.on('data', (response) => {
        if (this.current !== watcher) return;
        if (!this.apply(response)) {
          end('relist');
          void releaseWatcher(watcher);
        }
      });
      watcher.on('disconnected', (err) => {
        if (this.current !== watcher) return;
        this.report(err);
        end('resume');
        // Left attached, etcd3 would re-create this watch itself from its own revision.
        void releaseWatcher(watcher);
      });
      // etcd canceled the watch: in etcd 3.4 that is what a compacted start revision gets
      // (a response with canceled=true and compact_revision set, after the created ack).
      // etcd3 drops compact_revision and emits only "Watcher canceled: <reason>", and has
      // already forgotten the watcher. Whatever the reason, resuming is impossible: list again.
      // This listener also stays for good: an 'error' without one would throw inside etcd3.
      watcher.on('error', (err) => {
        if (this.current !== watcher) return;
        this.report(new Error(`watch of ${this.prefix} canceled, listing again: ${err.message}`));
        this.needsList = true;
        end('relist');
      });
    });
  }

  /** Delivers one watch response; false if a handler failed and the view must be rebuilt. */
  private apply(response: IWatchResponse): boolean {
    if (response.events.length === 0) {
      // A progress notification: etcd sends these only to watchers that have been sent every
      // event up to the header's revision, so a quiet prefix's resume point moves on too.
      const progress = BigInt(response.header.revision) + 1n;
      if (progress > this.resumeRevision) this.resumeRevision = progress;
      return true;
    }
    // All events of one revision come in one response, so comparing with the resume point as
    // it was before this response drops exactly the events a previous watcher delivered.
    const firstUndelivered = this.resumeRevision;
    for (const event of response.events) {
      const record = toRecord(event.kv);
      if (record.modRevision < firstUndelivered) continue;
      const type = event.type === 'Delete' ? 'delete' : 'put';
      const delivered = this.deliver(() =>
        this.handlers.onEvent({
          type,
          key: record.key,
          value: type === 'delete' ? '' : record.value,
          modRevision: record.modRevision,
        }),
      );
      if (!delivered) return false;
      if (record.modRevision >= this.resumeRevision) this.resumeRevision = record.modRevision + 1n;
    }
    return true;
  }

  /** Runs a handler; a throwing handler's view is suspect, so it gets a fresh list. */
  private deliver(call: () => void): boolean {
    if (this.stopped) return true;
    try {
      call();
      return true;
    } catch (err) {
      this.report(asError(err));
      this.needsList = true;
      return false;
    }
  }

  private report(err: Error): void {
    if (this.stopped) return;
    try {
      this.handlers.onError?.(err);
    } catch {
      // The error handler's own failure has nowhere further to go.
    }
  }

  private pause(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const delayMs = this.retryDelayMs;
    this.retryDelayMs = Math.min(delayMs * 2, RETRY_MAX_MS);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endPause?.(), delayMs);
      this.endPause = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        resolve();
      };
    });
  }
}
