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
    await registerMachine(client, api.registry.keys, M2, {
      name: 'r2',
      zone: 'b',
      '10': 'x',
      '9': 'y',
    }),
    await registerMachine(client, api.registry.keys, M1, { name: 'r1' }),
  ];
});
afterEach(async () => {
  await Promise.all(sessions.map((session) => session.close()));
  await api?.close();
});

const errorJson = (code: number, message = '') => JSON.stringify({ error: { code, message } });
const list = () => sendRaw(api.baseUrl, { method: 'GET', path: '/fleet/v1/machines' });
const patch = (
  body: string,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
) => sendRaw(api.baseUrl, { method: 'PATCH', path: '/fleet/v1/machines', headers, body });
const op = (operation: string, machine: string, key: string, value?: string) => ({
  op: operation,
  path: `/${machine}/metadata/${key}`,
  ...(value !== undefined && { value: { value } }),
});

describe('GET /fleet/v1/machines', () => {
  it('lists live machines by ID with their metadata keys sorted as a Go map', async () => {
    const response = await list();
    expect(response.status).toBe(200);
    expect(response.body).toBe(
      `{"machines":[{"id":"${M1}","metadata":{"name":"r1"},"primaryIP":"127.0.0.1"},{"id":"${M2}","metadata":{"10":"x","9":"y","name":"r2","zone":"b"},"primaryIP":"127.0.0.1"}]}`,
    );
  });

  it('leaves out a machine whose presence is gone', async () => {
    await sessions.shift()?.close();
    expect(JSON.parse((await list()).body).machines.map((m: { id: string }) => m.id)).toEqual([M1]);
  });

  it('pages machines with the page-token rules', async () => {
    const page2 = await sendRaw(api.baseUrl, {
      method: 'GET',
      path: '/fleet/v1/machines?nextPageToken=ZAACAA==',
    });
    expect(page2.body).toBe('{}');
    const bad = await sendRaw(api.baseUrl, {
      method: 'GET',
      path: '/fleet/v1/machines?nextPageToken=!!!!',
    });
    expect([bad.status, bad.body]).toEqual([
      400,
      errorJson(400, 'illegal base64 data at input byte 0'),
    ]);
  });
});

describe('PATCH /fleet/v1/machines', () => {
  it('adds, replaces and removes metadata, answering 204 with a JSON Content-Type and no body', async () => {
    const added = await patch(JSON.stringify([op('add', M1, 'golden', 'yes')]));
    expect([added.status, added.headers['content-type'], added.body]).toEqual([
      204,
      'application/json',
      '',
    ]);
    await patch(JSON.stringify([op('replace', M1, 'golden', 'changed')]));
    expect((await list()).body).toContain(
      `{"id":"${M1}","metadata":{"golden":"changed","name":"r1"}`,
    );
    await patch(JSON.stringify([op('remove', M1, 'golden')]));
    expect((await list()).body).toContain(`{"id":"${M1}","metadata":{"name":"r1"}`);
  });

  it('hides a configured key with remove and omits metadata when none is left', async () => {
    await patch(JSON.stringify([op('add', M1, 'name', 'r1-dyn')]));
    expect((await list()).body).toContain(`{"id":"${M1}","metadata":{"name":"r1-dyn"}`);
    await patch(JSON.stringify([op('remove', M1, 'name')]));
    expect((await list()).body).toContain(`{"id":"${M1}","primaryIP":"127.0.0.1"}`);
  });

  it('applies operations in order, the last one on a key winning', async () => {
    await patch(
      JSON.stringify([
        op('add', M2, 'golden', 'a'),
        op('add', M2, 'golden2', 'b'),
        op('remove', M2, 'golden'),
      ]),
    );
    expect((await list()).body).toContain(
      '"metadata":{"10":"x","9":"y","golden2":"b","name":"r2","zone":"b"}',
    );
  });

  it.each([
    [
      [op('add', M2, 'golden3', 'never'), { op: 'move', path: `/${M2}/metadata/golden3` }],
      'invalid op: expect add, remove, or replace',
    ],
    [[op('test', M1, 'golden', 'x')], 'invalid op: expect add, remove, or replace'],
    [
      [
        op('add', M1, 'golden', 'x'),
        { ...op('add', M1, 'golden', 'x'), path: `/${M1}/meta/golden` },
      ],
      'machine metadata path invalid',
    ],
    [[{ ...op('add', '', 'golden', 'x') }], 'machine metadata path invalid'],
    [[{ ...op('add', M1, 'bad key', 'x') }], 'machine metadata path invalid'],
    [
      [op('add', M1, 'golden', 'x'), op('replace', M1, 'other')],
      'invalid value: add and replace require a value',
    ],
    [[op('add', M1, 'golden', '')], 'invalid value: add and replace require a value'],
  ])('checks every operation before applying any: %j', async (ops, message) => {
    const before = (await list()).body;
    const response = await patch(JSON.stringify(ops));
    expect([response.status, response.body]).toEqual([400, errorJson(400, message)]);
    expect((await list()).body).toBe(before);
  });

  it.each([
    ['', 'EOF'],
    ['[{"op":', 'unexpected EOF'],
    ['{"op":"add"}', 'json: cannot unmarshal object into Go value of type []api.machineMetadataOp'],
    [
      `[{"op":"add","path":"/${M1}/metadata/golden","value":"bare"}]`,
      'json: cannot unmarshal string into Go struct field machineMetadataOp.Value of type struct { Value string "json:\\"value\\"" }',
    ],
  ])("refuses body %j with the decoder's message", async (body, message) => {
    const response = await patch(body);
    expect([response.status, response.body]).toEqual([400, errorJson(400, message)]);
  });

  it('needs no Content-Type, accepts an empty list, and edits machines it has never seen', async () => {
    expect((await patch('[]')).status).toBe(204);
    expect((await patch(JSON.stringify([op('add', M1, 'k', 'v')]), {})).status).toBe(204);
    const unknown = '00000000000000000000000000000000';
    expect((await patch(JSON.stringify([op('add', unknown, 'golden', 'x')]))).status).toBe(204);
    expect((await list()).body).not.toContain(unknown);
  });
});
