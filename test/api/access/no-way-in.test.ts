import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createOverSocket,
  type SecureApi,
  sendTls,
  startSecureApi,
  TOKENS,
  useSecureSuite,
} from '../support/secure-api.js';

const suite = useSecureSuite();
let api: SecureApi;

beforeAll(async () => {
  api = await startSecureApi(suite.client, suite.pki);
  expect(await createOverSocket(api, ['db.service'])).toEqual([201]);
});
afterAll(async () => {
  await api?.close();
});

const REAL_TOKENS = new Set(Object.values(TOKENS));
const visible = fc.string({
  unit: fc.constantFrom(...'abcXYZ019-._~+/=:'.split('')),
  maxLength: 40,
});
const token = visible.filter((value) => !REAL_TOKENS.has(value.trim()));
const headerValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 60,
});

const authorization = fc.oneof(
  token.map((value) => [`Bearer ${value}`]),
  token.map((value) => [`bearer  ${value}`]),
  headerValue.map((value) => [value]),
  fc.tuple(token, fc.constantFrom(...REAL_TOKENS)).map(([a, b]) => [`Bearer ${a}`, `Bearer ${b}`]),
  fc.constant([] as string[]),
);
const host = fc.oneof(
  fc.constantFrom('127.0.0.1', 'fleet.test', 'localhost:1'),
  fc.domain(),
  headerValue.filter((value) => value.trim() !== ''),
);
const extraHeaders = fc.dictionary(
  fc.stringMatching(/^x-[a-z0-9-]{1,12}$/),
  headerValue.map((value) => value.trim()),
  { maxKeys: 4 },
);
const request = fc.constantFrom(
  { method: 'PUT', path: '/fleet/v1/units/db.service', body: '{"desiredState":"launched"}' },
  { method: 'DELETE', path: '/fleet/v1/units/db.service' },
  { method: 'PATCH', path: '/fleet/v1/machines', body: '[]' },
  { method: 'GET', path: '/fleet/v1/units' },
  { method: 'POST', path: '/fleet/v1/units' },
);
const certificate = fc.constantFrom('none', 'wrongCa', 'expired', 'nobody');

it('no random headers, certificate or token without a grant get in', async () => {
  const before = await api.registry.cluster.units();
  await fc.assert(
    fc.asyncProperty(
      request,
      certificate,
      authorization,
      host,
      extraHeaders,
      async (req, cert, auth, hostHeader, extra) => {
        const audits = api.audits().length;
        const response = await sendTls(api, suite.pki, {
          ...req,
          ...(cert !== 'none' && { client: suite.pki.clients[cert] }),
          headers: {
            ...extra,
            Host: hostHeader,
            'Content-Type': 'application/json',
            ...(auth.length > 0 && { Authorization: auth }),
          },
        });
        expect([401, 403]).toContain(response.status);
        expect(JSON.parse(response.body).error.code).toBe(response.status);
        const added = api.audits().slice(audits);
        expect(added).toEqual([
          expect.objectContaining({ result: 'refused', status: response.status }),
        ]);
      },
    ),
    { numRuns: 60 },
  );
  expect(await api.registry.cluster.units()).toEqual(before);
});
