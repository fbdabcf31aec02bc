import { describe, expect, it } from 'vitest';
import { type FleetConfig, loadConfig } from '../../src/config/index.js';
import { restartOnlyChanges } from '../../src/server/reload.js';

function configWith(env: Record<string, string>): FleetConfig {
  return loadConfig({ env, defaultPath: '/nonexistent/fleet.conf' }).config;
}

describe('SIGHUP reload: options only a restart applies', () => {
  const running = configWith({});

  it('names every restart-only option whose value changed, by its fleet.conf name', () => {
    const reloaded = configWith({
      FLEET_API_LISTEN: '127.0.0.1:54728',
      FLEET_UNITS_DIRECTORY: '/run/fleet/elsewhere',
      FLEET_SYSTEMD_USER: 'true',
    });
    expect(restartOnlyChanges(running, reloaded)).toEqual([
      'api_listen',
      'units_directory',
      'systemd_user',
    ]);
  });

  it('names the API TLS and access options, which shape the listeners opened at start', () => {
    const reloaded = configWith({
      FLEET_API_TLS_CERT_FILE: '/etc/fleet/api.pem',
      FLEET_API_TLS_KEY_FILE: '/etc/fleet/api-key.pem',
      FLEET_API_CLIENT_CA_FILE: '/etc/fleet/ca.pem',
      FLEET_API_INSECURE_TCP: 'true',
      FLEET_API_ACCESS_FILE: '/etc/fleet/other.json',
    });
    expect(restartOnlyChanges(running, reloaded)).toEqual([
      'api_tls_cert_file',
      'api_tls_key_file',
      'api_client_ca_file',
      'api_insecure_tcp',
      'api_access_file',
    ]);
  });

  it('names the peer options, which shape the peer listener and certificate read at start', () => {
    const reloaded = configWith({
      FLEET_PEER_CERT_FILE: '/etc/fleet/peer.crt',
      FLEET_PEER_KEY_FILE: '/etc/fleet/peer.key',
      FLEET_PEER_CA_FILE: '/etc/fleet/ca.crt',
      FLEET_PEER_ADDRESS: '10.0.0.7:54729',
    });
    expect(restartOnlyChanges(running, reloaded)).toEqual([
      'peer_cert_file',
      'peer_key_file',
      'peer_ca_file',
      'peer_address',
    ]);
  });

  it('names none when only options a reload applies changed', () => {
    const reloaded = configWith({ FLEET_VERBOSITY: '1', FLEET_METADATA: 'region=east' });
    expect(restartOnlyChanges(running, reloaded)).toEqual([]);
  });
});
