import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnitFile } from '../../../src/unit/unit-file.js';
import { type SecureApi, sendTls, startSecureApi, useSecureSuite } from '../support/secure-api.js';

const suite = useSecureSuite();
let api: SecureApi;

const content = (execStart: string) =>
  UnitFile.parse(`[Service]\nExecStart=${execStart}\n\n[X-Fleet]\nGlobal=true\n`);

beforeEach(async () => {
  api = await startSecureApi(suite.client, suite.pki);
  for (const name of ['db.service', 'web-g.service']) {
    await api.registry.units.put(name, content('/bin/sleep 1'), 'launched');
  }
  api.lines.length = 0;
});
afterEach(async () => {
  await api?.close();
});

const start = (...names: string[]) => ({
  method: 'POST',
  path: '/fleet/ext/v1/rollouts',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({
    units: names.map((name) => ({ name, options: content('/bin/sleep 2').options })),
  }),
});

describe('rollouts on TCP with access control', () => {
  it('need operate for every unit: a read caller is kept out, operate on web-* rolls web-* only', async () => {
    const reader = await sendTls(api, suite.pki, {
      ...start('web-g.service'),
      client: suite.pki.clients.rita,
    });
    expect([reader.status, JSON.parse(reader.body).error.message]).toEqual([
      403,
      'a rollout needs the operate role',
    ]);
    const mixed = await sendTls(api, suite.pki, {
      ...start('web-g.service', 'db.service'),
      client: suite.pki.clients.olga,
    });
    expect([mixed.status, JSON.parse(mixed.body).error.message]).toEqual([
      403,
      'writing unit "db.service" needs the operate role for a glob matching it',
    ]);
    expect(await api.registry.rollouts.list()).toEqual([]);
    const allowed = await sendTls(api, suite.pki, {
      ...start('web-g.service'),
      client: suite.pki.clients.olga,
    });
    expect(allowed.status).toBe(201);
    const id = JSON.parse(allowed.body).rollout.id;
    const abort = await sendTls(api, suite.pki, {
      method: 'POST',
      path: `/fleet/ext/v1/rollouts/${id}/abort`,
      client: suite.pki.clients.olga,
    });
    expect(abort.status).toBe(200);
    const audits = api.audits().map((line) => [line.who, line.action, line.status, line.units]);
    expect(audits).toEqual([
      ['cert:CN=rita', 'rollout.start', 403, undefined],
      [
        'cert:CN=olga',
        'rollout.start',
        403,
        [
          { unit: 'web-g.service', status: 403 },
          { unit: 'db.service', status: 403 },
        ],
      ],
      ['cert:CN=olga', 'rollout.start', 201, [{ unit: 'web-g.service', status: 200 }]],
      ['cert:CN=olga', 'rollout.abort', 200, [{ unit: 'web-g.service', status: 200 }]],
    ]);
  });
});
