import { describe, expect, it } from 'vitest';
import { hostAllowed, hostOfHeader, subjectAltNames } from '../../../src/api/access/host-names.js';

describe('the Host check of TCP listeners', () => {
  const own = new Set(['localhost', '127.0.0.1', '::1', 'fleet-1', '10.0.0.5', 'fleet.example']);

  it.each([
    [['10.0.0.5:54728'], true],
    [['10.0.0.5'], true],
    [['FLEET.example.:443'], true],
    [['[::1]:443'], true],
    [['localhost'], true],
    [['attacker.example'], false],
    [['attacker.example:54728'], false],
    [['10.0.0.5.attacker.example'], false],
    [['fleet-1@attacker'], false],
    [['[::2]:443'], false],
    [[''], false],
    [[], false],
    [['10.0.0.5', '10.0.0.5'], false],
    [['10.0.0.5:99999999'], false],
  ])('%j: %s', (headers, expected) => {
    expect(hostAllowed(headers, own)).toBe(expected);
  });

  it('takes the host from a Host header', () => {
    expect(hostOfHeader('[::1]:8443')).toBe('::1');
    expect(hostOfHeader('Example.COM.:80')).toBe('example.com');
    expect(hostOfHeader('a b')).toBeNull();
  });

  it("reads a certificate's DNS and IP names", () => {
    expect(
      subjectAltNames('DNS:fleet.example, IP Address:10.0.0.5, IP Address:::1, email:a@b'),
    ).toEqual(['fleet.example', '10.0.0.5', '::1']);
    expect(subjectAltNames(undefined)).toEqual([]);
  });
});
