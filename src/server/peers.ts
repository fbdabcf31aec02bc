import { readFileSync } from 'node:fs';
import type { FleetConfig } from '../config/index.js';
import { errorMessage } from '../error-message.js';

/** This fleetd's peer certificate and key, the cluster CA, and where its peer listener is. */
export interface PeerCredentials {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** `host:port`: bound by the peer listener and published in the machine's record. */
  address: string;
}

const PEER_OPTIONS = ['peer_cert_file', 'peer_key_file', 'peer_ca_file', 'peer_address'] as const;

function peerOptionValues(config: FleetConfig): readonly string[] {
  return [config.peerCertFile, config.peerKeyFile, config.peerCaFile, config.peerAddress];
}

/** What is wrong with the peer options as a whole (all or none), or null. */
export function peerOptionsProblem(config: FleetConfig): string | null {
  const set = peerOptionValues(config).filter((value) => value !== '').length;
  if (set === 0 || set === PEER_OPTIONS.length) return null;
  const missing = PEER_OPTIONS.filter((_, i) => peerOptionValues(config)[i] === '');
  return `peer_cert_file, peer_key_file, peer_ca_file and peer_address must be set together; missing: ${missing.join(', ')}`;
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${option} ${path}: ${errorMessage(err)}`);
  }
}

/**
 * Reads the peer files once, at start (a reload keeps them); null when no peer option is
 * set. Throws on a partial set or an unreadable file: fleetd then refuses to start.
 */
export function readPeerCredentials(config: FleetConfig): PeerCredentials | null {
  const problem = peerOptionsProblem(config);
  if (problem !== null) throw new Error(problem);
  if (config.peerAddress === '') return null;
  return {
    cert: readPem('peer_cert_file', config.peerCertFile),
    key: readPem('peer_key_file', config.peerKeyFile),
    ca: readPem('peer_ca_file', config.peerCaFile),
    address: config.peerAddress,
  };
}

/** `host:port` (`[v6]:port` too) as host and port. */
export function splitHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return {
    host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'),
    port: Number(address.slice(colon + 1)),
  };
}
