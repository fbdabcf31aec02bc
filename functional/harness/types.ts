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
