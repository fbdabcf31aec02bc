import type { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { etcdMirrorSource } from '../../src/registry/etcd-mirror-source.js';
import type {
  KeyValueRecord,
  MirrorHandle,
  MirrorHandlers,
  WatchEvent,
} from '../../src/registry/prefix-mirror.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';

// Generous bounds for a loaded two-core machine; no test asserts how fast anything is.
const EVENTUALLY = { timeout: 25_000, interval: 50 };
const PROMPTLY_MS = 5_000;
const RESTART_TEST_TIMEOUT_MS = 60_000;

/** Records everything a list-then-watch hands to its handlers. */
class Recorder implements MirrorHandlers {
  readonly resets: { records: KeyValueRecord[]; revision: bigint }[] = [];
  readonly events: WatchEvent[] = [];
  readonly errors: Error[] = [];

  onReset(records: KeyValueRecord[], revision: bigint): void {
    this.resets.push({ records, revision });
  }

  onEvent(event: WatchEvent): void {
    this.events.push(event);
  }

  onError(err: Error): void {
    this.errors.push(err);
  }
}

let cluster: EtcdCluster;
/** Talks to members 1 and 2 only, so it keeps writing while member 0 is down. */
let writer: Etcd3;
const watchClients: Etcd3[] = [];
const listWatches: MirrorHandle[] = [];
let prefixCounter = 0;

beforeAll(async () => {
  cluster = await startEtcd({ members: 3 });
  writer = createEtcdClient({ ...cluster.clientConfig(), endpoints: cluster.endpoints.slice(1) });
});

afterAll(async () => {
  writer?.close();
  await cluster?.stop();
});

afterEach(async () => {
  await Promise.all(listWatches.splice(0).map((listWatch) => listWatch.stop()));
  for (const client of watchClients.splice(0)) client.close();
  // A test that failed half-way may have left member 0 down.
  if (cluster.pids().length < 3) await cluster.startMember(0);
});

function uniquePrefix(): string {
  prefixCounter += 1;
  return `/lw/${prefixCounter}/`;
}

/** A client of member 0 alone: stopping that member cuts this client off. */
function memberZeroClient(): Etcd3 {
  const client = createEtcdClient({
    ...cluster.clientConfig(),
    endpoints: [cluster.endpoints[0]!],
  });
  watchClients.push(client);
  return client;
}

function start(client: Etcd3, prefix: string, recorder: Recorder, pageSize?: number): MirrorHandle {
  const listWatch = etcdMirrorSource(client, pageSize ? { pageSize } : {}).follow(prefix, recorder);
  listWatches.push(listWatch);
  return listWatch;
}

async function put(key: string, value: string): Promise<bigint> {
  return BigInt((await writer.put(key).value(value)).header.revision);
}

async function remove(key: string): Promise<bigint> {
  return BigInt((await writer.delete().key(key)).header.revision);
}

function expectPrompt(promise: Promise<void>): Promise<void> {
  return expect(
    Promise.race([
      promise.then(() => 'settled'),
      new Promise((resolve) => setTimeout(resolve, PROMPTLY_MS, 'still pending')),
    ]),
  ).resolves.toBe('settled');
}

describe('etcdMirrorSource.follow', () => {
  it('hands over the whole prefix, listed page by page at one revision, as the first snapshot', async () => {
    const prefix = uniquePrefix();
    const written = new Map<string, bigint>();
    for (const name of ['g', 'a', 'e', 'c', 'b', 'f', 'd']) {
      written.set(`${prefix}${name}`, await put(`${prefix}${name}`, `value-${name}`));
    }
    // Neighbours that share the prefix's characters but are outside it.
    await put(prefix.slice(0, -1), 'parent');
    await put(`${prefix.slice(0, -1)}0`, 'sibling');

    const recorder = new Recorder();
    await start(memberZeroClient(), prefix, recorder, 3).ready;

    expect(recorder.resets).toHaveLength(1);
    const snapshot = recorder.resets[0]!;
    expect(snapshot.records).toEqual(
      [...written.keys()].sort().map((key) => ({
        key,
        value: `value-${key.slice(prefix.length)}`,
        modRevision: written.get(key),
      })),
    );
    expect(snapshot.revision).toBeGreaterThanOrEqual(written.get(`${prefix}d`)!);
    expect(recorder.events).toEqual([]);
  });

  it('delivers puts and deletes after the snapshot in revision order, each once', async () => {
    const prefix = uniquePrefix();
    await put(`${prefix}existing`, 'before');
    const recorder = new Recorder();
    await start(memberZeroClient(), prefix, recorder).ready;

    const expected: WatchEvent[] = [];
    const expectPut = async (name: string, value: string) =>
      expected.push({
        type: 'put',
        key: prefix + name,
        value,
        modRevision: await put(prefix + name, value),
      });
    const expectDelete = async (name: string) =>
      expected.push({
        type: 'delete',
        key: prefix + name,
        value: '',
        modRevision: await remove(prefix + name),
      });

    await expectPut('a', '1');
    await expectPut('b', '2');
    await expectPut('a', '3');
    await expectDelete('existing');
    // Two writes in one transaction share a revision and must both arrive.
    const txn = await writer.kv.txn({
      success: [
        { request_put: { key: Buffer.from(`${prefix}c`), value: Buffer.from('4') } },
        { request_put: { key: Buffer.from(`${prefix}d`), value: Buffer.from('5') } },
      ],
    });
    const txnRevision = BigInt(txn.header.revision);
    expected.push(
      { type: 'put', key: `${prefix}c`, value: '4', modRevision: txnRevision },
      { type: 'put', key: `${prefix}d`, value: '5', modRevision: txnRevision },
    );
    await expectDelete('a');
    await put('/lw/outside', 'not watched');

    await vi.waitFor(() => expect(recorder.events).toHaveLength(expected.length), EVENTUALLY);
    expect(recorder.events).toEqual(expected);
    expect(recorder.resets).toHaveLength(1);
  });

  it(
    'resumes after its etcd member restarts and delivers the writes made meanwhile, without duplicates or gaps',
    async () => {
      const prefix = uniquePrefix();
      const recorder = new Recorder();
      await start(memberZeroClient(), prefix, recorder).ready;

      const expected: WatchEvent[] = [];
      const write = async (round: string, count: number) => {
        for (let i = 0; i < count; i++) {
          const key = `${prefix}${round}-${i}`;
          expected.push({ type: 'put', key, value: round, modRevision: await put(key, round) });
        }
      };
      await write('before', 3);
      await vi.waitFor(() => expect(recorder.events).toHaveLength(3), EVENTUALLY);

      await cluster.stopMember(0);
      await write('while-down', 5);
      expected.push({
        type: 'delete',
        key: `${prefix}before-1`,
        value: '',
        modRevision: await remove(`${prefix}before-1`),
      });
      await cluster.startMember(0);
      await write('after', 2);

      await vi.waitFor(() => expect(recorder.events).toHaveLength(expected.length), EVENTUALLY);
      expect(recorder.events).toEqual(expected);
      expect(recorder.resets).toHaveLength(1);
      expect(recorder.errors.length).toBeGreaterThan(0);
    },
    RESTART_TEST_TIMEOUT_MS,
  );

  it(
    'lists again when the history it must resume from was compacted while it was cut off',
    async () => {
      const prefix = uniquePrefix();
      await put(`${prefix}kept`, 'old');
      await put(`${prefix}deleted`, 'doomed');
      const recorder = new Recorder();
      await start(memberZeroClient(), prefix, recorder).ready;
      expect(recorder.resets).toHaveLength(1);

      await cluster.stopMember(0);
      for (let i = 0; i < 20; i++) await put(`${prefix}churn`, `${i}`);
      await put(`${prefix}kept`, 'new');
      const compactAt = await remove(`${prefix}deleted`);
      await writer.kv.compact({ revision: compactAt.toString(), physical: true });
      await cluster.startMember(0);

      await vi.waitFor(() => expect(recorder.resets).toHaveLength(2), EVENTUALLY);
      const relisted = recorder.resets[1]!;
      expect(relisted.revision).toBeGreaterThanOrEqual(compactAt);
      const truth = await writer.getAll().prefix(prefix).exec();
      expect(relisted.records).toEqual(
        truth.kvs.map((kv) => ({
          key: kv.key.toString(),
          value: kv.value.toString(),
          modRevision: BigInt(kv.mod_revision),
        })),
      );
      expect(relisted.records.map((record) => record.key)).toEqual([
        `${prefix}churn`,
        `${prefix}kept`,
      ]);
      expect(recorder.events).toEqual([]);
      expect(recorder.errors.some((err) => err.message.includes('canceled'))).toBe(true);

      const afterwards = await put(`${prefix}later`, 'watched again');
      await vi.waitFor(() => expect(recorder.events).toHaveLength(1), EVENTUALLY);
      expect(recorder.events).toEqual([
        { type: 'put', key: `${prefix}later`, value: 'watched again', modRevision: afterwards },
      ]);
    },
    RESTART_TEST_TIMEOUT_MS,
  );

  it('gives a fresh snapshot to a handler that threw on an event', async () => {
    const prefix = uniquePrefix();
    const recorder = new Recorder();
    let failures = 0;
    const failingOnce: MirrorHandlers = {
      onReset: (records, revision) => recorder.onReset(records, revision),
      onError: (err) => recorder.onError(err),
      onEvent: (event) => {
        if (event.key.endsWith('poison') && failures++ === 0) throw new Error('handler bug');
        recorder.onEvent(event);
      },
    };
    const listWatch = etcdMirrorSource(memberZeroClient()).follow(prefix, failingOnce);
    listWatches.push(listWatch);
    await listWatch.ready;

    await put(`${prefix}poison`, 'x');
    await vi.waitFor(() => expect(recorder.resets).toHaveLength(2), EVENTUALLY);
    expect(recorder.resets[1]!.records.map((record) => record.key)).toEqual([`${prefix}poison`]);
    expect(recorder.errors.map((err) => err.message)).toContain('handler bug');

    const next = await put(`${prefix}next`, 'y');
    await vi.waitFor(() => expect(recorder.events).toHaveLength(1), EVENTUALLY);
    expect(recorder.events[0]).toEqual({
      type: 'put',
      key: `${prefix}next`,
      value: 'y',
      modRevision: next,
    });
  });

  it('stops promptly while watching, and calls no handler afterwards', async () => {
    const prefix = uniquePrefix();
    const client = memberZeroClient();
    const stopped = new Recorder();
    const listWatch = start(client, prefix, stopped);
    await listWatch.ready;
    const witness = new Recorder();
    await start(client, prefix, witness).ready;

    await expectPrompt(listWatch.stop());
    await expectPrompt(listWatch.stop());
    await put(`${prefix}after-stop`, 'x');
    // The witness watches the same member over the same connection: once it has the event,
    // the stopped one would have been sent it too.
    await vi.waitFor(() => expect(witness.events).toHaveLength(1), EVENTUALLY);
    expect(stopped.events).toEqual([]);
    expect(stopped.resets).toHaveLength(1);
  });

  it(
    'stops promptly before its first list succeeds, rejecting ready',
    async () => {
      await cluster.stopMember(0);
      const recorder = new Recorder();
      const listWatch = start(memberZeroClient(), uniquePrefix(), recorder);
      await vi.waitFor(() => expect(recorder.errors.length).toBeGreaterThan(0), EVENTUALLY);

      await expectPrompt(listWatch.stop());
      await expect(listWatch.ready).rejects.toThrow(/stopped before it was ready/);
      expect(recorder.resets).toEqual([]);
    },
    RESTART_TEST_TIMEOUT_MS,
  );

  it(
    'stops promptly while its etcd member is down mid-watch',
    async () => {
      const recorder = new Recorder();
      const listWatch = start(memberZeroClient(), uniquePrefix(), recorder);
      await listWatch.ready;
      await cluster.stopMember(0);
      await vi.waitFor(() => expect(recorder.errors.length).toBeGreaterThan(0), EVENTUALLY);

      await expectPrompt(listWatch.stop());
    },
    RESTART_TEST_TIMEOUT_MS,
  );
});
