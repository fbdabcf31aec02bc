import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorMessage } from '../../error-message.js';
import type { Logger } from '../log.js';
import type { Output } from '../output.js';
import { readLine } from './read-line.js';

const LOG_SOURCE = 'known-hosts.ts';

/** OpenSSH's default port, left out of known-hosts entries (`put_host_port`). */
const SSH_DEFAULT_PORT = 22;

/** fleet's banner for a changed host key: OpenSSH's words, with fleet's three values. */
function remoteHostChanged(algo: string, fingerprint: string, file: string): string {
  return `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ${algo} key sent by the remote host is
${fingerprint}.
Please contact your system administrator.
Add correct host key in ${file} to get rid of this message.
Host key verification failed.
`;
}

function trustPrompt(address: string, algo: string, fingerprint: string): string {
  return `The authenticity of host '${address}' can't be established.
${algo} key fingerprint is ${fingerprint}.
Are you sure you want to continue connecting (yes/no)? `;
}

export const ERR_UNTRUSTED_HOST = 'unauthorized host';
export const ERR_KEY_MISMATCH = 'host key mismatch';

/** A public key in SSH wire format, with the type it names. */
export interface HostKey {
  type: string;
  blob: Buffer;
}

/** How a line of a known-hosts file reads: nothing (comment, blank), an entry, or an error. */
type ParsedLine = { kind: 'none' } | { kind: 'entry'; hosts: string; key: HostKey } | string;

/** The key types Go's SSH library could parse in fleet's time, and their fields after the type. */
const KEY_FIELDS: Readonly<Record<string, number>> = {
  'ssh-rsa': 2,
  'ssh-dss': 4,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
  'ssh-ed25519': 1,
};

const ECDSA_POINT_BYTES: Readonly<Record<string, number>> = {
  nistp256: 65,
  nistp384: 97,
  nistp521: 133,
};

/** Reads the SSH wire strings of a buffer; null when one runs past the end. */
function wireStrings(blob: Buffer): Buffer[] | null {
  const strings: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return null;
    const length = blob.readUInt32BE(at);
    at += 4;
    if (at + length > blob.length) return null;
    strings.push(blob.subarray(at, at + length));
    at += length;
  }
  return strings;
}

/** Go's `ssh.ParsePublicKey`, as far as it validates: the type, its fields, nothing after. */
export function parsePublicKey(blob: Buffer): HostKey | null {
  const strings = wireStrings(blob);
  if (strings === null || strings.length === 0) return null;
  const type = strings[0]!.toString('latin1');
  const fields = KEY_FIELDS[type];
  if (fields === undefined || strings.length !== fields + 1) return null;
  if (type === 'ssh-ed25519' && strings[1]!.length !== 32) return null;
  if (type.startsWith('ecdsa-sha2-')) {
    const curve = type.slice('ecdsa-sha2-'.length);
    const point = strings[2]!;
    if (strings[1]!.toString('latin1') !== curve) return null;
    if (point.length !== ECDSA_POINT_BYTES[curve] || point[0] !== 0x04) return null;
  }
  return { type, blob };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Go's unexported `parseAuthorizedKey`: base64 up to the first blank, then the key. */
function parseKeyText(text: string): HostKey | null {
  const trimmed = text.trim();
  const end = trimmed.search(/[ \t]/);
  const encoded = end < 0 ? trimmed : trimmed.slice(0, end);
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return null;
  return parsePublicKey(Buffer.from(encoded, 'base64'));
}

/**
 * Go's `ssh.ParseAuthorizedKey` on the rest of a known-hosts line: the text after the first
 * field (the key type, which is not checked: the key names its own) is the key; failing
 * that, one more field is skipped, as when options come first.
 */
function parseAuthorizedKey(text: string): HostKey | null {
  const fields = text.trim();
  if (fields === '' || fields.startsWith('#')) return null;
  const first = fields.search(/[ \t]/);
  if (first < 0) return null;
  const key = parseKeyText(fields.slice(first));
  if (key !== null) return key;
  const rest = fields.slice(first).trimStart();
  const second = rest.search(/[ \t]/);
  return second < 0 ? null : parseKeyText(rest.slice(second));
}

/** fleet's `parseKnownHostsLine`. */
export function parseKnownHostsLine(raw: string): ParsedLine {
  const line = raw.replace(/^[\t ]+/, '');
  if (line === '' || line.startsWith('#')) return { kind: 'none' };
  if (line.startsWith('@')) return 'marker functionality not implemented';
  const end = line.search(/[\t ]/);
  if (end <= 0) return 'bad format (insufficient fields)';
  const hosts = line.slice(0, end);
  if (hosts.startsWith('|')) return 'hashed hosts not implemented';
  const key = parseAuthorizedKey(line.slice(end + 1));
  if (key === null) return 'error parsing key: ssh: no key found';
  return { kind: 'entry', hosts, key };
}

/** Go's `ssh.MarshalAuthorizedKey` after the address: `<addr> <type> <base64>\n`. */
export function renderHostLine(address: string, key: HostKey): string {
  return `${address} ${key.type} ${key.blob.toString('base64')}\n`;
}

/** Host patterns of a known-hosts file, each with its keys, in file order. */
export type HostKeys = Map<string, HostKey[]>;

/** fleet's `HostKeyFile`: the known-hosts file, read whole and appended to. */
export class HostKeyFile {
  constructor(readonly path: string) {}

  /**
   * All entries; unusable lines are skipped with a warning naming file and line. A file that
   * cannot be read counts as empty, silently, as in fleet (its open errors were ignored).
   */
  async read(log: Logger): Promise<HostKeys> {
    const keys: HostKeys = new Map();
    let text: string;
    try {
      text = await readFile(this.path, 'latin1');
    } catch {
      return keys;
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const [index, raw] of lines.entries()) {
      const parsed = parseKnownHostsLine(raw.replace(/\r$/, ''));
      if (typeof parsed === 'string') {
        log.warning(LOG_SOURCE, `${this.path}:${index + 1} - ${parsed}`);
        continue;
      }
      if (parsed.kind === 'none') continue;
      const list = keys.get(parsed.hosts) ?? [];
      list.push(parsed.key);
      keys.set(parsed.hosts, list);
    }
    return keys;
  }

  /** Appends an entry, creating the directories (0700) and the file (0644) as needed. */
  async put(address: string, key: HostKey): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await appendFile(this.path, renderHostLine(address, key), { mode: 0o644 });
  }
}

/** fleet's `match`: `*` and `?` wildcards, byte by byte. */
function wildcardMatch(s: string, p: string): boolean {
  let i = 0;
  let j = 0;
  while (i < p.length) {
    if (p[i] === '*') {
      i++;
      if (i === p.length) return true;
      for (; j < s.length; j++) {
        if (
          (p[i] === '?' || p[i] === '*' || s[j] === p[i]) &&
          wildcardMatch(s.slice(j), p.slice(i))
        ) {
          return true;
        }
      }
      return false;
    }
    if (j === s.length) return false;
    if (p[i] !== '?' && p[i] !== s[j]) return false;
    i++;
    j++;
  }
  return j === s.length;
}

/**
 * fleet's `matchHost`: a comma-separated list of patterns, any of which may be negated with
 * `!`; a matching negation wins over every positive match.
 */
export function matchHost(host: string, pattern: string): boolean {
  let found = false;
  for (const sub of pattern.split(',')) {
    if (sub.startsWith('!') && wildcardMatch(host, sub.slice(1))) return false;
    if (wildcardMatch(host, sub)) found = true;
  }
  return found;
}

/** Go's `net.SplitHostPort`, enough for the addresses fleetctl makes. */
export function splitHostPort(address: string): [host: string, port: string] | null {
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') return null;
    return [address.slice(1, close), address.slice(close + 2)];
  }
  const colon = address.lastIndexOf(':');
  if (colon < 0 || address.indexOf(':') !== colon) return null;
  return [address.slice(0, colon), address.slice(colon + 1)];
}

/**
 * fleet's `addrToHostPort`: how an address is written in a known-hosts file: the host alone
 * for port 22 (bracketed when IPv6), `[host]:port` otherwise.
 */
export function knownHostsAddress(address: string): string {
  if (!address.includes(':')) return address;
  const split = splitHostPort(address);
  if (split === null) throw new Error(`address ${address}: missing port in address`);
  const [host, portText] = split;
  const port = Number(portText);
  if (!/^[0-9]+$/.test(portText) || !Number.isSafeInteger(port)) {
    throw new Error(`strconv.Atoi: parsing "${portText}": invalid syntax`);
  }
  if (port === 0 || port === SSH_DEFAULT_PORT) return host.includes(':') ? `[${host}]` : host;
  return `[${host}]:${port}`;
}

/** fleet's `algoString`: OpenSSH's short names for the classic key types. */
export function algoString(type: string): string {
  switch (type) {
    case 'ssh-rsa':
      return 'RSA';
    case 'ssh-dss':
      return 'DSA';
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
      return 'ECDSA';
    default:
      return type;
  }
}

/** fleet's `md5String`: the MD5 of the key blob as colon-separated hex pairs. */
export function md5Fingerprint(blob: Buffer): string {
  const hex = createHash('md5').update(blob).digest('hex');
  return hex.match(/../g)!.join(':');
}

export interface CheckerServices {
  stdin: NodeJS.ReadableStream;
  stderr: Output;
  log: Logger;
}

/** Asks whether to trust a new host: fleet's `askToTrustHost`. */
export type TrustHost = (address: string, algo: string, fingerprint: string) => Promise<boolean>;

/**
 * fleet's prompt: written to stderr, answered by a line of stdin; `yes` or `y` in any case
 * accepts (only the first word counts, as Go's `Scanf("%s\n")` read it).
 */
export function askOnTerminal(services: Pick<CheckerServices, 'stdin' | 'stderr'>): TrustHost {
  return async (address, algo, fingerprint) => {
    services.stderr.write(trustPrompt(address, algo, fingerprint));
    const line = (await readLine(services.stdin)) ?? '';
    const answer = (line.trim().split(/\s+/)[0] ?? '').toLowerCase();
    return answer === 'yes' || answer === 'y';
  };
}

/** The outcome of checking a host key: refused with fleet's error, or accepted. */
export type Verdict =
  | { ok: false; error: string }
  /** `commit` records a newly trusted key; run it once the handshake has proved the key. */
  | { ok: true; commit?: () => Promise<void> };

/** One connection's view of the known hosts: the host's entries, read once. */
export class HostKeyCheck {
  constructor(
    private readonly file: HostKeyFile,
    private readonly keys: HostKeys,
    private readonly services: CheckerServices,
    private readonly trustHost: TrustHost,
  ) {}

  /**
   * fleet's `GetHostKeyAlgorithms`: the key types recorded for the address as dialled (or
   * the IP it resolved to), so that the server presents a key that can be compared.
   */
  keyTypesFor(addresses: readonly string[]): string[] {
    const hosts = addresses.flatMap((address) => {
      try {
        return [knownHostsAddress(address)];
      } catch (err) {
        this.services.log.error(
          LOG_SOURCE,
          `Failed to parse address ${address}: ${errorMessage(err)}`,
        );
        return [];
      }
    });
    const types: string[] = [];
    for (const [pattern, keys] of this.keys) {
      if (!hosts.some((host) => matchHost(host, pattern))) continue;
      for (const key of keys) types.push(key.type);
    }
    return types;
  }

  /**
   * fleet's `HostKeyChecker.Check`, for the address the connection reached (`ip:port`): a
   * recorded key equal to the presented one accepts; only different keys for the host is a
   * mismatch (banner); no entry asks the user, and an accepted key is appended to the file.
   */
  async verify(remoteAddress: string, blob: Buffer): Promise<Verdict> {
    const { stderr } = this.services;
    let address: string;
    try {
      address = knownHostsAddress(remoteAddress);
    } catch (err) {
      return { ok: false, error: errorMessage(err) };
    }
    const key = parsePublicKey(blob);
    const type = key?.type ?? wireStrings(blob)?.[0]?.toString('latin1') ?? '';
    const algo = algoString(type);
    const fingerprint = md5Fingerprint(blob);

    let mismatched = false;
    for (const [pattern, keys] of this.keys) {
      if (!matchHost(address, pattern)) continue;
      for (const known of keys) {
        if (known.type === type && known.blob.equals(blob)) return { ok: true };
        mismatched = true;
      }
    }
    if (mismatched) {
      stderr.write(remoteHostChanged(algo, fingerprint, this.file.path));
      return { ok: false, error: ERR_KEY_MISMATCH };
    }
    if (!(await this.trustHost(address, algo, fingerprint))) {
      stderr.write('Host key verification failed.\n');
      return { ok: false, error: ERR_UNTRUSTED_HOST };
    }
    const trusted: HostKey = key ?? { type, blob };
    return {
      ok: true,
      commit: async () => {
        try {
          await this.file.put(address, trusted);
        } catch {
          stderr.write(`Failed to add the host to the list of known hosts (${this.file.path}).\n`);
          return;
        }
        stderr.write(
          `Warning: Permanently added '${address}' (${algo}) to the list of known hosts.\n`,
        );
      },
    };
  }
}

/** fleet's `HostKeyChecker` over a known-hosts file. */
export class HostKeyChecker {
  private readonly file: HostKeyFile;

  constructor(
    path: string,
    private readonly services: CheckerServices,
    private readonly trustHost: TrustHost = askOnTerminal(services),
  ) {
    this.file = new HostKeyFile(path);
  }

  /** Reads the file for one connection. */
  async begin(): Promise<HostKeyCheck> {
    const keys = await this.file.read(this.services.log);
    return new HostKeyCheck(this.file, keys, this.services, this.trustHost);
  }
}
