/**
 * How the registry's readers follow a prefix, in terms neither etcd nor the in-memory
 * twin owns: both list-then-watch helpers deliver these.
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

export interface ListWatchHandlers {
  /**
   * The whole prefix as of `revision`. Called first, and again whenever the watch cannot be
   * resumed (the history it needed was compacted) or a handler threw: the receiver replaces
   * everything it knew.
   */
  onReset(records: KeyValueRecord[], revision: bigint): void;
  /** Every change after the last reset, in revision order, each exactly once. */
  onEvent(event: WatchEvent): void;
  /** Trouble the helper recovers from by itself (etcd unreachable, watch canceled). */
  onError?(err: Error): void;
}

export interface WatchHandle {
  /** Settles once the first snapshot was delivered and etcd acknowledged the watch. */
  readonly ready: Promise<void>;
  /** Stops watching; no handler runs after it resolves. Always returns promptly. */
  stop(): Promise<void>;
}

/** A key's value and the revision that last wrote it (the base of optimistic writes). */
export interface MirroredValue {
  value: string;
  modRevision: string;
}
