import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import { UnitFile } from '../../src/unit/unit-file.js';
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

const options = (execStart: string, global = true) => [
  { section: 'Service', name: 'ExecStart', value: execStart },
  ...(global ? [{ section: 'X-Fleet', name: 'Global', value: 'true' }] : []),
];
const OLD = new UnitFile(options('/bin/sleep 1000'));
const NEW = new UnitFile(options('/bin/sleep 2000'));

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
    await registerMachine(client, api.registry.keys, M1, {}),
    await registerMachine(client, api.registry.keys, M2, {}),
  ];
  await api.registry.units.put('g.service', OLD, 'launched');
  for (const machineID of [M1, M2]) await publishState('g.service', machineID, OLD.hash);
});
afterEach(async () => {
  await Promise.all(sessions.map((session) => session.close()));
  await client.delete().all();
  await api?.close();
});

/** What the machine's agent would publish: it runs the unit with this content. */
async function publishState(name: string, machineID: string, hash: string): Promise<void> {
  const state = {
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    hash,
    launched: true,
  };
  await client.put(api.registry.keys.unitState(name, machineID)).value(JSON.stringify(state));
}

const send = (method: string, path: string, body?: string) =>
  sendRaw(api.baseUrl, { method, path, ...(body !== undefined && { body }) });
const errorJson = (code: number, message = '') => JSON.stringify({ error: { code, message } });
const startBody = (extra: object = {}, units = [{ name: 'g.service', options: NEW.options }]) =>
  JSON.stringify({ units, minHealthyMs: 1000, ...extra });

async function pins(): Promise<Record<string, string>> {
  const prefix = `${api.registry.keys.prefix}rollout-pins/`;
  const kvs = await client.getAll().prefix(prefix).strings();
  return Object.fromEntries(
    Object.entries(kvs).map(([key, value]) => [key.slice(prefix.length), JSON.parse(value).hash]),
  );
}

describe('POST /fleet/ext/v1/rollouts', () => {
  it('holds every machine to the old content, then shows the new content as the unit', async () => {
    const response = await send('POST', '/fleet/ext/v1/rollouts', startBody({ canary: 1 }));
    expect(response.status).toBe(201);
    const { rollout } = JSON.parse(response.body);
    expect(rollout).toMatchObject({
      units: [{ name: 'g.service', oldHash: OLD.hash, newHash: NEW.hash }],
      maxParallel: 1,
      minHealthyMs: 1000,
      healthyDeadlineMs: 120_000,
      autoRevert: true,
      canary: 1,
      healthCmd: null,
      status: 'running',
      steps: [
        { unit: 'g.service', machineID: M1, phase: 'waiting' },
        { unit: 'g.service', machineID: M2, phase: 'waiting' },
      ],
    });
    expect(await pins()).toEqual({
      [`${M1}/g.service`]: OLD.hash,
      [`${M2}/g.service`]: OLD.hash,
    });
    const unit = JSON.parse((await send('GET', '/fleet/v1/units/g.service')).body);
    expect(unit.options).toEqual(NEW.options);
    const state = JSON.parse((await send('GET', '/fleet/v1/state')).body);
    expect(state.states.map((s: { hash: string }) => s.hash)).toEqual([OLD.hash, OLD.hash]);
    const listed = JSON.parse((await send('GET', '/fleet/ext/v1/rollouts')).body);
    expect(listed).toEqual({ rollouts: [rollout] });
    const one = await send('GET', `/fleet/ext/v1/rollouts/${rollout.id}`);
    expect(JSON.parse(one.body)).toEqual({ rollout });
  });

  it.each([
    ['a body that is not JSON', 'nope', 400, 'unable to decode body: not JSON'],
    [
      'an unknown option',
      JSON.stringify({ units: [{ name: 'g.service', options: NEW.options }], bogus: 1 }),
      400,
      'invalid rollout: Unrecognized key: "bogus"',
    ],
    [
      'max-parallel 0',
      startBody({ maxParallel: 0 }),
      400,
      'invalid rollout: maxParallel: Too small: expected number to be >=1',
    ],
    [
      'a unit that does not exist',
      startBody({}, [{ name: 'h.service', options: NEW.options }]),
      404,
      'unit h.service does not exist',
    ],
    [
      'the content the unit has',
      startBody({}, [{ name: 'g.service', options: OLD.options }]),
      409,
      'unit g.service already has this content',
    ],
    [
      'new content that is not global',
      startBody({}, [{ name: 'g.service', options: options('/bin/sleep 3', false) }]),
      409,
      'the new content of unit g.service must keep its Global option',
    ],
  ])('refuses %s, writing nothing', async (_what, body, status, message) => {
    const response = await send('POST', '/fleet/ext/v1/rollouts', body);
    expect([response.status, JSON.parse(response.body)]).toEqual([
      status,
      JSON.parse(errorJson(status, message)),
    ]);
    expect(await pins()).toEqual({});
    expect((await api.registry.units.get('g.service'))?.hash).toBe(OLD.hash);
    expect(JSON.parse((await send('GET', '/fleet/ext/v1/rollouts')).body)).toEqual({
      rollouts: [],
    });
  });

  it('refuses a unit that is not launched: it would never become active', async () => {
    await api.registry.units.setDesiredState('g.service', 'loaded');
    const response = await send('POST', '/fleet/ext/v1/rollouts', startBody());
    expect([response.status, response.body]).toEqual([
      409,
      errorJson(409, 'unit g.service is not launched: only running units are rolled'),
    ]);
  });

  it('refuses a unit that is neither global nor an instance of a template', async () => {
    await api.registry.units.put(
      'plain.service',
      new UnitFile(options('/bin/true', false)),
      'launched',
    );
    const body = startBody({}, [{ name: 'plain.service', options: options('/bin/false', false) }]);
    const response = await send('POST', '/fleet/ext/v1/rollouts', body);
    expect([response.status, response.body]).toEqual([
      409,
      errorJson(409, 'unit plain.service is neither global nor an instance of a template'),
    ]);
  });

  it('rolls instances of a template', async () => {
    await api.registry.units.put(
      'web@1.service',
      new UnitFile(options('/bin/true', false)),
      'launched',
    );
    await publishState('web@1.service', M2, new UnitFile(options('/bin/true', false)).hash);
    const body = startBody({}, [{ name: 'web@1.service', options: options('/bin/false', false) }]);
    const response = await send('POST', '/fleet/ext/v1/rollouts', body);
    expect(response.status).toBe(201);
    expect(JSON.parse(response.body).rollout.steps).toEqual([
      { unit: 'web@1.service', machineID: M2, phase: 'waiting' },
    ]);
  });

  it('answers 413 for a body over a MiB, as a PUT does', async () => {
    const response = await send('POST', '/fleet/ext/v1/rollouts', 'x'.repeat(1024 * 1024 + 1));
    expect(response.status).toBe(413);
  });

  it('refuses a unit another rollout holds', async () => {
    expect((await send('POST', '/fleet/ext/v1/rollouts', startBody())).status).toBe(201);
    const next = startBody({}, [{ name: 'g.service', options: options('/bin/sleep 3') }]);
    const response = await send('POST', '/fleet/ext/v1/rollouts', next);
    expect(response.status).toBe(409);
    expect(JSON.parse(response.body).error.message).toMatch(
      /^rollout [0-9a-f]{8} \(running\) holds one of these units: abort it first$/,
    );
  });
});

describe('resume and abort', () => {
  async function started(): Promise<string> {
    const response = await send('POST', '/fleet/ext/v1/rollouts', startBody({ canary: 1 }));
    return JSON.parse(response.body).rollout.id;
  }

  it('abort puts the previous content back and releases every pin', async () => {
    const id = await started();
    const response = await send('POST', `/fleet/ext/v1/rollouts/${id}/abort`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).rollout).toMatchObject({
      status: 'aborted',
      message: 'Rollout aborted: every machine runs the previous content',
    });
    expect((await api.registry.units.get('g.service'))?.hash).toBe(OLD.hash);
    expect(await pins()).toEqual({});
    const again = await send('POST', `/fleet/ext/v1/rollouts/${id}/abort`);
    expect([again.status, again.body]).toEqual([409, errorJson(409, `rollout ${id} is aborted`)]);
  });

  it('resume continues a paused rollout past its canary, and refuses any other', async () => {
    const id = await started();
    const refused = await send('POST', `/fleet/ext/v1/rollouts/${id}/resume`);
    expect([refused.status, refused.body]).toEqual([
      409,
      errorJson(409, `rollout ${id} is running, not paused`),
    ]);
    const stored = (await api.registry.rollouts.get(id))!;
    const paused = { ...stored.record, status: 'paused' as const };
    expect(await api.registry.rollouts.update(stored.modRevision, paused, [], null)).toBe(true);
    const response = await send('POST', `/fleet/ext/v1/rollouts/${id}/resume`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).rollout).toMatchObject({
      status: 'running',
      canaryPassed: true,
    });
  });

  it('answers 404 for a rollout that does not exist, and 405 for other methods', async () => {
    for (const path of ['/fleet/ext/v1/rollouts/nope', '/fleet/ext/v1/rollouts/nope/abort']) {
      const method = path.endsWith('abort') ? 'POST' : 'GET';
      const response = await send(method, path);
      expect([response.status, response.body]).toEqual([
        404,
        errorJson(404, 'rollout does not exist'),
      ]);
    }
    expect((await send('POST', '/fleet/ext/v1/rollouts/nope/other')).status).toBe(404);
    expect((await send('DELETE', '/fleet/ext/v1/rollouts')).status).toBe(405);
    expect((await send('POST', '/fleet/ext/v1/rollouts/nope')).status).toBe(405);
  });
});
