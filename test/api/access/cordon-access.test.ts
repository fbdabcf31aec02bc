import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EtcdPresenceLease } from '../../../src/registry/machine-presence.js';
import { registerMachine } from '../support/machines.js';
import {
  type SecureApi,
  sendTls,
  startSecureApi,
  TOKENS,
  useSecureSuite,
} from '../support/secure-api.js';

const suite = useSecureSuite();
let api: SecureApi;
let session: EtcdPresenceLease;

const M1 = 'c1000000000000000000000000000000';

beforeEach(async () => {
  api = await startSecureApi(suite.client, suite.pki);
  session = await registerMachine(suite.client, api.registry.keys, M1, {});
  api.lines.length = 0;
});
afterEach(async () => {
  await session?.close();
  await api?.close();
});

const writes = [
  { method: 'PUT', path: `/fleet/ext/v1/machines/${M1}/cordon` },
  { method: 'POST', path: `/fleet/ext/v1/machines/${M1}/drain`, body: '{"maxParallel":2}' },
  { method: 'DELETE', path: `/fleet/ext/v1/machines/${M1}/cordon` },
];

describe('cordon and drain with access control', () => {
  it('are refused to read and operate callers, who may still list machines', async () => {
    const callers = [
      { client: suite.pki.clients.rita },
      { token: TOKENS.viewer },
      { client: suite.pki.clients.olga },
      { token: TOKENS.deployer },
    ];
    for (const credentials of callers) {
      for (const request of writes) {
        const refused = await sendTls(api, suite.pki, { ...request, ...credentials });
        expect(refused.status).toBe(403);
      }
      const list = await sendTls(api, suite.pki, {
        method: 'GET',
        path: '/fleet/ext/v1/machines',
        ...credentials,
      });
      expect(list.status).toBe(200);
    }
    expect(await api.registry.cordons.list()).toEqual(new Map());
    await vi.waitFor(() => expect(api.audits()).toHaveLength(12));
    expect(new Set(api.audits().map((line) => [line.action, line.result].join(' ')))).toEqual(
      new Set(['machine.cordon refused', 'machine.drain refused', 'machine.uncordon refused']),
    );
  });

  it('are done by admin and audited with the machine', async () => {
    for (const request of writes) {
      const done = await sendTls(api, suite.pki, { ...request, token: TOKENS.admin });
      expect(done.status).toBe(204);
    }
    await vi.waitFor(() => expect(api.audits()).toHaveLength(3));
    expect(api.audits().map((line) => [line.action, line.machines, line.result])).toEqual([
      ['machine.cordon', [M1], 'ok'],
      ['machine.drain', [M1], 'ok'],
      ['machine.uncordon', [M1], 'ok'],
    ]);
  });
});
