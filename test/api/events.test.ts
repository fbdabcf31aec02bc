import { randomUUID } from 'node:crypto';
import { type ClientRequest, createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventStream } from '../../src/api/routes/events.js';
import type { PresenceLease } from '../../src/registry/ports.js';
import { openRegistry } from '../../src/registry/registry.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';

// Generous bounds for a loaded two-core machine; no test asserts how fast anything is.
const EVENTUALLY = { timeout: 20_000, interval: 20 };
const M1 = 'a1000000000000000000000000000000';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;
const leases: PresenceLease[] = [];
const streams: EventStreamReader[] = [];

/** A stream's status, headers and lines as they arrive. */
class EventStreamReader {
  readonly lines: string[] = [];
  response!: IncomingMessage;
  private readonly request: ClientRequest;
  private partial = '';
  readonly opened: Promise<void>;

  constructor(url: string) {
    let opened!: () => void;
    let failed!: (err: Error) => void;
    this.opened = new Promise((resolve, reject) => {
      opened = resolve;
      failed = reject;
    });
    this.request = get(url, (res) => {
      this.response = res;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const parts = (this.partial + chunk).split('\n');
        this.partial = parts.pop() ?? '';
        this.lines.push(...parts);
      });
      res.on('error', () => undefined);
      opened();
    });
    this.request.on('error', failed);
    streams.push(this);
  }

  /** Parsed lines, blank ones left out. */
  get events(): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line !== '').map((line) => JSON.parse(line));
  }

  get lastRevision(): string {
    return this.events.at(-1)!.revision as string;
  }

  close(): void {
    this.request.destroy();
  }
}

function follow(query = ''): EventStreamReader {
  return new EventStreamReader(`${api.baseUrl}/fleet/ext/v1/events${query}`);
}

async function call(method: string, path: string, body?: object): Promise<Response> {
  return fetch(`${api.baseUrl}${path}`, {
    method,
    ...(body !== undefined && {
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    }),
  });
}

const OPTIONS = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];

async function submit(name: string, desiredState = 'inactive'): Promise<void> {
  const res = await call('PUT', `/fleet/v1/units/${name}`, { desiredState, options: OPTIONS });
  expect(res.status).toBe(201);
}

async function setDesiredState(name: string, desiredState: string): Promise<void> {
  const res = await call('PUT', `/fleet/v1/units/${name}`, { desiredState });
  expect(res.status).toBe(204);
}

async function destroy(name: string): Promise<void> {
  expect((await call('DELETE', `/fleet/v1/units/${name}`)).status).toBe(204);
}

/** Publishes a state the way an agent does (there is no agent in these tests). */
async function publish(name: string, hash: string, launched: boolean): Promise<void> {
  const value = { loadState: 'loaded', activeState: 'active', subState: 'running', hash, launched };
  await client.put(api.registry.keys.unitState(name, M1)).value(JSON.stringify(value));
}

async function unitHash(name: string): Promise<string> {
  const unit = await api.registry.units.get(name);
  return unit!.hash;
}

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
});

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await Promise.all(leases.splice(0).map((lease) => lease.close()));
  await api?.close();
});

afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

describe('GET /fleet/ext/v1/events', () => {
  it('starts with a reset and a snapshot whose objects read exactly as the API shows them', async () => {
    api = await startApi(client);
    leases.push(
      await api.registry.presence.open(
        {
          id: M1,
          publicIP: '10.0.0.1',
          metadata: { zone: 'b', disk: 'ssd' },
          capabilities: { disableEngine: false },
          version: 'test',
          sessionToken: randomUUID(),
        },
        10_000,
      ),
    );
    await submit('a.service', 'loaded');
    await publish('a.service', await unitHash('a.service'), true);

    const stream = follow();
    await stream.opened;
    expect(stream.response.statusCode).toBe(200);
    expect(stream.response.headers['content-type']).toBe('application/x-ndjson');
    await vi.waitFor(() => expect(stream.events).toHaveLength(4), EVENTUALLY);
    const [reset, ...objects] = stream.lines;
    const revision = (JSON.parse(reset!) as { revision: string }).revision;
    expect(reset).toBe(`{"type":"reset","revision":"${revision}"}`);
    expect(revision).toMatch(/^[1-9][0-9]*$/);

    const unit = await (await call('GET', '/fleet/v1/units/a.service')).text();
    const { states } = (await (await call('GET', '/fleet/v1/state')).json()) as {
      states: [object];
    };
    const { machines } = (await (await call('GET', '/fleet/v1/machines')).json()) as {
      machines: [object];
    };
    expect(objects).toEqual([
      `{"revision":"${revision}","type":"unit","name":"a.service","object":${unit}}`,
      `{"revision":"${revision}","type":"state","name":"a.service","machineID":"${M1}","object":${JSON.stringify(states[0])}}`,
      `{"revision":"${revision}","type":"machine","name":"${M1}","object":${JSON.stringify(machines[0])}}`,
    ]);
  });

  it('sends each change once, the removal as null, and nothing for what the API does not show', async () => {
    api = await startApi(client);
    const stream = follow();
    await vi.waitFor(() => expect(stream.events).toHaveLength(1), EVENTUALLY);
    await submit('b.service');
    const hash = await unitHash('b.service');
    // The unit is not placed on M1: the flag flip changes neither the unit nor the state's API form.
    await publish('b.service', hash, false);
    await publish('b.service', hash, true);
    await setDesiredState('b.service', 'loaded');
    await destroy('b.service');
    await vi.waitFor(() => expect(stream.events).toHaveLength(5), EVENTUALLY);
    const events = stream.events.slice(1);
    expect(events.map((event) => [event.type, event.name])).toEqual([
      ['unit', 'b.service'],
      ['state', 'b.service'],
      ['unit', 'b.service'],
      ['unit', 'b.service'],
    ]);
    expect(events[0]!.object).toEqual({
      currentState: 'inactive',
      desiredState: 'inactive',
      name: 'b.service',
      options: OPTIONS,
    });
    expect(events[2]!.object).toMatchObject({ desiredState: 'loaded' });
    expect(events[3]!.object).toBeNull();
    const revisions = events.map((event) => BigInt(event.revision as string));
    expect(revisions).toEqual([...revisions].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('resumes from the last revision a client saw: nothing lost, nothing twice', async () => {
    api = await startApi(client);
    const throughout = follow();
    const first = follow();
    await vi.waitFor(() => expect(first.events).toHaveLength(1), EVENTUALLY);
    await vi.waitFor(() => expect(throughout.events).toHaveLength(1), EVENTUALLY);
    await submit('c.service');
    await vi.waitFor(() => expect(first.events).toHaveLength(2), EVENTUALLY);
    first.close();
    await setDesiredState('c.service', 'loaded');
    await setDesiredState('c.service', 'launched');
    const resumed = follow(`?since=${first.lastRevision}`);
    await vi.waitFor(() => expect(resumed.events).toHaveLength(2), EVENTUALLY);
    await destroy('c.service');
    await vi.waitFor(() => expect(resumed.events).toHaveLength(3), EVENTUALLY);
    await vi.waitFor(() => expect(throughout.events).toHaveLength(5), EVENTUALLY);
    expect([...first.lines, ...resumed.lines].filter((line) => line !== '')).toEqual(
      throughout.lines.filter((line) => line !== ''),
    );
  });

  it('answers a compacted revision with a reset and a snapshot, then carries on', async () => {
    api = await startApi(client);
    await submit('d.service');
    const { header } = await client.get('any').exec();
    await submit('e.service');
    const now = (await client.get('any').exec()).header.revision;
    await client.kv.compact({ revision: now, physical: true });

    const stream = follow(`?since=${BigInt(header.revision) - 1n}`);
    await vi.waitFor(() => expect(stream.events).toHaveLength(3), EVENTUALLY);
    // The etcd is shared, so the snapshot may be of a revision later than `now`.
    const reset = stream.events[0] as { type: string; revision: string };
    expect(reset.type).toBe('reset');
    expect(BigInt(reset.revision) >= BigInt(now)).toBe(true);
    expect(stream.events.slice(1).map((event) => [event.revision, event.name])).toEqual([
      [reset.revision, 'd.service'],
      [reset.revision, 'e.service'],
    ]);
    await destroy('d.service');
    await vi.waitFor(() => expect(stream.events).toHaveLength(4), EVENTUALLY);
    expect(stream.events[3]).toMatchObject({ type: 'unit', name: 'd.service', object: null });
  });

  it('refuses a since that is no revision, and methods other than GET', async () => {
    api = await startApi(client);
    for (const since of ['0', 'abc', '-1', '01', '99999999999999999999']) {
      const res = await call('GET', `/fleet/ext/v1/events?since=${since}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: { code: 400, message: 'since must be a revision: a positive decimal integer' },
      });
    }
    const res = await call('POST', '/fleet/ext/v1/events');
    expect(res.status).toBe(405);
  });
});

describe('the event stream when idle', () => {
  it('sends a blank line now and then, so that the client can tell it is alive', async () => {
    const registry = openRegistry(client, `/events-idle-${randomUUID()}/`, () => undefined);
    const ctx = { registry, tokenLimit: 100, log: pino({ level: 'silent' }) };
    const server = createServer((req, res) => eventStream(ctx, req, res, 50));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const stream = new EventStreamReader(`http://127.0.0.1:${port}/`);
      await vi.waitFor(() => expect(stream.lines.slice(1)).toContain(''), EVENTUALLY);
      expect(stream.events).toHaveLength(1);
      stream.close();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
