// Detached clusters (`npm run cluster -- up`): the cluster outlives the command that made it.
// A small keeper process (keeper.ts) owns the harness network (so the functional suite's
// clean-up, which removes harnesses whose owner is dead, leaves it alone), records what it made
// in a state directory, and answers the CLI on a control socket. No harness code is loaded
// here: `ls`, `exec` and `fleetctl` stay light.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { nsenterPrefix } from '../harness/nsenter.js';

export const STATE_VERSION = 1;

/** Where detached clusters live: `/run/fleet-cluster/<cluster>/` unless overridden. */
export function stateBaseDir(): string {
  return process.env.FLEET_CLUSTER_STATE ?? '/run/fleet-cluster';
}

export function clusterStateDir(cluster: string): string {
  return join(stateBaseDir(), cluster);
}

export interface MachineState {
  name: string;
  id: string;
  ip: string;
  /** Host PID of the machine's PID 1, and its start time (to tell it from a reused PID). */
  pid: number;
  pidStart: string;
  index: number;
  metadata: Array<[string, string]>;
  publicIp: string;
  endpoint: string;
  /** fleet-tcp.socket's URL (https in a secure cluster), reachable in the harness netns. */
  tlsEndpoint?: string;
  /** Its certificate and key on the host. */
  certificate?: { cert: string; key: string };
  /** Set when the tool killed it (`kill MACHINE`). */
  killed?: boolean;
}

export interface ClusterState {
  version: number;
  cluster: string;
  status: 'starting' | 'up' | 'failed';
  error?: string;
  keeper: { pid: number; start: string };
  harness?: { id: string; netns: string; stateDir: string; subnet: number };
  etcd?: string;
  keyPrefix?: string;
  conformance?: boolean;
  /** The cluster CA's certificate and the directory of every certificate made for it. */
  pki?: { dir: string; ca: string };
  /**
   * With `up --secure`: the admin client certificate, the operate token's file and the
   * dashboard's address on the host's 127.0.0.1.
   */
  secure?: { cert: string; key: string; tokenFile: string; dashboard?: string };
  machines: MachineState[];
  createdAt: string;
}

/** What `up` asks the keeper for. */
export interface UpRequest {
  cluster: string;
  machines: Array<{ name: string; metadata?: Record<string, string> }>;
  metadata: Record<string, string>;
  hostnameMetadata: boolean;
  publicIp?: string;
  conformance: boolean;
  /** The API on TCP with TLS, client certificates and tokens. */
  secure?: boolean;
}

export function readState(dir: string): ClusterState | undefined {
  try {
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as ClusterState;
    return state.version === STATE_VERSION ? state : undefined;
  } catch {
    return undefined;
  }
}

export function writeState(dir: string, state: ClusterState): void {
  const file = join(dir, 'state.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** /proc/<pid>/stat start time, or undefined when the process is gone (or a zombie). */
export function processStart(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

/** True while /proc has that process (a zombie too) with that start time. */
export function processEntryExists(pid: number, start: string): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] === start;
  } catch {
    return false;
  }
}

export function isRunning(pid: number, start: string): boolean {
  return processStart(pid) === start;
}

export function keeperAlive(state: ClusterState): boolean {
  return isRunning(state.keeper.pid, state.keeper.start);
}

export function machineUp(m: MachineState): boolean {
  return !m.killed && isRunning(m.pid, m.pidStart);
}

export const MACHINE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** argv that runs `command` inside a machine: its namespaces, its root, a clean environment. */
export function machineCommand(pid: number, command: readonly string[], term?: string): string[] {
  return [
    ...nsenterPrefix(pid),
    '/usr/bin/env',
    '-i',
    `PATH=${MACHINE_PATH}`,
    'HOME=/root',
    'LANG=C.UTF-8',
    `TERM=${term ?? 'dumb'}`,
    ...command,
  ];
}

/** `systemctl is-active fleet.service` inside a machine ('' when it cannot be asked). */
export function fleetActiveState(m: MachineState): string {
  if (!machineUp(m)) return '';
  const argv = machineCommand(m.pid, ['systemctl', 'is-active', 'fleet.service']);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
  return String(r.stdout ?? '').trim();
}

export interface ControlRequest {
  op: 'ping' | 'down' | 'kill';
  machine?: string;
}

export interface ControlReply {
  ok: boolean;
  error?: string;
}

/** One request to the keeper over `<dir>/control.sock`. */
export function control(
  dir: string,
  req: ControlRequest,
  timeoutMs = 120_000,
): Promise<ControlReply> {
  const path = join(dir, 'control.sock');
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) {
      reject(new Error(`no control socket at ${path}`));
      return;
    }
    const socket = connect(path);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the cluster keeper did not answer ${req.op} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffer.slice(0, nl)) as ControlReply);
      } catch (e) {
        reject(e);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!buffer.includes('\n')) reject(new Error(`the cluster keeper closed the connection`));
    });
  });
}
