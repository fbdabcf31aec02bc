import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Etcd3, type IOptions } from 'etcd3';
import type { EtcdConnectionConfig } from '../../src/registry/etcd-client.js';
import { findFreePorts } from './ports.js';

const ETCD_BINARY = '/usr/bin/etcd';
// setpriv sets PR_SET_PDEATHSIG and then execs etcd, so the kernel kills etcd even when the
// test process dies without running any handler (SIGKILL, crash).
const SETPRIV_BINARY = '/usr/bin/setpriv';

// etcd's minimum lease TTL is ceil(1.5 × election timeout) = ceil(3 × (500 / 50) / 2 ticks ×
// 50 ms) = ceil(0.75 s) = 1 s, so fleet's agent_ttl=3s (and anything down to 1 s) is granted as
// asked. etcd's defaults (100 ms / 1000 ms) would silently raise every TTL below 2 s.
const HEARTBEAT_INTERVAL_MS = 50;
const ELECTION_TIMEOUT_MS = 500;

const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const LEADER_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 2_000;
const POLL_INTERVAL_MS = 100;
const BOOT_ATTEMPTS = 3;
const LOG_TAIL_LINES = 40;

/** The client side of a TLS cluster: a client presenting these is trusted. */
export interface EtcdTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface EtcdCredentials {
  username: string;
  password: string;
}

export interface StartEtcdOptions {
  members?: 1 | 3;
  tls?: boolean;
  /** Enables etcd authentication with this user, who is given the root role. */
  auth?: EtcdCredentials;
}

export interface EtcdCluster {
  /** Client URLs, one per member, in member order. */
  readonly endpoints: string[];
  readonly tls: EtcdTlsFiles | undefined;
  /** etcd3 options reaching every member, with the TLS files and credentials when enabled. */
  clientOptions(): IOptions;
  /** The same, in the terms of our own configuration (see src/registry/etcd-client.ts). */
  clientConfig(): EtcdConnectionConfig;
  /** Process ids of the members that are running now. */
  pids(): number[];
  stopMember(index: number): Promise<void>;
  /** Starts a stopped member again, on its old ports and data directory. */
  startMember(index: number): Promise<void>;
  /** Stops every member, then starts them all again with their data. */
  restart(): Promise<void>;
  /** Index of the member every running member agrees is the raft leader. */
  leaderIndex(): Promise<number>;
  /** Hands leadership to another running member; resolves with the new leader's index. */
  moveLeader(): Promise<number>;
  /** Stops the leader; resolves with the index of the member stopped. */
  killLeader(): Promise<number>;
  /** Stops every member and removes all data. Safe to call more than once. */
  stop(): Promise<void>;
}

// The last resort against leaked servers: whatever a test forgot is killed when the test
// process exits normally, and setpriv covers abnormal deaths.
const runningServers = new Set<ChildProcess>();
const fixtureDirectories = new Set<string>();
process.on('exit', () => {
  for (const child of runningServers) child.kill('SIGKILL');
  for (const directory of fixtureDirectories) rmSync(directory, { recursive: true, force: true });
});

class PortConflictError extends Error {}

class LogTail {
  private lines: string[] = [];
  private partial = '';

  append(chunk: Buffer): void {
    const pieces = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = pieces.pop() ?? '';
    this.lines.push(...pieces);
    if (this.lines.length > LOG_TAIL_LINES) this.lines = this.lines.slice(-LOG_TAIL_LINES);
  }

  text(): string {
    return [...this.lines, this.partial].join('\n').trim();
  }
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** Learned once the cluster first comes up; raft leader ids are reported in these terms. */
  id: string;
  child: ChildProcess | undefined;
  exited: Promise<void>;
  log: LogTail;
}

/** The client's TLS files, and their contents read while the files still exist. */
interface ClientTlsMaterial {
  files: EtcdTlsFiles;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
}

interface EtcdStatus {
  header: { member_id: string };
  leader: string;
}

const execFileAsync = promisify(execFile);

async function openssl(directory: string, args: string[]): Promise<void> {
  await execFileAsync('openssl', args, { cwd: directory });
}

async function issueCertificate(
  directory: string,
  name: string,
  commonName: string,
  extensions: string,
): Promise<void> {
  await openssl(directory, [
    'req',
    '-new',
    ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'],
    ...['-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`],
  ]);
  await writeFile(join(directory, `${name}.ext`), extensions);
  await openssl(directory, [
    'x509',
    '-req',
    ...['-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key'],
    ...['-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2'],
    ...['-extfile', `${name}.ext`, '-out', `${name}.crt`],
  ]);
}

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate. */
async function createCertificates(
  directory: string,
): Promise<{ server: ServerTlsFiles; client: ClientTlsMaterial }> {
  await mkdir(directory);
  await openssl(directory, [
    'req',
    '-x509',
    ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'],
    ...['-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fleet test CA'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  // etcd's own gRPC gateway dials the server with the server certificate, so with
  // --client-cert-auth that certificate must be good for client authentication too.
  await issueCertificate(
    directory,
    'server',
    '127.0.0.1',
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  await issueCertificate(directory, 'client', 'fleet-test-client', 'extendedKeyUsage=clientAuth\n');
  const files: EtcdTlsFiles = {
    caFile: join(directory, 'ca.crt'),
    certFile: join(directory, 'client.crt'),
    keyFile: join(directory, 'client.key'),
  };
  return {
    server: { certFile: join(directory, 'server.crt'), keyFile: join(directory, 'server.key') },
    client: {
      files,
      ca: await readFile(files.caFile),
      cert: await readFile(files.certFile),
      key: await readFile(files.keyFile),
    },
  };
}

function environmentWithoutEtcdSettings(): NodeJS.ProcessEnv {
  // etcd reads ETCD_* variables as flags; a developer's shell must not reconfigure the tests.
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('ETCD')),
  );
}

class Cluster implements EtcdCluster {
  private stopped = false;
  private credentials: EtcdCredentials | undefined;

  constructor(
    private readonly root: string,
    private readonly members: Member[],
    private readonly sharedArgs: string[],
    private readonly tlsMaterial: ClientTlsMaterial | undefined,
  ) {}

  get tls(): EtcdTlsFiles | undefined {
    return this.tlsMaterial?.files;
  }

  get endpoints(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  clientOptions(): IOptions {
    return {
      hosts: this.endpoints,
      ...(this.tlsMaterial === undefined
        ? {}
        : {
            credentials: {
              rootCertificate: this.tlsMaterial.ca,
              certChain: this.tlsMaterial.cert,
              privateKey: this.tlsMaterial.key,
            },
          }),
      ...(this.credentials === undefined ? {} : { auth: { ...this.credentials } }),
    };
  }

  clientConfig(): EtcdConnectionConfig {
    return {
      endpoints: this.endpoints,
      caFile: this.tls?.caFile ?? '',
      certFile: this.tls?.certFile ?? '',
      keyFile: this.tls?.keyFile ?? '',
      username: this.credentials?.username ?? '',
      password: this.credentials?.password ?? '',
      // Generous: two cores shared with other test workers.
      requestTimeoutMs: 5_000,
    };
  }

  pids(): number[] {
    return this.members.flatMap((member) => member.child?.pid ?? []);
  }

  /** Starts every member and waits until each reports itself healthy. */
  async boot(): Promise<void> {
    await Promise.all(this.members.map((member) => this.spawn(member, 'new')));
    await Promise.all(this.members.map((member) => this.waitHealthy(member)));
    for (const member of this.members) {
      member.id = (await this.status(member)).header.member_id;
    }
  }

  async enableAuthentication(user: EtcdCredentials): Promise<void> {
    const client = new Etcd3(this.clientOptions());
    try {
      // etcd only enables authentication once a "root" user holds the "root" role.
      const rootPassword =
        user.username === 'root' ? user.password : randomBytes(16).toString('hex');
      await client.role('root').create();
      await client.user('root').create(rootPassword);
      await client.user('root').addRole('root');
      if (user.username !== 'root') {
        await client.user(user.username).create(user.password);
        await client.user(user.username).addRole('root');
      }
      await client.auth.authEnable();
    } finally {
      client.close();
    }
    this.credentials = { ...user };
  }

  async stopMember(index: number): Promise<void> {
    const member = this.member(index);
    const child = member.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const exitedInTime = await Promise.race([
      member.exited.then(() => true),
      sleep(STOP_GRACE_MS, false),
    ]);
    if (!exitedInTime) child.kill('SIGKILL');
    await member.exited;
  }

  async startMember(index: number): Promise<void> {
    const member = this.member(index);
    if (member.child !== undefined) throw new Error(`etcd member ${member.name} is running`);
    // Our ports were free while the member was down: another test's etcd may hold one briefly.
    for (let attempt = 1; ; attempt++) {
      await this.spawn(member, 'existing');
      try {
        await this.waitHealthy(member);
        return;
      } catch (err) {
        if (!(err instanceof PortConflictError) || attempt === BOOT_ATTEMPTS) throw err;
        await sleep(500);
      }
    }
  }

  async restart(): Promise<void> {
    await this.stopMembers();
    await Promise.all(this.members.map((member) => this.spawn(member, 'existing')));
    await Promise.all(this.members.map((member) => this.waitHealthy(member)));
  }

  async leaderIndex(): Promise<number> {
    const deadline = Date.now() + LEADER_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const running = this.members.filter((member) => member.child !== undefined);
      const leaders = await Promise.all(
        running.map((member) =>
          this.status(member).then(
            (status) => status.leader,
            () => '',
          ),
        ),
      );
      const agreed = leaders[0];
      if (agreed !== undefined && agreed !== '0' && leaders.every((id) => id === agreed)) {
        const index = this.members.findIndex(
          (member) => member.id === agreed && member.child !== undefined,
        );
        if (index >= 0) return index;
      }
      await sleep(POLL_INTERVAL_MS);
    }
    throw new Error(`no etcd leader agreed on within ${LEADER_TIMEOUT_MS} ms`);
  }

  async moveLeader(): Promise<number> {
    const leader = await this.leaderIndex();
    const target = this.members.findIndex(
      (member, index) => index !== leader && member.child !== undefined,
    );
    if (target < 0) throw new Error('no other running member to hand leadership to');
    // MoveLeader must be sent to the current leader.
    const client = new Etcd3({ ...this.clientOptions(), hosts: [this.member(leader).clientUrl] });
    try {
      await client.maintenance.moveLeader({ targetID: this.member(target).id });
    } finally {
      client.close();
    }
    const deadline = Date.now() + LEADER_TIMEOUT_MS;
    while ((await this.leaderIndex()) !== target) {
      if (Date.now() > deadline) throw new Error('leadership did not move');
      await sleep(POLL_INTERVAL_MS);
    }
    return target;
  }

  async killLeader(): Promise<number> {
    const leader = await this.leaderIndex();
    await this.stopMember(leader);
    return leader;
  }

  async stopMembers(): Promise<void> {
    // One at a time: a leader told to stop together with its followers tries to hand over
    // leadership to a member that is going away and only gives up after seconds.
    for (const index of this.members.keys()) await this.stopMember(index);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopMembers();
    await rm(this.root, { recursive: true, force: true });
    fixtureDirectories.delete(this.root);
  }

  private member(index: number): Member {
    const member = this.members[index];
    if (member === undefined) throw new Error(`no etcd member ${index}`);
    return member;
  }

  private async spawn(member: Member, clusterState: 'new' | 'existing'): Promise<void> {
    member.log = new LogTail();
    const child = spawn(
      SETPRIV_BINARY,
      [
        ...['--pdeathsig', 'SIGKILL', ETCD_BINARY],
        `--name=${member.name}`,
        `--data-dir=${member.dataDir}`,
        `--listen-client-urls=${member.clientUrl}`,
        `--advertise-client-urls=${member.clientUrl}`,
        `--listen-peer-urls=${member.peerUrl}`,
        `--initial-advertise-peer-urls=${member.peerUrl}`,
        `--initial-cluster-state=${clusterState}`,
        ...this.sharedArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: environmentWithoutEtcdSettings() },
    );
    member.child = child;
    runningServers.add(child);
    child.stdout?.on('data', (chunk: Buffer) => member.log.append(chunk));
    child.stderr?.on('data', (chunk: Buffer) => member.log.append(chunk));
    member.exited = new Promise((resolve) => {
      child.once('exit', () => {
        runningServers.delete(child);
        if (member.child === child) member.child = undefined;
        resolve();
      });
    });
    let started = false;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => {
        started = true;
        resolve();
      });
      child.on('error', (err) => {
        // Later errors are failed kills: the process is still tracked until it exits.
        if (started) return;
        // Never started, so no 'exit' follows.
        runningServers.delete(child);
        member.child = undefined;
        member.exited = Promise.resolve();
        reject(err);
      });
    });
  }

  private async waitHealthy(member: Member): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (member.child === undefined) {
        const log = member.log.text();
        const message = `etcd member ${member.name} exited before it became healthy:\n${log}`;
        throw log.includes('address already in use')
          ? new PortConflictError(message)
          : new Error(message);
      }
      const health = await this.request(member, 'GET', '/health').catch(() => undefined);
      if ((health as { health?: unknown } | undefined)?.health === 'true') return;
      await sleep(POLL_INTERVAL_MS);
    }
    throw new Error(
      `etcd member ${member.name} was not healthy within ${START_TIMEOUT_MS} ms:\n${member.log.text()}`,
    );
  }

  private async status(member: Member): Promise<EtcdStatus> {
    return (await this.request(member, 'POST', '/v3/maintenance/status')) as EtcdStatus;
  }

  /** One JSON request to etcd's HTTP endpoints (health and the gRPC gateway). */
  private request(member: Member, method: 'GET' | 'POST', path: string): Promise<unknown> {
    const url = new URL(path, member.clientUrl);
    const options: RequestOptions = { method, timeout: PROBE_TIMEOUT_MS };
    const send = this.tlsMaterial === undefined ? httpRequest : httpsRequest;
    const tls = this.tlsMaterial;
    const tlsOptions = tls === undefined ? {} : { ca: tls.ca, cert: tls.cert, key: tls.key };
    return new Promise((resolve, reject) => {
      const req = send(url, { ...options, ...tlsOptions }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
      req.on('error', reject);
      req.end(method === 'POST' ? '{}' : undefined);
    });
  }
}

async function bootCluster(
  root: string,
  memberCount: number,
  tls: { server: ServerTlsFiles; client: ClientTlsMaterial } | undefined,
): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    const ports = await findFreePorts(memberCount * 2);
    const scheme = tls === undefined ? 'http' : 'https';
    const members: Member[] = Array.from({ length: memberCount }, (_, index) => ({
      name: `member${index}`,
      clientUrl: `${scheme}://127.0.0.1:${ports[2 * index]}`,
      peerUrl: `http://127.0.0.1:${ports[2 * index + 1]}`,
      dataDir: join(root, `member${index}-attempt${attempt}`),
      id: '',
      child: undefined,
      exited: Promise.resolve(),
      log: new LogTail(),
    }));
    const sharedArgs = [
      `--initial-cluster=${members.map((member) => `${member.name}=${member.peerUrl}`).join(',')}`,
      `--initial-cluster-token=fixture-${randomBytes(6).toString('hex')}`,
      `--heartbeat-interval=${HEARTBEAT_INTERVAL_MS}`,
      `--election-timeout=${ELECTION_TIMEOUT_MS}`,
      '--logger=zap',
      '--log-outputs=stderr',
      ...(tls === undefined
        ? []
        : [
            `--cert-file=${tls.server.certFile}`,
            `--key-file=${tls.server.keyFile}`,
            `--trusted-ca-file=${tls.client.files.caFile}`,
            '--client-cert-auth',
          ]),
    ];
    const cluster = new Cluster(root, members, sharedArgs, tls?.client);
    try {
      await cluster.boot();
      return cluster;
    } catch (err) {
      await cluster.stopMembers();
      if (!(err instanceof PortConflictError) || attempt === BOOT_ATTEMPTS) throw err;
    }
  }
}

/** Starts etcd servers on free loopback ports; call stop() when done (an afterAll hook). */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const root = await mkdtemp(join(tmpdir(), 'fleet-etcd-'));
  fixtureDirectories.add(root);
  let cluster: Cluster | undefined;
  try {
    const tls = options.tls === true ? await createCertificates(join(root, 'tls')) : undefined;
    cluster = await bootCluster(root, options.members ?? 1, tls);
    if (options.auth !== undefined) await cluster.enableAuthentication(options.auth);
    return cluster;
  } catch (err) {
    await cluster?.stopMembers();
    await rm(root, { recursive: true, force: true });
    fixtureDirectories.delete(root);
    throw err;
  }
}
