// A fleet cluster on the functional harness: N real systemd machines, each running this
// checkout's fleetd as a real fleet.service + fleet.socket pair (plus fleet-tcp.socket), all
// against one etcd in the harness's network namespace. See docs/cluster.md.
import { join } from 'node:path';
import {
  bootMachine,
  CommandError,
  createNetwork,
  destroyNetwork,
  type EtcdMember,
  type EtcdServer,
  type ExecOptions,
  exec,
  execOk,
  isMachineAlive,
  kill,
  type Machine,
  type Network,
  REPO_ROOT,
  type RunResult,
  runInNamespace,
  startEtcdCluster,
  startEtcdInNamespace,
  writeMachineFile,
} from '../harness/index.js';
import { diagnoseHungNode, reportOnSignalOptions } from '../harness/node-report.js';
import { run } from '../harness/proc.js';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../src/api/schema.js';
import type { FleetClient } from '../src/client/types.js';
import { RegistryKeys } from '../src/registry/keys.js';
import { UnitFile } from '../src/unit/unit-file.js';
import {
  type ApiResponse,
  apiRequest,
  fleetClient,
  listMachines,
  listUnitStates,
  listUnits,
  type WaitOptions,
  waitFor,
} from './api.js';
import { EtcdMembers } from './etcd-members.js';
import {
  apiEndpoint,
  apiSocketPath,
  FLEET_PEER_PORT,
  machineFiles,
  tlsEndpoint,
} from './fleet-units.js';
import {
  ACCESS_FILE,
  ClusterPki,
  type MachineCertificate,
  machineCertificateFiles,
} from './pki.js';
import { installSsh, regenerateHostKeys, type SshOptions, setAuthorizedKeys } from './ssh.js';

export interface MachineSpec {
  /** Hostname, and the `hostname` metadata unless the cluster turns that off. */
  name: string;
  /** Metadata of this machine beyond the cluster's. */
  metadata?: Readonly<Record<string, string>>;
  /** 32 hex digits (default: random). */
  machineId?: string;
  /** `public_ip` (default: the cluster's choice, normally the machine's address). */
  publicIp?: string;
}

export interface ClusterOptions {
  /** Names the cluster's etcd key prefix, `/fleet-cluster/<name>/` (default `functional`). */
  name?: string;
  /** A count (machines m1..mN), names, or full specs (default 3). */
  machines?: number | ReadonlyArray<string | MachineSpec>;
  /** Metadata for every machine, after `hostname=<name>`. */
  metadata?: Readonly<Record<string, string>>;
  /** Add `hostname=<name>` to each machine's metadata (default true). */
  hostnameMetadata?: boolean;
  /** `public_ip` of every machine (default: each machine's own address). */
  publicIp?: string;
  /** fleet.conf `agent_ttl` (default `3s`). */
  agentTtl?: string;
  /** fleet.conf `engine_reconcile_interval` (default `0.5`). */
  engineReconcileInterval?: string;
  /** More fleet.conf options for every machine. */
  fleetConf?: Readonly<Record<string, string>>;
  /** Third octet of the harness subnet (default random). */
  subnet?: number;
  /**
   * Members of the cluster's etcd (default 1: one etcd on `<bridge>:2379`). With more, member
   * k listens on `<bridge>:<2379 + 10000·(k-1)>`, fleet.conf's `etcd_servers` lists them all,
   * and `etcd` (the first member), `stopEtcdMember`, `moveEtcdLeader`, ... control them.
   */
  etcdMembers?: number;
  /** Bound on bringing the cluster up (default 120 s). */
  timeoutMs?: number;
  /**
   * Opt-in: every machine runs sshd (port 22, host keys of its own) with a `core` user (uid
   * 500, passwordless sudo) taking these keys (see ssh.ts). Default off.
   */
  ssh?: boolean | SshOptions;
  /**
   * The cluster's CA (default: a new one in the harness state directory). Every machine gets a
   * certificate of it, `CN=<machine ID>, O=fleet-peer` (see pki.ts).
   */
  pki?: ClusterPki;
  /**
   * fleet-tcp.socket serves TLS with the machine's certificate and authenticates callers by a
   * certificate of the cluster CA or a token, as this access file (JSON text) grants. Default:
   * plain TCP with `api_insecure_tcp=true`, as the tests of the original's behaviour need.
   */
  secure?: { accessFile: string };
}

/** The topology the conformance transcripts were recorded on (test/fixtures/conformance/README.md). */
export function conformanceOptions(): ClusterOptions {
  return {
    name: 'conformance',
    machines: ['r1', 'r2', 'r3'].map((name) => ({ name, metadata: { name } })),
    hostnameMetadata: false,
    publicIp: '127.0.0.1',
  };
}

/** One member: the harness machine (replaced on reboot) plus what fleet was given. */
export class ClusterMachine {
  /** False after stopFleet(): its API socket would start fleetd again, so nobody asks it. */
  fleetRunning = false;
  /** Set by Cluster.setMachineId: /etc/machine-id was rewritten after boot. */
  idOverride: string | undefined;
  /** Its certificate on the host, made when fleet was installed (for the machine ID it had then). */
  certificate: MachineCertificate | undefined;

  constructor(
    readonly index: number,
    readonly spec: MachineSpec,
    readonly metadata: ReadonlyArray<readonly [string, string]>,
    readonly publicIp: string | undefined,
    public host: Machine,
  ) {}

  get name(): string {
    return this.spec.name;
  }
  /** The machine ID (what /etc/machine-id says, which fleetd reads at start). */
  get id(): string {
    return this.idOverride ?? this.host.machineId;
  }
  get ip(): string {
    return this.host.ip;
  }
  /** Host PID of the machine's PID 1. */
  get pid(): number {
    return this.host.pid;
  }
  get alive(): boolean {
    return isMachineAlive(this.host);
  }
  /** fleetctl's `--endpoint` for this machine, from the host. */
  get endpoint(): string {
    return apiEndpoint(this.pid);
  }
  get socketPath(): string {
    return apiSocketPath(this.pid);
  }
  /** fleet-tcp.socket's URL, from the harness network namespace (TLS in a secure cluster). */
  get tlsEndpoint(): string {
    return tlsEndpoint(this.ip);
  }
}

/** What a `where` argument may be: a member, its name, or the host itself. */
export type Where = ClusterMachine | string;

export interface JournalOptions {
  /** `-u <unit>` */
  unit?: string;
  /** `--after-cursor` (see journalCursor). */
  afterCursor?: string;
  /** journalctl output mode (default `cat`: messages only; always `cat` with unit + afterCursor). */
  output?: string;
}

export class Cluster {
  readonly machines = new Map<string, ClusterMachine>();
  readonly keys: RegistryKeys;
  readonly agentTtlMs: number;
  /** The members of a multi-member etcd (`etcdMembers` > 1); null for the single etcd. */
  readonly etcdCluster: EtcdMembers | null;
  /** Keys authorised for `core` (with the `ssh` option), also on machines added later. */
  private sshKeys: string[];

  private constructor(
    readonly name: string,
    readonly network: Network,
    readonly etcd: EtcdServer,
    readonly pki: ClusterPki,
    private readonly options: ClusterOptions,
    members: readonly EtcdMember[] = [],
  ) {
    this.etcdCluster = members.length > 1 ? new EtcdMembers(network, members) : null;
    this.keys = new RegistryKeys(`/fleet-cluster/${name}/`);
    this.agentTtlMs = parseSeconds(options.agentTtl ?? '3s') * 1000;
    this.sshKeys = typeof options.ssh === 'object' ? [...(options.ssh.authorizedKeys ?? [])] : [];
  }

  /** Creates the network and etcd, boots the machines and starts fleet on each. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const name = options.name ?? 'functional';
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`bad cluster name ${name}`);
    const network = await createNetwork(
      options.subnet === undefined ? {} : { subnet: options.subnet },
    );
    try {
      const members =
        (options.etcdMembers ?? 1) > 1
          ? await startEtcdCluster(network, { members: options.etcdMembers! })
          : [];
      const etcd = members[0] ?? (await startEtcdInNamespace(network));
      const pki = options.pki ?? ClusterPki.create(join(network.stateDir, 'pki'));
      const cluster = new Cluster(name, network, etcd, pki, options, members);
      const specs = normaliseSpecs(options.machines ?? 3);
      const deadline = Date.now() + (options.timeoutMs ?? 120_000);
      await Promise.all(
        specs.map((spec, i) => cluster.addMachine(spec, { index: i + 1, wait: false })),
      );
      // Members in the order they were asked for, whichever booted first.
      const booted = new Map(cluster.machines);
      cluster.machines.clear();
      for (const spec of specs) cluster.machines.set(spec.name, booted.get(spec.name)!);
      await cluster.waitForMachines(specs.length, {
        timeoutMs: Math.max(1_000, deadline - Date.now()),
      });
      return cluster;
    } catch (e) {
      await destroyNetwork(network);
      throw e;
    }
  }

  /** The bridge address etcd listens on (the first member's, with several). */
  get etcdEndpoint(): string {
    return this.etcd.endpoint;
  }

  /** Every etcd member's client URL, as fleet.conf's etcd_servers lists them. */
  get etcdEndpoints(): string[] {
    return this.etcdCluster?.members.map((m) => m.endpoint) ?? [this.etcd.endpoint];
  }

  /** A generous bound for anything that waits on a TTL to pass: ten agent_ttl, at least 30 s. */
  get patienceMs(): number {
    return Math.max(30_000, 10 * this.agentTtlMs);
  }

  machine(where: Where): ClusterMachine {
    if (where instanceof ClusterMachine) return where;
    const m = this.machines.get(where);
    if (m === undefined) throw new Error(`no machine ${where} in the cluster`);
    return m;
  }

  /** Members whose machine is up, in the order they were added. */
  live(): ClusterMachine[] {
    return [...this.machines.values()].filter((m) => m.alive);
  }

  /** A member to ask the API: alive and with fleetd running (never one whose fleet is stopped). */
  apiMachine(via?: Where): ClusterMachine {
    if (via !== undefined) return this.machine(via);
    const m = this.live().find((c) => c.fleetRunning);
    if (m === undefined) throw new Error('no machine of the cluster runs fleetd');
    return m;
  }

  /**
   * Boots a machine, installs fleet and starts it. With `wait` (default), resolves once the
   * machine's own API lists it.
   */
  async addMachine(
    spec: string | MachineSpec,
    opts: { index?: number; wait?: boolean; startFleet?: boolean } = {},
  ): Promise<ClusterMachine> {
    const s = typeof spec === 'string' ? { name: spec } : spec;
    if (this.machines.get(s.name)?.alive) throw new Error(`machine ${s.name} is already running`);
    const host = await bootMachine({
      name: s.name,
      network: this.network,
      ...(s.machineId !== undefined && { machineId: s.machineId }),
      ...(opts.index !== undefined && { index: opts.index }),
    });
    const metadata: Array<[string, string]> = [];
    if (this.options.hostnameMetadata !== false) metadata.push(['hostname', s.name]);
    for (const source of [this.options.metadata, s.metadata]) {
      for (const [k, v] of Object.entries(source ?? {})) {
        const at = metadata.findIndex(([key]) => key === k);
        if (at >= 0) metadata.splice(at, 1);
        metadata.push([k, v]);
      }
    }
    const member = new ClusterMachine(
      host.index,
      s,
      metadata,
      s.publicIp ?? this.options.publicIp,
      host,
    );
    this.machines.set(s.name, member);
    await this.installFleet(member);
    if (this.sshEnabled) await installSsh(member.host, this.sshKeys);
    if (opts.startFleet !== false) {
      await this.startFleet(member);
      if (opts.wait !== false) await this.waitForSelf(member);
    }
    return member;
  }

  /**
   * Writes the units, fleet.conf, the machine's certificate (and the access file of a secure
   * cluster), reloads systemd and starts the two API sockets.
   */
  async installFleet(where: Where): Promise<void> {
    const m = this.machine(where);
    m.certificate = this.pki.machine(m.name, m.id, m.ip);
    const secrets = machineCertificateFiles(this.pki.ca, m.certificate);
    if (this.options.secure !== undefined) {
      secrets.push([ACCESS_FILE, this.options.secure.accessFile, '0600']);
    }
    const files = machineFiles(
      {
        etcdEndpoint: this.etcdEndpoints.join(','),
        keyPrefix: this.keys.prefix,
        publicIp: m.publicIp ?? m.ip,
        ...(this.options.agentTtl !== undefined && { agentTtl: this.options.agentTtl }),
        ...(this.options.engineReconcileInterval !== undefined && {
          engineReconcileInterval: this.options.engineReconcileInterval,
        }),
        metadata: m.metadata,
        ...(this.options.fleetConf !== undefined && { extra: this.options.fleetConf }),
        secure: this.options.secure !== undefined,
        // The harness's own address: the public IP may be one all machines share.
        peerAddress: `${m.ip}:${FLEET_PEER_PORT}`,
      },
      m.ip,
    );
    await Promise.all([
      ...[...files].map(([path, content]) => writeMachineFile(m.host, path, content)),
      ...secrets.map(([path, content, mode]) => writeMachineFile(m.host, path, content, mode)),
    ]);
    await execOk(m.host, ['systemctl', 'daemon-reload']);
    await execOk(m.host, ['systemctl', 'enable', '--now', 'fleet.socket', 'fleet-tcp.socket']);
  }

  /** Whether machines run sshd (the `ssh` option). */
  get sshEnabled(): boolean {
    return this.options.ssh !== undefined && this.options.ssh !== false;
  }

  /** Authorises a public key for `core` on every live machine and on machines added later. */
  async authorizeSshKey(publicKey: string): Promise<void> {
    if (!this.sshEnabled) throw new Error('the cluster was started without the ssh option');
    if (!this.sshKeys.includes(publicKey.trim())) this.sshKeys.push(publicKey.trim());
    await Promise.all(this.live().map((m) => setAuthorizedKeys(m.host, this.sshKeys)));
  }

  /** New SSH host keys for a member, sshd restarted on them (its host identity changes). */
  async regenerateHostKeys(where: Where): Promise<void> {
    if (!this.sshEnabled) throw new Error('the cluster was started without the ssh option');
    await regenerateHostKeys(this.machine(where).host);
  }

  /** `systemctl start fleet` (enabled, as on a real host). */
  async startFleet(where: Where): Promise<void> {
    const m = this.machine(where);
    await execOk(m.host, ['systemctl', 'enable', '--now', 'fleet.service']);
    m.fleetRunning = true;
  }

  /** `systemctl stop fleet`: a graceful stop, which purges the machine's units. */
  async stopFleet(where: Where): Promise<RunResult> {
    const m = this.machine(where);
    m.fleetRunning = false;
    return execOk(m.host, ['systemctl', 'stop', 'fleet.service'], { timeoutMs: 120_000 });
  }

  /** `systemctl restart fleet` (graceful stop, purge, start). */
  async restartFleet(where: Where): Promise<void> {
    const m = this.machine(where);
    await execOk(m.host, ['systemctl', 'restart', 'fleet.service'], { timeoutMs: 120_000 });
    m.fleetRunning = true;
  }

  /** The PID of fleetd inside the machine (systemd's MainPID of fleet.service; 0 if none). */
  async fleetdPid(where: Where): Promise<number> {
    return Number(await this.unitProperty(where, 'fleet.service', 'MainPID'));
  }

  /** `systemctl kill -s <signal> fleet.service` (every process of the service). */
  async signalFleet(where: Where, signal: string): Promise<void> {
    await this.execOk(where, ['systemctl', 'kill', '-s', signal, 'fleet.service']);
  }

  /**
   * Rewrites /etc/machine-id inside a running machine (fleetd reads it when it starts; restart
   * fleet for it to matter), as fleet's TestDetectMachineId does.
   */
  async setMachineId(where: Where, id: string): Promise<void> {
    const m = this.machine(where);
    if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`bad machine ID ${id}`);
    await writeMachineFile(m.host, '/etc/machine-id', `${id}\n`, '0444');
    m.idOverride = id === m.host.machineId ? undefined : id;
  }

  /**
   * Cuts a member off etcd: a blackhole route to the bridge address in the machine's network
   * namespace, so packets to etcd vanish (in-flight connections stall; new ones fail). The API
   * socket and everything else in the machine keep working. (The host has no iptables.)
   */
  async cutEtcd(where: Where): Promise<void> {
    await this.execOk(where, ['ip', 'route', 'add', 'blackhole', `${this.network.bridgeIp}/32`]);
  }

  /** Undoes cutEtcd. */
  async restoreEtcd(where: Where): Promise<void> {
    await this.execOk(where, ['ip', 'route', 'del', 'blackhole', `${this.network.bridgeIp}/32`]);
  }

  /** Pulls the plug: SIGKILL to the machine's PID 1. */
  async kill(where: Where): Promise<void> {
    const m = this.machine(where);
    m.fleetRunning = false;
    await kill(m.host);
  }

  /**
   * A member's reboot into a fresh machine, as fleet's ReplaceMember: the old one is killed (if
   * still up), the new one gets the same name and address and a new machine ID.
   */
  async replace(where: Where, spec: Partial<MachineSpec> = {}): Promise<ClusterMachine> {
    const old = this.machine(where);
    if (old.alive) await this.kill(old);
    const next: MachineSpec = { ...old.spec, ...spec };
    if (spec.machineId === undefined) delete next.machineId;
    return this.addMachine(next, { index: old.index });
  }

  exec(where: Where, argv: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    return exec(this.machine(where).host, argv, opts);
  }

  execOk(where: Where, argv: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    return execOk(this.machine(where).host, argv, opts);
  }

  /** `systemctl show -P <property> <unit>` inside a machine. */
  async unitProperty(where: Where, unit: string, property: string): Promise<string> {
    const r = await this.execOk(where, ['systemctl', 'show', '-P', property, unit]);
    return r.stdout.trim();
  }

  /** The last `lines` lines of fleet.service's journal on every live member, for a failed test. */
  async fleetJournalTails(lines: number): Promise<string> {
    const tails: string[] = [];
    for (const m of this.live()) {
      const j = await this.journal(m, { unit: 'fleet.service' }).catch(String);
      tails.push(
        `--- journal of ${m.name} (fleet.service)\n${j.split('\n').slice(-lines).join('\n')}`,
      );
    }
    return tails.join('\n');
  }

  /** The machine's journal (under every machine ID it had: see TestDetectMachineId). */
  async journal(where: Where, opts: JournalOptions = {}): Promise<string> {
    // --merge (which excludes -b; every machine is a fresh boot anyway): journalctl otherwise
    // shows only files of the current /etc/machine-id, and TestDetectMachineId changes it.
    const argv = ['journalctl', '--merge', '--no-pager'];
    if (opts.unit !== undefined && opts.afterCursor !== undefined) {
      // journalctl -u X --after-cursor=C drops the first entry of X after C when the entry at C
      // is not X's own: read everything after C and pick X's entries here.
      argv.push('-o', 'json', `--after-cursor=${opts.afterCursor}`);
      const r = await this.exec(where, argv, { timeoutMs: 30_000 });
      return r.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((e) => e._SYSTEMD_UNIT === opts.unit || e.UNIT === opts.unit)
        .map((e) => `${messageText(e.MESSAGE)}\n`)
        .join('');
    }
    argv.push('-o', opts.output ?? 'cat');
    if (opts.unit !== undefined) argv.push('-u', opts.unit);
    if (opts.afterCursor !== undefined) argv.push(`--after-cursor=${opts.afterCursor}`);
    const r = await this.exec(where, argv, { timeoutMs: 30_000 });
    return r.stdout;
  }

  /** The cursor of the machine's newest journal entry, to read only what comes after. */
  async journalCursor(where: Where): Promise<string> {
    const r = await this.execOk(where, ['journalctl', '--merge', '-n', '1', '-o', 'json']);
    const last = r.stdout.trim().split('\n').pop() ?? '{}';
    const cursor = (JSON.parse(last) as { __CURSOR?: string }).__CURSOR;
    if (cursor === undefined) throw new Error(`no journal cursor on ${this.machine(where).name}`);
    return cursor;
  }

  /** A raw API request to a member's socket. */
  request(
    where: Where,
    method: string,
    path: string,
    opts: { body?: string; timeoutMs?: number } = {},
  ): Promise<ApiResponse> {
    return apiRequest(this.machine(where).pid, method, path, opts);
  }

  /** The product's HTTP client (fleetctl's API driver) for a member's API. */
  client(via?: Where): FleetClient {
    return fleetClient(this.apiMachine(via).pid);
  }

  machinesSeen(via?: Where): Promise<ApiMachine[]> {
    return listMachines(this.apiMachine(via).pid);
  }

  units(via?: Where): Promise<ApiUnit[]> {
    return listUnits(this.apiMachine(via).pid);
  }

  unitStates(via?: Where): Promise<ApiUnitState[]> {
    return listUnitStates(this.apiMachine(via).pid);
  }

  /** Until the API lists exactly `n` machines (fleet's WaitForNMachines). */
  waitForMachines(n: number, opts: WaitOptions & { via?: Where } = {}): Promise<ApiMachine[]> {
    return waitFor(
      `${n} machine(s) in the cluster`,
      () => this.machinesSeen(opts.via),
      (ms) => ms.length === n,
      { timeoutMs: this.patienceMs, ...opts },
    );
  }

  /** Until exactly `n` unit states are published (fleet's WaitForNUnits: rows of list-units). */
  waitForUnits(n: number, opts: WaitOptions & { via?: Where } = {}): Promise<ApiUnitState[]> {
    return waitFor(
      `${n} unit state(s)`,
      () => this.unitStates(opts.via),
      (states) => states.length === n,
      { timeoutMs: this.patienceMs, ...opts },
    );
  }

  /** Until exactly `n` unit states are `active` (fleet's WaitForNActiveUnits). */
  waitForActiveUnits(n: number, opts: WaitOptions & { via?: Where } = {}): Promise<ApiUnitState[]> {
    return waitFor(
      `${n} active unit(s)`,
      async () =>
        (await this.unitStates(opts.via)).filter((s) => s.systemdActiveState === 'active'),
      (active) => active.length === n,
      { timeoutMs: this.patienceMs, ...opts },
    );
  }

  /**
   * Creates (or replaces) a unit from unit-file text through the API, as fleetctl does:
   * `PUT /fleet/v1/units/<name>` with the parsed options and a desired state.
   */
  async putUnit(
    name: string,
    text: string,
    desiredState: 'inactive' | 'loaded' | 'launched' = 'launched',
    opts: { via?: Where } = {},
  ): Promise<void> {
    const client = this.client(opts.via);
    try {
      const options = UnitFile.parse(text).options.map((o) => ({
        section: o.section,
        name: o.name,
        value: o.value,
      }));
      await client.createUnit({ name, options, desiredState });
    } finally {
      await client.close();
    }
  }

  /** Until a member's own API answers and lists it. */
  async waitForSelf(where: Where, opts: WaitOptions = {}): Promise<void> {
    const m = this.machine(where);
    await waitFor(
      `${m.name} registered`,
      () => listMachines(m.pid),
      (ms) => ms.some((x) => x.id === m.id),
      { timeoutMs: this.patienceMs, ...opts },
    );
  }

  /**
   * Our fleetctl: on the host against a member's socket (`where` undefined or `'host'`; `via`
   * picks the member), or inside a machine with its default endpoint.
   */
  async fleetctl(
    where: Where | 'host' | undefined,
    args: readonly string[],
    opts: {
      via?: Where;
      timeoutMs?: number;
      cwd?: string;
      input?: string;
      /** More environment (e.g. `SSH_AUTH_SOCK`). */
      env?: Record<string, string>;
    } = {},
  ): Promise<RunResult> {
    const fleetctl = join(REPO_ROOT, 'bin', 'fleetctl');
    const timeoutMs = opts.timeoutMs ?? 60_000;
    if (where === undefined || where === 'host') {
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('FLEETCTL_')),
      );
      Object.assign(env, opts.env);
      // A fleetctl that hangs says where before it is killed.
      const reports = join(this.network.stateDir, 'fleetctl-reports');
      env.NODE_OPTIONS = reportOnSignalOptions(reports, env.NODE_OPTIONS);
      return run(
        [process.execPath, fleetctl, `--endpoint=${this.apiMachine(opts.via).endpoint}`, ...args],
        {
          timeoutMs,
          env,
          ...(opts.cwd !== undefined && { cwd: opts.cwd }),
          ...(opts.input !== undefined && { input: opts.input }),
          onTimeout: (pid) => diagnoseHungNode(pid, reports),
        },
      );
    }
    return this.exec(where, [process.execPath, fleetctl, ...args], {
      timeoutMs,
      ...(opts.env !== undefined && { env: opts.env }),
      ...(opts.cwd !== undefined && { cwd: opts.cwd }),
      ...(opts.input !== undefined && { input: opts.input }),
    });
  }

  /**
   * Our fleetctl inside the harness network namespace (the host's files, the machines'
   * network: the only place outside a machine from which machine addresses are reachable),
   * e.g. for `--tunnel` or SSH to machines. No `--endpoint` is added: pass one (`http://<ip>:54728`).
   * The environment is this process's without `FLEETCTL_*`, plus `env`.
   */
  fleetctlInNetwork(
    args: readonly string[],
    opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; input?: string } = {},
  ): Promise<RunResult> {
    const env = {
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('FLEETCTL_')),
      ),
      ...opts.env,
    };
    return runInNamespace(
      this.network,
      [process.execPath, join(REPO_ROOT, 'bin', 'fleetctl'), ...args],
      {
        timeoutMs: opts.timeoutMs ?? 60_000,
        env,
        ...(opts.cwd !== undefined && { cwd: opts.cwd }),
        ...(opts.input !== undefined && { input: opts.input }),
      },
    );
  }

  /** etcdctl (v3) against the cluster's etcd (its running members), inside the harness netns. */
  async etcdctl(args: readonly string[]): Promise<RunResult> {
    const running = this.etcdCluster?.running().map((m) => m.endpoint) ?? [this.etcd.endpoint];
    const r = await runInNamespace(
      this.network,
      ['etcdctl', `--endpoints=${running.join(',')}`, ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeoutMs: 15_000 },
    );
    if (r.code !== 0) throw new CommandError(r);
    return r;
  }

  /** The multi-member etcd's control; throws for a cluster started with one etcd. */
  private members(): EtcdMembers {
    if (this.etcdCluster === null) throw new Error('the cluster was started with a single etcd');
    return this.etcdCluster;
  }

  /** An etcd member by name (`fleetfn1`), or position from 1. */
  etcdMember(which: EtcdMember | string | number): EtcdMember {
    return this.members().member(which);
  }

  /** Graceful stop of one etcd member (SIGTERM; a leader hands leadership over first). */
  stopEtcdMember(which: EtcdMember | string | number): Promise<void> {
    return this.members().member(which).stop();
  }

  /** SIGKILL to one etcd member. */
  killEtcdMember(which: EtcdMember | string | number): Promise<void> {
    return this.members().member(which).kill();
  }

  /** Starts a stopped etcd member on its data and waits until it answers. */
  startEtcdMember(which: EtcdMember | string | number): Promise<void> {
    return this.members().member(which).start({ timeoutMs: this.patienceMs });
  }

  /** Graceful stop and start of one etcd member, waiting until it answers again. */
  restartEtcdMember(which: EtcdMember | string | number): Promise<void> {
    return this.members().restart(which, { timeoutMs: this.patienceMs });
  }

  /** The etcd member that leads (once the running members agree on one). */
  async etcdLeader(): Promise<EtcdMember> {
    return (await this.members().leader({ timeoutMs: this.patienceMs })).member;
  }

  /** `etcdctl move-leader` to `to` (default the next member); resolves with the new leader. */
  async moveEtcdLeader(to?: EtcdMember | string | number): Promise<EtcdMember> {
    return (await this.members().moveLeader(to)).member;
  }

  /** SIGKILL to the leading etcd member; resolves with it once another leads. */
  killEtcdLeader(): Promise<EtcdMember> {
    return this.members().killLeader();
  }

  /** Graceful stop of every etcd member: etcd is gone for the whole cluster. */
  stopEtcd(): Promise<void> {
    return this.members().stopAll();
  }

  /** Starts every stopped etcd member and waits until all answer. */
  startEtcd(): Promise<void> {
    return this.members().startAll({ timeoutMs: this.patienceMs });
  }

  /** The machine ID the engine leader key names, or null when nobody leads. */
  async leaderMachineId(): Promise<string | null> {
    const r = await this.etcdctl(['get', '--print-value-only', this.keys.engineLeader]);
    const text = r.stdout.trim();
    if (text === '') return null;
    return (JSON.parse(text) as { machineID?: string }).machineID ?? null;
  }

  /** The member with that machine ID. */
  byId(id: string): ClusterMachine {
    const m = [...this.machines.values()].find((x) => x.id === id && x.alive);
    if (m === undefined) throw new Error(`no live machine with ID ${id}`);
    return m;
  }

  /** Unit files fleet wrote on a member (`ls /run/fleet/units`). */
  async unitFiles(where: Where): Promise<string[]> {
    const r = await this.exec(where, ['ls', '-1', '/run/fleet/units']);
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  /**
   * Resets the cluster between tests: destroys every unit through the API, then waits until no
   * state is published and no member with fleetd running keeps a unit file.
   */
  async destroyAllUnits(opts: { via?: Where; timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? this.patienceMs;
    const client = this.client(opts.via);
    try {
      const units = await this.units(opts.via);
      await Promise.all(units.map((u) => client.destroyUnit(u.name)));
    } finally {
      await client.close();
    }
    await this.waitForUnits(0, { timeoutMs, ...(opts.via !== undefined && { via: opts.via }) });
    for (const m of this.live().filter((x) => x.fleetRunning)) {
      await waitFor(
        `no unit files on ${m.name}`,
        () => this.unitFiles(m),
        (files) => files.length === 0,
        { timeoutMs },
      );
    }
  }

  /** Tears the whole cluster down: machines, etcd, netns, cgroups, state directory. */
  async destroy(): Promise<void> {
    for (const m of this.machines.values()) m.fleetRunning = false;
    await destroyNetwork(this.network);
  }
}

/** A journal entry's MESSAGE as text (journalctl gives binary ones as a byte array). */
function messageText(message: unknown): string {
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return Buffer.from(message as number[]).toString('utf8');
  return '';
}

function normaliseSpecs(machines: number | ReadonlyArray<string | MachineSpec>): MachineSpec[] {
  const specs =
    typeof machines === 'number'
      ? Array.from({ length: machines }, (_, i) => ({ name: `m${i + 1}` }))
      : machines.map((m) => (typeof m === 'string' ? { name: m } : m));
  if (specs.length === 0) throw new Error('a cluster needs at least one machine');
  const names = new Set(specs.map((s) => s.name));
  if (names.size !== specs.length) throw new Error('machine names must be distinct');
  return specs;
}

/** Whole seconds of a simple Go duration such as `3s`, `500ms`, `1m` (for wait bounds only). */
function parseSeconds(duration: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration.trim());
  if (m === null) return 30;
  const n = Number(m[1]);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}
