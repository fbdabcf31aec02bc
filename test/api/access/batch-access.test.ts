import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createOverSocket,
  type SecureApi,
  sendTls,
  sendUnix,
  startSecureApi,
  TOKENS,
  useSecureSuite,
} from '../support/secure-api.js';

const suite = useSecureSuite();
let api: SecureApi;

beforeEach(async () => {
  api = await startSecureApi(suite.client, suite.pki);
  expect(await createOverSocket(api, ['db.service', 'web-1.service'])).toEqual([201, 201]);
  api.lines.length = 0;
});
afterEach(async () => {
  await api?.close();
});

/** A batch launching `names`, each as an existing unit's desired-state change. */
const launch = (...names: string[]) => ({
  method: 'POST',
  path: '/fleet/ext/v1/batch',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ units: names.map((name) => ({ name, desiredState: 'launched' })) }),
});

async function desiredStates() {
  return (await api.registry.cluster.units()).map((unit) => [unit.name, unit.desiredState]);
}

const refusedDb = {
  name: 'db.service',
  status: 403,
  error: {
    code: 403,
    message: 'writing unit "db.service" needs the operate role for a glob matching it',
  },
};

describe('a batch on TCP with access control', () => {
  it('needs the operate role to be let in at all', async () => {
    const before = await desiredStates();
    for (const credentials of [{ client: suite.pki.clients.rita }, { token: TOKENS.viewer }]) {
      const response = await sendTls(api, suite.pki, {
        ...launch('web-1.service'),
        ...credentials,
      });
      expect([response.status, response.body]).toEqual([
        403,
        JSON.stringify({ error: { code: 403, message: 'a batch needs the operate role' } }),
      ]);
    }
    expect(await desiredStates()).toEqual(before);
    expect(api.audits().map((line) => [line.who, line.action, line.status, line.result])).toEqual([
      ['cert:CN=rita', 'units.batch', 403, 'refused'],
      ['token:viewer', 'units.batch', 403, 'refused'],
    ]);
  });

  it('authorises each unit by itself: operate on web-* writes web-1.service, not db.service', async () => {
    for (const credentials of [{ client: suite.pki.clients.olga }, { token: TOKENS.deployer }]) {
      const response = await sendTls(api, suite.pki, {
        ...launch('db.service', 'web-1.service'),
        ...credentials,
      });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toEqual({
        results: [refusedDb, { name: 'web-1.service', status: 204 }],
      });
    }
    expect(await desiredStates()).toEqual([
      ['db.service', 'inactive'],
      ['web-1.service', 'launched'],
    ]);
    await vi.waitFor(() => expect(api.audits()).toHaveLength(2));
    expect(api.audits()).toEqual(
      ['cert:CN=olga', 'token:deployer'].map((who) =>
        expect.objectContaining({
          who,
          action: 'units.batch',
          method: 'POST',
          path: '/fleet/ext/v1/batch',
          units: [
            { unit: 'db.service', status: 403 },
            { unit: 'web-1.service', status: 204 },
          ],
          status: 200,
          result: 'ok',
        }),
      ),
    );
  });

  it('lets admin and the unix socket write every unit', async () => {
    const admin = await sendTls(api, suite.pki, {
      ...launch('db.service', 'web-1.service'),
      client: suite.pki.clients.alice,
    });
    expect(JSON.parse(admin.body).results.map((r: { status: number }) => r.status)).toEqual([
      204, 204,
    ]);
    const socket = await sendUnix(api, {
      ...launch('db.service'),
      body: JSON.stringify({ units: [{ name: 'db.service', desiredState: 'loaded' }] }),
    });
    expect(JSON.parse(socket.body)).toEqual({ results: [{ name: 'db.service', status: 204 }] });
    expect(await desiredStates()).toEqual([
      ['db.service', 'loaded'],
      ['web-1.service', 'launched'],
    ]);
  });
});
