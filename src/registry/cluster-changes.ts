import { ClusterObjects, type KeyChange } from './cluster-objects.js';
import type { RegistryKeys } from './keys.js';
import type { Revision } from './model.js';
import type { ClusterChangeHandlers, ClusterChanges, ClusterChangesHandle } from './ports.js';
import type { MirrorSource, WatchEvent } from './prefix-mirror.js';

/**
 * `ClusterChanges` on either store: one list-then-watch of the whole key prefix (the
 * store's `MirrorSource`; from `since` when asked), whose key changes `ClusterObjects` turns
 * into the API's objects, a revision at a time. Watching the whole prefix keeps the keys a
 * transaction wrote together in one revision, whatever object they belong to.
 */
export class MirroredClusterChanges implements ClusterChanges {
  constructor(
    private readonly source: MirrorSource,
    private readonly keys: RegistryKeys,
  ) {}

  follow(since: Revision | null, handlers: ClusterChangeHandlers): ClusterChangesHandle {
    const objects = new ClusterObjects(this.keys);
    let started = false;
    let stopped = false;
    let pending: WatchEvent[] = [];

    // A watch hands over the events of one revision together, each on its own call: they
    // are gathered and turned into objects once the whole response is in.
    const flush = () => {
      const events = pending;
      pending = [];
      let from = 0;
      while (!stopped && from < events.length) {
        const revision = events[from]!.modRevision;
        let to = from;
        while (to < events.length && events[to]!.modRevision === revision) to++;
        const keyChanges: KeyChange[] = events
          .slice(from, to)
          .map(({ type, key, value }) => ({ key, value: type === 'delete' ? null : value }));
        const changes = objects.apply(keyChanges);
        if (changes.length > 0) handlers.onChanges({ revision: revision.toString(), changes });
        from = to;
      }
    };

    const handle = this.source.follow(
      this.keys.prefix,
      {
        onReset: (records, revision) => {
          flush();
          if (stopped) return;
          if (!started) {
            started = true;
            objects.replaceAll(records);
            // A stream resumed where its client left off has nothing to show yet.
            if (since === null || revision.toString() !== since) {
              handlers.onSnapshot(objects.snapshot(revision.toString()));
            }
            return;
          }
          // History the watch needed was compacted: what changed meanwhile, all at once.
          const changes = objects.replaceAll(records);
          if (changes.length > 0) handlers.onChanges({ revision: revision.toString(), changes });
        },
        onEvent: (event) => {
          if (pending.length === 0) queueMicrotask(flush);
          pending.push(event);
        },
        onError: (err) => {
          if (!stopped) handlers.onError?.(err);
        },
      },
      since === null ? {} : { since: BigInt(since) },
    );
    return {
      stop: async () => {
        stopped = true;
        await handle.stop();
      },
    };
  }
}
