// Everything the harness creates on the host is recorded here, so that teardown can remove it
// (also from process-exit and signal handlers) and leftovers() can prove that it did.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cmdline,
  isAlive,
  listPids,
  nsInode,
  procStat,
  runSync,
  sleep,
  sleepSync,
} from './proc.js';

export const CGROUP_SYSTEMD = '/sys/fs/cgroup/systemd';
export const CGROUP_UNIFIED = '/sys/fs/cgroup/unified';
export const NETNS_DIR = '/run/netns';
/** Prefix of every netns, cgroup directory and state directory the harness makes. */
export const PREFIX = 'fleetfn-';

export function stateBase(): string {
  return process.env.FLEETFN_STATE_BASE ?? tmpdir();
}

export interface TrackedProcess {
  pid: number;
  /** /proc/<pid>/stat start time, to tell the process from a later one with the same PID. */
  startTime: string;
  label: string;
  /**
   * An `unshare` whose child is a machine's PID 1: killed last, so that it reaps its PID 1
   * (killing it first would orphan a zombie to the host's init).
   */
  outer?: boolean;
  child?: ChildProcess;
  /** Resolves when the child has been reaped (only for our own children). */
  exited?: Promise<void>;
}

export interface NetworkRecord {
  id: string;
  netns: string;
  netnsInode?: number;
  stateDir: string;
  /** Per-network cgroup roots (machines get sub-directories), in both hierarchies. */
  cgroupRoots: string[];
  /**
   * The machines' pid namespaces by inode, each with its PID 1, to find any process still in
   * one. An inode names a namespace only while it lives (the kernel reuses the numbers), and a
   * pid namespace lives only while its PID 1 does: so one whose PID 1 is gone names nothing
   * of ours, and may by now name another harness's machine.
   */
  pidNamespaces: Map<number, TrackedProcess>;
  processes: Map<number, TrackedProcess>;
  destroyed: boolean;
}

const networks = new Map<string, NetworkRecord>();

export function registerNetwork(rec: NetworkRecord): void {
  installExitHandlers();
  baseline ??= unitLikeHostCgroups();
  networks.set(rec.id, rec);
  writeFileSync(
    join(rec.stateDir, 'owner'),
    `${process.pid} ${procStat(process.pid)?.startTime}\n`,
  );
}

export function trackProcess(
  rec: NetworkRecord,
  pid: number,
  label: string,
  child?: ChildProcess,
  outer = false,
): TrackedProcess {
  const t: TrackedProcess = { pid, startTime: procStat(pid)?.startTime ?? '', label, outer };
  if (child !== undefined) {
    t.child = child;
    t.exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => child.once('exit', () => resolve()));
  }
  rec.processes.set(pid, t);
  return t;
}

function trackedAlive(t: TrackedProcess): boolean {
  const st = procStat(t.pid);
  return st !== undefined && st.startTime === t.startTime && st.state !== 'Z' && st.state !== 'X';
}

export function killTracked(t: TrackedProcess): void {
  if (!trackedAlive(t)) return;
  try {
    process.kill(t.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/** Processes that belong to a network: tracked ones, and any in its netns, pid namespaces or cgroups. */
export function processesOf(rec: NetworkRecord): string[] {
  const found = new Map<number, string>();
  for (const t of rec.processes.values()) {
    if (trackedAlive(t)) found.set(t.pid, `${t.pid} ${t.label}: ${cmdline(t.pid)}`);
  }
  const cgPrefix = `/${PREFIX}${rec.id}`;
  for (const pid of listPids()) {
    if (pid === process.pid || found.has(pid) || !isAlive(pid)) continue;
    let why: string | undefined;
    const net = nsInode(pid, 'net');
    const pidns = nsInode(pid, 'pid');
    if (rec.netnsInode !== undefined && net === rec.netnsInode) why = 'in the harness netns';
    else if (pidns !== undefined && ownPidNamespace(rec, pidns)) why = 'in a machine';
    else {
      try {
        const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
        if (cg.split('\n').some((l) => l.split(':')[2]?.startsWith(cgPrefix))) why = 'in a cgroup';
      } catch {
        // gone
      }
    }
    if (why !== undefined) found.set(pid, `${pid} ${why}: ${cmdline(pid)}`);
  }
  return [...found.values()];
}

function ownPidNamespace(rec: NetworkRecord, inode: number): boolean {
  const pid1 = rec.pidNamespaces.get(inode);
  return pid1 !== undefined && trackedAlive(pid1);
}

function killAllOf(rec: NetworkRecord, outerToo: boolean): void {
  for (const t of rec.processes.values()) if (outerToo || !t.outer) killTracked(t);
  // Anything else in the machines' namespaces or our cgroups (normally gone with their PID 1).
  for (const line of processesOf(rec)) {
    const pid = Number(line.split(' ')[0]);
    if (!outerToo && rec.processes.get(pid)?.outer) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Mount points under the network's state directory or of its netns file, as the host sees them. */
export function mountsOf(rec: NetworkRecord): string[] {
  return [...mountsUnder(join(NETNS_DIR, rec.netns)), ...mountsUnder(rec.stateDir)];
}

/** Directories of a cgroup tree, deepest first. */
function cgroupDirsDeepestFirst(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(dir, e));
    out.push(dir);
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** Tries once to remove a cgroup tree; returns the directories that remain. */
export function removeCgroupTree(root: string): string[] {
  for (const dir of cgroupDirsDeepestFirst(root)) {
    try {
      rmdirSync(dir);
    } catch {
      // busy (a process still inside) or already gone; reported below
    }
  }
  return cgroupDirsDeepestFirst(root);
}

/** Host mount points at or beneath a path. */
export function mountsUnder(path: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((mp) => mp === path || mp.startsWith(`${path}/`));
}

/** rm -rf of a directory we created, refusing while anything is mounted beneath it. */
export function removeTree(path: string): boolean {
  if (!existsSync(path)) return true;
  if (mountsUnder(path).length > 0) return false;
  // --one-file-system: never descend into anything mounted there after the check above.
  runSync(['rm', '-rf', '--one-file-system', path]);
  return !existsSync(path);
}

function deleteNetns(rec: NetworkRecord): void {
  if (existsSync(join(NETNS_DIR, rec.netns))) runSync(['ip', 'netns', 'delete', rec.netns]);
}

function finished(rec: NetworkRecord): boolean {
  return processesOf(rec).length === 0;
}

function finalize(rec: NetworkRecord): boolean {
  deleteNetns(rec);
  let ok = true;
  for (const root of rec.cgroupRoots) if (removeCgroupTree(root).length > 0) ok = false;
  return ok;
}

/**
 * Destroys a network and everything in it: machines (SIGKILL to PID 1), etcd and other tracked
 * processes, the netns with its bridge and veths, cgroup directories and the state directory.
 */
export async function destroyNetworkRecord(rec: NetworkRecord, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  killAllOf(rec, false);
  await Promise.race([
    Promise.all([...rec.processes.values()].map((t) => t.exited ?? Promise.resolve())),
    sleep(timeoutMs / 2),
  ]);
  while (!finished(rec) && Date.now() < deadline) {
    killAllOf(rec, true);
    await sleep(25);
  }
  while (!finalize(rec) && Date.now() < deadline) await sleep(25);
  removeTree(rec.stateDir);
  rec.destroyed = true;
}

function destroyNetworkRecordSync(rec: NetworkRecord, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  killAllOf(rec, false);
  while (!finished(rec) && Date.now() < deadline) {
    sleepSync(25);
    // An unshare exits by itself once its PID 1 is gone (a zombie until this process can reap
    // it, which isAlive does not count); it is killed too only if it lingers.
    killAllOf(rec, Date.now() > deadline - timeoutMs / 2);
  }
  while (!finalize(rec) && Date.now() < deadline) sleepSync(25);
  removeTree(rec.stateDir);
  rec.destroyed = true;
}

/** Tears down every network this process created (and what runs in it). */
export async function teardown(): Promise<void> {
  for (const rec of networks.values()) {
    if (!rec.destroyed || !isClean(leftoversOf(rec))) await destroyNetworkRecord(rec);
  }
}

export function teardownSync(): void {
  for (const rec of networks.values()) {
    if (!rec.destroyed || !isClean(leftoversOf(rec))) destroyNetworkRecordSync(rec);
  }
}

let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => teardownSync());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      try {
        teardownSync();
      } finally {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

export interface Leftovers {
  processes: string[];
  mounts: string[];
  netns: string[];
  links: string[];
  cgroups: string[];
  files: string[];
}

export function isClean(l: Leftovers): boolean {
  return Object.values(l).every((v: string[]) => v.length === 0);
}

function hostLinksMatching(tag: string): string[] {
  try {
    return readdirSync('/sys/class/net').filter((n) => n.includes(tag));
  } catch {
    return [];
  }
}

export function leftoversOf(rec: NetworkRecord): Leftovers {
  const nsFile = join(NETNS_DIR, rec.netns);
  const links = hostLinksMatching(rec.id).map((n) => `host: ${n}`);
  if (existsSync(nsFile)) {
    // Whatever still lives in our namespace dies with it, but say what it is.
    const r = spawnLinks(rec.netns);
    links.push(...r.map((n) => `${rec.netns}: ${n}`));
  }
  return {
    processes: processesOf(rec),
    mounts: mountsOf(rec),
    netns: existsSync(nsFile) ? [rec.netns] : [],
    links,
    cgroups: rec.cgroupRoots.flatMap((root) => cgroupDirsDeepestFirst(root)),
    files: existsSync(rec.stateDir) ? [rec.stateDir] : [],
  };
}

/** Links inside a netns of ours (synchronous; only used when a netns was left behind). */
function spawnLinks(netns: string): string[] {
  const r = spawnSync('ip', ['-n', netns, '-o', 'link', 'show'], { encoding: 'utf8' });
  return String(r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter((n) => n !== '' && n !== 'lo');
}

/** What this process's harness created and is still present on the host (all networks). */
export function leftovers(): Leftovers {
  const all: Leftovers = {
    processes: [],
    mounts: [],
    netns: [],
    links: [],
    cgroups: [],
    files: [],
  };
  for (const rec of networks.values()) {
    const l = leftoversOf(rec);
    for (const k of Object.keys(all) as (keyof Leftovers)[]) all[k].push(...l[k]);
  }
  all.cgroups.push(...foreignCgroups());
  return all;
}

// A machine's systemd must create cgroups only beneath the machine's own directories. Any other
// unit-named cgroup directory that appears on the host (say pids:/system.slice/x.service) means
// a hierarchy leaked into a machine; compare against what existed before the first network.
const UNIT_DIR_RE = /\.(scope|slice|service|mount|socket|swap|target)$/;
let baseline: Set<string> | undefined;

function hostCgroupMounts(): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fstype = line.split(' - ')[1]?.split(' ')[0];
    const mp = line.split(' ')[4];
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && mp !== undefined) out.push(mp);
  }
  return out;
}

export function unitLikeHostCgroups(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string, depth: number): void => {
    if (depth > 6) return;
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.startsWith(PREFIX)) continue; // a harness's own tree
      if (UNIT_DIR_RE.test(e)) found.add(join(dir, e));
      walk(join(dir, e), depth + 1);
    }
  };
  for (const mp of hostCgroupMounts()) walk(mp, 0);
  return found;
}

function foreignCgroups(): string[] {
  if (baseline === undefined) return [];
  const base = baseline;
  return [...unitLikeHostCgroups()].filter((d) => !base.has(d)).map((d) => `foreign: ${d}`);
}

export function statInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}
