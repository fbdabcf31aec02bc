import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { registerMachine } from './support/machines.js';
import { sendRaw } from './support/raw-http.js';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;
let sessions: EtcdPresenceLease[];

const M1 = 'a1000000000000000000000000000000';
const M2 = 'b2000000000000000000000000000000';

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
});
afterAll(async () => {
  client?.close();
  await etcd?.stop();
});
beforeEach(async () => {
  api = await startApi(client);
  sessions = [
    await registerMachine(client, api.registry.keys, M1, { name: 'r1' }),
    await registerMachine(client, api.registry.keys, M2, {}),
  ];
});
afterEach(async () => {
  await Promise.all(sessions.map((session) => session.close()));
  await api?.close();
});

const send = (method: string, path: string, body?: string) =>
  sendRaw(api.baseUrl, { method, path, ...(body !== undefined && { body }) });
const list = async () => JSON.parse((await send('GET', '/fleet/ext/v1/machines')).body);
const errorJson = (code: number, message = '') => JSON.stringify({ error: { code, message } });

describe('GET /fleet/ext/v1/machines', () => {
  it('shows each machine as /fleet/v1/machines does, with its cordon and drain', async () => {
    const original = JSON.parse((await send('GET', '/fleet/v1/machines')).body);
    expect((await send('PUT', `/fleet/ext/v1/machines/${M2}/cordon`)).status).toBe(204);
    expect(await list()).toEqual({
      machines: [
        { ...original.machines[0], present: true, cordoned: false, drain: null },
        { ...original.machines[1], present: true, cordoned: true, drain: null },
      ],
    });
  });

  it('shows a cordoned machine that left, so it can be uncordoned', async () => {
    expect((await send('PUT', `/fleet/ext/v1/machines/${M2}/cordon`)).status).toBe(204);
    await sessions.pop()?.close();
    expect((await list()).machines).toEqual([
      expect.objectContaining({ id: M1, present: true, cordoned: false }),
      { id: M2, present: false, cordoned: true, drain: null },
    ]);
    expect((await send('DELETE', `/fleet/ext/v1/machines/${M2}/cordon`)).status).toBe(204);
    expect((await list()).machines).toHaveLength(1);
  });
});

describe('cordon and drain writes', () => {
  it('cordon keeps a drain under way; drain starts one; uncordon ends both', async () => {
    const drain = await send('POST', `/fleet/ext/v1/machines/${M1}/drain`, '{"maxParallel":3}');
    expect([drain.status, drain.body]).toEqual([204, '']);
    expect((await send('PUT', `/fleet/ext/v1/machines/${M1}/cordon`)).status).toBe(204);
    expect((await list()).machines[0]).toMatchObject({
      cordoned: true,
      drain: { maxParallel: 3, moving: [], moved: [], stayed: [], done: false },
    });
    expect((await send('DELETE', `/fleet/ext/v1/machines/${M1}/cordon`)).status).toBe(204);
    expect((await list()).machines[0]).toMatchObject({ cordoned: false, drain: null });
  });

  it('drains one unit at a time without a body', async () => {
    expect((await send('POST', `/fleet/ext/v1/machines/${M1}/drain`)).status).toBe(204);
    expect((await list()).machines[0].drain.maxParallel).toBe(1);
  });

  it('refuses an unknown machine, an uncordoned one, a bad body and other methods', async () => {
    const cases: Array<[string, string, string | undefined, number, string]> = [
      ['PUT', '/fleet/ext/v1/machines/nope/cordon', undefined, 404, 'machine does not exist'],
      ['POST', '/fleet/ext/v1/machines/nope/drain', undefined, 404, 'machine does not exist'],
      ['DELETE', `/fleet/ext/v1/machines/${M1}/cordon`, undefined, 404, 'machine is not cordoned'],
      [
        'POST',
        `/fleet/ext/v1/machines/${M1}/drain`,
        '{"maxParallel":0}',
        400,
        'invalid drain: maxParallel: Too small: expected number to be >=1',
      ],
      [
        'POST',
        `/fleet/ext/v1/machines/${M1}/drain`,
        '{"max":2}',
        400,
        'invalid drain: Unrecognized key: "max"',
      ],
      ['POST', `/fleet/ext/v1/machines/${M1}/drain`, '{', 400, 'unable to decode body: not JSON'],
      [
        'GET',
        `/fleet/ext/v1/machines/${M1}/drain`,
        undefined,
        405,
        'only POST supported against this resource',
      ],
      [
        'POST',
        `/fleet/ext/v1/machines/${M1}/cordon`,
        undefined,
        405,
        'only PUT and DELETE supported against this resource',
      ],
      ['PUT', `/fleet/ext/v1/machines/${M1}/other`, undefined, 404, ''],
      [
        'POST',
        '/fleet/ext/v1/machines',
        undefined,
        405,
        'only GET supported against this resource',
      ],
    ];
    for (const [method, path, body, status, message] of cases) {
      const response = await send(method, path, body);
      expect([method, path, response.status, JSON.parse(response.body)]).toEqual([
        method,
        path,
        status,
        JSON.parse(errorJson(status, message)),
      ]);
    }
    expect(await api.registry.cordons.list()).toEqual(new Map());
  });
});
