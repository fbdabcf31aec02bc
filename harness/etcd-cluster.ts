// A multi-member etcd cluster inside the harness network namespace: every member listens on the
// bridge address with a client port of its own (so a machine's route to the bridge reaches all
// of them, and cutEtcd-style blackholes cut all of them), and they talk raft over the
// namespace's loopback. Members can be stopped, killed and started again on their data.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runInNamespace, spawnInNamespace, tail } from './network.js';
import { CommandError, isAlive, type RunResult, sleep } from './proc.js';
import { killTracked, type TrackedProcess } from './state.js';
import type { EtcdMember, Network } from './types.js';

export interface EtcdClusterOptions {
  /** How many members (default 3). */
  members?: number;
  /** Client port of the first member; member k (from 0) uses base + 10000·k (default 2379). */
  clientPortBase?: number;
  /** Peer port of the first member, spaced the same way (default 2380). */
  peerPortBase?: number;
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  /** Bound on the cluster becoming healthy (default 30 s). */
  timeoutMs?: number;
}

const PORT_STRIDE = 10_000;
/** How long a graceful stop may take before the member is killed. */
const GRACEFUL_STOP_MS = 10_000;

function etcdctlEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ETCDCTL_API: '3' };
}

/** etcdctl inside the harness netns against the given endpoints; never throws. */
export function etcdctlIn(
  network: Network,
  endpoints: readonly string[],
  args: readonly string[],
  timeoutMs = 15_000,
): Promise<RunResult> {
  return runInNamespace(
    network,
    ['etcdctl', `--endpoints=${endpoints.join(',')}`, '--dial-timeout=2s', ...args],
    { env: etcdctlEnv(), timeoutMs },
  );
}

class Member implements EtcdMember {
  private tracked: TrackedProcess | undefined;
  private exitedEarly = false;

  constructor(
    private readonly network: Network,
    readonly name: string,
    readonly endpoint: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly argv: readonly string[],
  ) {}

  get pid(): number {
    return this.tracked?.pid ?? 0;
  }

  get running(): boolean {
    return this.tracked !== undefined && !this.exitedEarly && isAlive(this.tracked.pid);
  }

  /** Spawns the member on its data directory; does not wait for health (a lone member of a
   *  stopped cluster cannot be healthy until a quorum is back). */
  launch(): void {
    if (this.running) throw new Error(`etcd member ${this.name} is already running`);
    mkdirSync(this.dataDir, { mode: 0o700, recursive: true });
    const { child, tracked } = spawnInNamespace(this.network, this.argv, {
      label: `etcd-${this.name}`,
      logFile: this.logFile,
    });
    this.exitedEarly = false;
    child.once('exit', () => {
      if (this.tracked === tracked) this.exitedEarly = true;
    });
    this.tracked = tracked;
  }

  async start(opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.launch();
    if (opts.wait !== false) await this.waitHealthy(opts.timeoutMs ?? 30_000);
  }

  /** Until this member answers a quorum read (`endpoint health`). */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: RunResult | undefined;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(
          `etcd member ${this.name} exited; see ${this.logFile}:\n${tail(this.logFile)}`,
        );
      }
      last = await etcdctlIn(this.network, [this.endpoint], ['endpoint', 'health'], 5_000);
      if (last.code === 0) return;
      await sleep(100);
    }
    throw new Error(
      `etcd member ${this.name} not healthy in time${last ? `: ${new CommandError(last).message}` : ''}\n${tail(this.logFile)}`,
    );
  }

  /** SIGTERM (etcd shuts down cleanly, a leader hands leadership over first); SIGKILL if slow. */
  async stop(): Promise<void> {
    const t = this.tracked;
    if (t === undefined || !this.running) return;
    try {
      process.kill(t.pid, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
    const killed = sleep(GRACEFUL_STOP_MS).then(() => killTracked(t));
    await Promise.race([t.exited, killed]);
    killTracked(t);
    await t.exited;
  }

  /** SIGKILL: the member vanishes mid-flight, as a crashed host would. */
  async kill(): Promise<void> {
    const t = this.tracked;
    if (t === undefined) return;
    killTracked(t);
    await t.exited;
  }
}

/**
 * Starts `members` etcd members in the harness netns as one new cluster and waits until every
 * member is healthy. Data directories live under the network's state directory
 * (`etcd-<name>/`), so teardown and clean.sh remove them with the rest.
 */
export async function startEtcdCluster(
  network: Network,
  opts: EtcdClusterOptions = {},
): Promise<EtcdMember[]> {
  if (network.etcd !== undefined || network.etcdMembers !== undefined) {
    throw new Error('etcd already running in this network');
  }
  const count = opts.members ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 5) {
    throw new Error(`an etcd cluster of the harness has 1..5 members, not ${count}`);
  }
  const clientBase = opts.clientPortBase ?? 2379;
  const peerBase = opts.peerPortBase ?? 2380;
  const layout = Array.from({ length: count }, (_, k) => ({
    name: `fleetfn${k + 1}`,
    clientPort: clientBase + PORT_STRIDE * k,
    peerUrl: `http://127.0.0.1:${peerBase + PORT_STRIDE * k}`,
  }));
  const initialCluster = layout.map((l) => `${l.name}=${l.peerUrl}`).join(',');
  const members = layout.map(({ name, clientPort, peerUrl }) => {
    const endpoint = `http://${network.bridgeIp}:${clientPort}`;
    const dataDir = join(network.stateDir, `etcd-${name}`);
    const argv = [
      '/usr/bin/etcd',
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint},http://127.0.0.1:${clientPort}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-token=fleetfn',
      // Ignored once the data directory exists: a restarted member rejoins on its own data.
      '--initial-cluster-state=new',
      `--heartbeat-interval=${opts.heartbeatIntervalMs ?? 50}`,
      `--election-timeout=${opts.electionTimeoutMs ?? 500}`,
    ];
    return new Member(
      network,
      name,
      endpoint,
      peerUrl,
      dataDir,
      join(network.stateDir, `etcd-${name}.log`),
      argv,
    );
  });
  network.etcdMembers = members;
  try {
    for (const m of members) m.launch();
    await Promise.all(members.map((m) => m.waitHealthy(opts.timeoutMs ?? 30_000)));
  } catch (e) {
    await Promise.all(members.map((m) => m.kill()));
    delete network.etcdMembers;
    throw e;
  }
  return members;
}

/** One member's view from `endpoint status`: its raft member ID and whether it leads. */
export interface EtcdMemberStatus {
  member: EtcdMember;
  /** Raft member ID in hex, as `etcdctl member list` and `move-leader` spell it. */
  id: string;
  isLeader: boolean;
  raftTerm: number;
}

/**
 * `endpoint status` of every running member (simple output: endpoint, ID, version, DB size,
 * is leader, is learner, raft term, ...). Members that do not answer are left out.
 */
export async function etcdMemberStatus(
  network: Network,
  members: readonly EtcdMember[],
): Promise<EtcdMemberStatus[]> {
  const running = members.filter((m) => m.running);
  const statuses = await Promise.all(
    running.map(async (member) => {
      const r = await etcdctlIn(network, [member.endpoint], ['endpoint', 'status'], 5_000);
      if (r.code !== 0) return undefined;
      const fields = r.stdout
        .trim()
        .split(',')
        .map((f) => f.trim());
      if (fields.length < 7 || fields[0] !== member.endpoint) return undefined;
      return {
        member,
        id: fields[1]!,
        isLeader: fields[4] === 'true',
        raftTerm: Number(fields[6]),
      };
    }),
  );
  return statuses.filter((s): s is EtcdMemberStatus => s !== undefined);
}
