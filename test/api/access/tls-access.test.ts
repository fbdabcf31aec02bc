import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlainTcpRefusedError, serveApi } from '../../../src/api/serve.js';
import type { EtcdPresenceLease } from '../../../src/registry/machine-presence.js';
import { registerMachine } from '../support/machines.js';
import {
  accessFileText,
  createOverSocket,
  type SecureApi,
  sendTls,
  sendUnix,
  startSecureApi,
  TOKENS,
  useSecureSuite,
} from '../support/secure-api.js';

const M1 = 'a1000000000000000000000000000000';

const suite = useSecureSuite();
let api: SecureApi;
let machine: EtcdPresenceLease;

beforeEach(async () => {
  api = await startSecureApi(suite.client, suite.pki);
  machine = await registerMachine(suite.client, api.registry.keys, M1, { role: 'web' });
  // One unit each of the two kinds the globs tell apart.
  expect(await createOverSocket(api, ['db.service', 'web-1.service'])).toEqual([201, 201]);
  api.lines.length = 0;
});
afterEach(async () => {
  await machine?.close();
  await api?.close();
});

const put = (name: string, desiredState = 'launched') => ({
  method: 'PUT',
  path: `/fleet/v1/units/${name}`,
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ desiredState }),
});
const patch = {
  method: 'PATCH',
  path: '/fleet/v1/machines',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify([{ op: 'add', path: `/${M1}/metadata/rack`, value: { value: '7' } }]),
};

/** Units and machines as the registry holds them, to show a refusal changed nothing. */
async function snapshot() {
  return {
    units: await api.registry.cluster.units(),
    machines: await api.registry.cluster.machines(),
  };
}

function errorBody(code: number, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

describe('callers on a TLS listener are refused', () => {
  it.each([
    [
      'with no credentials',
      {},
      'no credentials: present a client certificate or an "Authorization: Bearer" token',
    ],
    [
      'with a certificate of another CA',
      { client: 'wrongCa' },
      'client certificate not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    ],
    [
      'with an expired certificate',
      { client: 'expired' },
      'client certificate not accepted: CERT_HAS_EXPIRED',
    ],
    [
      'with a certificate that has no grant',
      { client: 'nobody' },
      'no grant for certificate subject CN=nobody',
    ],
    ['with an unknown token', { token: 'guessed' }, 'unknown or revoked token'],
  ] as const)('%s: 401, nothing changed, one audit line', async (_name, who, message) => {
    const before = await snapshot();
    for (const request of [put('db.service'), patch]) {
      const response = await sendTls(api, suite.pki, {
        ...request,
        ...('client' in who && { client: suite.pki.clients[who.client] }),
        ...('token' in who && { token: who.token }),
      });
      expect([response.status, response.body]).toEqual([401, errorBody(401, message)]);
    }
    expect(await snapshot()).toEqual(before);
    expect(api.audits()).toEqual([
      expect.objectContaining({
        who: 'tcp:127.0.0.1',
        action: 'unit.put',
        unit: 'db.service',
        status: 401,
        result: 'refused',
        reason: message,
      }),
      expect.objectContaining({
        who: 'tcp:127.0.0.1',
        action: 'machines.patch',
        status: 401,
        result: 'refused',
      }),
    ]);
  });
});

describe('roles', () => {
  it('read may list but not write', async () => {
    const before = await snapshot();
    for (const credentials of [{ client: suite.pki.clients.rita }, { token: TOKENS.viewer }]) {
      const list = await sendTls(api, suite.pki, {
        method: 'GET',
        path: '/fleet/v1/units',
        ...credentials,
      });
      expect(list.status).toBe(200);
      expect(JSON.parse(list.body).units).toHaveLength(2);
      const write = await sendTls(api, suite.pki, { ...put('web-1.service'), ...credentials });
      expect([write.status, write.body]).toEqual([
        403,
        errorBody(
          403,
          'writing unit "web-1.service" needs the operate role for a glob matching it',
        ),
      ]);
    }
    expect(await snapshot()).toEqual(before);
    expect(api.audits().map((line) => [line.who, line.status, line.result])).toEqual([
      ['cert:CN=rita', 403, 'refused'],
      ['token:viewer', 403, 'refused'],
    ]);
  });

  it('operate limited to web-* writes web-1.service but cannot touch db.service', async () => {
    for (const credentials of [{ client: suite.pki.clients.olga }, { token: TOKENS.deployer }]) {
      const before = await snapshot();
      for (const request of [
        put('db.service'),
        { method: 'DELETE', path: '/fleet/v1/units/db.service' },
        patch,
      ]) {
        const refused = await sendTls(api, suite.pki, { ...request, ...credentials });
        expect(refused.status).toBe(403);
      }
      expect(await snapshot()).toEqual(before);
      const allowed = await sendTls(api, suite.pki, { ...put('web-1.service'), ...credentials });
      expect(allowed.status).toBe(204);
    }
    const unit = await api.registry.cluster.unit('web-1.service');
    expect(unit?.desiredState).toBe('launched');
    expect(
      api.audits().map((line) => [line.who, line.action, line.unit ?? line.machines, line.result]),
    ).toEqual([
      ['cert:CN=olga', 'unit.put', 'db.service', 'refused'],
      ['cert:CN=olga', 'unit.delete', 'db.service', 'refused'],
      ['cert:CN=olga', 'machines.patch', undefined, 'refused'],
      ['cert:CN=olga', 'unit.put', 'web-1.service', 'ok'],
      ['token:deployer', 'unit.put', 'db.service', 'refused'],
      ['token:deployer', 'unit.delete', 'db.service', 'refused'],
      ['token:deployer', 'machines.patch', undefined, 'refused'],
      ['token:deployer', 'unit.put', 'web-1.service', 'ok'],
    ]);
  });

  it('admin may edit machine metadata, and the write is audited with the machine', async () => {
    const response = await sendTls(api, suite.pki, { ...patch, client: suite.pki.clients.alice });
    expect(response.status).toBe(204);
    const [edited] = await api.registry.cluster.machines();
    expect(edited?.metadata).toEqual({ role: 'web', rack: '7' });
    expect(api.audits()).toEqual([
      expect.objectContaining({
        who: 'cert:CN=alice,O=ops',
        action: 'machines.patch',
        machines: [M1],
        status: 204,
        result: 'ok',
      }),
    ]);
  });

  it('audits a write that fails with its status', async () => {
    const response = await sendTls(api, suite.pki, {
      ...put('nothing.service'),
      token: TOKENS.admin,
    });
    expect(response.status).toBe(409);
    expect(api.audits()).toEqual([
      expect.objectContaining({
        who: 'token:admin',
        unit: 'nothing.service',
        status: 409,
        result: 'failed',
      }),
    ]);
  });

  it('reads are not audited', async () => {
    const response = await sendTls(api, suite.pki, {
      method: 'GET',
      path: '/fleet/v1/machines',
      token: TOKENS.viewer,
    });
    expect(response.status).toBe(200);
    expect(api.audits()).toEqual([]);
  });
});

describe('the access file on SIGHUP', () => {
  it('refuses a revoked token once re-read, and keeps the grants when the new file is broken', async () => {
    const ask = () =>
      sendTls(api, suite.pki, { method: 'GET', path: '/fleet/v1/units', token: TOKENS.viewer });
    expect((await ask()).status).toBe(200);

    writeFileSync(api.accessFile, '{"tokens": [');
    await api.holder.reload();
    expect((await ask()).status).toBe(200);
    expect(
      api.lines.some((line) => line.level === 50 && String(line.msg).includes(api.accessFile)),
    ).toBe(true);

    const { viewer: _revoked, ...kept } = TOKENS;
    writeFileSync(api.accessFile, accessFileText(kept));
    await api.holder.reload();
    const refused = await ask();
    expect([refused.status, refused.body]).toEqual([
      401,
      errorBody(401, 'unknown or revoked token'),
    ]);
  });
});

describe('the Host header on TCP', () => {
  it.each(['fleet.test', '127.0.0.1:1', 'localhost'])('accepts %s', async (host) => {
    const response = await sendTls(api, suite.pki, {
      method: 'GET',
      path: '/fleet/v1/units',
      client: suite.pki.clients.alice,
      headers: { Host: host },
    });
    expect(response.status).toBe(200);
  });

  it('refuses a foreign name, even from an admin, changing nothing', async () => {
    const before = await snapshot();
    const response = await sendTls(api, suite.pki, {
      ...put('db.service'),
      client: suite.pki.clients.alice,
      headers: { 'Content-Type': 'application/json', Host: 'rebound.attacker.example' },
    });
    expect([response.status, response.body]).toEqual([
      403,
      errorBody(403, 'Host "rebound.attacker.example" does not name this fleetd'),
    ]);
    expect(await snapshot()).toEqual(before);
    expect(api.audits()).toEqual([expect.objectContaining({ status: 403, result: 'refused' })]);
  });
});

describe('the unix socket', () => {
  it('lets its callers do everything with any Host, and audits their writes', async () => {
    const response = await sendUnix(api, put('db.service'));
    expect(response.status).toBe(204);
    expect(api.audits()).toEqual([
      expect.objectContaining({
        who: `socket:${api.socketPath}`,
        action: 'unit.put',
        unit: 'db.service',
        status: 204,
        result: 'ok',
      }),
    ]);
  });
});

describe('TCP without TLS', () => {
  it('is refused unless plain TCP is allowed', async () => {
    await expect(
      serveApi(
        (_req, res) => res.end(),
        [{ host: '127.0.0.1', port: 0 }],
        pino({ level: 'silent' }),
        {
          tls: null,
          plainTcp: false,
        },
      ),
    ).rejects.toThrow(PlainTcpRefusedError);
  });
});
