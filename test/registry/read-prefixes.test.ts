import { randomUUID } from 'node:crypto';
import type { Etcd3, IKeyValue } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { PrefixRead } from '../../src/registry/read-prefixes.js';
import { useEtcd } from '../support/etcd-suite.js';

const etcd = useEtcd();

/** A snapshot of a fresh prefix that decodes to `key=value` lines and counts its decodes. */
function snapshotOfFreshPrefix(client: Etcd3) {
  const prefix = `/snapshot-${randomUUID()}/`;
  const counter = { decodes: 0 };
  const snapshot = new PrefixRead(client, prefix, (kvs: readonly IKeyValue[]) => {
    counter.decodes++;
    return kvs.map((kv) => `${kv.key.toString().slice(prefix.length)}=${kv.value.toString()}`);
  });
  const put = (name: string, value: string) => client.put(`${prefix}${name}`).value(value);
  const remove = (name: string) => client.delete().key(`${prefix}${name}`);
  return { prefix, snapshot, counter, put, remove };
}

describe('readPrefixes', () => {
  it('decodes the prefix once while nothing under it changes, whatever changes elsewhere', async () => {
    const client = etcd.client();
    const { prefix, snapshot, counter, put } = snapshotOfFreshPrefix(client);
    await put('a', '1');
    await put('b', '2');

    expect(await snapshot.read()).toEqual(['a=1', 'b=2']);
    await client.put(`${prefix.slice(0, -1)}-other/x`).value('elsewhere');
    expect(await snapshot.read()).toEqual(['a=1', 'b=2']);
    expect(await snapshot.read()).toEqual(['a=1', 'b=2']);
    expect(counter.decodes).toBe(1);

    // Found unchanged after a write elsewhere, it still sees the next write under it.
    await put('c', '3');
    expect(await snapshot.read()).toEqual(['a=1', 'b=2', 'c=3']);
    expect(counter.decodes).toBe(2);
  });

  it('shows every write under the prefix completed before the read', async () => {
    const client = etcd.client();
    const { snapshot, put, remove } = snapshotOfFreshPrefix(client);
    expect(await snapshot.read()).toEqual([]);

    await put('a', '1');
    expect(await snapshot.read()).toEqual(['a=1']);
    await put('b', '2');
    expect(await snapshot.read()).toEqual(['a=1', 'b=2']);
    // Same value again: still a write, and harmless to see.
    await put('a', '1');
    expect(await snapshot.read()).toEqual(['a=1', 'b=2']);
    await put('a', 'changed');
    expect(await snapshot.read()).toEqual(['a=changed', 'b=2']);
    // The key with the newest revision goes: the count tells.
    await remove('a');
    expect(await snapshot.read()).toEqual(['b=2']);
    await remove('b');
    expect(await snapshot.read()).toEqual([]);
  });

  it('sees a delete hidden by a write of another key, and a delete and re-create', async () => {
    const client = etcd.client();
    const { snapshot, put, remove } = snapshotOfFreshPrefix(client);
    await put('a', '1');
    await put('b', '2');
    expect(await snapshot.read()).toEqual(['a=1', 'b=2']);

    // Same count as before, but a newer key.
    await remove('a');
    await put('c', '3');
    expect(await snapshot.read()).toEqual(['b=2', 'c=3']);

    // Same count and same value as before, but a newer revision.
    await remove('b');
    await put('b', '2');
    expect(await snapshot.read()).toEqual(['b=2', 'c=3']);

    // An older key replaced by a change of a newer one: the count tells.
    await remove('b');
    await put('c', '4');
    expect(await snapshot.read()).toEqual(['c=4']);
  });

  it('decodes again after being cleared', async () => {
    const client = etcd.client();
    const { snapshot, counter, put } = snapshotOfFreshPrefix(client);
    await put('a', '1');
    await snapshot.read();
    snapshot.clear();
    expect(await snapshot.read()).toEqual(['a=1']);
    expect(counter.decodes).toBe(2);
  });
});
