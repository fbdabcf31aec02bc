// What a cluster machine runs: the shipped fleet.service and fleet.socket (units/), a drop-in
// that points ExecStart at this checkout's fleetd, a TCP socket like fleet's functional suite,
// and a fleet.conf. See docs/deployment.md for the same set-up on a real host.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../harness/index.js';
import { ACCESS_FILE, CLUSTER_CA, PEER_CERT, PEER_KEY } from './pki.js';

/** Where the unit files and the configuration go inside a machine. */
export const SYSTEM_UNIT_DIR = '/etc/systemd/system';
export const FLEET_CONF = '/etc/fleet/fleet.conf';
/** fleet.socket's `ListenStream=`; `/var/run` is a symlink to `/run` on Debian. */
export const FLEET_SOCKET = '/var/run/fleet.sock';
/** The same socket by its real path (see apiSocketPath: symlinks resolve against the host's root). */
export const FLEET_SOCKET_REAL = '/run/fleet.sock';
export const FLEET_TCP_PORT = 54728;
/** Where each machine's peer listener serves unit status and journal to the other fleetds. */
export const FLEET_PEER_PORT = 54729;
export const DROP_IN = `${SYSTEM_UNIT_DIR}/fleet.service.d/10-cluster.conf`;

export interface FleetConfOptions {
  etcdEndpoint: string;
  keyPrefix: string;
  publicIp: string;
  /** Go duration (default `3s`: the harness's etcd grants short leases as asked). */
  agentTtl?: string;
  /** Seconds (default `0.5`). */
  engineReconcileInterval?: string;
  /** Written as `metadata=k=v,...` in this order. */
  metadata: ReadonlyArray<readonly [string, string]>;
  /** More `key=value` lines (e.g. `verbosity=1`, `token_limit=50`). */
  extra?: Readonly<Record<string, string>>;
  /**
   * fleet-tcp.socket serves TLS with the machine's certificate, and authenticates callers by
   * a certificate of the cluster CA or a token of the access file (default: plain TCP).
   */
  secure?: boolean;
  /** `host:port` of the peer listener (every mode has one: see pki.ts). */
  peerAddress: string;
}

export function renderFleetConf(o: FleetConfOptions): string {
  const lines = [
    '# Written by the fleet cluster tool (cluster/).',
    `etcd_servers=${o.etcdEndpoint}`,
    `etcd_key_prefix=${o.keyPrefix}`,
    `public_ip=${o.publicIp}`,
    `agent_ttl=${o.agentTtl ?? '3s'}`,
    `engine_reconcile_interval=${o.engineReconcileInterval ?? '0.5'}`,
    `peer_cert_file=${PEER_CERT}`,
    `peer_key_file=${PEER_KEY}`,
    `peer_ca_file=${CLUSTER_CA}`,
    `peer_address=${o.peerAddress}`,
    ...(o.secure === true
      ? [
          `api_tls_cert_file=${PEER_CERT}`,
          `api_tls_key_file=${PEER_KEY}`,
          `api_client_ca_file=${CLUSTER_CA}`,
          `api_access_file=${ACCESS_FILE}`,
        ]
      : // fleet-tcp.socket serves the original's plain, unauthenticated TCP API to the tests of
        // its behaviour: fleetd refuses plain TCP unless told so.
        ['api_insecure_tcp=true']),
  ];
  for (const [k, v] of o.metadata) {
    if (/[,=\n]/.test(k) || /[,\n]/.test(v) || k.trim() === '') {
      throw new Error(`metadata ${JSON.stringify(`${k}=${v}`)} cannot be written to fleet.conf`);
    }
  }
  if (o.metadata.length > 0)
    lines.push(`metadata=${o.metadata.map(([k, v]) => `${k}=${v}`).join(',')}`);
  for (const [k, v] of Object.entries(o.extra ?? {})) {
    if (!/^[a-z_]+$/.test(k) || v.includes('\n')) throw new Error(`bad fleet.conf option ${k}`);
    lines.push(`${k}=${v}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The shipped units, byte for byte. */
export function shippedUnit(name: 'fleet.service' | 'fleet.socket'): string {
  return readFileSync(join(REPO_ROOT, 'units', name), 'utf8');
}

/** Points the shipped fleet.service at this checkout's fleetd, run by this Node. */
export function renderDropIn(nodePath: string = process.execPath): string {
  return [
    '# Written by the fleet cluster tool: run fleetd from the project checkout.',
    '[Service]',
    'ExecStart=',
    `ExecStart=${nodePath} ${join(REPO_ROOT, 'bin', 'fleetd')} --config ${FLEET_CONF}`,
    '',
  ].join('\n');
}

/** fleet's functional suite gave each member a TCP socket for the API as well. */
export function renderTcpSocket(address: string, port: number = FLEET_TCP_PORT): string {
  return [
    '[Unit]',
    'Description=fleet daemon API socket (TCP)',
    '',
    '[Socket]',
    `ListenStream=${address}:${port}`,
    'Service=fleet.service',
    '',
    '[Install]',
    'WantedBy=sockets.target',
    '',
  ].join('\n');
}

/** Every file a machine needs, by absolute path inside the machine. */
export function machineFiles(conf: FleetConfOptions, tcpAddress: string): Map<string, string> {
  return new Map([
    [`${SYSTEM_UNIT_DIR}/fleet.service`, shippedUnit('fleet.service')],
    [`${SYSTEM_UNIT_DIR}/fleet.socket`, shippedUnit('fleet.socket')],
    [DROP_IN, renderDropIn()],
    [`${SYSTEM_UNIT_DIR}/fleet-tcp.socket`, renderTcpSocket(tcpAddress)],
    [FLEET_CONF, renderFleetConf(conf)],
  ]);
}

/**
 * The host's way to a machine's API socket: through the machine's root as /proc shows it.
 * The real path matters: an absolute symlink met on the way (`/var/run` → `/run`) would be
 * resolved against the host's root, not the machine's.
 */
export function apiSocketPath(pid: number): string {
  return `/proc/${pid}/root${FLEET_SOCKET_REAL}`;
}

export function apiEndpoint(pid: number): string {
  return `unix://${apiSocketPath(pid)}`;
}

/** The TLS API of a secure cluster's machine (reachable from the harness network namespace). */
export function tlsEndpoint(ip: string, port: number = FLEET_TCP_PORT): string {
  return `https://${ip}:${port}`;
}
