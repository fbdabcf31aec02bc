// Certificates made with openssl for the TLS tests and the local cluster: a CA, server, peer and
// client certificates it signs, and an expired one, made with `openssl ca -startdate/-enddate`
// as on Debian 12. Private keys are written mode 0600.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface CertificateAuthority extends KeyPair {
  dir: string;
  name: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA valid for `days` (default 2). */
export function makeCa(dir: string, name: string, days = 2): CertificateAuthority {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(days),
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(key, 0o600);
  return { dir, name, cert, key };
}

export interface IssueOptions {
  /** openssl's form: `/CN=alice/O=ops`. */
  subject: string;
  /** subjectAltName entries: `DNS:fleet.test`, `IP:127.0.0.1`. */
  altNames?: readonly string[];
  /** Valid only in 2020. */
  expired?: boolean;
  /** Days of validity (default 2). */
  days?: number;
  /** Where the files go (default: the CA's directory). */
  dir?: string;
}

export function issue(ca: CertificateAuthority, file: string, options: IssueOptions): KeyPair {
  const base = join(options.dir ?? ca.dir, file);
  const [cert, key, csr, ext] = [`${base}.pem`, `${base}.key`, `${base}.csr`, `${base}.ext`];
  openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', options.subject]);
  chmodSync(key, 0o600);
  const extensions = ['basicConstraints=CA:FALSE'];
  if (options.altNames !== undefined)
    extensions.push(`subjectAltName=${options.altNames.join(',')}`);
  writeFileSync(ext, `${extensions.join('\n')}\n`);
  if (options.expired) {
    const config = `${base}.cnf`;
    writeFileSync(`${base}.index`, '');
    writeFileSync(`${base}.serial`, '1000\n');
    writeFileSync(
      config,
      [
        '[ca]',
        'default_ca = fleet_test',
        '[fleet_test]',
        `database = ${base}.index`,
        `serial = ${base}.serial`,
        `new_certs_dir = ${options.dir ?? ca.dir}`,
        'default_md = sha256',
        'policy = anything',
        'unique_subject = no',
        '[anything]',
        'commonName = supplied',
        'organizationName = optional',
        '',
      ].join('\n'),
    );
    openssl([
      'ca',
      '-batch',
      '-notext',
      '-preserveDN',
      '-config',
      config,
      '-cert',
      ca.cert,
      '-keyfile',
      ca.key,
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200102000000Z',
      '-extfile',
      ext,
      '-in',
      csr,
      '-out',
      cert,
    ]);
  } else {
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-days',
      String(options.days ?? 2),
      '-extfile',
      ext,
      '-out',
      cert,
    ]);
  }
  return { cert, key };
}
