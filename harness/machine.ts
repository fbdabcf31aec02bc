// Real systemd machines: PID 1 of their own namespaces over a copy-on-write view of the host.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tail } from './network.js';
import { nsenterPrefix } from './nsenter.js';
import {
  CommandError,
  isAlive,
  listPids,
  nsInode,
  procStat,
  type RunResult,
  run,
  runOk,
  sleep,
} from './proc.js';
import {
  CGROUP_SYSTEMD,
  CGROUP_UNIFIED,
  killTracked,
  removeCgroupTree,
  removeTree,
  type TrackedProcess,
  trackProcess,
} from './state.js';
import type { ExecOptions, Machine, Network } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The project checkout (bound into every machine at the same path). */
export const REPO_ROOT = resolve(here, '..');
export const BOOT_SCRIPT = join(here, 'boot-machine.sh');
export const BOOT_TARGET = 'fleetfn-machine.target';

const MACHINE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MACHINE_ID_RE = /^[0-9a-f]{32}$/;

export function randomMachineId(): string {
  return randomBytes(16).toString('hex');
}

export interface BootOptions {
  /** Hostname; also the name of its cgroup directory. Lowercase letters, digits, dashes. */
  name: string;
  /** 32 lowercase hex digits (default: random). */
  machineId?: string;
  network: Network;
  /** Address slot: the machine gets 10.213.<subnet>.<10 + index> (default: lowest free, from 1). */
  index?: number;
  /** Wait until systemd reports running/degraded (default true). */
  wait?: boolean;
  /** Bound for the whole boot (default 30 s). */
  timeoutMs?: number;
  /** More host paths bound into the machine at the same path (the checkout always is). */
  binds?: string[];
}

/** Numbers each boot in this process: state directories and veth names stay unique. */
let bootSerial = 0;

/** Our own cgroup path in a hierarchy ("name=systemd" or "" for cgroup2), from /proc/self/cgroup. */
function ownCgroup(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctl, path] = line.split(':');
    if (ctl === controller && path !== undefined) return path;
  }
  return '/';
}

function findPid1(outerPid: number): number | undefined {
  for (const pid of listPids()) {
    const st = procStat(pid);
    if (st?.ppid !== outerPid) continue;
    try {
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      const ids = nspid?.trim().split(/\s+/) ?? [];
      if (ids.length >= 2 && ids[ids.length - 1] === '1') return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

/**
 * Boots a machine (docs/harness.md): cgroup directories of its own, fresh pid/mount/uts/
 * ipc/cgroup/net namespaces, an overlay over `/`, a veth to the network's bridge, systemd as
 * PID 1 into a small target. Resolves once systemd runs (and, unless `wait: false`, once
 * `systemctl is-system-running --wait` says running or degraded).
 */
export async function bootMachine(opts: BootOptions): Promise<Machine> {
  const { name, network } = opts;
  const machineId = opts.machineId ?? randomMachineId();
  if (!NAME_RE.test(name)) throw new Error(`bad machine name ${JSON.stringify(name)}`);
  if (!MACHINE_ID_RE.test(machineId))
    throw new Error(`bad machine ID ${JSON.stringify(machineId)}`);
  if (network.record.destroyed) throw new Error('network already destroyed');
  if (network.machines.get(name)?.alive) throw new Error(`machine ${name} already running`);
  const used = new Set([...network.machines.values()].filter((m) => m.alive).map((m) => m.index));
  let index = opts.index ?? 1;
  if (opts.index === undefined) while (used.has(index)) index++;
  if (!Number.isInteger(index) || index < 1 || index > 240) throw new Error(`bad index ${index}`);
  if (used.has(index)) throw new Error(`index ${index} already used`);
  const ip = `${network.bridgeIp.split('.').slice(0, 3).join('.')}.${10 + index}`;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;

  const serial = ++bootSerial;
  const stateDir = join(network.stateDir, 'machines', `${name}.${serial}`);
  mkdirSync(join(stateDir, 'root'), { recursive: true });
  const consoleLog = join(stateDir, 'console.log');
  const [cgRootSystemd, cgRootUnified] = network.record.cgroupRoots;
  if (cgRootSystemd === undefined || cgRootUnified === undefined)
    throw new Error('no cgroup roots');
  const cgroups = { systemd: join(cgRootSystemd, name), unified: join(cgRootUnified, name) };
  for (const dir of Object.values(cgroups)) {
    if (existsSync(dir) && removeCgroupTree(dir).length > 0) {
      throw new Error(`cgroup ${dir} of an earlier ${name} is still busy`);
    }
    mkdirSync(dir);
  }

  const binds = [REPO_ROOT, ...(opts.binds ?? [])];
  for (const b of binds) {
    if (b.includes(':') || !b.startsWith('/')) throw new Error(`bad bind path ${b}`);
  }
  const fd = openSync(consoleLog, 'a');
  const startedAt = Date.now();
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn('/bin/sh', [BOOT_SCRIPT, 'outer'], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: '/',
      env: {
        PATH: MACHINE_PATH,
        FLEETFN_NAME: name,
        FLEETFN_MACHINE_ID: machineId,
        FLEETFN_STATE: stateDir,
        FLEETFN_CG_SYSTEMD: cgroups.systemd,
        FLEETFN_CG_UNIFIED: cgroups.unified,
        FLEETFN_BINDS: binds.join(':'),
        FLEETFN_TARGET: BOOT_TARGET,
        FLEETFN_GO_TIMEOUT: String(Math.ceil(timeoutMs / 1000)),
      },
    });
  } finally {
    closeSync(fd);
  }
  child.on('error', () => {});
  const outerPid = child.pid;
  if (outerPid === undefined) throw new Error('could not spawn the boot script');
  const tracked = trackProcess(network.record, outerPid, `machine ${name} (unshare)`, child, true);
  const exitedEarly = (): boolean => child.exitCode !== null || child.signalCode !== null;
  let pid1: TrackedProcess | undefined;
  const fail = (what: string): Error => {
    // Killing PID 1 takes the machine down and lets the unshare reap it and exit.
    killTracked(pid1 ?? tracked);
    return new Error(`machine ${name}: ${what}\n--- ${consoleLog}\n${tail(consoleLog)}`);
  };

  // PID 1 of the new pid namespace is the unshare's only child.
  let pid: number | undefined;
  while (pid === undefined) {
    if (exitedEarly()) throw fail('boot script exited');
    if (Date.now() > deadline) throw fail('no PID 1 appeared');
    pid = findPid1(outerPid);
    if (pid === undefined) await sleep(5);
  }
  pid1 = trackProcess(network.record, pid, `machine ${name} (PID 1)`);
  const pidns = nsInode(pid, 'pid');
  if (pidns !== undefined) network.record.pidNamespaces.set(pidns, pid1);
  // The unshare has done its work in the machine's cgroups; move it back to ours, so that a
  // not-yet-reaped unshare never keeps the machine's cgroup directories busy.
  writeFileSync(`${CGROUP_SYSTEMD}${ownCgroup('name=systemd')}/cgroup.procs`, String(outerPid));
  writeFileSync(`${CGROUP_UNIFIED}${ownCgroup('')}/cgroup.procs`, String(outerPid));

  // Plug the machine into the bridge, then let the script exec systemd.
  const veth = `fv${network.id}${serial}`;
  try {
    await runOk([
      'ip',
      '-n',
      network.netns,
      'link',
      'add',
      veth,
      'type',
      'veth',
      'peer',
      'name',
      'host0',
      'netns',
      String(pid),
    ]);
    await runOk(['ip', '-n', network.netns, 'link', 'set', veth, 'master', network.bridge, 'up']);
    await runOk(['nsenter', '-t', String(pid), '-n', '--', 'ip', '-batch', '-'], {
      input: [
        'link set lo up',
        `addr add ${ip}/${network.prefixLength} dev host0`,
        'link set host0 up',
        `route add default via ${network.bridgeIp}`,
        '',
      ].join('\n'),
    });
  } catch (e) {
    throw fail(`network setup failed: ${String(e)}`);
  }
  writeFileSync(join(stateDir, 'go'), '');
  while (procStat(pid)?.comm !== 'systemd') {
    if (exitedEarly() || !isAlive(pid)) throw fail('exited before systemd started');
    if (Date.now() > deadline) throw fail('systemd did not start');
    await sleep(5);
  }

  const machine: Machine = {
    name,
    machineId,
    index,
    ip,
    network,
    pid,
    outerPid,
    stateDir,
    consoleLog,
    cgroups,
    startedAt,
    alive: true,
    tracked: pid1,
  };
  network.machines.set(name, machine);
  child.once('exit', () => {
    machine.alive = false;
  });
  if (opts.wait !== false) await waitForBoot(machine, { timeoutMs: deadline - Date.now() });
  return machine;
}

export interface BootStatus {
  /** `running` or `degraded`. */
  state: string;
  failedUnits: string[];
  /** Milliseconds since the machine was spawned. */
  bootMs: number;
}

/** Waits (bounded) until `systemctl is-system-running --wait` reports running or degraded. */
export async function waitForBoot(
  machine: Machine,
  opts: { timeoutMs?: number } = {},
): Promise<BootStatus> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: RunResult | undefined;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    if (!isMachineAlive(machine)) {
      throw new Error(`machine ${machine.name} died while booting\n${tail(machine.consoleLog)}`);
    }
    last = await exec(machine, ['systemctl', 'is-system-running', '--wait'], { timeoutMs: left });
    const state = last.stdout.trim();
    if (state === 'running' || state === 'degraded') {
      // Clients such as fleetd talk to systemd over the system bus: wait until it is there.
      if (!(await systemdOnBus(machine))) {
        await sleep(20);
        continue;
      }
      const failedUnits = state === 'degraded' ? await listFailedUnits(machine) : [];
      machine.bootMs = Date.now() - machine.startedAt;
      machine.bootState = state;
      machine.failedUnits = failedUnits;
      return { state, failedUnits, bootMs: machine.bootMs };
    }
    if (state === 'maintenance' || state === 'stopping') break;
    await sleep(50); // the manager's bus is not up yet ("offline" / connection refused)
  }
  throw new Error(
    `machine ${machine.name} did not finish booting` +
      (last ? `: ${new CommandError(last).message}` : '') +
      `\n${tail(machine.consoleLog)}`,
  );
}

/** True when systemd answers on the machine's system bus. */
export async function systemdOnBus(machine: Machine): Promise<boolean> {
  const r = await exec(machine, ['busctl', 'status', 'org.freedesktop.systemd1'], {
    timeoutMs: 5_000,
  });
  return r.code === 0;
}

export async function listFailedUnits(machine: Machine): Promise<string[]> {
  const r = await exec(machine, [
    'systemctl',
    'list-units',
    '--state=failed',
    '--plain',
    '--no-legend',
  ]);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((u) => u !== '');
}

export function isMachineAlive(machine: Machine): boolean {
  return (
    machine.alive &&
    isAlive(machine.pid) &&
    procStat(machine.pid)?.startTime === machine.tracked.startTime
  );
}

/** The nsenter prefix that enters every namespace of the machine and its root. */
export function nsenterArgv(machine: Machine): string[] {
  return nsenterPrefix(machine.pid);
}

/**
 * Runs a command inside the machine: all its namespaces, its root, a clean environment.
 * Never rejects because the command failed: check `code` (or use execOk).
 */
export async function exec(
  machine: Machine,
  argv: readonly string[],
  opts: ExecOptions = {},
): Promise<RunResult> {
  if (!isMachineAlive(machine)) throw new Error(`machine ${machine.name} is not running`);
  const env = [`PATH=${MACHINE_PATH}`, 'HOME=/root', 'LANG=C.UTF-8', 'TERM=dumb'];
  for (const [k, v] of Object.entries(opts.env ?? {})) env.push(`${k}=${v}`);
  const full = [
    ...nsenterArgv(machine),
    '/usr/bin/env',
    '-i',
    ...(opts.cwd !== undefined ? [`--chdir=${opts.cwd}`] : []),
    ...env,
    ...argv,
  ];
  const r = await run(full, { ...opts, env: { PATH: MACHINE_PATH } });
  return { ...r, argv };
}

/** exec, rejecting with a CommandError unless the command exits 0. */
export async function execOk(
  machine: Machine,
  argv: readonly string[],
  opts: ExecOptions = {},
): Promise<RunResult> {
  const r = await exec(machine, argv, opts);
  if (r.code !== 0) throw new CommandError(r, `[${machine.name}] ${argv.join(' ')}`);
  return r;
}

/** Writes a file inside the machine (through its own root, so it lands in its overlay). */
export async function writeMachineFile(
  machine: Machine,
  path: string,
  content: string,
  mode = '0644',
): Promise<void> {
  await execOk(
    machine,
    [
      '/bin/sh',
      '-c',
      'mkdir -p "$(dirname "$1")" && cat >"$1" && chmod "$2" "$1"',
      'sh',
      path,
      mode,
    ],
    { input: content },
  );
}

/** The machine's journal (this boot), e.g. to attach to a failing test. */
export async function journal(machine: Machine, args: string[] = []): Promise<string> {
  const r = await exec(machine, ['journalctl', '-b', '--no-pager', '-o', 'short-precise', ...args]);
  return r.stdout + r.stderr;
}

async function reap(machine: Machine, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.race([machine.tracked.exited ?? Promise.resolve(), sleep(timeoutMs)]);
  const outer = machine.network.record.processes.get(machine.outerPid);
  await Promise.race([
    outer?.exited ?? Promise.resolve(),
    sleep(Math.max(0, deadline - Date.now())),
  ]);
  // Every process of the machine dies with its PID 1; wait until the kernel has reaped them.
  const pidns = nsInode(machine.pid, 'pid');
  while (Date.now() < deadline) {
    const busy = [machine.cgroups.systemd, machine.cgroups.unified].some(
      (dir) => removeCgroupTree(dir).length > 0,
    );
    if (!busy && (pidns === undefined || !isAlive(machine.pid))) break;
    await sleep(20);
  }
  machine.alive = false;
  const rec = machine.network.record;
  rec.processes.delete(machine.pid);
  rec.processes.delete(machine.outerPid);
  if (machine.network.machines.get(machine.name) === machine)
    machine.network.machines.delete(machine.name);
  removeTree(machine.stateDir);
}

/** Pulls the plug: SIGKILL to the machine's PID 1, which takes down everything in it. */
export async function kill(machine: Machine, opts: { timeoutMs?: number } = {}): Promise<void> {
  killTracked(machine.tracked);
  await reap(machine, opts.timeoutMs ?? 10_000);
}

/** A clean shutdown from inside (`systemctl poweroff`); falls back to kill after the timeout. */
export async function poweroff(machine: Machine, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  await exec(machine, ['systemctl', 'poweroff', '--no-block'], { timeoutMs: 5_000 });
  const outer = machine.network.record.processes.get(machine.outerPid);
  await Promise.race([outer?.exited ?? Promise.resolve(), sleep(timeoutMs)]);
  killTracked(machine.tracked);
  await reap(machine, 10_000);
}
