import type {
  KeyValueRecord,
  MirrorHandle,
  MirrorHandlers,
  MirrorSource,
} from '../prefix-mirror.js';
import {
  CompactedError,
  FutureRevisionError,
  type MemoryEvent,
  type MemoryKeyValue,
  type MemoryStore,
  type MemoryWatch,
} from './store.js';

function toRecord(kv: MemoryKeyValue): KeyValueRecord {
  return { key: kv.key, value: kv.value, modRevision: kv.modRevision };
}

/** `PrefixMirror`'s source on the in-memory store. */
export function memoryMirrorSource(store: MemoryStore): MirrorSource {
  return {
    follow: (prefix, handlers, { since } = {}) => followPrefix(store, prefix, handlers, since),
    list: async (prefix) => {
      const { kvs, revision } = store.range(prefix);
      return { records: kvs.map(toRecord), revision };
    },
  };
}

/**
 * Follows a prefix as etcd's source does (../etcd-mirror-source.ts), with its contract: a snapshot,
 * then every later change in revision order, each once; after a broken stream, a watch that
 * resumes from the first revision not delivered; after a cancel (the history it needed was
 * compacted) or a handler that threw, a fresh snapshot.
 */
function followPrefix(
  store: MemoryStore,
  prefix: string,
  handlers: MirrorHandlers,
  firstSince: bigint | undefined,
): MirrorHandle {
  let since = firstSince;
  let stopped = false;
  let watch: MemoryWatch | null = null;
  let resumeRevision = 0n;
  let markReady!: () => void;
  let failReady!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => undefined);

  const report = (err: Error) => {
    if (!stopped) handlers.onError?.(err);
  };
  const deliver = (call: () => void): boolean => {
    try {
      call();
      return true;
    } catch (err) {
      report(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  };

  const list = () => {
    if (stopped) return;
    const { kvs, revision } = listing();
    resumeRevision = revision + 1n;
    if (!deliver(() => handlers.onReset(kvs.map(toRecord), revision))) {
      queueMicrotask(list);
      return;
    }
    startWatch();
  };

  // As of `since` the first time, when the store still holds it; else as of now.
  const listing = () => {
    const at = since;
    since = undefined;
    if (at !== undefined) {
      try {
        return store.range(prefix, at);
      } catch (err) {
        if (!(err instanceof CompactedError || err instanceof FutureRevisionError)) throw err;
      }
    }
    return store.range(prefix);
  };

  const onEvents = (events: MemoryEvent[]) => {
    // The events of one revision share it: only those of revisions already delivered repeat.
    const delivered = resumeRevision;
    for (const { type, kv } of events) {
      if (kv.modRevision < delivered) continue;
      const value = type === 'delete' ? '' : kv.value;
      const handled = deliver(() =>
        handlers.onEvent({ type, key: kv.key, value, modRevision: kv.modRevision }),
      );
      if (!handled) {
        watch?.cancel();
        queueMicrotask(list);
        return;
      }
      resumeRevision = kv.modRevision + 1n;
    }
  };

  const startWatch = () => {
    if (stopped) return;
    const current = store.watch(prefix, resumeRevision, {
      onEvents: (events) => {
        if (!stopped && watch === current) onEvents(events);
      },
      onCanceled: (err) => {
        if (stopped || watch !== current) return;
        report(new Error(`watch of ${prefix} canceled, listing again: ${err.message}`));
        list();
      },
      onDisconnected: (err) => {
        if (stopped || watch !== current) return;
        report(err);
        startWatch();
      },
    });
    watch = current;
    markReady();
  };

  queueMicrotask(list);
  return {
    ready,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      failReady(new Error(`list-then-watch of ${prefix} stopped before it was ready`));
      watch?.cancel();
    },
  };
}
