import type { Clock, TimerHandle } from '../../clock.js';
import { MAX_OPERATIONS_PER_TXN, MAX_REQUEST_BYTES } from '../limits.js';

/** etcd's smallest lease TTL with the election timeout the tests give it. */
const MIN_LEASE_TTL_SECONDS = 1;

/** A key as etcd keeps it. Revisions are etcd's: 0 means absent. */
export interface MemoryKeyValue {
  key: string;
  value: string;
  createRevision: bigint;
  modRevision: bigint;
  version: number;
  /** `'0'` for none. */
  lease: string;
}

/** One change, as a watch reports it; a delete carries the deleting revision and no value. */
export interface MemoryEvent {
  type: 'put' | 'delete';
  kv: MemoryKeyValue;
}

export interface Compare {
  key: string;
  target: 'create' | 'mod';
  op: '==' | '<' | '>';
  revision: bigint | string | number;
}

export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'delete'; key: string }
  | { type: 'get'; key: string };

export interface TxnRequest {
  compare: readonly Compare[];
  success: readonly TxnOp[];
  failure?: readonly TxnOp[];
}

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the transaction (the commit's, when it wrote). */
  revision: bigint;
  /** What each `get` of the branch that ran found, by its index in the branch. */
  reads: ReadonlyMap<number, MemoryKeyValue | null>;
}

/** A read or watch asked for history that compaction removed. */
export class CompactedError extends Error {
  override name = 'CompactedError';
  constructor() {
    super('etcdserver: mvcc: required revision has been compacted');
  }
}

/** A read or compaction asked for a revision the store has not reached. */
export class FutureRevisionError extends Error {
  override name = 'FutureRevisionError';
  constructor() {
    super('etcdserver: mvcc: required revision is a future revision');
  }
}

/** A transaction etcd refuses before evaluating it. */
export class InvalidTxnError extends Error {
  override name = 'InvalidTxnError';
}

export class LeaseNotFoundError extends Error {
  override name = 'LeaseNotFoundError';
  constructor() {
    super('etcdserver: requested lease not found');
  }
}

/** What a watch hears; every call is asynchronous, as over a stream. */
export interface WatchListener {
  /** All events of one revision, revisions in order, each once. */
  onEvents(events: MemoryEvent[]): void;
  /** The store dropped the watch: it cannot resume (compaction); list again. */
  onCanceled(err: Error): void;
  /** The stream broke; the watcher may watch again from the revision it needs next. */
  onDisconnected(err: Error): void;
}

export interface MemoryWatch {
  cancel(): void;
}

interface Lease {
  id: string;
  ttlMs: number;
  deadline: number;
  renewedAt: number;
  /** The next renewal, as etcd3's keepalive sends one every third of the TTL; null once released. */
  keepalive: TimerHandle | null;
  expiry: TimerHandle | null;
  keys: Set<string>;
  onGone: Array<() => void>;
}

interface Revision {
  revision: bigint;
  events: Array<MemoryEvent & { prev: MemoryKeyValue | null }>;
}

interface Watcher {
  prefix: string;
  /** The first revision not yet delivered. */
  next: bigint;
  listener: WatchListener;
  active: boolean;
  scheduled: boolean;
}

/**
 * etcd's key-value model in memory: one revision per write transaction, create and mod
 * revisions per key, leases kept alive (or left to expire) on an injected clock, transactions
 * that compare revisions, watches from any revision still in history, and compaction,
 * after which such reads and watches fail as etcd's do. The in-memory registry
 * (`registry.ts`) runs on it; the contract suite holds both to the same behaviour.
 */
export class MemoryStore {
  private readonly kvs = new Map<string, MemoryKeyValue>();
  private readonly history: Revision[] = [];
  private readonly leases = new Map<string, Lease>();
  private readonly watchers = new Set<Watcher>();
  /** Watches asked for while their streams are severed; they start once restored. */
  private parked: Watcher[] = [];
  /** The prefix whose watches are severed (`''` for all of them), or null. */
  private severed: string | null = null;
  private current = 1n;
  private compacted = 0n;
  private nextLeaseID = 1;

  constructor(readonly clock: Clock) {}

  get revision(): bigint {
    return this.current;
  }

  get compactRevision(): bigint {
    return this.compacted;
  }

  /** The key as of `revision` (default: now), or null. */
  get(key: string, revision?: bigint): MemoryKeyValue | null {
    return this.view(revision).get(key) ?? null;
  }

  /** Every key starting with `prefix`, in key order, as of `revision` (default: now). */
  range(prefix: string, revision?: bigint): { kvs: MemoryKeyValue[]; revision: bigint } {
    const at = revision ?? this.current;
    const kvs = [...this.view(revision).values()]
      .filter((kv) => kv.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { kvs, revision: at };
  }

  txn(request: TxnRequest): TxnResult {
    const failure = request.failure ?? [];
    for (const branch of [request.compare, request.success, failure]) {
      if (branch.length > MAX_OPERATIONS_PER_TXN) {
        throw new InvalidTxnError('etcdserver: too many operations in txn request');
      }
    }
    if (requestBytes(request) > MAX_REQUEST_BYTES) {
      throw new InvalidTxnError('etcdserver: request is too large');
    }
    checkDuplicates(request.success);
    checkDuplicates(failure);
    const succeeded = request.compare.every((compare) => this.holds(compare));
    const ops = succeeded ? request.success : failure;
    for (const op of ops) {
      if (op.type === 'put' && (op.lease ?? '0') !== '0' && !this.leases.has(op.lease!)) {
        throw new LeaseNotFoundError();
      }
    }
    const reads = new Map<number, MemoryKeyValue | null>();
    const revision = this.current + 1n;
    const events: Revision['events'] = [];
    ops.forEach((op, index) => {
      if (op.type === 'get') reads.set(index, this.kvs.get(op.key) ?? null);
      else if (op.type === 'put')
        events.push(this.put(op.key, op.value, op.lease ?? '0', revision));
      else {
        const deleted = this.remove(op.key, revision);
        if (deleted !== null) events.push(deleted);
      }
    });
    if (events.length > 0) this.commit({ revision, events });
    return { succeeded, revision: this.current, reads };
  }

  /** Drops history before `revision`: reads and watches from earlier revisions fail. */
  compact(revision: bigint): void {
    if (revision > this.current) throw new FutureRevisionError();
    if (revision <= this.compacted) throw new CompactedError();
    this.compacted = revision;
    while (this.history.length > 0 && this.history[0]!.revision < revision) this.history.shift();
  }

  /** Grants a lease, kept alive until abandoned or revoked. */
  grant(ttlSeconds: number): { id: string; ttlSeconds: number } {
    const granted = Math.max(MIN_LEASE_TTL_SECONDS, ttlSeconds);
    const id = (this.nextLeaseID++).toString();
    const lease: Lease = {
      id,
      ttlMs: granted * 1000,
      deadline: 0,
      renewedAt: 0,
      keepalive: null,
      expiry: null,
      keys: new Set(),
      onGone: [],
    };
    this.leases.set(id, lease);
    this.renew(lease);
    return { id, ttlSeconds: granted };
  }

  /** Whole seconds left, truncated as etcd does, or -1 once the lease is gone. */
  timeToLive(id: string): number {
    const lease = this.leases.get(id);
    return lease === undefined ? -1 : Math.floor((lease.deadline - this.clock.now()) / 1000);
  }

  /** When the lease was last renewed, on the store's clock; null once it is gone. */
  renewedAt(id: string): number | null {
    return this.leases.get(id)?.renewedAt ?? null;
  }

  /** Stops renewing the lease: it expires a TTL after its last renewal. */
  release(id: string): void {
    const lease = this.leases.get(id);
    if (lease?.keepalive == null) return;
    this.clock.clearTimeout(lease.keepalive);
    lease.keepalive = null;
  }

  /** Deletes the lease and every key attached to it, in one revision. */
  revoke(id: string): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new LeaseNotFoundError();
    this.leases.delete(id);
    if (lease.keepalive !== null) this.clock.clearTimeout(lease.keepalive);
    if (lease.expiry !== null) this.clock.clearTimeout(lease.expiry);
    const revision = this.current + 1n;
    const events: Revision['events'] = [];
    for (const key of [...lease.keys].sort()) {
      const deleted = this.remove(key, revision);
      if (deleted !== null) events.push(deleted);
    }
    if (events.length > 0) this.commit({ revision, events });
    for (const gone of lease.onGone) gone();
  }

  /** `listener` runs once the lease is gone, revoked or expired. */
  onLeaseGone(id: string, listener: () => void): void {
    this.leases.get(id)?.onGone.push(listener);
  }

  /** Watches keys under `prefix` from `fromRevision` (inclusive). */
  watch(prefix: string, fromRevision: bigint, listener: WatchListener): MemoryWatch {
    const watcher: Watcher = {
      prefix,
      next: fromRevision,
      listener,
      active: true,
      scheduled: false,
    };
    if (this.isSevered(watcher)) this.parked.push(watcher);
    else this.startWatcher(watcher);
    return {
      cancel: () => {
        watcher.active = false;
        this.watchers.delete(watcher);
        this.parked = this.parked.filter((other) => other !== watcher);
      },
    };
  }

  /**
   * Breaks the streams of the watches under `prefix` (of every watch by default), as a
   * member that stops answering them would; watches asked for meanwhile wait for
   * `restoreWatches`.
   */
  severWatches(prefix = ''): void {
    this.severed = prefix;
    for (const watcher of this.watchers) {
      if (!this.isSevered(watcher)) continue;
      this.watchers.delete(watcher);
      queueMicrotask(() => {
        if (!watcher.active) return;
        watcher.active = false;
        watcher.listener.onDisconnected(new Error('watch stream severed'));
      });
    }
  }

  restoreWatches(): void {
    this.severed = null;
    const parked = this.parked;
    this.parked = [];
    for (const watcher of parked) this.startWatcher(watcher);
  }

  private isSevered(watcher: Watcher): boolean {
    return this.severed !== null && watcher.prefix.startsWith(this.severed);
  }

  private startWatcher(watcher: Watcher): void {
    this.watchers.add(watcher);
    this.schedule(watcher);
  }

  /** Delivers what the watcher has not seen yet, on a later turn, as a stream would. */
  private schedule(watcher: Watcher): void {
    if (watcher.scheduled) return;
    watcher.scheduled = true;
    queueMicrotask(() => {
      watcher.scheduled = false;
      if (watcher.active && this.watchers.has(watcher)) this.deliver(watcher);
    });
  }

  private deliver(watcher: Watcher): void {
    if (watcher.next < this.compacted) {
      this.watchers.delete(watcher);
      watcher.active = false;
      watcher.listener.onCanceled(new CompactedError());
      return;
    }
    for (const { revision, events } of this.history) {
      if (revision < watcher.next) continue;
      watcher.next = revision + 1n;
      const matching = events
        .filter((event) => event.kv.key.startsWith(watcher.prefix))
        .map(({ type, kv }) => ({ type, kv }));
      if (matching.length > 0) watcher.listener.onEvents(matching);
      if (!watcher.active) return;
    }
    if (watcher.next <= this.current) watcher.next = this.current + 1n;
  }

  private commit(entry: Revision): void {
    this.current = entry.revision;
    this.history.push(entry);
    for (const watcher of this.watchers) this.schedule(watcher);
  }

  private put(key: string, value: string, lease: string, revision: bigint): Revision['events'][0] {
    const prev = this.kvs.get(key) ?? null;
    if (prev !== null && prev.lease !== '0') this.leases.get(prev.lease)?.keys.delete(key);
    const kv: MemoryKeyValue = {
      key,
      value,
      createRevision: prev?.createRevision ?? revision,
      modRevision: revision,
      version: (prev?.version ?? 0) + 1,
      lease,
    };
    this.kvs.set(key, kv);
    if (lease !== '0') this.leases.get(lease)!.keys.add(key);
    return { type: 'put', kv, prev };
  }

  private remove(key: string, revision: bigint): Revision['events'][0] | null {
    const prev = this.kvs.get(key);
    if (prev === undefined) return null;
    this.kvs.delete(key);
    if (prev.lease !== '0') this.leases.get(prev.lease)?.keys.delete(key);
    const kv = {
      key,
      value: '',
      createRevision: 0n,
      modRevision: revision,
      version: 0,
      lease: '0',
    };
    return { type: 'delete', kv, prev };
  }

  private holds({ key, target, op, revision }: Compare): boolean {
    const kv = this.kvs.get(key);
    const actual = kv === undefined ? 0n : target === 'create' ? kv.createRevision : kv.modRevision;
    const expected = BigInt(revision);
    return op === '==' ? actual === expected : op === '<' ? actual < expected : actual > expected;
  }

  /** The keys as of `revision`: the present with later revisions undone. */
  private view(revision: bigint | undefined): ReadonlyMap<string, MemoryKeyValue> {
    if (revision === undefined || revision === this.current) return this.kvs;
    if (revision > this.current) throw new FutureRevisionError();
    if (revision < this.compacted) throw new CompactedError();
    const past = new Map(this.kvs);
    for (let index = this.history.length - 1; index >= 0; index--) {
      const entry = this.history[index]!;
      if (entry.revision <= revision) break;
      for (const event of [...entry.events].reverse()) {
        if (event.prev === null) past.delete(event.kv.key);
        else past.set(event.kv.key, event.prev);
      }
    }
    return past;
  }

  /** Renews the lease for a whole TTL and plans the next renewal, which `release` cancels. */
  private renew(lease: Lease): void {
    const now = this.clock.now();
    lease.deadline = now + lease.ttlMs;
    lease.renewedAt = now;
    if (lease.expiry !== null) this.clock.clearTimeout(lease.expiry);
    lease.expiry = this.clock.setTimeout(() => {
      if (this.leases.get(lease.id) === lease) this.revoke(lease.id);
    }, lease.ttlMs);
    lease.keepalive = this.clock.setTimeout(() => this.renew(lease), lease.ttlMs / 3);
  }
}

/** A transaction's keys and values: what etcd's request-size limit mostly counts. */
function requestBytes(request: TxnRequest): number {
  let bytes = 0;
  for (const compare of request.compare) bytes += Buffer.byteLength(compare.key);
  for (const op of [...request.success, ...(request.failure ?? [])]) {
    bytes += Buffer.byteLength(op.key);
    if (op.type === 'put') bytes += Buffer.byteLength(op.value);
  }
  return bytes;
}

/** etcd refuses a branch that writes one key twice, or puts a key it also deletes. */
function checkDuplicates(ops: readonly TxnOp[]): void {
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.type !== 'put') continue;
    if (puts.has(op.key))
      throw new InvalidTxnError('etcdserver: duplicate key given in txn request');
    puts.add(op.key);
  }
  for (const op of ops) {
    if (op.type === 'delete' && puts.has(op.key)) {
      throw new InvalidTxnError('etcdserver: duplicate key given in txn request');
    }
  }
}
