import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_OPERATIONS_PER_TXN } from '../../src/registry/limits.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { unaryCalls } from '../support/etcd-metrics.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { type RawResponse, sendRaw } from './support/raw-http.js';
import {
  batchEntryText,
  OPTIONS,
  PUT_CASES,
  type PutCase,
  type Setup,
} from './support/unit-put-cases.js';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;

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
});
afterEach(async () => {
  await api?.close();
});

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const BATCH = '/fleet/ext/v1/batch';

function put(fixture: ApiFixture, name: string, body: string) {
  return sendRaw(fixture.baseUrl, {
    method: 'PUT',
    path: `/fleet/v1/units/${encodeURIComponent(name)}`,
    headers: JSON_HEADERS,
    body,
  });
}

function batch(
  units: readonly string[],
  { fixture = api, headers = JSON_HEADERS as Record<string, string> } = {},
) {
  return sendRaw(fixture.baseUrl, {
    method: 'POST',
    path: BATCH,
    headers,
    body: `{"units":[${units.join(',')}]}`,
  });
}

interface Outcome {
  name: string;
  status: number;
  error?: { code: number; message: string };
}

function outcomes(response: RawResponse): Outcome[] {
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toBe('application/json');
  return (JSON.parse(response.body) as { results: Outcome[] }).results;
}

const entry = (name: string, body: unknown) => batchEntryText(name, JSON.stringify(body));
const errorJson = (code: number, message = '') => JSON.stringify({ error: { code, message } });

async function stored(fixture: ApiFixture = api) {
  return (await fixture.registry.units.list()).map((unit) => [
    unit.name,
    unit.hash,
    unit.desiredState,
  ]);
}

async function prepare(fixture: ApiFixture, setup: Setup) {
  if (setup === 'existing') {
    expect((await put(fixture, 'a.service', JSON.stringify({ options: OPTIONS }))).status).toBe(
      201,
    );
  }
  if (setup === 'template') {
    const body = JSON.stringify({ options: OPTIONS, desiredState: 'launched' });
    expect((await put(fixture, 't@.service', body)).status).toBe(201);
  }
}

describe('a unit of a batch is decided as its own PUT', () => {
  let single: ApiFixture;
  beforeEach(async () => {
    single = await startApi(client);
  });
  afterEach(async () => {
    await single?.close();
  });

  it.each(PUT_CASES.map((c) => [c.title, c] as const))(
    '%s',
    async (_, { setup, name, body, status, message }: PutCase) => {
      await prepare(single, setup);
      await prepare(api, setup);
      const alone = await put(single, name, body);
      expect(alone.status).toBe(status);
      expect(alone.body).toBe(message === undefined ? '' : errorJson(status, message));

      const [outcome] = outcomes(await batch([batchEntryText(name, body)]));
      expect(outcome).toEqual({
        name,
        status,
        ...(message !== undefined && { error: { code: status, message } }),
      });
      expect(await stored(api)).toEqual(await stored(single));
    },
  );
});

describe('POST /fleet/ext/v1/batch', () => {
  it('answers each unit in request order, writing the accepted ones and nothing of the others', async () => {
    expect((await put(api, 'a.service', JSON.stringify({ options: OPTIONS }))).status).toBe(201);
    const other = [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }];
    const results = outcomes(
      await batch([
        entry('b.service', { options: OPTIONS, desiredState: 'launched' }),
        entry('a.service', { desiredState: 'running' }),
        entry('c.service', { desiredState: 'launched' }),
        entry('d.service', { options: [{ section: 'A]B', name: 'Foo', value: 'bar' }] }),
        entry('e.service', { options: other, desiredState: 'loaded' }),
      ]),
    );
    expect(results.map(({ name, status }) => [name, status])).toEqual([
      ['b.service', 201],
      ['a.service', 400],
      ['c.service', 409],
      ['d.service', 400],
      ['e.service', 201],
    ]);
    expect(await stored()).toEqual([
      ['a.service', new UnitFile(OPTIONS).hash, 'inactive'],
      ['b.service', new UnitFile(OPTIONS).hash, 'launched'],
      ['e.service', new UnitFile(other).hash, 'loaded'],
    ]);
  });

  it('answers the example of docs/api-v1.md byte for byte', async () => {
    const response = await batch([
      '{"name":"hello.service","desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/sleep 3600"}]}',
      '{"name":"web@1.service","desiredState":"loaded"}',
      '{"name":"db.service","desiredState":"running","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}',
    ]);
    expect(response.body).toBe(
      '{"results":[{"name":"hello.service","status":201},{"name":"web@1.service","status":409,"error":{"code":409,"message":"unit does not exist and options field empty"}},{"name":"db.service","status":400,"error":{"code":400,"message":"invalid value \\"running\\" for JobState"}}]}',
    );
  });

  it('refuses every unit of a name given twice, and writes the rest', async () => {
    const results = outcomes(
      await batch([
        entry('a.service', { options: OPTIONS }),
        entry('b.service', { options: OPTIONS }),
        entry('a.service', { options: OPTIONS, desiredState: 'launched' }),
      ]),
    );
    const twice = { code: 400, message: 'unit "a.service" appears more than once in the batch' };
    expect(results).toEqual([
      { name: 'a.service', status: 400, error: twice },
      { name: 'b.service', status: 201 },
      { name: 'a.service', status: 400, error: twice },
    ]);
    expect((await stored()).map(([name]) => name)).toEqual(['b.service']);
  });

  it('answers an empty batch with no results', async () => {
    expect((await batch([])).body).toBe('{"results":[]}');
  });

  it('refuses more than 1,000 units with 413 in fleet’s error body, writing nothing', async () => {
    const units = Array.from({ length: 1001 }, (_, i) =>
      entry(`u${i}.service`, { options: OPTIONS }),
    );
    const response = await batch(units);
    expect(response.status).toBe(413);
    expect(response.body).toBe(errorJson(413, 'batch of 1001 units exceeds 1000'));
    expect(await stored()).toEqual([]);
  });

  it('refuses a body over 8 MiB with 413, and takes one over the single PUT’s 1 MiB', async () => {
    // Lines within fleet's 2,048 bytes: just under 1 MiB of unit text per unit.
    const bigOptions = (tag: string, lines = 1020) =>
      Array.from({ length: lines }, (_, line) => ({
        section: 'Service',
        name: 'Environment',
        value: `${tag}${line}=${'x'.repeat(1000)}`,
      }));
    const over = await sendRaw(api.baseUrl, {
      method: 'POST',
      path: BATCH,
      headers: JSON_HEADERS,
      body: `{"units":[${entry('a.service', { options: [{ section: 'Service', name: 'ExecStart', value: 'x'.repeat(8 * 1024 * 1024) }] })}]}`,
    });
    expect(over.status).toBe(413);
    expect(over.body).toBe(errorJson(413, 'request body exceeds 8388608 bytes'));
    expect(await stored()).toEqual([]);

    const results = outcomes(
      await batch([
        ...['a', 'b', 'c'].map((tag) => entry(`${tag}.service`, { options: bigOptions(tag) })),
        entry('d.service', { options: bigOptions('d', 1100) }),
      ]),
    );
    expect(results.map(({ status }) => status)).toEqual([201, 201, 201, 413]);
    expect(results[3]?.error).toEqual({ code: 413, message: 'unit file exceeds 1048576 bytes' });
    expect((await stored()).map(([name]) => name)).toEqual(['a.service', 'b.service', 'c.service']);
  }, 60_000);

  it.each([
    ['', 'unable to decode body: EOF'],
    ['{"units":', 'unable to decode body: unexpected EOF'],
    ['[]', 'unable to decode body: batch body must be {"units":[…]}'],
    ['{"units":{}}', 'unable to decode body: batch body must be {"units":[…]}'],
  ])('refuses the body %j with 400', async (body, message) => {
    const response = await sendRaw(api.baseUrl, {
      method: 'POST',
      path: BATCH,
      headers: JSON_HEADERS,
      body,
    });
    expect([response.status, response.body]).toEqual([400, errorJson(400, message)]);
  });

  it('checks the media type as the single PUT does', async () => {
    const response = await batch([entry('a.service', { options: OPTIONS })], {
      headers: { 'Content-Type': 'text/plain' },
    });
    expect([response.status, response.body]).toEqual([
      415,
      errorJson(415, 'only acceptable Content-Type is application/json'),
    ]);
    expect(await stored()).toEqual([]);
  });

  it.each(['GET', 'PUT', 'DELETE', 'PATCH'])('refuses %s with 405', async (method) => {
    const response = await sendRaw(api.baseUrl, { method, path: BATCH });
    expect([response.status, response.body]).toEqual([
      405,
      errorJson(405, 'only POST supported against this resource'),
    ]);
  });

  it('writes 1,100 new units in at most one transaction per operations cap’s worth', async () => {
    // Instances of one template: one body, and per unit two guards and two writes.
    const opsPerUnit = 2;
    const names = Array.from({ length: 1100 }, (_, i) => `web@${i}.service`);
    const before = await unaryCalls(etcd);
    for (const chunk of [names.slice(0, 1000), names.slice(1000)]) {
      const results = outcomes(
        await batch(
          chunk.map((name) => entry(name, { options: OPTIONS, desiredState: 'launched' })),
        ),
      );
      expect(results.filter(({ status }) => status !== 201)).toEqual([]);
    }
    const after = await unaryCalls(etcd);
    const made = (method: string) => (after.get(method) ?? 0) - (before.get(method) ?? 0);
    expect(made('Txn')).toBeLessThanOrEqual(
      Math.ceil((names.length * opsPerUnit) / MAX_OPERATIONS_PER_TXN),
    );
    expect(made('Range')).toBe(0);
    expect(await stored()).toHaveLength(1100);
  }, 120_000);
});
