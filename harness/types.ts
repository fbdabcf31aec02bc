import type { RunOptions } from './proc.js';
import type { NetworkRecord, TrackedProcess } from './state.js';

/** A network namespace of the harness's own with a bridge in it; machines plug into it by veth. */
export interface Network {
  readonly id: string;
  /** Name of the netns (`ip netns exec <netns> ...`). */
  readonly netns: string;
  /** The third octet: machines and the bridge live in 10.213.<subnet>.0/24. */
  readonly subnet: number;
  readonly bridge: string;
  /** The bridge's address: where etcd listens, and every machine's default gateway. */
  readonly bridgeIp: string;
  readonly prefixLength: number;
  /** Host directory with logs, etcd data and the machines' mount points. */
  readonly stateDir: string;
  readonly machines: Map<string, Machine>;
  etcd?: EtcdServer;
  /** The members of a multi-member etcd (startEtcdCluster), in order; unset for a single etcd. */
  etcdMembers?: readonly EtcdMember[];
  /** @internal bookkeeping used by teardown and leftovers(). */
  readonly record: NetworkRecord;
}

export interface EtcdServer {
  /** `http://<bridgeIp>:<port>`: reachable from the machines and from inside the netns. */
  readonly endpoint: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

/**
 * One member of a multi-member etcd in the harness netns (startEtcdCluster). Unlike a single
 * etcd's `stop()` (SIGKILL), a member's `stop()` is graceful; `kill()` is the SIGKILL.
 */
export interface EtcdMember extends EtcdServer {
  /** `--name`, e.g. `fleetfn2`. */
  readonly name: string;
  /** Where the other members reach it (the netns's loopback). */
  readonly peerUrl: string;
  /** Host PID of the current process (0 before the first start). */
  readonly pid: number;
  readonly running: boolean;
  /** Starts it again on its data directory; waits until it answers unless `wait` is false. */
  start(opts?: { wait?: boolean; timeoutMs?: number }): Promise<void>;
  /** SIGTERM and wait (a leader hands leadership over first); SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** Until it answers `etcdctl endpoint health` (which needs a quorum). */
  waitHealthy(timeoutMs: number): Promise<void>;
}

export interface Machine {
  readonly name: string;
  readonly machineId: string;
  /** Position in the network; the address is 10.213.<subnet>.<10 + index>. */
  readonly index: number;
  readonly ip: string;
  readonly network: Network;
  /** Host PID of the machine's PID 1 (systemd). */
  readonly pid: number;
  /** Host PID of the `unshare` process whose child PID 1 is. */
  readonly outerPid: number;
  readonly stateDir: string;
  /** Output of the boot script and of systemd before its journal is up. */
  readonly consoleLog: string;
  /** The machine's cgroup directories on the host (its units live beneath them). */
  readonly cgroups: { readonly systemd: string; readonly unified: string };
  /** Date.now() when the boot script was spawned. */
  readonly startedAt: number;
  /** Milliseconds from spawn until `systemctl is-system-running --wait` answered. */
  bootMs?: number;
  bootState?: string;
  failedUnits?: string[];
  alive: boolean;
  /** @internal */
  readonly tracked: TrackedProcess;
}

export interface ExecOptions extends Omit<RunOptions, 'env' | 'cwd'> {
  /** Extra environment (the command otherwise gets PATH, HOME=/root, LANG, TERM only). */
  env?: Record<string, string>;
  /** Working directory inside the machine (default `/`). */
  cwd?: string;
}
