import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccessList, CertificateSubject } from './access-file.js';
import type { Grant } from './roles.js';

/** The client certificate a TLS connection presented, as the TLS layer judged it. */
export type PresentedCertificate =
  | { verified: true; subject: CertificateSubject }
  | { verified: false; reason: string };

export interface PresentedCredentials {
  /** Every `Authorization` header line of the request. */
  authorization: readonly string[];
  certificate: PresentedCertificate | null;
}

/** Who is calling: known, with a name for the audit log and grants; or refused, and why. */
export type Caller =
  | { known: true; who: string; grants: readonly Grant[] }
  | { known: false; reason: string };

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

/**
 * Identifies a TCP caller. Every credential presented must hold: a certificate that failed
 * verification or an unknown token refuses the request even if the other credential is good,
 * so a stolen token cannot ride on a colleague's certificate unnoticed. A caller holding both
 * gets the grants of both.
 */
export function identifyCaller(presented: PresentedCredentials, access: AccessList): Caller {
  const { certificate, authorization } = presented;
  if (certificate !== null && !certificate.verified) {
    return { known: false, reason: `client certificate not accepted: ${certificate.reason}` };
  }
  if (authorization.length > 1) {
    return { known: false, reason: 'more than one Authorization header' };
  }
  const names: string[] = [];
  const grants: Grant[] = [];
  if (authorization.length === 1) {
    const token = BEARER.exec(authorization[0] ?? '')?.[1];
    if (token === undefined) {
      return { known: false, reason: 'Authorization must be "Bearer <token>"' };
    }
    const entry = findToken(access, token);
    if (entry === null) return { known: false, reason: 'unknown or revoked token' };
    names.push(`token:${entry.name}`);
    grants.push(entry.grant);
  }
  if (certificate !== null) {
    const matching = access.certificates.filter((entry) =>
      sameSubject(entry.subject, certificate.subject),
    );
    if (matching.length === 0 && names.length === 0) {
      return {
        known: false,
        reason: `no grant for certificate subject ${formatSubject(certificate.subject)}`,
      };
    }
    if (matching.length > 0) names.unshift(`cert:${formatSubject(certificate.subject)}`);
    grants.push(...matching.map((entry) => entry.grant));
  }
  if (names.length === 0) {
    return {
      known: false,
      reason: 'no credentials: present a client certificate or an "Authorization: Bearer" token',
    };
  }
  return { known: true, who: names.join(' '), grants };
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares with every entry in constant time, so timing tells nothing of which one is near. */
function findToken(access: AccessList, token: string): AccessList['tokens'][number] | null {
  const digest = Buffer.from(tokenSha256(token), 'hex');
  let found: AccessList['tokens'][number] | null = null;
  for (const entry of access.tokens) {
    if (timingSafeEqual(digest, Buffer.from(entry.sha256, 'hex')) && found === null) found = entry;
  }
  return found;
}

function valuesOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

/** Same attributes with the same values; the order of different attributes does not matter. */
export function sameSubject(granted: CertificateSubject, presented: CertificateSubject): boolean {
  const keys = Object.keys(granted);
  if (keys.length !== Object.keys(presented).length) return false;
  return keys.every((key) => {
    const want = granted[key];
    const have = presented[key];
    if (want === undefined || have === undefined) return false;
    const [a, b] = [valuesOf(want), valuesOf(have)];
    return a.length === b.length && a.every((value, i) => value === b[i]);
  });
}

/** `CN=alice,O=ops`, in the certificate's order. */
export function formatSubject(subject: CertificateSubject): string {
  return Object.entries(subject)
    .flatMap(([key, value]) => valuesOf(value).map((v) => `${key}=${v}`))
    .join(',');
}
