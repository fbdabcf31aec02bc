import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { readPrefix } from '../../src/registry/paged-range.js';
import { useEtcd } from '../support/etcd-suite.js';

const etcd = useEtcd();

/** Every Range reply `client` receives: how many keys it held and the revision asked for. */
function recordReplies(client: Etcd3, afterEach?: (reply: number) => Promise<void>) {
  const replies: Array<{ keys: number; revision: string | undefined }> = [];
  const range = client.kv.range.bind(client.kv);
  client.kv.range = async (request, callOptions) => {
    const response = await range(request, callOptions);
    replies.push({ keys: response.kvs.length, revision: request.revision?.toString() });
    await afterEach?.(replies.length);
    return response;
  };
  return replies;
}

const names = (kvs: ReadonlyArray<{ key: Buffer }>, prefix: string) =>
  kvs.map((kv) => kv.key.toString().slice(prefix.length));

describe('paged prefix reads', () => {
  it('read every key under the prefix, a page per reply, and nothing beside it', async () => {
    const client = etcd.client();
    const prefix = `/paged-${randomUUID()}/`;
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
      await client.put(`${prefix}${name}`).value(name);
    }
    await client.put(`${prefix.slice(0, -1)}0`).value('beside the prefix');
    const replies = recordReplies(client);

    const { kvs } = await readPrefix(client, prefix, { pageSize: 3 });
    expect(names(kvs, prefix)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(kvs.map((kv) => kv.value.toString())).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(replies.map((reply) => reply.keys)).toEqual([3, 3, 1]);
  });

  it('read later pages at the first page’s revision, so writes in between are not seen', async () => {
    const writer = etcd.client();
    const reader = etcd.client();
    const prefix = `/paged-${randomUUID()}/`;
    for (const name of ['a', 'b', 'c', 'd', 'e']) await writer.put(`${prefix}${name}`).value('1');
    const replies = recordReplies(reader, async (reply) => {
      if (reply !== 1) return;
      await writer.delete().key(`${prefix}d`);
      await writer.put(`${prefix}e`).value('2');
      await writer.put(`${prefix}f`).value('new');
    });

    const { revision, kvs } = await readPrefix(reader, prefix, { pageSize: 2 });
    expect(names(kvs, prefix)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(kvs.map((kv) => kv.value.toString())).toEqual(['1', '1', '1', '1', '1']);
    expect(replies.slice(1).map((reply) => reply.revision)).toEqual([revision, revision]);
    expect(replies[0]?.revision).toBeUndefined();
    const later = await readPrefix(reader, prefix, { pageSize: 2 });
    expect(names(later.kvs, prefix)).toEqual(['a', 'b', 'c', 'e', 'f']);
  });

  it('read at a given revision, keys only when asked', async () => {
    const client = etcd.client();
    const prefix = `/paged-${randomUUID()}/`;
    await client.put(`${prefix}a`).value('x'.repeat(1000));
    const { revision } = await readPrefix(client, prefix);
    await client.put(`${prefix}b`).value('later');

    const then = await readPrefix(client, prefix, { revision, keysOnly: true, pageSize: 1 });
    expect(then.revision).toBe(revision);
    expect(names(then.kvs, prefix)).toEqual(['a']);
    expect(then.kvs[0]?.value.length).toBe(0);
  });
});
