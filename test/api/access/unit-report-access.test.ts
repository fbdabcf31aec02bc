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

const report = (unit: string, kind: 'status' | 'journal') => ({
  method: 'GET',
  path: `/fleet/ext/v1/units/${unit}/${kind}`,
});

const refusal = (unit: string) =>
  JSON.stringify({
    error: {
      code: 403,
      message: `reading the status or journal of unit "${unit}" needs the operate role for a glob matching it`,
    },
  });

describe('a unit’s status and journal on TCP with access control', () => {
  it('gives a read-only caller nothing, and audits the refusal', async () => {
    for (const credentials of [{ client: suite.pki.clients.rita }, { token: TOKENS.viewer }]) {
      for (const kind of ['status', 'journal'] as const) {
        const response = await sendTls(api, suite.pki, {
          ...report('web-1.service', kind),
          ...credentials,
        });
        expect([response.status, response.body]).toEqual([403, refusal('web-1.service')]);
      }
    }
    expect(api.audits().map((line) => [line.who, line.action, line.unit, line.result])).toEqual([
      ['cert:CN=rita', 'unit.status', 'web-1.service', 'refused'],
      ['cert:CN=rita', 'unit.journal', 'web-1.service', 'refused'],
      ['token:viewer', 'unit.status', 'web-1.service', 'refused'],
      ['token:viewer', 'unit.journal', 'web-1.service', 'refused'],
    ]);
  });

  it('lets operate on a matching glob through, not on another unit', async () => {
    for (const credentials of [{ client: suite.pki.clients.olga }, { token: TOKENS.deployer }]) {
      const db = await sendTls(api, suite.pki, {
        ...report('db.service', 'journal'),
        ...credentials,
      });
      expect([db.status, db.body]).toEqual([403, refusal('db.service')]);
      const web = await sendTls(api, suite.pki, {
        ...report('web-1.service', 'journal'),
        ...credentials,
      });
      // Past the gate: this API serves no reports, so fleet's own 404 answers.
      expect([web.status, web.body]).toEqual([404, '{"error":{"code":404,"message":""}}']);
    }
    await vi.waitFor(() =>
      expect(api.audits().filter((line) => line.result === 'failed')).toHaveLength(2),
    );
    expect(api.audits().map((line) => [line.who, line.action, line.unit, line.status])).toEqual([
      ['cert:CN=olga', 'unit.journal', 'db.service', 403],
      ['cert:CN=olga', 'unit.journal', 'web-1.service', 404],
      ['token:deployer', 'unit.journal', 'db.service', 403],
      ['token:deployer', 'unit.journal', 'web-1.service', 404],
    ]);
  });

  it('lets admin and the unix socket through for every unit', async () => {
    const admin = await sendTls(api, suite.pki, {
      ...report('db.service', 'status'),
      client: suite.pki.clients.alice,
    });
    const socket = await sendUnix(api, report('db.service', 'status'));
    expect([admin.status, socket.status]).toEqual([404, 404]);
  });
});
