import { Etcd3, GRPCUnavailableError } from 'etcd3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnitFile } from '../../src/unit/unit-file.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { unaryCalls } from '../support/etcd-metrics.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { type RawResponse, sendRaw } from './support/raw-http.js';

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
const OPTIONS = [
  { section: 'Unit', name: 'Description', value: 'api a' },
  { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' },
];
const errorJson = (code: number, message = '') => JSON.stringify({ error: { code, message } });

function put(
  name: string,
  body: unknown,
  headers: Record<string, string | string[]> = JSON_HEADERS,
) {
  return sendRaw(api.baseUrl, {
    method: 'PUT',
    path: `/fleet/v1/units/${name}`,
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
const get = (path: string) => sendRaw(api.baseUrl, { method: 'GET', path });
const del = (name: string) =>
  sendRaw(api.baseUrl, { method: 'DELETE', path: `/fleet/v1/units/${name}` });

/** What is stored: the registry's view, which a refused request must leave as it was. */
async function stored() {
  return (await api.registry.units.list()).map((unit) => [unit.name, unit.hash, unit.desiredState]);
}

function expectError(response: RawResponse, status: number, message: string) {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toBe('application/json');
  expect(response.body).toBe(errorJson(status, message));
}

describe('PUT /fleet/v1/units/<name>', () => {
  it.each<[string, Record<string, string | string[]>, number, string]>([
    ['no Content-Type', {}, 415, 'expected 1 Content-Type, got 0'],
    [
      'two Content-Types',
      { 'Content-Type': ['application/json', 'application/json'] },
      415,
      'expected 1 Content-Type, got 2',
    ],
    [
      'text/plain',
      { 'Content-Type': 'text/plain' },
      415,
      'only acceptable Content-Type is application/json',
    ],
    [
      'upper-case media type',
      { 'Content-Type': 'Application/JSON' },
      415,
      'only acceptable Content-Type is application/json',
    ],
  ])('refuses a body with %s', async (_, headers, status, message) => {
    expectError(await put('a.service', { options: OPTIONS }, headers), status, message);
    expect(await stored()).toEqual([]);
  });

  it('accepts a media type with parameters and surrounding spaces', async () => {
    const response = await put(
      'a.service',
      { options: OPTIONS },
      { 'Content-Type': ' application/json ; charset=utf-8' },
    );
    expect(response.status).toBe(201);
  });

  it.each([
    ['', 'unable to decode body: EOF'],
    ['{"options":', 'unable to decode body: unexpected EOF'],
    [
      '{"options":"x"}',
      'unable to decode body: json: cannot unmarshal string into Go struct field Unit.options of type []*schema.UnitOption',
    ],
    ['nope', "unable to decode body: invalid character 'o' in literal null (expecting 'u')"],
    ['{"options":[null]}', 'unable to decode body: options must not contain null'],
    [
      '{"name":"b.service","options":[]}',
      'name in URL "a.service" differs from unit name in request body "b.service"',
    ],
  ])('refuses body %j with 400 %j', async (body, message) => {
    expectError(await put('a.service', body), 400, message);
    expect(await stored()).toEqual([]);
  });

  it.each([
    ['api-bad', 'unit name must contain "."'],
    ['api-bad.txt', 'invalid unit type: "txt"'],
    ['api%20bad.service', "invalid character ' ' in unit name"],
    ['api-bad@.mount', 'invalid unit type for template: "mount"'],
    ['@api.service', 'unit name cannot start in "@"'],
    ['a.', 'unit name cannot end in "."'],
    [`${'a'.repeat(250)}.service`, 'unit name exceeds maximum length (256)'],
  ])('refuses the unit name in %s', async (name, message) => {
    expectError(await put(name, { options: OPTIONS }), 400, message);
  });

  it('refuses a name fleet accepted but no unit file can have (deviation, vector name-len-256)', async () => {
    const name = `${'a'.repeat(248)}.service`;
    expectError(
      await put(name, { options: OPTIONS, desiredState: 'launched' }),
      400,
      'unit name exceeds maximum file name length (255 bytes)',
    );
    expect(await stored()).toEqual([]);
    expect((await put(`${'a'.repeat(247)}.service`, { options: OPTIONS })).status).toBe(201);
  });

  it('creates a unit, inactive unless told otherwise, answering 201 without body or Content-Type', async () => {
    const created = await put('a.service', { options: OPTIONS });
    expect([created.status, created.headers['content-type'], created.body]).toEqual([
      201,
      undefined,
      '',
    ]);
    const launched = await put('b.service', { options: OPTIONS, desiredState: 'launched' });
    expect(launched.status).toBe(201);
    expect(await stored()).toEqual([
      ['a.service', new UnitFile(OPTIONS).hash, 'inactive'],
      ['b.service', new UnitFile(OPTIONS).hash, 'launched'],
    ]);
    const response = await get('/fleet/v1/units/a.service');
    expect(response.body).toBe(
      '{"currentState":"inactive","desiredState":"inactive","name":"a.service","options":[{"name":"Description","section":"Unit","value":"api a"},{"name":"ExecStart","section":"Service","value":"/bin/sleep 3600"}]}',
    );
  });

  it('creates a unit, then changes its desired state, in one etcd transaction each', async () => {
    const calls = async (action: () => Promise<RawResponse>) => {
      const before = await unaryCalls(etcd);
      const response = await action();
      const after = await unaryCalls(etcd);
      const made: Record<string, number> = {};
      for (const [method, count] of after) {
        const delta = count - (before.get(method) ?? 0);
        if (delta > 0) made[method] = delta;
      }
      return [response.status, made];
    };
    expect(await calls(() => put('a.service', { options: OPTIONS }))).toEqual([201, { Txn: 1 }]);
    expect(await calls(() => put('a.service', { desiredState: 'launched' }))).toEqual([
      204,
      { Txn: 1 },
    ]);
    expect(await stored()).toEqual([['a.service', new UnitFile(OPTIONS).hash, 'launched']]);
  });

  it('takes the name from the URL when the body has none, and accepts it when they agree', async () => {
    expect(
      (await put('a.service', { name: 'a.service', options: OPTIONS, desiredState: 'inactive' }))
        .status,
    ).toBe(201);
    expect((await put('a%40b.service', { options: OPTIONS })).status).toBe(201);
    expect((await get('/fleet/v1/units/a@b.service')).status).toBe(200);
  });

  it.each([[{ desiredState: 'launched' }], [{ options: [], desiredState: 'launched' }], ['null']])(
    'refuses to create a unit without options: %j',
    async (body) => {
      expectError(await put('a.service', body), 409, 'unit does not exist and options field empty');
    },
  );

  it.each([
    [
      'MachineID cannot be used with Global',
      [
        ...OPTIONS,
        { section: 'X-Fleet', name: 'MachineID', value: 'abc' },
        { section: 'X-Fleet', name: 'Global', value: 'true' },
      ],
    ],
    [
      'unresolvable requirements: peer "x.service" matches conflict "x*"',
      [
        { section: 'X-Fleet', name: 'MachineOf', value: 'x.service' },
        { section: 'X-Fleet', name: 'Conflicts', value: 'x*' },
      ],
    ],
    [
      'line too long (max 2048 bytes)',
      [{ section: 'Service', name: 'ExecStart', value: 'x'.repeat(3000) }],
    ],
    ['found garbage after section name : [66 93]', [{ section: 'A]B', name: 'Foo', value: 'bar' }]],
  ])('refuses to create a unit with invalid options: %s', async (message, options) => {
    expectError(await put('a.service', { options }), 400, message);
    expect(await stored()).toEqual([]);
  });

  it('refuses to create a unit with a desired state that is not one (deviation: fleet said 500)', async () => {
    expectError(
      await put('a.service', { options: OPTIONS, desiredState: 'running' }),
      400,
      'invalid value "running" for JobState',
    );
    expect(await stored()).toEqual([]);
  });

  describe('on an existing unit', () => {
    beforeEach(async () => {
      expect((await put('a.service', { options: OPTIONS })).status).toBe(201);
    });

    it('changes the desired state, answering 204 without body or Content-Type', async () => {
      const response = await put('a.service', { desiredState: 'loaded' });
      expect([response.status, response.headers['content-type'], response.body]).toEqual([
        204,
        undefined,
        '',
      ]);
      expect((await stored())[0]?.[2]).toBe('loaded');
    });

    it('treats identical options as a desired-state change', async () => {
      expect((await put('a.service', { options: OPTIONS, desiredState: 'launched' })).status).toBe(
        204,
      );
      expect((await stored())[0]?.[2]).toBe('launched');
      expectError(
        await put('a.service', { options: OPTIONS }),
        409,
        'must provide DesiredState to update existing unit',
      );
    });

    it('needs a desired state when nothing else changes', async () => {
      expectError(
        await put('a.service', 'null'),
        409,
        'must provide DesiredState to update existing unit',
      );
      expectError(
        await put('a.service', {}),
        409,
        'must provide DesiredState to update existing unit',
      );
    });

    it('refuses a desired state that is not one, changing nothing (deviation: fleet stored it)', async () => {
      const before = await stored();
      expectError(
        await put('a.service', { desiredState: 'running' }),
        400,
        'invalid value "running" for JobState',
      );
      expect(await stored()).toEqual(before);
    });

    it('replaces the unit when the options differ, without validating them (as fleet did)', async () => {
      const invalid = [
        { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' },
        { section: 'X-Fleet', name: 'MachineID', value: 'abc' },
        { section: 'X-Fleet', name: 'Global', value: 'true' },
      ];
      expect((await put('a.service', { options: invalid })).status).toBe(201);
      expect(await stored()).toEqual([['a.service', new UnitFile(invalid).hash, 'inactive']]);
      // A global unit has no current state, which a single read leaves out.
      expect((await get('/fleet/v1/units/a.service')).body).toBe(
        '{"desiredState":"inactive","name":"a.service","options":[{"name":"ExecStart","section":"Service","value":"/bin/sleep 3600"},{"name":"MachineID","section":"X-Fleet","value":"abc"},{"name":"Global","section":"X-Fleet","value":"true"}]}',
      );
      expect((await get('/fleet/v1/units')).body).toContain(
        '{"currentState":"inactive","desiredState":"inactive","name":"a.service"',
      );
    });

    it('replaces with the desired state given, or inactive', async () => {
      await put('a.service', { desiredState: 'launched' });
      const v2 = [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }];
      expect((await put('a.service', { options: v2 })).status).toBe(201);
      expect((await stored())[0]?.[2]).toBe('inactive');
      expect((await put('a.service', { options: OPTIONS, desiredState: 'loaded' })).status).toBe(
        201,
      );
      expect((await stored())[0]?.[2]).toBe('loaded');
    });

    it('decodes the body as Go did: unknown members, case-insensitive names, trailing garbage', async () => {
      expect((await put('a.service', '{"desiredState":"loaded","bogusField":1}')).status).toBe(204);
      expect((await put('a.service', '{"DesiredState":"launched"}')).status).toBe(204);
      expect((await put('a.service', '{"desiredState":"inactive"} trailing')).status).toBe(204);
      expect((await stored())[0]?.[2]).toBe('inactive');
    });
  });

  describe('templates', () => {
    it('may be created launched but never activated afterwards', async () => {
      expect((await put('t@.service', { options: OPTIONS, desiredState: 'launched' })).status).toBe(
        201,
      );
      expectError(
        await put('t@.service', { desiredState: 'launched' }),
        400,
        'cannot activate template "t@.service"',
      );
      expectError(
        await put('t@.service', { desiredState: 'loaded' }),
        400,
        'cannot activate template "t@.service"',
      );
      expectError(
        await put('t@.service', { desiredState: 'running' }),
        400,
        'cannot activate template "t@.service"',
      );
      expect((await put('t@.service', { desiredState: 'inactive' })).status).toBe(204);
    });
  });
});

describe('GET and DELETE /fleet/v1/units/<name>', () => {
  it('deletes a unit, answering 204 without body or Content-Type, then 404', async () => {
    await put('a.service', { options: OPTIONS });
    const deleted = await del('a.service');
    expect([deleted.status, deleted.headers['content-type'], deleted.body]).toEqual([
      204,
      undefined,
      '',
    ]);
    expectError(await del('a.service'), 404, 'unit does not exist');
    expectError(await get('/fleet/v1/units/a.service'), 404, 'unit does not exist');
    expect(await stored()).toEqual([]);
  });

  it('leaves no body that no unit uses after a DELETE or a replacing PUT', async () => {
    const bodies = async () => {
      await api.registry.unitFileCollector.flush();
      const prefix = api.registry.keys.unitFilesPrefix;
      return (await client.getAll().prefix(prefix).keys()).map((k) => k.slice(prefix.length));
    };
    const changed = [...OPTIONS, { section: 'Service', name: 'Restart', value: 'always' }];
    await put('a.service', { options: OPTIONS });
    await put('b.service', { options: OPTIONS });
    await put('a.service', { options: changed });
    expect((await bodies()).sort()).toEqual(
      [new UnitFile(OPTIONS).hash, new UnitFile(changed).hash].sort(),
    );
    expect((await del('b.service')).status).toBe(204);
    expect(await bodies()).toEqual([new UnitFile(changed).hash]);
    expect((await del('a.service')).status).toBe(204);
    expect(await bodies()).toEqual([]);
  });

  it('answers 500, never 404, when a unit body cannot be read for a reason other than its absence', async () => {
    expect((await put('a.service', { options: OPTIONS })).status).toBe(201);
    // A second fleetd on the same registry, whose cache is cold and whose etcd replies to
    // body reads fail as they do while etcd is unavailable; unit records still read.
    const flaky = new Etcd3(etcd.clientOptions());
    const bodiesPrefix = api.registry.keys.unitFilesPrefix;
    const range = flaky.kv.range.bind(flaky.kv);
    flaky.kv.range = (request, callOptions) =>
      Buffer.from(request.key ?? '')
        .toString()
        .startsWith(bodiesPrefix)
        ? Promise.reject(new GRPCUnavailableError('injected: etcd unavailable'))
        : range(request, callOptions);
    const other = await startApi(flaky, { prefix: api.registry.keys.prefix });
    try {
      const request = (method: string, body?: unknown) =>
        sendRaw(other.baseUrl, {
          method,
          path: '/fleet/v1/units/a.service',
          headers: JSON_HEADERS,
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
      expectError(await request('GET'), 500, '');
      expectError(await request('PUT', { desiredState: 'launched' }), 500, '');
      // Invalid options take the path that reads the unit first; a unit taken for absent
      // would have them judged as a new unit's (400).
      const invalid = [{ section: 'X-Fleet', name: 'Global', value: 'true' }, ...OPTIONS];
      expectError(
        await request('PUT', {
          options: [...invalid, { section: 'X-Fleet', name: 'MachineID', value: 'x' }],
        }),
        500,
        '',
      );
      expect(await stored()).toEqual([['a.service', new UnitFile(OPTIONS).hash, 'inactive']]);
    } finally {
      await other.close();
      flaky.close();
    }
  });

  it("escapes &, < and > in unit text as Go's encoder did", async () => {
    const options = [
      { section: 'Unit', name: 'Description', value: 'escapes: a & b <c> "q" \\ ünï ✓' },
      { section: 'Service', name: 'ExecStart', value: "/bin/sh -c 'sleep 3600 && true'" },
    ];
    await put('amp.service', { options });
    expect((await get('/fleet/v1/units/amp.service')).body).toBe(
      '{"currentState":"inactive","desiredState":"inactive","name":"amp.service","options":[{"name":"Description","section":"Unit","value":"escapes: a \\u0026 b \\u003cc\\u003e \\"q\\" \\\\ ünï ✓"},{"name":"ExecStart","section":"Service","value":"/bin/sh -c \'sleep 3600 \\u0026\\u0026 true\'"}]}',
    );
  });
});

describe('GET /fleet/v1/units pages', () => {
  async function createUnits(count: number, from = 0) {
    for (let i = from; i < from + count; i++) {
      const name = `page-${String(i).padStart(3, '0')}.service`;
      expect(
        (
          await put(name, {
            options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }],
          })
        ).status,
      ).toBe(201);
    }
  }
  const names = (body: string) =>
    ((JSON.parse(body) as { units?: Array<{ name: string }> }).units ?? []).map(
      (unit) => unit.name,
    );

  it('answers an empty cluster with {}', async () => {
    expect((await get('/fleet/v1/units')).body).toBe('{}');
  });

  it('offers a token after exactly 100 units whose page is empty', async () => {
    await createUnits(100);
    const first = await get('/fleet/v1/units');
    expect(first.body.startsWith('{"nextPageToken":"ZAACAA==","units":[')).toBe(true);
    expect(names(first.body)).toHaveLength(100);
    expect((await get('/fleet/v1/units?nextPageToken=ZAACAA==')).body).toBe('{}');
    await createUnits(1, 100);
    expect(names((await get('/fleet/v1/units?nextPageToken=ZAACAA%3D%3D')).body)).toEqual([
      'page-100.service',
    ]);
    expect((await get('/fleet/v1/units?nextPageToken=ZAADAA==')).body).toBe('{}');
  }, 60_000);

  it('pages by the configured token limit', async () => {
    await api.close();
    api = await startApi(client, { tokenLimit: 2 });
    await createUnits(3);
    const first = await get('/fleet/v1/units');
    expect(JSON.parse(first.body).nextPageToken).toBe('AgACAA==');
    expect(names(first.body)).toEqual(['page-000.service', 'page-001.service']);
    expect(names((await get('/fleet/v1/units?nextPageToken=AgACAA==')).body)).toEqual([
      'page-002.service',
    ]);
    expectError(await get('/fleet/v1/units?nextPageToken=ZAABAA=='), 400, 'token limit must be 2');
  });

  it.each([
    ['ZAA', 'illegal base64 data at input byte 0'],
    ['', 'EOF'],
    ['ZAA%3D', 'unexpected EOF'],
    ['EwBMLg==', 'token limit must be 100'],
    ['ZAAAAA==', 'token page must be greater than zero'],
    ['ZAABAA==&nextPageToken=ZAABAA==', 'too many values for page token'],
  ])('refuses the page token %j', async (token, message) => {
    expectError(await get(`/fleet/v1/units?nextPageToken=${token}`), 400, message);
  });

  it('ignores unknown query parameters such as alt=json', async () => {
    expect((await get('/fleet/v1/units?alt=json&bogus=1')).body).toBe('{}');
  });
});
