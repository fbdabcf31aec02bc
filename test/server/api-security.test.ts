import { describe, expect, it } from 'vitest';
import { type FleetConfig, loadConfig } from '../../src/config/index.js';
import { tlsOptionsProblem } from '../../src/server/api-security.js';

function configWith(env: Record<string, string>): FleetConfig {
  return loadConfig({ env, defaultPath: '/nonexistent/fleet.conf' }).config;
}

describe('the API TLS options as a whole', () => {
  it.each([
    [{}, null],
    [{ FLEET_API_TLS_CERT_FILE: '/c', FLEET_API_TLS_KEY_FILE: '/k' }, null],
    [
      {
        FLEET_API_TLS_CERT_FILE: '/c',
        FLEET_API_TLS_KEY_FILE: '/k',
        FLEET_API_CLIENT_CA_FILE: '/ca',
      },
      null,
    ],
    [
      { FLEET_API_TLS_CERT_FILE: '/c' },
      'api_tls_cert_file and api_tls_key_file must be set together',
    ],
    [
      { FLEET_API_TLS_KEY_FILE: '/k' },
      'api_tls_cert_file and api_tls_key_file must be set together',
    ],
    [
      { FLEET_API_CLIENT_CA_FILE: '/ca' },
      'api_client_ca_file needs api_tls_cert_file and api_tls_key_file',
    ],
  ])('%j: %s', (env, problem) => {
    expect(tlsOptionsProblem(configWith(env))).toBe(problem);
  });
});
