// The harness network: a netns of our own with a bridge, and etcd running inside it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CommandError,
  isAlive,
  type RunOptions,
  type RunResult,
  run,
  runOk,
  sleep,
} from './proc.js';
import {
  CGROUP_SYSTEMD,
  CGROUP_UNIFIED,
  destroyNetworkRecord,
  killTracked,
  NETNS_DIR,
  type NetworkRecord,
  PREFIX,
  registerNetwork,
  stateBase,
  statInode,
  type TrackedProcess,
  trackProcess,
} from './state.js';
import type { EtcdServer, Network } from './types.js';

/** Machines and bridges use 10.213.<subnet>.0/24, only ever inside the harness's namespaces. */
export const SUBNET_PREFIX = '10.213';

/** Why the harness cannot run here, or undefined when it can. */
export function harnessUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  for (const path of [
    `${CGROUP_SYSTEMD}/cgroup.procs`,
    `${CGROUP_UNIFIED}/cgroup.procs`,
    '/lib/systemd/systemd',
    '/usr/bin/unshare',
    '/usr/bin/nsenter',
    '/usr/bin/etcd',
    '/usr/bin/etcdctl',
  ]) {
    if (!existsSync(path)) return `missing ${path}`;
  }
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'no overlayfs';
  return undefined;
}

export interface CreateNetworkOptions {
  /** Third octet of 10.213.x.0/24 (default: random 1..254). */
  subnet?: number;
}

export async function createNetwork(opts: CreateNetworkOptions = {}): Promise<Network> {
  const why = harnessUnavailable();
  if (why !== undefined) throw new Error(`functional harness unavailable: ${why}`);
  const id = randomBytes(3).toString('hex');
  const subnet = opts.subnet ?? 1 + (randomBytes(1)[0]! % 254);
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) {
    throw new Error(`subnet must be 1..254, got ${subnet}`);
  }
  const netns = `${PREFIX}${id}`;
  const stateDir = join(stateBase(), `${PREFIX}${id}`);
  mkdirSync(stateDir, { mode: 0o700 });
  const record: NetworkRecord = {
    id,
    netns,
    stateDir,
    cgroupRoots: [join(CGROUP_SYSTEMD, `${PREFIX}${id}`), join(CGROUP_UNIFIED, `${PREFIX}${id}`)],
    pidNamespaces: new Map(),
    processes: new Map(),
    destroyed: false,
  };
  registerNetwork(record);
  const bridge = `fb${id}`;
  const bridgeIp = `${SUBNET_PREFIX}.${subnet}.1`;
  try {
    for (const root of record.cgroupRoots) mkdirSync(root);
    await runOk(['ip', 'netns', 'add', netns]);
    const inode = statInode(join(NETNS_DIR, netns));
    if (inode !== undefined) record.netnsInode = inode;
    await runOk(['ip', '-n', netns, '-batch', '-'], {
      input: [
        'link set lo up',
        `link add ${bridge} type bridge`,
        // A fixed address: otherwise the bridge takes the lowest MAC of its ports and changes it
        // when a machine leaves, and the others' ARP entries for the gateway go stale (seconds
        // of lost traffic to etcd).
        `link set ${bridge} address ${bridgeMac(id)}`,
        `addr add ${bridgeIp}/24 dev ${bridge}`,
        `link set ${bridge} up`,
        '',
      ].join('\n'),
    });
  } catch (e) {
    await destroyNetworkRecord(record);
    throw e;
  }
  return {
    id,
    netns,
    subnet,
    bridge,
    bridgeIp,
    prefixLength: 24,
    stateDir,
    machines: new Map(),
    record,
  };
}

/** A locally administered unicast MAC derived from the network id. */
function bridgeMac(id: string): string {
  const hex = id.padStart(6, '0').slice(-6);
  return `02:fb:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:01`;
}

/** Destroys the network with its machines, etcd, netns, cgroups and state directory. */
export async function destroyNetwork(network: Network): Promise<void> {
  await destroyNetworkRecord(network.record);
  for (const m of network.machines.values()) m.alive = false;
  network.machines.clear();
}

/** Runs a command inside the harness netns (host filesystem, the network's addresses). */
export function runInNamespace(
  network: Network,
  argv: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return run(['ip', 'netns', 'exec', network.netns, ...argv], opts);
}

export interface SpawnInNamespaceOptions {
  label?: string;
  /** stdout and stderr go here (default: `<stateDir>/<label>.log`). */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a long-running process inside the harness netns. It is tracked: teardown kills it and
 * leftovers() reports it while it lives.
 */
export function spawnInNamespace(
  network: Network,
  argv: readonly string[],
  opts: SpawnInNamespaceOptions = {},
): { child: ChildProcess; tracked: TrackedProcess; logFile: string } {
  const label = opts.label ?? argv[0] ?? 'process';
  const logFile = opts.logFile ?? join(network.stateDir, `${label.replace(/[^\w.-]/g, '_')}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // `ip netns exec` execs the command, so the child's PID is the command's.
    child = spawn('ip', ['netns', 'exec', network.netns, ...argv], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not spawn ${argv.join(' ')}`);
  child.on('error', () => {});
  const tracked = trackProcess(network.record, child.pid, label, child);
  return { child, tracked, logFile };
}

export interface EtcdOptions {
  clientPort?: number;
  peerPort?: number;
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  timeoutMs?: number;
  extraArgs?: string[];
}

/**
 * Runs /usr/bin/etcd inside the harness netns, listening on the bridge address (and on the
 * namespace's loopback), with short heartbeat/election timings so short lease TTLs are granted
 * as asked; waits until it reports healthy.
 */
export async function startEtcdInNamespace(
  network: Network,
  opts: EtcdOptions = {},
): Promise<EtcdServer> {
  if (network.etcd !== undefined || network.etcdMembers !== undefined) {
    throw new Error('etcd already running in this network');
  }
  const clientPort = opts.clientPort ?? 2379;
  const peerPort = opts.peerPort ?? 2380;
  const endpoint = `http://${network.bridgeIp}:${clientPort}`;
  const dataDir = join(network.stateDir, 'etcd');
  mkdirSync(dataDir, { mode: 0o700, recursive: true });
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const argv = [
    '/usr/bin/etcd',
    '--name=fleetfn',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpoint},http://127.0.0.1:${clientPort}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=fleetfn=${peerUrl}`,
    '--initial-cluster-state=new',
    `--heartbeat-interval=${opts.heartbeatIntervalMs ?? 50}`,
    `--election-timeout=${opts.electionTimeoutMs ?? 500}`,
    ...(opts.extraArgs ?? []),
  ];
  const { child, tracked, logFile } = spawnInNamespace(network, argv, { label: 'etcd' });
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: RunResult | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || !isAlive(tracked.pid)) {
      throw new Error(`etcd exited during startup; see ${logFile}:\n${tail(logFile)}`);
    }
    last = await runInNamespace(
      network,
      ['etcdctl', `--endpoints=${endpoint}`, '--dial-timeout=1s', 'endpoint', 'health'],
      { timeoutMs: 3_000, env: { ...process.env, ETCDCTL_API: '3' } },
    );
    if (last.code === 0) break;
    await sleep(100);
  }
  if (last?.code !== 0) {
    killTracked(tracked);
    throw new Error(
      `etcd not healthy in time${last ? `: ${new CommandError(last).message}` : ''}\n${tail(logFile)}`,
    );
  }
  const server: EtcdServer = {
    endpoint,
    pid: tracked.pid,
    dataDir,
    logFile,
    async stop() {
      killTracked(tracked);
      await tracked.exited;
      if (network.etcd === server) delete network.etcd;
    },
  };
  network.etcd = server;
  return server;
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
