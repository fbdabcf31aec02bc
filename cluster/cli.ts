// `npm run cluster -- <command>`: a local fleet cluster of real systemd machines, for people and
// scripts. See docs/cluster.md.
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ClusterState,
  clusterStateDir,
  control,
  fleetActiveState,
  keeperAlive,
  type MachineState,
  machineCommand,
  machineUp,
  processEntryExists,
  readState,
  type UpRequest,
} from './detached.js';

const here = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(here, '..');
const FLEETCTL = join(REPO_ROOT, 'bin', 'fleetctl');

const USAGE = `Usage: npm run cluster -- [--cluster NAME] <command> [options]

A local fleet cluster: real systemd machines on this host, each running this checkout's fleetd
as fleet.service + fleet.socket, against one etcd. Needs root. See docs/cluster.md.

Commands:
  up [--machines N] [--names a,b,c] [--metadata k=v,...] [--secure]
                          boot the machines (m1..m3 by default) and start fleet on each;
                          --secure: the TCP API with TLS, client certificates and tokens
  up --conformance        machines r1, r2, r3 with metadata name=rN and public IP 127.0.0.1
  down                    remove the cluster: processes, mounts, network namespace, cgroups
  ls                      one line per machine: name, machine ID, address, state
  exec MACHINE -- CMD...  run a command inside a machine (exit status propagated)
  fleetctl [--machine M] [--token] -- ARGS...
                          run this checkout's fleetctl against the cluster (a secure
                          one: over TLS with the admin certificate, or the operate token)
  stop-fleet MACHINE      systemctl stop fleet inside a machine (a graceful stop)
  start-fleet MACHINE     systemctl start fleet inside a machine
  kill MACHINE            power a machine off hard (SIGKILL to its PID 1)

--cluster NAME (or FLEET_CLUSTER) picks one of several clusters (default: default).
`;

class UsageError extends Error {}

function fail(message: string, code = 1): never {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(code);
}

/** The directory the user ran `npm run` from (npm changes to the package root). */
function callerCwd(): string {
  return process.env.INIT_CWD ?? process.cwd();
}

function parseMetadata(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`metadata item ${JSON.stringify(item)} is not key=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

/** Splits `[options] -- rest`: options before the first `--`, the rest verbatim. */
function splitDashDash(args: string[]): [string[], string[] | undefined] {
  const at = args.indexOf('--');
  return at < 0 ? [args, undefined] : [args.slice(0, at), args.slice(at + 1)];
}

function takeValue(args: string[], i: number, flag: string): string {
  const v = args[i + 1];
  if (v === undefined) throw new UsageError(`${flag} needs a value`);
  return v;
}

function loadState(cluster: string): { dir: string; state: ClusterState } {
  const dir = clusterStateDir(cluster);
  const state = readState(dir);
  if (state === undefined || state.status !== 'up') {
    fail(`no cluster ${cluster} is up (start one with: npm run cluster -- up)`);
  }
  if (!keeperAlive(state)) {
    process.stderr.write(
      `cluster: warning: the keeper of cluster ${cluster} (pid ${state.keeper.pid}) is gone; ` +
        'run npm run cluster -- down to clean up\n',
    );
  }
  return { dir, state };
}

function machineOf(state: ClusterState, name: string | undefined): MachineState {
  if (name === undefined) throw new UsageError('which machine?');
  const m = state.machines.find((x) => x.name === name);
  if (m === undefined) {
    fail(`no machine ${name} (machines: ${state.machines.map((x) => x.name).join(', ')})`);
  }
  if (!machineUp(m)) fail(`machine ${name} is not running`);
  return m;
}

function columns(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 2)))
        .join('')
        .trimEnd(),
    )
    .map((l) => `${l}\n`)
    .join('');
}

/** Runs argv with the caller's terminal; resolves with a shell-style exit status. */
function interactive(argv: string[], cwd?: string, env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((res) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: 'inherit',
      ...(cwd !== undefined && { cwd }),
      ...(env !== undefined && { env }),
    });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => {
      const h = forward(s);
      process.on(s, h);
      return [s, h] as const;
    });
    child.on('error', (e) => {
      process.stderr.write(`cluster: ${argv[0]}: ${e.message}\n`);
      res(127);
    });
    child.on('exit', (code, signal) => {
      for (const [s, h] of handlers) process.removeListener(s, h);
      res(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}

async function up(cluster: string, args: string[]): Promise<number> {
  const req: UpRequest = {
    cluster,
    machines: [],
    metadata: {},
    hostnameMetadata: true,
    conformance: false,
  };
  let count: number | undefined;
  let names: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] =
      a.includes('=') && a.startsWith('--')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = (): string => inline ?? takeValue(args, i++, flag);
    switch (flag) {
      case '--machines': {
        const v = value();
        count = Number(v);
        if (!Number.isInteger(count) || count < 1 || count > 50) {
          throw new UsageError(`--machines wants 1..50, not ${v}`);
        }
        break;
      }
      case '--names':
        names = value()
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        break;
      case '--metadata':
        Object.assign(req.metadata, parseMetadata(value()));
        break;
      case '--conformance':
        req.conformance = true;
        break;
      case '--secure':
        req.secure = true;
        break;
      default:
        throw new UsageError(`up: unknown option ${a}`);
    }
  }
  if (
    req.conformance &&
    (count !== undefined || names !== undefined || Object.keys(req.metadata).length > 0)
  ) {
    throw new UsageError('--conformance takes no other option: its topology is fixed');
  }
  if (names !== undefined && count !== undefined && names.length !== count) {
    throw new UsageError(`--names lists ${names.length} machines but --machines says ${count}`);
  }
  names ??= Array.from({ length: count ?? 3 }, (_, i) => `m${i + 1}`);
  for (const n of names) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n)) {
      throw new UsageError(
        `machine name ${JSON.stringify(n)}: lowercase letters, digits and dashes`,
      );
    }
  }
  if (new Set(names).size !== names.length) throw new UsageError('machine names must be distinct');
  req.machines = names.map((name) => ({ name }));

  if (process.getuid?.() !== 0) fail('needs root: it boots systemd machines in namespaces');
  const dir = clusterStateDir(cluster);
  const previous = readState(dir);
  if (previous !== undefined && keeperAlive(previous)) {
    fail(`cluster ${cluster} is already up; tear it down first: npm run cluster -- down`);
  }
  if (previous !== undefined || existsSync(dir)) await removeStale(cluster, dir, previous);

  // Machines run dist/: make sure it is current before booting anything.
  const { ensureFreshBuild } = await import('./build.js');
  await ensureFreshBuild((line) => process.stderr.write(`cluster: ${line}\n`));

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'request.json'), `${JSON.stringify(req, null, 2)}\n`);
  const logFile = join(dir, 'keeper.log');
  const fd = openSync(logFile, 'a');
  const keeper = spawn(
    process.execPath,
    ['--enable-source-maps', '--import', join(here, 'register.mjs'), join(here, 'keeper.ts'), dir],
    { detached: true, stdio: ['ignore', fd, fd], cwd: REPO_ROOT, env: process.env },
  );
  closeSync(fd);
  keeper.unref();
  process.stderr.write(`cluster: starting ${names.length} machine(s) (log: ${logFile})\n`);

  const deadline = Date.now() + 180_000;
  let exited = false;
  keeper.on('exit', () => {
    exited = true;
  });
  for (;;) {
    const state = readState(dir);
    if (state?.status === 'up') {
      printUp(state);
      return 0;
    }
    if (state?.status === 'failed' || exited || Date.now() > deadline) {
      const why = state?.error ?? (exited ? 'the keeper exited' : 'timed out');
      let tail = '';
      try {
        tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      } catch {
        // no log
      }
      if (!exited) keeper.kill('SIGTERM');
      process.stderr.write(`cluster: up failed: ${why}\n${tail}\n`);
      await new Promise((r) => setTimeout(r, 500));
      await removeStale(cluster, dir, readState(dir));
      return 1;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function printUp(state: ClusterState): void {
  const rows = state.machines.map((m) => [m.name, m.id, m.ip, m.endpoint]);
  process.stdout.write(columns(rows));
  const first = state.machines[0];
  const flag = state.cluster === 'default' ? '' : ` --cluster ${state.cluster}`;
  const secure = state.secure;
  if (secure === undefined || first === undefined) {
    process.stdout.write(
      `\nfleetctl:  npm run cluster --${flag} fleetctl -- list-machines\n` +
        `      or:  ${FLEETCTL} --endpoint ${first?.endpoint ?? ''} list-machines\n` +
        `tear down: npm run cluster --${flag} down\n`,
    );
    return;
  }
  process.stdout.write(
    `\nTLS API:   ${first.tlsEndpoint ?? ''} (and each machine's address; ` +
      `reachable from the network namespace ${state.harness?.netns ?? ''})\n` +
      `CA:        ${state.pki?.ca ?? ''}\n` +
      `admin:     --cert-file ${secure.cert} --key-file ${secure.key}\n` +
      `operate:   FLEETCTL_TOKEN_FILE=${secure.tokenFile}\n` +
      (secure.dashboard === undefined
        ? ''
        : `dashboard: ${secure.dashboard} token: ${secure.tokenFile}\n`) +
      `fleetctl:  npm run cluster --${flag} fleetctl -- list-machines   (as admin)\n` +
      `           npm run cluster --${flag} fleetctl --token -- list-units   (the operate token)\n` +
      `      or:  ${FLEETCTL} --endpoint ${first.endpoint} list-machines   (unix socket)\n` +
      `tear down: npm run cluster --${flag} down\n`,
  );
}

/** Removes a cluster whose keeper is gone (crashed, or killed) with the harness's clean-up. */
async function removeStale(
  cluster: string,
  dir: string,
  state: ClusterState | undefined,
): Promise<void> {
  if (state !== undefined && keeperAlive(state)) return;
  if (state?.harness !== undefined || state?.status === 'starting') {
    // The keeper was the harness's owner: with it gone, clean.sh takes that harness (and any
    // other harness whose owner is gone) away. clean.sh counts a zombie as alive, so first
    // wait until whoever inherited the dead keeper has reaped it.
    const deadline = Date.now() + 15_000;
    while (state !== undefined && Date.now() < deadline) {
      if (!processEntryExists(state.keeper.pid, state.keeper.start)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = spawnSync('/bin/sh', [join(REPO_ROOT, 'harness/clean.sh')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (out !== '') process.stderr.write(`${out}\n`);
  }
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`cluster: removed the remains of cluster ${cluster}\n`);
}

async function down(cluster: string): Promise<number> {
  const dir = clusterStateDir(cluster);
  const state = readState(dir);
  if (state === undefined) {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`cluster: no cluster ${cluster} to tear down\n`);
    return 0;
  }
  if (!keeperAlive(state)) {
    await removeStale(cluster, dir, state);
    return 0;
  }
  try {
    const reply = await control(dir, { op: 'down' });
    if (!reply.ok) throw new Error(reply.error);
  } catch (e) {
    process.stderr.write(`cluster: ${String(e)}; signalling the keeper\n`);
    try {
      process.kill(state.keeper.pid, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + 60_000;
  while (keeperAlive(state) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (keeperAlive(state)) fail(`the keeper (pid ${state.keeper.pid}) did not finish tearing down`);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  const netns = state.harness?.netns;
  if (netns !== undefined && existsSync(join('/run/netns', netns))) {
    fail(`network namespace ${netns} is still there`);
  }
  process.stderr.write(`cluster: ${cluster} is down\n`);
  return 0;
}

function ls(cluster: string): number {
  const { state } = loadState(cluster);
  const rows = state.machines.map((m) => {
    let status: string;
    if (!machineUp(m)) status = m.killed ? 'killed' : 'off';
    else {
      const active = fleetActiveState(m);
      status = active === 'active' ? 'running' : `fleet-${active || 'unknown'}`;
    }
    return [m.name, m.id, m.ip, status];
  });
  process.stdout.write(columns(rows));
  return 0;
}

async function execIn(cluster: string, args: string[]): Promise<number> {
  const [before, command] = splitDashDash(args);
  if (before.length !== 1 || command === undefined || command.length === 0) {
    throw new UsageError('exec MACHINE -- COMMAND [ARGS...]');
  }
  const { state } = loadState(cluster);
  const m = machineOf(state, before[0]);
  return interactive(machineCommand(m.pid, command, process.env.TERM));
}

/** The member to ask: the named one, else the first whose fleet.service is active. */
function apiMachine(state: ClusterState, name: string | undefined): MachineState {
  if (name !== undefined) return machineOf(state, name);
  const m = state.machines.find((x) => machineUp(x) && fleetActiveState(x) === 'active');
  if (m === undefined) fail('no machine of the cluster runs fleetd (see: npm run cluster -- ls)');
  return m;
}

async function fleetctl(cluster: string, args: string[]): Promise<number> {
  const [before, rest] = splitDashDash(args);
  let machine: string | undefined;
  let token = false;
  for (let i = 0; i < before.length; i++) {
    const a = before[i]!;
    if (a === '--machine') machine = takeValue(before, i++, a);
    else if (a.startsWith('--machine=')) machine = a.slice('--machine='.length);
    else if (a === '--token') token = true;
    else throw new UsageError(`fleetctl: put fleetctl's arguments after --: fleetctl -- ${a}`);
  }
  const { state } = loadState(cluster);
  const m = apiMachine(state, machine);
  const secure = state.secure;
  if (secure === undefined) {
    if (token) fail('--token needs a cluster started with up --secure');
    return interactive(
      [process.execPath, FLEETCTL, `--endpoint=${m.endpoint}`, ...(rest ?? [])],
      callerCwd(),
    );
  }
  // Machine addresses are reachable only from the cluster's network namespace.
  const netns = state.harness?.netns;
  if (netns === undefined || m.tlsEndpoint === undefined || state.pki === undefined) {
    fail(`cluster ${cluster} was recorded without its TLS endpoints`);
  }
  const credentials = token ? [] : [`--cert-file=${secure.cert}`, `--key-file=${secure.key}`];
  const env = { ...process.env };
  if (token) env.FLEETCTL_TOKEN_FILE = secure.tokenFile;
  return interactive(
    [
      'ip',
      'netns',
      'exec',
      netns,
      process.execPath,
      FLEETCTL,
      `--endpoint=${m.tlsEndpoint}`,
      `--ca-file=${state.pki.ca}`,
      ...credentials,
      ...(rest ?? []),
    ],
    callerCwd(),
    env,
  );
}

async function systemctlIn(
  cluster: string,
  verb: 'stop' | 'start',
  args: string[],
): Promise<number> {
  if (args.length !== 1) throw new UsageError(`${verb}-fleet MACHINE`);
  const { state } = loadState(cluster);
  const m = machineOf(state, args[0]);
  return interactive(machineCommand(m.pid, ['systemctl', verb, 'fleet.service']));
}

async function killMachine(cluster: string, args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError('kill MACHINE');
  const { dir, state } = loadState(cluster);
  const m = machineOf(state, args[0]);
  if (keeperAlive(state)) {
    const reply = await control(dir, { op: 'kill', machine: m.name });
    if (!reply.ok) fail(reply.error ?? 'kill failed');
  } else {
    process.kill(m.pid, 'SIGKILL');
  }
  process.stderr.write(`cluster: ${m.name} powered off\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let cluster = process.env.FLEET_CLUSTER ?? 'default';
  const args = [...argv];
  while (args[0]?.startsWith('--cluster')) {
    const a = args.shift()!;
    cluster = a.includes('=') ? a.slice(a.indexOf('=') + 1) : (args.shift() ?? '');
  }
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(cluster)) {
    throw new UsageError(
      `cluster name ${JSON.stringify(cluster)}: lowercase letters, digits, dashes`,
    );
  }
  const [command, ...rest] = args;
  switch (command) {
    case 'up':
      return up(cluster, rest);
    case 'down':
      return down(cluster);
    case 'ls':
      return ls(cluster);
    case 'exec':
      return execIn(cluster, rest);
    case 'fleetctl':
      return fleetctl(cluster, rest);
    case 'stop-fleet':
      return systemctlIn(cluster, 'stop', rest);
    case 'start-fleet':
      return systemctlIn(cluster, 'start', rest);
    case 'kill':
      return killMachine(cluster, rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`cluster: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`cluster: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
