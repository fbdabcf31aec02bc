import type { FleetConfig } from '../config/index.js';

/**
 * Options that shape what fleetd opened at startup (its API listeners and their TLS, its peer
 * listener and certificate, the systemd connection and the directory its unit files are in): a SIGHUP reload cannot apply
 * them. The access file named at start is re-read on SIGHUP, but not looked for elsewhere.
 */
const RESTART_ONLY: ReadonlyArray<readonly [string, (config: FleetConfig) => unknown]> = [
  ['api_listen', (config) => config.apiListen],
  ['api_tls_cert_file', (config) => config.apiTlsCertFile],
  ['api_tls_key_file', (config) => config.apiTlsKeyFile],
  ['api_client_ca_file', (config) => config.apiClientCaFile],
  ['api_insecure_tcp', (config) => config.apiInsecureTcp],
  ['api_access_file', (config) => config.apiAccessFile],
  ['units_directory', (config) => config.unitsDirectory],
  ['systemd_user', (config) => config.systemdUser],
  ['peer_cert_file', (config) => config.peerCertFile],
  ['peer_key_file', (config) => config.peerKeyFile],
  ['peer_ca_file', (config) => config.peerCaFile],
  ['peer_address', (config) => config.peerAddress],
];

/** The fleet.conf names of the restart-only options whose value differs from fleetd's start. */
export function restartOnlyChanges(running: FleetConfig, reloaded: FleetConfig): string[] {
  return RESTART_ONLY.filter(([, read]) => read(running) !== read(reloaded)).map(([name]) => name);
}
