// `npm run cluster`, the local-cluster command the quick start and the benchmarks use, driven as
// a person drives it: up, ls, fleetctl, stop-fleet, kill, down. Pins what scripts read from it.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterStateDir, readState } from '../../cluster/detached.js';
import { ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, REPO_ROOT, type RunResult } from '../../harness/index.js';
import { run } from '../../harness/proc.js';
import { show } from '../fleetctl-output.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const NAME = `cli-${process.pid.toString(36)}`;
const MACHINE_LINE =
  /^(m1|m2) +([0-9a-f]{32}) +(10\.213\.\d+\.\d+) +(unix:\/\/\/proc\/\d+\/root\/run\/fleet\.sock)$/;

/** The cluster command as `npm run cluster --` runs it, on one of this test's own clusters. */
function clusterCommand(name: string, ...args: string[]): Promise<RunResult> {
  return run(
    [
      process.execPath,
      '--import',
      './cluster/register.mjs',
      'cluster/cli.ts',
      '--cluster',
      name,
      ...args,
    ],
    { cwd: REPO_ROOT, timeoutMs: 120_000 },
  );
}

function cluster(...args: string[]): Promise<RunResult> {
  return clusterCommand(NAME, ...args);
}

/**
 * A GET over TLS from the host, trusting `ca`; the certificate names the machine, not the
 * forwarded 127.0.0.1, so only its chain is checked.
 */
function getOverTls(
  url: string,
  ca: string,
  token?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(
      url,
      {
        ca: readFileSync(ca),
        checkServerIdentity: () => undefined,
        headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
  });
}

/** Whether something accepts connections on the host's 127.0.0.1 at `port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Permission bits of a file, as `0600`. */
function mode(path: string): string {
  return `0${(statSync(path).mode & 0o777).toString(8)}`;
}

/** `ls` split into cells, one array per machine. */
async function machines(): Promise<string[][]> {
  const r = await cluster('ls');
  expect(r.code, show(r)).toBe(0);
  return r.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(/ +/));
}

describe.skipIf(unavailable !== undefined)('the local-cluster command', () => {
  let up: RunResult;
  let netns: string | undefined;

  beforeAll(async () => {
    await ensureFreshBuild();
    up = await cluster('up', '--machines', '2');
    netns = readState(clusterStateDir(NAME))?.harness?.netns;
  });

  afterAll(async () => {
    await cluster('down');
  });

  it('up prints one line per machine: name, machine ID, address and its unix API socket', () => {
    expect(up.code, show(up)).toBe(0);
    const lines = up.stdout.split('\n');
    const machineLines = lines.filter((line) => /^m\d/.test(line));
    expect(machineLines).toHaveLength(2);
    for (const line of machineLines) expect(line).toMatch(MACHINE_LINE);
    expect(up.stdout).toContain(`npm run cluster -- --cluster ${NAME} fleetctl -- list-machines`);
    expect(up.stdout).not.toContain('dashboard:');
  });

  it('ls prints no header, one line per machine with its state', async () => {
    const ids = up.stdout
      .split('\n')
      .map((line) => MACHINE_LINE.exec(line))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[2], match[3]]);
    expect(await machines()).toEqual(ids.map((cells) => [...cells, 'running']));
  });

  it('fleetctl runs against the cluster and lists both machines', async () => {
    const r = await cluster('fleetctl', '--', 'list-machines', '--no-legend', '--fields', 'ip');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(
      (await machines()).map((cells) => cells[2]).sort(),
    );
  });

  it('every machine holds a certificate of the cluster CA naming its machine ID and address', async () => {
    const state = readState(clusterStateDir(NAME));
    expect(state?.pki).toBeDefined();
    expect(mode(state!.pki!.ca.replace(/\.pem$/, '.key'))).toBe('0600');
    for (const m of state!.machines) {
      const r = await cluster(
        'exec',
        m.name,
        '--',
        'sh',
        '-c',
        'cd /etc/fleet && openssl verify -CAfile ca.crt peer.crt && stat -c %a peer.key && ' +
          'openssl x509 -in peer.crt -noout -subject -ext subjectAltName',
      );
      expect(r.code, show(r)).toBe(0);
      const [verified, keyMode, subject] = r.stdout.split('\n');
      expect([verified, keyMode, subject]).toEqual([
        'peer.crt: OK',
        '600',
        `subject=CN = ${m.id}, O = fleet-peer`,
      ]);
      expect(r.stdout).toContain(`IP Address:${m.ip}`);
      expect(mode(m.certificate!.key)).toBe('0600');
    }
  });

  it('ls shows a machine whose fleet was stopped, and one that was powered off', async () => {
    const stop = await cluster('stop-fleet', 'm1');
    expect(stop.code, show(stop)).toBe(0);
    const kill = await cluster('kill', 'm2');
    expect(kill.code, show(kill)).toBe(0);
    expect((await machines()).map((cells) => [cells[0], cells[3]])).toEqual([
      ['m1', 'fleet-inactive'],
      ['m2', 'killed'],
    ]);
  });

  it('down removes the cluster, its state and its network namespace', async () => {
    const r = await cluster('down');
    expect(r.code, show(r)).toBe(0);
    expect(existsSync(clusterStateDir(NAME))).toBe(false);
    expect(netns).toBeDefined();
    expect(existsSync(join('/run/netns', netns!))).toBe(false);
    const ls = await cluster('ls');
    expect(ls.code).not.toBe(0);
  });
});

describe.skipIf(unavailable !== undefined)('the local-cluster command with --secure', () => {
  const name = `clis-${process.pid.toString(36)}`;
  let up: RunResult;

  beforeAll(async () => {
    await ensureFreshBuild();
    up = await clusterCommand(name, 'up', '--machines', '1', '--secure');
  });

  afterAll(async () => {
    await clusterCommand(name, 'down');
  });

  /** fleetd's audit lines in m1's journal. */
  async function auditLines(): Promise<string[]> {
    const r = await clusterCommand(
      name,
      'exec',
      'm1',
      '--',
      'journalctl',
      '-u',
      'fleet',
      '-o',
      'cat',
    );
    return r.stdout.split('\n').filter((line) => line.includes(' audit who='));
  }

  it('up --secure keeps the machine lines and prints the CA, the admin certificate and the token file', () => {
    expect(up.code, show(up)).toBe(0);
    const lines = up.stdout.split('\n');
    expect(lines.filter((line) => /^m\d/.test(line))).toEqual([
      expect.stringMatching(MACHINE_LINE),
    ]);
    const state = readState(clusterStateDir(name));
    const secure = state?.secure;
    expect(secure).toBeDefined();
    expect(up.stdout).toContain(`CA:        ${state?.pki?.ca}\n`);
    expect(up.stdout).toContain(`--cert-file ${secure!.cert} --key-file ${secure!.key}\n`);
    expect(up.stdout).toContain(`FLEETCTL_TOKEN_FILE=${secure!.tokenFile}\n`);
    expect(mode(secure!.key)).toBe('0600');
    expect(mode(secure!.tokenFile)).toBe('0600');
  });

  it('fleetctl goes over TLS with the admin certificate, or with --token the operate token', async () => {
    const list = await clusterCommand(
      name,
      'fleetctl',
      '--',
      'list-machines',
      '--no-legend',
      '--fields',
      'ip',
    );
    expect(list.code, show(list)).toBe(0);
    expect(list.stdout.trim()).toMatch(/^10\.213\.\d+\.11$/);
    // Writes are audited with who made them: a certificate or a token on the TLS listener.
    const dir = mkdtempSync(join(tmpdir(), 'cluster-cli-'));
    try {
      const unit = join(dir, 'audited.service');
      writeFileSync(unit, '[Service]\nExecStart=/bin/sleep 3000\n');
      const asAdmin = await clusterCommand(name, 'fleetctl', '--', 'submit', unit);
      expect(asAdmin.code, show(asAdmin)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const asOperator = await clusterCommand(
      name,
      'fleetctl',
      '--token',
      '--',
      'destroy',
      'audited.service',
    );
    expect(asOperator.code, show(asOperator)).toBe(0);
    const audit = await waitFor('both writes audited', auditLines, (lines) =>
      lines.some((l) => l.includes('action=unit.delete')),
    );
    expect(audit.find((l) => l.includes('action=unit.put'))).toContain(
      'who=cert:CN=cluster-admin,O=fleet-client ',
    );
    expect(audit.find((l) => l.includes('action=unit.delete'))).toContain(
      'who=token:cluster-operator ',
    );
  });

  it('up --secure forwards a port on the host to the dashboard, and down closes it', async () => {
    const state = readState(clusterStateDir(name));
    const tokenFile = state?.secure?.tokenFile ?? '';
    const line = up.stdout.split('\n').find((l) => l.startsWith('dashboard: '));
    const match = /^dashboard: (https:\/\/127\.0\.0\.1:(\d+)\/ui\/) token: (.+)$/.exec(line ?? '');
    expect(match?.[3], up.stdout).toBe(tokenFile);
    const [, address = '', port = ''] = match ?? [];
    const ca = state?.pki?.ca ?? '';
    const page = await getOverTls(address, ca);
    expect([page.status, page.body]).toEqual([
      200,
      expect.stringContaining('<title>fleet dashboard</title>'),
    ]);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const api = await getOverTls(new URL('/fleet/v1/machines', address).href, ca, token);
    expect(api.status).toBe(200);
    const down = await clusterCommand(name, 'down');
    expect(down.code, show(down)).toBe(0);
    expect(await accepts(Number(port))).toBe(false);
  });
});
