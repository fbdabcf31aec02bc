import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { sendRaw } from './support/raw-http.js';

/*
 * Each page of a list is a request of its own, served from what the previous pages read
 * while the registry is unchanged. These pin that a page never shows less than the writes
 * completed before it was asked for, through this fleetd or another.
 */

let etcd: EtcdCluster;
let client: Etcd3;

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
});
afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

const M1 = 'a1000000000000000000000000000000';

/** Two fleetds' APIs over one registry, pages of two. */
async function twoFleetds(): Promise<[ApiFixture, ApiFixture]> {
  const prefix = `/pages-${randomUUID()}/`;
  return [
    await startApi(client, { tokenLimit: 2, prefix }),
    await startApi(client, { tokenLimit: 2, prefix }),
  ];
}

async function get(api: ApiFixture, path: string): Promise<Record<string, unknown>> {
  const response = await sendRaw(api.baseUrl, { method: 'GET', path });
  expect(response.status).toBe(200);
  return JSON.parse(response.body) as Record<string, unknown>;
}

async function put(api: ApiFixture, name: string, body: object): Promise<number> {
  const response = await sendRaw(api.baseUrl, {
    method: 'PUT',
    path: `/fleet/v1/units/${name}`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.status;
}

const OPTIONS = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' }];

async function createUnits(api: ApiFixture, names: string[]): Promise<void> {
  for (const name of names) expect(await put(api, name, { options: OPTIONS })).toBe(201);
}

/** What an agent publishes for a unit it started (there is no agent in these tests). */
async function publishLaunched(api: ApiFixture, name: string, hash: string): Promise<void> {
  const value = { loadState: 'loaded', activeState: 'active', subState: 'running', hash };
  await client
    .put(api.registry.keys.unitState(name, M1))
    .value(JSON.stringify({ ...value, launched: true }));
}

const pageOf = (token: string) => `/fleet/v1/units?nextPageToken=${token}`;
const PAGE_2 = 'AgACAA==';
const PAGE_3 = 'AgADAA==';

describe('pages of GET /fleet/v1/units', () => {
  it('each show the writes made through another fleetd before they were asked for', async () => {
    const [reader, writer] = await twoFleetds();
    try {
      await createUnits(writer, ['a.service', 'b.service', 'c.service', 'd.service', 'e.service']);
      const first = await get(reader, '/fleet/v1/units');
      expect((first.units as Array<{ name: string }>).map((unit) => unit.name)).toEqual([
        'a.service',
        'b.service',
      ]);

      // Between the first page and the second: c is started and runs on M1, e goes.
      expect(await put(writer, 'c.service', { desiredState: 'launched' })).toBe(204);
      const c = await writer.registry.units.get('c.service');
      await client.put(writer.registry.keys.placement('c.service')).value(M1);
      await publishLaunched(writer, 'c.service', c?.hash ?? '');
      expect(
        (await sendRaw(writer.baseUrl, { method: 'DELETE', path: '/fleet/v1/units/e.service' }))
          .status,
      ).toBe(204);

      const second = await get(reader, pageOf(PAGE_2));
      expect(second.units).toEqual([
        expect.objectContaining({
          name: 'c.service',
          desiredState: 'launched',
          currentState: 'launched',
          machineID: M1,
        }),
        expect.objectContaining({ name: 'd.service', desiredState: 'inactive' }),
      ]);
      expect(await get(reader, pageOf(PAGE_3))).toEqual({});
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it('read and decode the registry once while it does not change, not once per page', async () => {
    const [reader, writer] = await twoFleetds();
    try {
      await createUnits(writer, ['a.service', 'b.service', 'c.service']);
      // A record no fleetd can use is reported each time the units are read and decoded.
      await client.put(writer.registry.keys.unit('zzz.service')).value('not json');
      const reports = () => reader.logs.filter((line) => line === 'bad record').length;

      await get(reader, '/fleet/v1/units');
      await get(reader, pageOf(PAGE_2));
      await get(reader, pageOf(PAGE_3));
      expect(reports()).toBe(1);

      expect(await put(writer, 'a.service', { desiredState: 'loaded' })).toBe(204);
      expect((await get(reader, '/fleet/v1/units')).units).toEqual([
        expect.objectContaining({ name: 'a.service', desiredState: 'loaded' }),
        expect.objectContaining({ name: 'b.service' }),
      ]);
      expect(reports()).toBe(2);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});

describe('GET /fleet/v1/units with unusable records', () => {
  it('leaves out, and reports, a unit that does not decode or whose body is missing', async () => {
    const [reader, writer] = await twoFleetds();
    try {
      await createUnits(writer, ['a.service']);
      await client.put(writer.registry.keys.unit('b.service')).value('not json');
      await client
        .put(writer.registry.keys.unit('c.service'))
        .value(JSON.stringify({ name: 'c.service', hash: 'd'.repeat(40), desiredState: 'loaded' }));
      const page = await get(reader, '/fleet/v1/units');
      expect((page.units as Array<{ name: string }>).map((unit) => unit.name)).toEqual([
        'a.service',
      ]);
      expect(reader.logs.filter((line) => line === 'bad record')).toHaveLength(2);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});

describe('pages of GET /fleet/v1/state', () => {
  it('each show the states published before they were asked for', async () => {
    const [reader, writer] = await twoFleetds();
    try {
      const hash = 'c'.repeat(40);
      for (const name of ['a.service', 'b.service', 'c.service']) {
        await publishLaunched(writer, name, hash);
      }
      const first = (await get(reader, '/fleet/v1/state')).states as Array<{ name: string }>;
      expect(first.map((state) => state.name)).toEqual(['a.service', 'b.service']);

      await client.delete().key(writer.registry.keys.unitState('c.service', M1));
      await publishLaunched(writer, 'd.service', hash);
      const second = (await get(reader, `/fleet/v1/state?nextPageToken=${PAGE_2}`)).states;
      expect(second).toEqual([expect.objectContaining({ name: 'd.service', machineID: M1 })]);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});
