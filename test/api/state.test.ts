import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitStateRecord } from '../../src/registry/records.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { sendRaw } from './support/raw-http.js';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;

const HASH = '52690a5969e3c94d4d65727c565e88de9240d750';
const M1 = 'a1000000000000000000000000000000';
const M2 = 'b2000000000000000000000000000000';

/** Publishes a state the way an agent does (there is no agent in these tests). */
async function publish(name: string, machineID: string, record: Partial<UnitStateRecord> = {}) {
  const value: UnitStateRecord = {
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    hash: HASH,
    launched: true,
    ...record,
  };
  await client.put(api.registry.keys.unitState(name, machineID)).value(JSON.stringify(value));
}

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
  api = await startApi(client, { tokenLimit: 2 });
  await publish('g.service', M2);
  await publish('g.service', M1);
  await publish('a.service', M2, {
    activeState: 'inactive',
    subState: 'dead',
    loadState: 'loaded',
  });
});
afterAll(async () => {
  await api?.close();
  client?.close();
  await etcd?.stop();
});

const get = (path: string) => sendRaw(api.baseUrl, { method: 'GET', path });
const state = (name: string, machineID: string, active = 'active', sub = 'running') =>
  `{"hash":"${HASH}","machineID":"${machineID}","name":"${name}","systemdActiveState":"${active}","systemdLoadState":"loaded","systemdSubState":"${sub}"}`;

describe('GET /fleet/v1/state', () => {
  it('lists states by unit name, then machine, a page at a time', async () => {
    expect((await get('/fleet/v1/state')).body).toBe(
      `{"nextPageToken":"AgACAA==","states":[${state('a.service', M2, 'inactive', 'dead')},${state('g.service', M1)}]}`,
    );
    expect((await get('/fleet/v1/state?nextPageToken=AgACAA==')).body).toBe(
      `{"states":[${state('g.service', M2)}]}`,
    );
  });

  it('filters by machine and unit before paging, the first value of each counting', async () => {
    expect((await get(`/fleet/v1/state?machineID=${M1}&unitName=g.service`)).body).toBe(
      `{"states":[${state('g.service', M1)}]}`,
    );
    expect((await get(`/fleet/v1/state?unitName=a.service&unitName=g.service`)).body).toBe(
      `{"states":[${state('a.service', M2, 'inactive', 'dead')}]}`,
    );
    expect((await get(`/fleet/v1/state?machineID=${M2}`)).body).toBe(
      `{"nextPageToken":"AgACAA==","states":[${state('a.service', M2, 'inactive', 'dead')},${state('g.service', M2)}]}`,
    );
    expect((await get('/fleet/v1/state?unitName=nope.service')).body).toBe('{}');
    expect((await get('/fleet/v1/state?machineID=&unitName=')).body).toContain('"nextPageToken"');
  });

  it('refuses a bad page token', async () => {
    const response = await get('/fleet/v1/state?nextPageToken=EwBMLg==');
    expect([response.status, response.body]).toEqual([
      400,
      '{"error":{"code":400,"message":"token limit must be 2"}}',
    ]);
  });
});

describe('GET /fleet/v1/state/<name>', () => {
  it("answers one machine's state of the unit", async () => {
    const response = await get('/fleet/v1/state/g.service');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect([state('g.service', M1), state('g.service', M2)]).toContain(response.body);
  });

  it('answers 404 for a unit without a state (deviation: fleet dropped the connection)', async () => {
    const response = await get('/fleet/v1/state/nothing.service');
    expect([response.status, response.body]).toEqual([
      404,
      '{"error":{"code":404,"message":"unit state does not exist"}}',
    ]);
  });
});
