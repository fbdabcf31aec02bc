/**
 * A local copy of every key under a prefix, kept current: list the prefix, then watch from
 * the listing's revision, resume a broken watch, list again when it cannot be resumed. The
 * copy is the same on etcd and in memory; only the stream that feeds it (`MirrorSource`:
 * `etcd-mirror-source.ts`, `memory/mirror-source.ts`) knows the store.
 */

/** A key as the list saw it. */
export interface KeyValueRecord {
  key: string;
  value: string;
  modRevision: bigint;
}

/** One change after the list. A delete carries an empty value. */
export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value: string;
  modRevision: bigint;
}

export interface MirrorHandlers {
  /**
   * The whole prefix as of `revision`. Called first, and again whenever the watch cannot be
   * resumed (the history it needed was compacted) or a handler threw: the receiver replaces
   * everything it knew.
   */
  onReset(records: KeyValueRecord[], revision: bigint): void;
  /** Every change after the last reset, in revision order, each exactly once. */
  onEvent(event: WatchEvent): void;
  /** Trouble the stream recovers from by itself (store unreachable, watch canceled). */
  onError?(err: Error): void;
}

export interface MirrorHandle {
  /** Settles once the first snapshot was delivered and the store acknowledged the watch. */
  readonly ready: Promise<void>;
  /** Stops watching; no handler runs after it resolves. Always returns promptly. */
  stop(): Promise<void>;
}

export interface FollowOptions {
  /**
   * Lists the prefix first as of this revision, when the store still holds it: the first
   * `onReset` then carries this very revision, and the watch resumes after it. A revision
   * compacted away, or not reached yet, is listed as of now instead.
   */
  since?: bigint;
}

/** What a store gives a mirror: the list-then-watch stream, and a one-off listing. */
export interface MirrorSource {
  /** Lists `prefix`, hands the listing to `onReset`, then every later change to `onEvent`. */
  follow(prefix: string, handlers: MirrorHandlers, options?: FollowOptions): MirrorHandle;
  /** Every key under `prefix` as of one revision. */
  list(prefix: string): Promise<{ records: KeyValueRecord[]; revision: bigint }>;
  /**
   * The newest mod revision under `prefix`, or null when empty. Given only by a store whose
   * new watches may lag behind those already in step (etcd): see `PrefixMirrors.catchUp`.
   */
  newestRevision?(prefix: string): Promise<bigint | null>;
}

/** A key's value and the revision that last wrote it (the base of optimistic writes). */
export interface MirroredValue {
  value: string;
  modRevision: string;
}

/** A watch catches up within etcd's sync interval (100 ms); this only bounds a stalled one. */
const CATCH_UP_TIMEOUT_MS = 2_000;

/**
 * An in-memory copy of every key under a prefix, kept current by a watch (or by re-listing
 * when watches are disabled, fleet's `disable_watches`). Readers get the whole picture
 * without a round trip; `onChange` fires after every update so a reconciler can react.
 */
export class PrefixMirror {
  private readonly entries = new Map<string, MirroredValue>();
  private handle: MirrorHandle | null = null;
  /** The newest revision this copy reflects. */
  private seenRevision = 0n;
  private waiters: Array<{ revision: bigint; resolve: (caughtUp: boolean) => void }> = [];

  constructor(
    private readonly source: MirrorSource,
    readonly prefix: string,
    private readonly onChange: () => void,
  ) {}

  get values(): ReadonlyMap<string, MirroredValue> {
    return this.entries;
  }

  /** Lists the prefix and keeps watching it; resolves once the first listing is in. */
  async watch(): Promise<void> {
    this.handle = this.source.follow(this.prefix, {
      onReset: (records, revision) => this.reset(records, revision),
      onEvent: ({ type, key, value, modRevision }) => {
        if (type === 'delete') this.entries.delete(key);
        else this.entries.set(key, { value, modRevision: modRevision.toString() });
        this.advance(modRevision);
        this.onChange();
      },
    });
    await this.handle.ready;
  }

  /** Replaces the copy with a fresh listing: the periodic path when watches are disabled. */
  async relist(): Promise<void> {
    const { records, revision } = await this.source.list(this.prefix);
    this.reset(records, revision);
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

  async stop(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.stop();
  }

  private reset(records: readonly KeyValueRecord[], revision: bigint): void {
    this.entries.clear();
    for (const { key, value, modRevision } of records) {
      this.entries.set(key, { value, modRevision: modRevision.toString() });
    }
    this.advance(revision);
    this.onChange();
  }

  private advance(revision: bigint): void {
    if (revision <= this.seenRevision) return;
    this.seenRevision = revision;
    const ready = this.waiters.filter((waiter) => waiter.revision <= revision);
    this.waiters = this.waiters.filter((waiter) => waiter.revision > revision);
    for (const waiter of ready) waiter.resolve(true);
  }
}

/**
 * Several prefixes mirrored together for one reader (the engine, an agent): watched,
 * re-listed and stopped as one, with one change callback.
 */
export class PrefixMirrors<Name extends string> {
  readonly mirrors: Readonly<Record<Name, PrefixMirror>>;

  constructor(
    private readonly source: MirrorSource,
    prefixes: Readonly<Record<Name, string>>,
    onChange: () => void,
  ) {
    const mirrors = {} as Record<Name, PrefixMirror>;
    for (const name of Object.keys(prefixes) as Name[]) {
      mirrors[name] = new PrefixMirror(source, prefixes[name], onChange);
    }
    this.mirrors = mirrors;
  }

  private all(): PrefixMirror[] {
    return Object.values(this.mirrors) as PrefixMirror[];
  }

  /** Starts watching every prefix; resolves once each has been listed. */
  async watch(): Promise<void> {
    await Promise.all(this.all().map((mirror) => mirror.watch()));
  }

  /**
   * Waits until every mirror reflects the newest write under its prefix, where the source
   * can tell. etcd sends a watch created on a prefix written since its listing what it
   * missed a little later (it syncs lagging watchers in the background) than watches
   * already in step get new writes: a new leader could otherwise see a unit submitted after
   * a machine registered, but not the machine, and pile units on the machines it knows.
   * Deletions are not waited for.
   */
  async catchUp(): Promise<void> {
    const newest = this.source.newestRevision?.bind(this.source);
    if (newest === undefined) return;
    await Promise.all(
      this.all().map(async (mirror) => {
        const revision = await newest(mirror.prefix);
        if (revision !== null) await mirror.caughtUp(revision, CATCH_UP_TIMEOUT_MS);
      }),
    );
  }

  /** Re-lists every prefix: the periodic path when watches are disabled. */
  async relist(): Promise<void> {
    await Promise.all(this.all().map((mirror) => mirror.relist()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((mirror) => mirror.stop()));
  }
}
