import { describe, expect, it } from 'vitest';
import type { AccessList } from '../../../src/api/access/access-file.js';
import {
  identifyCaller,
  type PresentedCertificate,
  sameSubject,
  tokenSha256,
} from '../../../src/api/access/caller.js';

const access: AccessList = {
  tokens: [
    {
      name: 'deploy',
      sha256: tokenSha256('s3cret-deploy'),
      grant: { role: 'operate', units: ['web-*'] },
    },
    { name: 'viewer', sha256: tokenSha256('s3cret-view'), grant: { role: 'read', units: null } },
  ],
  certificates: [{ subject: { CN: 'alice', O: 'ops' }, grant: { role: 'admin', units: null } }],
};

const alice: PresentedCertificate = { verified: true, subject: { O: 'ops', CN: 'alice' } };
const bob: PresentedCertificate = { verified: true, subject: { CN: 'bob' } };
const expired: PresentedCertificate = { verified: false, reason: 'CERT_HAS_EXPIRED' };

describe('who is calling on a TLS listener', () => {
  it.each([
    ['a known certificate', [], alice, 'cert:O=ops,CN=alice', ['admin']],
    ['a known token', ['Bearer s3cret-view'], null, 'token:viewer', ['read']],
    ['a lower-case scheme', ['bearer s3cret-view'], null, 'token:viewer', ['read']],
    [
      'both',
      ['Bearer s3cret-deploy'],
      alice,
      'cert:O=ops,CN=alice token:deploy',
      ['operate', 'admin'],
    ],
    [
      'a token with a certificate that has no grant',
      ['Bearer s3cret-view'],
      bob,
      'token:viewer',
      ['read'],
    ],
  ] as const)('knows %s', (_name, authorization, certificate, who, roles) => {
    const caller = identifyCaller({ authorization, certificate }, access);
    expect(caller.known).toBe(true);
    if (!caller.known) return;
    expect(caller.who).toBe(who);
    expect(caller.grants.map((grant) => grant.role)).toEqual(roles);
  });

  it.each([
    ['nothing', [], null, 'no credentials'],
    ['an unknown token', ['Bearer guess'], null, 'unknown or revoked token'],
    ['a token with another scheme', ['Basic s3cret-view'], null, 'Authorization must be'],
    ['an empty bearer', ['Bearer '], null, 'Authorization must be'],
    [
      'two Authorization headers',
      ['Bearer s3cret-view', 'Bearer s3cret-view'],
      null,
      'more than one',
    ],
    ['an expired certificate', [], expired, 'client certificate not accepted: CERT_HAS_EXPIRED'],
    [
      'an expired certificate with a good token',
      ['Bearer s3cret-view'],
      expired,
      'CERT_HAS_EXPIRED',
    ],
    ['a good certificate with a bad token', ['Bearer guess'], alice, 'unknown or revoked token'],
    ['a certificate with no grant', [], bob, 'no grant for certificate subject CN=bob'],
    ['the hash instead of the token', [`Bearer ${tokenSha256('s3cret-view')}`], null, 'unknown'],
  ] as const)('refuses %s', (_name, authorization, certificate, reason) => {
    const caller = identifyCaller({ authorization, certificate }, access);
    expect(caller.known).toBe(false);
    if (caller.known) return;
    expect(caller.reason).toContain(reason);
  });

  it('matches a subject on every attribute, in any order of different attributes', () => {
    expect(sameSubject({ CN: 'a', O: 'x' }, { O: 'x', CN: 'a' })).toBe(true);
    expect(sameSubject({ CN: 'a' }, { CN: 'a', O: 'x' })).toBe(false);
    expect(sameSubject({ CN: 'a', O: 'x' }, { CN: 'a', O: 'y' })).toBe(false);
    expect(sameSubject({ OU: ['a', 'b'] }, { OU: ['a', 'b'] })).toBe(true);
    expect(sameSubject({ OU: 'a' }, { OU: ['a', 'b'] })).toBe(false);
  });
});
