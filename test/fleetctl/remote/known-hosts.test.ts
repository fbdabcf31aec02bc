import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../../src/fleetctl/log.js';
import {
  algoString,
  HostKeyChecker,
  knownHostsAddress,
  matchHost,
  md5Fingerprint,
  parseKnownHostsLine,
} from '../../../src/fleetctl/remote/known-hosts.js';
import { readLine } from '../../../src/fleetctl/remote/read-line.js';
import { BufferedOutput } from '../buffered-output.js';

/** An Ed25519 public key in SSH wire format. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const length = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([length(type.length), type, length(raw.length), raw]);
}

const FIXED_TIME = () => new Date(2016, 2, 29, 9, 58, 32);

function checker(path: string, answers: string[] = []) {
  const stderr = new BufferedOutput();
  const asked: string[] = [];
  const instance = new HostKeyChecker(
    path,
    { stdin: Readable.from([]), stderr, log: new Logger(stderr, false, FIXED_TIME) },
    async (address, algo, fingerprint) => {
      asked.push(`${address} ${algo} ${fingerprint}`);
      return answers.shift() === 'yes';
    },
  );
  return { instance, stderr, asked };
}

describe('known-hosts entries', () => {
  it('name the host alone on port 22 and [host]:port elsewhere', () => {
    expect(knownHostsAddress('10.0.0.1:22')).toBe('10.0.0.1');
    expect(knownHostsAddress('10.0.0.1:2222')).toBe('[10.0.0.1]:2222');
    expect(knownHostsAddress('[fd00::1]:22')).toBe('[fd00::1]');
    expect(knownHostsAddress('[fd00::1]:2222')).toBe('[fd00::1]:2222');
    expect(knownHostsAddress('bastion')).toBe('bastion');
  });

  it('match comma-separated wildcard patterns, a negation overriding', () => {
    expect(matchHost('10.0.0.1', '10.0.0.*')).toBe(true);
    expect(matchHost('10.0.0.1', 'a,10.0.0.?')).toBe(true);
    expect(matchHost('10.0.0.1', '10.0.0.*,!10.0.0.1')).toBe(false);
    expect(matchHost('[10.0.0.1]:2222', '10.0.0.1')).toBe(false);
    expect(matchHost('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
  });

  it('skip comments and blank lines, and refuse markers, hashed names and bad keys', () => {
    const blob = ed25519Blob();
    expect(parseKnownHostsLine('# comment')).toEqual({ kind: 'none' });
    expect(parseKnownHostsLine('   ')).toEqual({ kind: 'none' });
    expect(parseKnownHostsLine('@cert-authority * ssh-ed25519 AAAA')).toBe(
      'marker functionality not implemented',
    );
    expect(parseKnownHostsLine('|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA')).toBe(
      'hashed hosts not implemented',
    );
    expect(parseKnownHostsLine('lonely')).toBe('bad format (insufficient fields)');
    expect(parseKnownHostsLine('host ssh-ed25519 !!!')).toBe(
      'error parsing key: ssh: no key found',
    );
    expect(parseKnownHostsLine(`\thost ssh-ed25519 ${blob.toString('base64')} comment`)).toEqual({
      kind: 'entry',
      hosts: 'host',
      key: { type: 'ssh-ed25519', blob },
    });
  });

  it('print fingerprints as MD5 hex pairs and key types as fleet named them', () => {
    expect(md5Fingerprint(Buffer.from('abc'))).toBe(
      '90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72',
    );
    expect(algoString('ssh-rsa')).toBe('RSA');
    expect(algoString('ssh-dss')).toBe('DSA');
    expect(algoString('ecdsa-sha2-nistp384')).toBe('ECDSA');
    expect(algoString('ssh-ed25519')).toBe('ssh-ed25519');
  });
});

describe('the host key check', () => {
  it('asks about a new host and appends an accepted key, creating the directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetctl-kh-'));
    const path = join(dir, 'nested', 'known_hosts');
    const blob = ed25519Blob();
    const { instance, stderr, asked } = checker(path, ['yes']);
    const verdict = await (await instance.begin()).verify('10.0.0.1:22', blob);
    expect(asked).toEqual([`10.0.0.1 ssh-ed25519 ${md5Fingerprint(blob)}`]);
    expect(verdict.ok).toBe(true);
    // Nothing is written until the handshake has proved the key.
    await expect(stat(path)).rejects.toThrow();
    if (verdict.ok) await verdict.commit?.();
    expect(await readFile(path, 'utf8')).toBe(`10.0.0.1 ssh-ed25519 ${blob.toString('base64')}\n`);
    expect(stderr.text).toBe(
      "Warning: Permanently added '10.0.0.1' (ssh-ed25519) to the list of known hosts.\n",
    );
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700 & ~process.umask());
    expect((await stat(path)).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  it('accepts a recorded key silently and refuses a different one with the banner', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetctl-kh-'));
    const path = join(dir, 'known_hosts');
    const known = ed25519Blob();
    const other = ed25519Blob();
    await writeFile(path, `[10.0.0.1]:2222 ssh-ed25519 ${known.toString('base64')}\n`);
    const { instance, stderr, asked } = checker(path);
    const check = await instance.begin();
    expect(await check.verify('10.0.0.1:2222', known)).toEqual({ ok: true });
    expect(await check.verify('10.0.0.1:2222', other)).toEqual({
      ok: false,
      error: 'host key mismatch',
    });
    expect(asked).toEqual([]);
    expect(stderr.text).toBe(
      `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ssh-ed25519 key sent by the remote host is
${md5Fingerprint(other)}.
Please contact your system administrator.
Add correct host key in ${path} to get rid of this message.
Host key verification failed.
`,
    );
  });

  it('refuses a host the user does not trust', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetctl-kh-'));
    const { instance, stderr } = checker(join(dir, 'known_hosts'), ['no']);
    expect(await (await instance.begin()).verify('10.0.0.1:22', ed25519Blob())).toEqual({
      ok: false,
      error: 'unauthorized host',
    });
    expect(stderr.text).toBe('Host key verification failed.\n');
  });

  it('warns about the lines it skips, naming file and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetctl-kh-'));
    const path = join(dir, 'known_hosts');
    const key = ed25519Blob();
    await writeFile(
      path,
      `|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA\n@revoked * ssh-ed25519 AAAA\n# ok\n10.0.0.1 ssh-ed25519 ${key.toString('base64')}\n`,
    );
    const { instance, stderr } = checker(path);
    expect(await (await instance.begin()).verify('10.0.0.1:22', key)).toEqual({ ok: true });
    expect(stderr.text).toBe(
      `2016/03/29 09:58:32 WARN known-hosts.ts: ${path}:1 - hashed hosts not implemented\n` +
        `2016/03/29 09:58:32 WARN known-hosts.ts: ${path}:2 - marker functionality not implemented\n`,
    );
  });
});

describe('reading the answer to a prompt', () => {
  it('takes one line and leaves the rest of stdin unread', async () => {
    const stdin = Readable.from([Buffer.from('yes\r\nrest of input')]);
    expect(await readLine(stdin)).toBe('yes');
    const rest: Buffer[] = [];
    for await (const chunk of stdin) rest.push(chunk as Buffer);
    expect(Buffer.concat(rest).toString()).toBe('rest of input');
  });

  it('gives null at the end of input', async () => {
    expect(await readLine(Readable.from([]))).toBeNull();
  });
});
