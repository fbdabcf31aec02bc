// Who may call fleetd's TCP API, on a real machine of a secure cluster: fleet-tcp.socket serves
// TLS with the machine's certificate, asks for client certificates of the cluster CA and takes
// bearer tokens, as the access file grants (docs/security.md). Every certificate and token is
// made here; requests go out with curl, and fleetctl, from the harness network namespace.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type ClusterMachine, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { ACCESS_FILE, ClusterPki } from '../../cluster/pki.js';
import { issue, type KeyPair, makeCa } from '../../harness/certificates.js';
import {
  harnessUnavailable,
  runInNamespace,
  teardown,
  writeMachineFile,
} from '../../harness/index.js';
import { show } from '../fleetctl-output.js';
import { sleeper } from '../fleetd/units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

interface Caller {
  certificate?: KeyPair;
  token?: string;
}

interface Answer {
  status: number;
  body: string;
}

const newToken = (): string => randomBytes(32).toString('hex');
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Tokens by name: what the access file grants each is in accessFile(). */
const TOKENS = { deploy: newToken(), dashboard: newToken(), retired: newToken() };

/** The access file, with or without the token `retired`. */
function accessFile(withRetired: boolean): string {
  const tokens = [
    { name: 'deploy', sha256: sha256(TOKENS.deploy), role: 'operate', units: ['web-*'] },
    { name: 'dashboard', sha256: sha256(TOKENS.dashboard), role: 'read' },
    ...(withRetired ? [{ name: 'retired', sha256: sha256(TOKENS.retired), role: 'read' }] : []),
  ];
  const certificates = [
    { subject: { CN: 'alice', O: 'ops' }, role: 'admin' },
    { subject: { CN: 'rita' }, role: 'read' },
  ];
  return `${JSON.stringify({ tokens, certificates }, null, 2)}\n`;
}

/** A unit body as fleetctl sends it. */
function unitBody(description: string): string {
  return JSON.stringify({
    desiredState: 'inactive',
    options: [
      { section: 'Unit', name: 'Description', value: description },
      { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3000' },
    ],
  });
}

function metadataPatch(machineId: string, value: string): string {
  return JSON.stringify([{ op: 'add', path: `/${machineId}/metadata/role`, value: { value } }]);
}

describe.skipIf(unavailable !== undefined)('the TCP API of a secure cluster', () => {
  let dir: string;
  let pki: ClusterPki;
  let cluster: Cluster;
  let m1: ClusterMachine;
  const certs = {} as Record<'alice' | 'rita' | 'wrongCa' | 'expired', KeyPair>;

  /** curl from the harness network namespace, verifying fleetd by the cluster CA. */
  async function call(
    caller: Caller,
    method: string,
    path: string,
    body?: string,
  ): Promise<Answer> {
    const argv = ['curl', '-sS', '--max-time', '10', '--cacert', pki.ca.cert, '-X', method];
    argv.push('-o', '-', '-w', '\n%{http_code}');
    if (caller.certificate !== undefined) {
      argv.push('--cert', caller.certificate.cert, '--key', caller.certificate.key);
    }
    if (caller.token !== undefined) argv.push('-H', `Authorization: Bearer ${caller.token}`);
    if (body !== undefined) {
      argv.push('-H', 'Content-Type: application/json', '-H', 'Expect:', '--data-binary', '@-');
    }
    argv.push(`${m1.tlsEndpoint}${path}`);
    const r = await runInNamespace(cluster.network, argv, {
      timeoutMs: 15_000,
      ...(body !== undefined && { input: body }),
    });
    if (r.code !== 0) throw new Error(`curl ${method} ${path}: exit ${r.code}: ${r.stderr}`);
    const nl = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(nl + 1)), body: r.stdout.slice(0, nl) };
  }

  function errorMessage(answer: Answer): string {
    return (JSON.parse(answer.body) as { error: { message: string } }).error.message;
  }

  /** What the unix socket (not access-controlled) says of the units and machines. */
  async function snapshot(): Promise<unknown> {
    return { units: await cluster.units(), machines: await cluster.machinesSeen() };
  }

  beforeAll(async () => {
    await ensureFreshBuild();
    dir = mkdtempSync(join(tmpdir(), 'fleet-auth-'));
    pki = ClusterPki.create(join(dir, 'cluster'));
    const other = makeCa(dir, 'other-ca');
    certs.alice = issue(pki.ca, 'alice', { subject: '/CN=alice/O=ops', dir });
    certs.rita = issue(pki.ca, 'rita', { subject: '/CN=rita', dir });
    certs.wrongCa = issue(other, 'alice-other-ca', { subject: '/CN=alice/O=ops', dir });
    certs.expired = issue(pki.ca, 'alice-expired', {
      subject: '/CN=alice/O=ops',
      expired: true,
      dir,
    });
    cluster = await Cluster.start({
      name: 'api-auth',
      machines: 1,
      pki,
      secure: { accessFile: accessFile(true) },
    });
    m1 = cluster.machine('m1');
    await cluster.putUnit('db.service', sleeper('database'), 'inactive');
  });

  afterAll(async () => {
    await teardown();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a request with no credentials with 401', async () => {
    const answer = await call({}, 'GET', '/fleet/v1/units');
    expect(answer.status, answer.body).toBe(401);
    expect(errorMessage(answer)).toMatch(/^no credentials/);
  });

  it('refuses a client certificate of another CA with 401', async () => {
    const answer = await call({ certificate: certs.wrongCa }, 'GET', '/fleet/v1/machines');
    expect(answer.status, answer.body).toBe(401);
    expect(errorMessage(answer)).toMatch(/^client certificate not accepted: /);
  });

  it('refuses an expired client certificate with 401', async () => {
    const answer = await call({ certificate: certs.expired }, 'GET', '/fleet/v1/machines');
    expect(answer.status, answer.body).toBe(401);
    expect(errorMessage(answer)).toBe('client certificate not accepted: CERT_HAS_EXPIRED');
  });

  it('refuses a token removed from the access file once fleetd gets SIGHUP, without a restart', async () => {
    const retired = { token: TOKENS.retired };
    expect((await call(retired, 'GET', '/fleet/v1/units')).status).toBe(200);
    const pid = await cluster.fleetdPid(m1);
    await writeMachineFile(m1.host, ACCESS_FILE, accessFile(false), '0600');
    await cluster.signalFleet(m1, 'HUP');
    // The same SIGHUP reloads fleetd's configuration, and while it registers again the API
    // answers 503 for a moment: wait past that as well.
    const answer = await waitFor(
      'the retired token refused',
      () => call(retired, 'GET', '/fleet/v1/units'),
      (a) => a.status !== 200 && a.status !== 503,
    );
    expect(answer.status, answer.body).toBe(401);
    expect(errorMessage(answer)).toBe('unknown or revoked token');
    expect(await cluster.fleetdPid(m1)).toBe(pid);
    expect((await call({ token: TOKENS.dashboard }, 'GET', '/fleet/v1/units')).status).toBe(200);
  });

  it('lets read list units and machines but not write a unit', async () => {
    for (const reader of [{ certificate: certs.rita }, { token: TOKENS.dashboard }]) {
      expect((await call(reader, 'GET', '/fleet/v1/units')).status).toBe(200);
      const machines = await call(reader, 'GET', '/fleet/v1/machines');
      expect(machines.status, machines.body).toBe(200);
      expect(machines.body).toContain(m1.id);
      const put = await call(reader, 'PUT', '/fleet/v1/units/web-0.service', unitBody('web'));
      expect(put.status, put.body).toBe(403);
    }
    expect((await cluster.units()).map((u) => u.name)).not.toContain('web-0.service');
  });

  it('lets operate limited to web-* write web-1.service but not touch db.service', async () => {
    const deploy = { token: TOKENS.deploy };
    const created = await call(deploy, 'PUT', '/fleet/v1/units/web-1.service', unitBody('web'));
    expect(created.status, created.body).toBe(201);
    const put = await call(deploy, 'PUT', '/fleet/v1/units/db.service', unitBody('replaced'));
    expect(put.status, put.body).toBe(403);
    expect(errorMessage(put)).toBe(
      'writing unit "db.service" needs the operate role for a glob matching it',
    );
    const del = await call(deploy, 'DELETE', '/fleet/v1/units/db.service');
    expect(del.status, del.body).toBe(403);
    const units = await cluster.units();
    expect(units.map((u) => u.name).sort()).toEqual(['db.service', 'web-1.service']);
    const db = units.find((u) => u.name === 'db.service');
    expect(db?.options?.find((o) => o.name === 'Description')?.value).toBe('database');
  });

  it("refuses a unit's status and journal without operate on it, and lets admin ask", async () => {
    const refused = [
      [{ token: TOKENS.dashboard }, 'status'],
      [{ certificate: certs.rita }, 'journal'],
      [{ token: TOKENS.deploy }, 'journal'],
    ] as const;
    for (const [caller, report] of refused) {
      const answer = await call(caller, 'GET', `/fleet/ext/v1/units/db.service/${report}`);
      expect(answer.status, answer.body).toBe(403);
      expect(errorMessage(answer)).toBe(
        'reading the status or journal of unit "db.service" needs the operate role for a glob matching it',
      );
    }
    // Past the gate: db.service is inactive, so there is nothing to run.
    const admin = await call(
      { certificate: certs.alice },
      'GET',
      '/fleet/ext/v1/units/db.service/status',
    );
    expect(admin.status, admin.body).toBe(404);
    expect(errorMessage(admin)).toBe('unit db.service is not running on any machine');
  });

  it('lets admin edit machine metadata', async () => {
    const alice = { certificate: certs.alice };
    const patch = await call(alice, 'PATCH', '/fleet/v1/machines', metadataPatch(m1.id, 'edge'));
    expect(patch.status, patch.body).toBe(204);
    const [machine] = await cluster.machinesSeen();
    expect(machine?.metadata).toEqual({ hostname: 'm1', role: 'edge' });
  });

  it('changes nothing on a refused request and logs an audit line for each', async () => {
    const before = await snapshot();
    const cursor = await cluster.journalCursor(m1);
    const refused: Array<[Caller, string, string, string | undefined, number]> = [
      [{}, 'PUT', '/fleet/v1/units/web-7.service', unitBody('web'), 401],
      [{ certificate: certs.wrongCa }, 'DELETE', '/fleet/v1/units/db.service', undefined, 401],
      [
        { certificate: certs.expired },
        'PATCH',
        '/fleet/v1/machines',
        metadataPatch(m1.id, 'x'),
        401,
      ],
      [{ token: newToken() }, 'DELETE', '/fleet/v1/units/web-1.service', undefined, 401],
      [{ certificate: certs.rita }, 'PUT', '/fleet/v1/units/web-7.service', unitBody('web'), 403],
      [{ token: TOKENS.deploy }, 'DELETE', '/fleet/v1/units/db.service', undefined, 403],
      [{ token: TOKENS.deploy }, 'PATCH', '/fleet/v1/machines', metadataPatch(m1.id, 'y'), 403],
    ];
    for (const [caller, method, path, body, status] of refused) {
      const answer = await call(caller, method, path, body);
      expect(answer.status, `${method} ${path}: ${answer.body}`).toBe(status);
    }
    expect(await snapshot()).toEqual(before);
    const audit = await waitFor(
      'an audit line for every refused request',
      async () =>
        (await cluster.journal(m1, { unit: 'fleet.service', afterCursor: cursor }))
          .split('\n')
          .filter((line) => / audit who=.* result=refused/.test(line)),
      (lines) => lines.length >= refused.length,
    );
    expect(audit).toHaveLength(refused.length);
    refused.forEach(([, method, path, , status], i) => {
      expect(audit[i]).toContain(`method=${method} path=${path} `);
      expect(audit[i]).toContain(`status=${status} result=refused`);
    });
  });

  it('runs fleetctl list-machines over TLS with a client certificate', async () => {
    const r = await cluster.fleetctlInNetwork([
      `--endpoint=${m1.tlsEndpoint}`,
      `--ca-file=${pki.ca.cert}`,
      `--cert-file=${certs.alice.cert}`,
      `--key-file=${certs.alice.key}`,
      'list-machines',
      '--no-legend',
      '--full',
    ]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(`${m1.id}\t${m1.ip}`);
  });

  it('runs fleetctl start with the token of FLEETCTL_TOKEN_FILE, never printing it', async () => {
    const tokenFile = join(dir, 'deploy.token');
    writeFileSync(tokenFile, `${TOKENS.deploy}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'web-2.service'), sleeper('web 2'));
    const r = await cluster.fleetctlInNetwork(
      [`--endpoint=${m1.tlsEndpoint}`, `--ca-file=${pki.ca.cert}`, 'start', 'web-2.service'],
      { env: { FLEETCTL_TOKEN_FILE: tokenFile }, cwd: dir },
    );
    expect(r.code, show(r)).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toContain(TOKENS.deploy);
    const web2 = (await cluster.units()).find((u) => u.name === 'web-2.service');
    expect(web2?.desiredState).toBe('launched');
    const denied = await cluster.fleetctlInNetwork(
      [`--endpoint=${m1.tlsEndpoint}`, `--ca-file=${pki.ca.cert}`, 'destroy', 'db.service'],
      { env: { FLEETCTL_TOKEN_FILE: tokenFile } },
    );
    expect(denied.code, show(denied)).not.toBe(0);
    expect(denied.stderr).toContain(
      'Error 403: writing unit "db.service" needs the operate role for a glob matching it',
    );
    expect((await cluster.units()).map((u) => u.name)).toContain('db.service');
  });
});
