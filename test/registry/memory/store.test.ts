import { describe, expect, it } from 'vitest';
import {
  CompactedError,
  FutureRevisionError,
  InvalidTxnError,
  LeaseNotFoundError,
  type MemoryEvent,
  MemoryStore,
} from '../../../src/registry/memory/store.js';
import { FakeClock } from '../../support/fake-clock.js';

function put(store: MemoryStore, key: string, value: string, lease?: string): bigint {
  return store.txn({
    compare: [],
    success: [{ type: 'put', key, value, ...(lease !== undefined && { lease }) }],
  }).revision;
}

describe('in-memory store', () => {
  it('gives each write transaction one revision, and keeps create and mod revisions per key', () => {
    const store = new MemoryStore(new FakeClock());
    const first = put(store, '/a', '1');
    const second = store.txn({
      compare: [{ key: '/a', target: 'create', op: '==', revision: first }],
      success: [
        { type: 'put', key: '/a', value: '2' },
        { type: 'put', key: '/b', value: '1' },
      ],
    });
    expect(second).toMatchObject({ succeeded: true, revision: first + 1n });
    expect(store.get('/a')).toMatchObject({ createRevision: first, modRevision: first + 1n });
    const refused = store.txn({
      compare: [{ key: '/a', target: 'mod', op: '==', revision: first }],
      success: [{ type: 'delete', key: '/a' }],
      failure: [{ type: 'get', key: '/a' }],
    });
    expect(refused.succeeded).toBe(false);
    expect(refused.revision).toBe(first + 1n);
    expect(refused.reads.get(0)?.value).toBe('2');
  });

  it('reads as of a past revision until it is compacted, and never a future one', () => {
    const store = new MemoryStore(new FakeClock());
    const created = put(store, '/k/a', 'old');
    put(store, '/k/a', 'new');
    store.txn({ compare: [], success: [{ type: 'delete', key: '/k/a' }] });
    expect(store.range('/k/', created).kvs.map((kv) => kv.value)).toEqual(['old']);
    expect(store.range('/k/').kvs).toEqual([]);
    expect(() => store.range('/k/', store.revision + 1n)).toThrow(FutureRevisionError);

    store.compact(created + 1n);
    expect(() => store.range('/k/', created)).toThrow(CompactedError);
    expect(store.range('/k/', created + 1n).kvs.map((kv) => kv.value)).toEqual(['new']);
    expect(() => store.compact(created)).toThrow(CompactedError);
  });

  it('refuses, before evaluating, a branch over the cap or writing one key twice', () => {
    const store = new MemoryStore(new FakeClock());
    const puts = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ type: 'put' as const, key: `/${i}`, value: '' }));
    expect(() => store.txn({ compare: [], success: puts(129) })).toThrow(InvalidTxnError);
    expect(() =>
      store.txn({
        compare: [],
        success: [
          { type: 'put', key: '/x', value: '' },
          { type: 'delete', key: '/x' },
        ],
      }),
    ).toThrow(/duplicate key/);
    expect(store.revision).toBe(1n);
    expect(() => put(store, '/x', '', '42')).toThrow(LeaseNotFoundError);
  });

  it('expires a released lease a TTL after its last renewal, with its keys, and renews a kept one', () => {
    const clock = new FakeClock();
    const store = new MemoryStore(clock);
    const kept = store.grant(3);
    const released = store.grant(3);
    put(store, '/kept', '', kept.id);
    put(store, '/released', '', released.id);
    let gone = 0;
    store.onLeaseGone(released.id, () => gone++);
    clock.advance(1_000);
    store.release(released.id);
    // Its last renewal came a third of the TTL after the grant, just before the release.
    clock.advance(3_000 - 1);
    expect(store.timeToLive(released.id)).toBe(0);
    expect(store.get('/released')).not.toBeNull();
    clock.advance(1);
    expect(store.timeToLive(released.id)).toBe(-1);
    expect(store.get('/released')).toBeNull();
    expect(gone).toBe(1);
    clock.advance(60_000);
    expect(store.get('/kept')).not.toBeNull();
    expect(store.renewedAt(kept.id)).toBe(clock.now());
  });

  it('watches from a revision in history, and cancels a watch from a compacted one', async () => {
    const store = new MemoryStore(new FakeClock());
    const first = put(store, '/w/a', '1');
    put(store, '/other', '');
    put(store, '/w/b', '2');
    const events: MemoryEvent[][] = [];
    const canceled: Error[] = [];
    const listener = {
      onEvents: (batch: MemoryEvent[]) => events.push(batch),
      onCanceled: (err: Error) => canceled.push(err),
      onDisconnected: () => undefined,
    };
    const watch = store.watch('/w/', first, listener);
    expect(events).toEqual([]);
    await Promise.resolve();
    expect(events.map((batch) => batch.map((event) => event.kv.key))).toEqual([['/w/a'], ['/w/b']]);
    watch.cancel();

    store.compact(store.revision);
    store.watch('/w/', first, listener);
    await Promise.resolve();
    expect(canceled.map((err) => err.message)).toEqual([
      'etcdserver: mvcc: required revision has been compacted',
    ]);
  });
});
