import { describe, expect, it } from 'vitest';
import { parseEndpoint } from '../../src/client/endpoint.js';

describe("fleetctl's API endpoint", () => {
  it.each([
    ['/var/run/fleet.sock', 'URL scheme undefined'],
    ['', 'URL scheme undefined'],
    ['unix://var/run/fleet.sock', 'unable to connect to host "var" with scheme "unix"'],
    ['file://host/x.sock', 'unable to connect to host "host" with scheme "file"'],
    ['127.0.0.1:1', 'parse "127.0.0.1:1": first path segment in URL cannot contain colon'],
    [':49153', 'parse ":49153": missing protocol scheme'],
    ['http://127.0.0.1:port', 'parse "http://127.0.0.1:port": invalid port ":port" after host'],
    ['http://[::1', `parse "http://[::1": missing ']' in host`],
    ['http://h/%zz', 'parse "http://h/%zz": invalid URL escape "%zz"'],
    ['http://h/\u0001', 'parse "http://h/\\x01": net/url: invalid control character in URL'],
  ])('refuses %j with %j', (endpoint, message) => {
    expect(() => parseEndpoint(endpoint)).toThrow(message);
  });

  it('dials a unix socket by path, naming the host domain-sock as Go did', () => {
    expect(parseEndpoint('unix:///var/run/fleet.sock')).toEqual({
      baseUrl: 'http://domain-sock/fleet/v1/',
      protocol: 'http',
      socketPath: '/var/run/fleet.sock',
      userinfo: '',
    });
    expect(parseEndpoint('file:///run/fleet.sock').socketPath).toBe('/run/fleet.sock');
    expect(parseEndpoint('UNIX:///run/fleet.sock').socketPath).toBe('/run/fleet.sock');
  });

  it('puts the API under the endpoint path', () => {
    expect(parseEndpoint('http://127.0.0.1:49153').baseUrl).toBe(
      'http://127.0.0.1:49153/fleet/v1/',
    );
    expect(parseEndpoint('https://h/prefix/').baseUrl).toBe('https://h/prefix/fleet/v1/');
    expect(parseEndpoint('http://u:p@h:1/a/../b').baseUrl).toBe('http://h:1/b/fleet/v1/');
    expect(parseEndpoint('http://u:p@h:1').userinfo).toBe('u:p');
  });

  it('accepts other schemes, which fail only when a request is made, as in fleetctl', () => {
    expect(parseEndpoint('localhost:8080').protocol).toBe('localhost');
    expect(parseEndpoint('ftp://h').protocol).toBe('ftp');
  });
});
