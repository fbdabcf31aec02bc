// The local cluster's certificates: one CA per cluster and, per machine, a certificate whose
// subject names its machine ID, for calls between fleetds and for fleetd's TLS API (`secure`).
// Made with openssl on the host, kept in a directory of the cluster's, installed in each machine.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CertificateAuthority, issue, type KeyPair, makeCa } from '../harness/certificates.js';

/** Where a machine finds its certificate, key and the cluster CA. */
export const PEER_CERT = '/etc/fleet/peer.crt';
export const PEER_KEY = '/etc/fleet/peer.key';
export const CLUSTER_CA = '/etc/fleet/ca.crt';
export const ACCESS_FILE = '/etc/fleet/access.json';

/** The organisation of every peer certificate's subject. */
export const PEER_ORGANISATION = 'fleet-peer';

/** A local cluster lives for days at most; a year spares anyone a surprise. */
const DAYS = 365;

export interface MachineCertificate extends KeyPair {
  /** The subject as the access file names it. */
  subject: Readonly<Record<string, string>>;
}

export class ClusterPki {
  private constructor(
    readonly dir: string,
    readonly ca: CertificateAuthority,
  ) {}

  /** A new CA in `dir` (created mode 0700). */
  static create(dir: string): ClusterPki {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new ClusterPki(dir, makeCa(dir, 'cluster-ca', DAYS));
  }

  /**
   * A machine's certificate: `CN=<machine ID>, O=fleet-peer`, with its address and hostname as
   * subject alternative names, so that clients reaching it by either verify it.
   */
  machine(name: string, machineId: string, ip: string): MachineCertificate {
    const pair = issue(this.ca, `peer-${name}`, {
      subject: `/CN=${machineId}/O=${PEER_ORGANISATION}`,
      altNames: [`IP:${ip}`, `DNS:${name}`],
      days: DAYS,
    });
    return { ...pair, subject: { CN: machineId, O: PEER_ORGANISATION } };
  }

  /** A client certificate with this common name (and organisation `fleet-client`). */
  client(name: string): MachineCertificate {
    const pair = issue(this.ca, `client-${name}`, {
      subject: `/CN=${name}/O=fleet-client`,
      days: DAYS,
    });
    return { ...pair, subject: { CN: name, O: 'fleet-client' } };
  }

  /** A new bearer token in `<dir>/<name>.token` (mode 0600); returns the file and its SHA-256. */
  token(name: string): { file: string; sha256: string } {
    const token = randomBytes(32).toString('hex');
    const file = join(this.dir, `${name}.token`);
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return { file, sha256: createHash('sha256').update(token).digest('hex') };
  }
}

/** The files that install a machine's certificate, by path inside the machine, with modes. */
export function machineCertificateFiles(
  ca: CertificateAuthority,
  pair: KeyPair,
): Array<[path: string, content: string, mode: string]> {
  return [
    [CLUSTER_CA, readFileSync(ca.cert, 'utf8'), '0644'],
    [PEER_CERT, readFileSync(pair.cert, 'utf8'), '0644'],
    [PEER_KEY, readFileSync(pair.key, 'utf8'), '0600'],
  ];
}
