import { Etcd3 } from 'etcd3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goJsonEncode } from '../../src/go/json-encode.js';
import type { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { registerMachine } from './support/machines.js';
import { type RawRequest, sendRaw } from './support/raw-http.js';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;
let machine: EtcdPresenceLease;

const MACHINE = 'c3000000000000000000000000000000';

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
  api = await startApi(client, { tokenLimit: 3 });
  machine = await registerMachine(client, api.registry.keys, MACHINE, { name: 'r1' });
});
afterAll(async () => {
  await machine?.close();
  await api?.close();
  client?.close();
  await etcd?.stop();
});

const EXEC = { section: 'Service', name: 'ExecStart', value: '/bin/true' };
const OPTION_SETS = [
  [EXEC],
  [{ section: 'Unit', name: 'Description', value: 'fuzz & <fun>' }, EXEC],
  [EXEC, { section: 'X-Fleet', name: 'Global', value: 'true' }],
  // Valid when replacing (fleet does not check), refused on create.
  [
    EXEC,
    { section: 'X-Fleet', name: 'MachineID', value: MACHINE },
    { section: 'X-Fleet', name: 'Global', value: 'true' },
  ],
  [],
];

const unitName = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('a.service', 'b.socket', 't@.service', 't@1.service', 'x.target'),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'a',
      'a.',
      '@a.service',
      'a%2Fb.service',
      '..',
      '.',
      'a%zz',
      '%',
      'a%40b.service',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent) },
);

const prefix = fc.constantFrom('/fleet/v1', '/v1-alpha');

const anyMethod = fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'POST', 'HEAD', 'OPTIONS');

/** Mostly requests a client would send, with the method that resource takes; some anything. */
const target = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      method: fc.constantFrom('PUT', 'PUT', 'PUT', 'GET', 'DELETE', 'PATCH'),
      path: fc.tuple(prefix, unitName).map(([first, name]) => `${first}/units/${name}`),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      method: fc.constantFrom('PATCH', 'PATCH', 'GET', 'PUT'),
      path: prefix.map((first) => `${first}/machines`),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      method: anyMethod,
      path: fc
        .tuple(
          prefix,
          fc.constantFrom('/units', '/state', '/discovery', '/state/'),
          fc.option(unitName),
        )
        .map(
          ([first, resource, name]) =>
            `${first}${resource}${resource === '/state/' ? (name ?? '') : ''}`,
        ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      method: anyMethod,
      path: fc
        .tuple(
          fc.constantFrom('/fleet/v1', '', '//fleet/v1', '/fleet/v1/.', '/FLEET/v1'),
          fc.constantFrom('/units', '/machines', '/bogus', '', '/', '/metrics'),
          fc.option(unitName, { nil: undefined }),
          fc.constantFrom('', '/', '/extra'),
        )
        .map(
          ([first, resource, name, suffix]) =>
            `${first}${resource}${name === undefined ? '' : `/${name}`}${suffix}`,
        ),
    }),
  },
);

const query = fc
  .array(
    fc.tuple(
      fc.constantFrom('nextPageToken', 'machineID', 'unitName', 'alt', 'x'),
      fc.oneof(
        fc.constantFrom(
          'AwABAA==',
          'AwACAA==',
          'ZAABAA==',
          'ZAA',
          '',
          '!!!!',
          'AwAAAA==',
          'json',
          MACHINE,
          'a.service',
          '%zz',
        ),
        fc.base64String({ maxLength: 12 }),
      ),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const desiredState = fc.constantFrom(
  undefined,
  '',
  'inactive',
  'loaded',
  'launched',
  'running',
  'LAUNCHED',
);

const unitBody = fc.record(
  {
    name: fc.constantFrom(undefined, undefined, undefined, 'a.service', ''),
    options: fc.option(fc.constantFrom(...OPTION_SETS), { nil: undefined, freq: 4 }),
    desiredState,
  },
  { requiredKeys: [] },
);

const metadataOps = fc.array(
  fc.record(
    {
      op: fc.constantFrom('add', 'remove', 'replace', 'move', '', 'ADD'),
      path: fc.constantFrom(
        `/${MACHINE}/metadata/k`,
        `/${MACHINE}/metadata/name`,
        '/x/meta/k',
        '//metadata/k',
        `/${MACHINE}/metadata/bad key`,
      ),
      value: fc.oneof(fc.record({ value: fc.constantFrom('', 'v', 'w') }), fc.constant('bare')),
    },
    { requiredKeys: [] },
  ),
  { maxLength: 3 },
);

const body = fc.oneof(
  { weight: 4, arbitrary: unitBody.map((value) => JSON.stringify(value)) },
  { weight: 3, arbitrary: metadataOps.map((value) => JSON.stringify(value)) },
  fc.json(),
  fc.string({ maxLength: 40 }),
  unitBody.map((value) => JSON.stringify(value).slice(0, -2)),
  fc.constantFrom('', 'null', '[null]', '{"options":[null]}', '{"options":"x"}', '{} trailing'),
);

const request: fc.Arbitrary<RawRequest> = fc
  .record({
    target,
    query,
    contentType: fc.constantFrom(
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      undefined,
      'text/plain',
      ['application/json', 'application/json'],
    ),
    body: fc.option(body, { nil: undefined, freq: 8 }),
  })
  .map(({ target: { method, path }, query: q, contentType, body: b }) => ({
    method,
    path: `${path}${q}`,
    headers: headersWith(contentType),
    ...(b !== undefined && { body: b }),
  }));

function headersWith(
  contentType: string | string[] | undefined,
): Record<string, string | string[]> {
  return contentType === undefined ? {} : { 'Content-Type': contentType };
}

/** Everything a request may change: units with their state, and machine metadata. */
async function snapshot() {
  const units = (await api.registry.units.list()).map((unit) => [
    unit.name,
    unit.hash,
    unit.desiredState,
  ]);
  const machines = await api.registry.machines.list();
  const metadata = await client
    .getAll()
    .prefix(api.registry.keys.allMachineMetadataPrefix)
    .strings();
  return { units, machines, metadata };
}

describe('arbitrary requests', () => {
  it('get a well-formed answer, JSON errors, no change when refused, and the server stays up', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (raw) => {
        const before = await snapshot();
        const response = await sendRaw(api.baseUrl, raw);
        expect(response.status).toBeGreaterThanOrEqual(200);
        expect(response.status).toBeLessThan(600);
        if (response.status === 301) {
          expect(response.headers.location).toMatch(/^\//);
        } else if (response.status >= 400) {
          expect(response.headers['content-type']).toBe('application/json');
          if (raw.method !== 'HEAD') {
            const entity = JSON.parse(response.body) as {
              error: { code: number; message: string };
            };
            expect(entity.error.code).toBe(response.status);
            expect(typeof entity.error.message).toBe('string');
            expect(goJsonEncode(entity)).toBe(response.body);
          }
          expect(response.status).not.toBe(500);
          expect(await snapshot()).toEqual(before);
        }
      }),
      { numRuns: 400 },
    );
    const alive = await sendRaw(api.baseUrl, { method: 'GET', path: '/fleet/v1/machines' });
    expect(alive.status).toBe(200);
  }, 120_000);
});
