// The Debian package deployed as an operator deploys it, on three real systemd machines with
// no network: dpkg -i, etcd_servers written into /etc/fleet/fleet.conf, fleet enabled and
// started, units run with the installed fleetctl; then one machine upgraded in place while its
// units keep running, and the package removed and purged from another.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureFreshBuild, waitFor } from '../../cluster/index.js';
import {
  bootMachine,
  createNetwork,
  exec,
  execOk,
  harnessUnavailable,
  journal,
  type Machine,
  REPO_ROOT,
  startEtcdInNamespace,
  teardown,
  writeMachineFile,
} from '../../harness/index.js';
import { renderSampleConf } from '../../src/config/sample-conf.js';
import { sleep, sleeper } from '../fleetd/units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const run = promisify(execFile);
// fleetd's fixed agent reconcile interval is 5 s: a wait past it sees at least one pass.
const AGENT_PASS_MS = 6_000;
const DPKG_TIMEOUT_MS = 120_000;
const UNITS = ['pkg-a.service', 'pkg-b.service', 'pkg-c.service'];

interface Packages {
  dir: string;
  current: string;
  newer: string;
  newerVersion: string;
}

/**
 * Builds the .deb once from the dist/ just built, and a newer one with the same content and a
 * bumped version. They go under the checkout, which every machine sees at the same path.
 */
async function buildPackages(): Promise<Packages> {
  mkdirSync(join(REPO_ROOT, 'packaging', 'out'), { recursive: true });
  const dir = mkdtempSync(join(REPO_ROOT, 'packaging', 'out', 'functional-'));
  const built = await run(
    'bash',
    [join(REPO_ROOT, 'packaging/deb/build.sh'), '--no-build', '--out', dir],
    { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 },
  );
  const current = built.stdout.trim().split('\n').at(-1)!;
  const version = (await run('dpkg-deb', ['-f', current, 'Version'])).stdout.trim();
  const newerVersion = `${version}+upgrade1`;
  const tree = join(dir, 'newer');
  await run('dpkg-deb', ['-R', current, tree]);
  const control = join(tree, 'DEBIAN', 'control');
  await run('sed', ['-i', `s/^Version: .*/Version: ${newerVersion}/`, control]);
  const newer = join(dir, basename(current).replace(version, newerVersion));
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', tree, newer]);
  rmSync(tree, { recursive: true, force: true });
  return { dir, current, newer, newerVersion };
}

/**
 * dpkg's options for this host. Depends: nodejs (>= 20.19) holds only where Node came from a
 * .deb (NodeSource, backports); a host whose node was installed otherwise has no such package
 * in the dpkg database the machines share, so the test, never the package, forces it.
 */
async function dpkgOptions(m: Machine): Promise<string[]> {
  const satisfied = await exec(m, [
    'sh',
    '-c',
    `v=$(dpkg-query -W -f='\${Version}' nodejs 2>/dev/null) && dpkg --compare-versions "$v" ge 20.19`,
  ]);
  if (satisfied.code === 0) return [];
  console.warn(
    'no nodejs (>= 20.19) package in the dpkg database: installing with --force-depends',
  );
  return ['--force-depends'];
}

async function fleetctl(m: Machine, args: string[]): Promise<string> {
  return (await execOk(m, ['fleetctl', ...args], { timeoutMs: 60_000 })).stdout;
}

/** Machine IDs fleetctl lists, from the given machine. */
async function machineIds(m: Machine): Promise<string[]> {
  const out = await fleetctl(m, ['list-machines', '--no-legend', '--full', '--fields=machine']);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split('/')[0]!)
    .sort();
}

/** unit → machine ID of every active unit fleetctl lists, from the given machine. */
async function activeUnits(m: Machine): Promise<Map<string, string>> {
  const out = await fleetctl(m, [
    'list-units',
    '--no-legend',
    '--full',
    '--fields=unit,machine,active',
  ]);
  const units = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [unit, machine, active] = line.trim().split(/\s+/);
    if (unit !== undefined && active === 'active') units.set(unit, machine!.split('/')[0]!);
  }
  return units;
}

async function property(m: Machine, unit: string, name: string): Promise<string> {
  const r = await execOk(m, ['systemctl', 'show', `--property=${name}`, '--value', unit]);
  return r.stdout.trim();
}

async function installedVersion(m: Machine): Promise<string> {
  const r = await exec(m, ['dpkg-query', '-W', `-f=\${Status} \${Version}`, 'fleet']);
  return r.code === 0 ? r.stdout.trim() : '';
}

describe.skipIf(unavailable !== undefined)('the Debian package on real machines', () => {
  let packages: Packages;
  let machines: Machine[];
  let etcdEndpoint: string;

  beforeAll(async () => {
    await ensureFreshBuild();
    const network = await createNetwork();
    const [built, etcd, ...booted] = await Promise.all([
      buildPackages(),
      startEtcdInNamespace(network),
      // Each its own address: machines booted together would otherwise take the same one.
      ...['m1', 'm2', 'm3'].map((name, i) => bootMachine({ name, network, index: i + 1 })),
    ]);
    packages = built as Packages;
    etcdEndpoint = (etcd as { endpoint: string }).endpoint;
    machines = booted as Machine[];
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || machines === undefined) return;
    for (const m of machines) {
      const health = await exec(m, [
        'etcdctl',
        `--endpoints=${etcdEndpoint}`,
        'endpoint',
        'health',
      ]);
      console.log(`--- etcd from ${m.name}: ${health.stdout}${health.stderr}`);
      console.log(
        `--- journal of ${m.name}\n${await journal(m, ['-u', 'fleet.service']).catch(String)}`,
      );
    }
  });

  afterAll(async () => {
    await teardown();
    if (packages !== undefined) rmSync(packages.dir, { recursive: true, force: true });
  });

  it('installs with dpkg -i: commands in /usr/bin, the units, a commented fleet.conf, the fleet group, nothing started', async () => {
    await Promise.all(
      machines.map(async (m) => {
        // The harness gives every machine the group; the package must create it itself.
        await execOk(m, ['groupdel', 'fleet']);
        await execOk(m, ['dpkg', '-i', ...(await dpkgOptions(m)), packages.current], {
          timeoutMs: DPKG_TIMEOUT_MS,
        });
      }),
    );
    const m = machines[0]!;
    expect((await execOk(m, ['sh', '-c', 'command -v fleetd; command -v fleetctl'])).stdout).toBe(
      '/usr/bin/fleetd\n/usr/bin/fleetctl\n',
    );
    expect(await fleetctl(m, ['version'])).toMatch(/^fleetctl version \d+\.\d+\.\d+\n$/);
    expect(await property(m, 'fleet.service', 'FragmentPath')).toMatch(
      /^(\/usr)?\/lib\/systemd\/system\/fleet\.service$/,
    );
    expect(await property(m, 'fleet.service', 'ExecStart')).toContain('path=/usr/bin/fleetd ;');
    expect(await property(m, 'fleet.socket', 'UnitFileState')).toBe('disabled');
    expect(await property(m, 'fleet.service', 'ActiveState')).toBe('inactive');
    expect(await property(m, 'fleet.socket', 'ActiveState')).toBe('inactive');
    expect((await execOk(m, ['getent', 'group', 'fleet'])).stdout).toMatch(/^fleet:x:\d+:/);
    expect((await execOk(m, ['cat', '/etc/fleet/fleet.conf'])).stdout).toBe(renderSampleConf());
    const conffiles = await execOk(m, ['dpkg-query', '-W', `-f=\${Conffiles}`, 'fleet']);
    expect(conffiles.stdout).toContain('/etc/fleet/fleet.conf');
  });

  it('runs units across the machines once etcd_servers is set and fleet is enabled', async () => {
    await Promise.all(
      machines.map(async (m) => {
        await execOk(m, [
          'sed',
          '-i',
          '-e',
          `s|^#etcd_servers =.*|etcd_servers = ${etcdEndpoint}|`,
          '/etc/fleet/fleet.conf',
        ]);
        await execOk(m, ['systemctl', 'enable', '--now', 'fleet.socket', 'fleet.service']);
      }),
    );
    const m1 = machines[0]!;
    const all = machines.map((m) => m.machineId).sort();
    await waitFor(
      'three machines',
      () => machineIds(m1).catch((): string[] => []),
      (ids) => ids.join() === all.join(),
    );
    for (const unit of UNITS) {
      // Conflicting with each other, they need a machine each.
      await writeMachineFile(m1, `/root/units/${unit}`, sleeper(unit, 'Conflicts=pkg-*.service'));
    }
    await fleetctl(m1, ['start', ...UNITS.map((u) => `/root/units/${u}`)]);
    const placed = await waitFor(
      'every unit active',
      () => activeUnits(m1),
      (units) => units.size === UNITS.length,
    );
    expect(new Set(placed.values()).size).toBe(machines.length);
  });

  it('upgrades a machine in place: fleetd restarts on the new version and its units keep their MainPID', async () => {
    const m1 = machines[0]!;
    const unit = [...(await activeUnits(m1))].find(([, id]) => id === m1.machineId)![0];
    const unitPid = await property(m1, unit, 'MainPID');
    const fleetdPid = await property(m1, 'fleet.service', 'MainPID');
    expect(Number(unitPid)).toBeGreaterThan(0);

    await execOk(m1, ['dpkg', '-i', ...(await dpkgOptions(m1)), packages.newer], {
      timeoutMs: DPKG_TIMEOUT_MS,
    });
    expect(await installedVersion(m1)).toBe(`install ok installed ${packages.newerVersion}`);
    expect(await property(m1, 'fleet.service', 'ActiveState')).toBe('active');
    expect(await property(m1, 'fleet.service', 'MainPID')).not.toBe(fleetdPid);
    await waitFor(
      'm1 listed again',
      () => machineIds(m1).catch((): string[] => []),
      (ids) => ids.includes(m1.machineId),
    );
    // More than one agent pass of the new fleetd, which would have stopped a unit it disowned.
    await sleep(AGENT_PASS_MS);
    expect(await property(m1, unit, 'MainPID')).toBe(unitPid);
    expect((await activeUnits(m1)).get(unit)).toBe(m1.machineId);
  });

  it('removes the package from a machine: fleet stops gracefully and stops its units; purge removes fleet.conf', async () => {
    const [m1, m2] = [machines[0]!, machines[1]!];
    const unit = [...(await activeUnits(m1))].find(([, id]) => id === m2.machineId)![0];

    await execOk(m2, ['dpkg', '-r', 'fleet'], { timeoutMs: DPKG_TIMEOUT_MS });
    expect(await property(m2, 'fleet.service', 'LoadState')).toBe('not-found');
    expect(await property(m2, unit, 'LoadState')).toBe('not-found');
    expect((await exec(m2, ['pgrep', '-f', '/usr/bin/fleetd'])).code).not.toBe(0);
    expect((await exec(m2, ['test', '-e', '/usr/bin/fleetctl'])).code).not.toBe(0);
    // A removal keeps the configuration, as Debian does; a purge removes it.
    expect((await exec(m2, ['test', '-f', '/etc/fleet/fleet.conf'])).code).toBe(0);
    expect(await journal(m2, ['-u', 'fleet.service'])).toContain('Stopped fleet.service');

    const rest = [m1.machineId, machines[2]!.machineId].sort();
    await waitFor(
      'm2 gone',
      () => machineIds(m1),
      (ids) => ids.join() === rest.join(),
    );
    // It conflicts with the units of the two machines left, so it waits for a machine.
    await waitFor(
      `${unit} no longer listed as active`,
      () => activeUnits(m1),
      (units) => units.size === UNITS.length - 1 && !units.has(unit),
    );

    await execOk(m2, ['dpkg', '--purge', 'fleet'], { timeoutMs: DPKG_TIMEOUT_MS });
    expect(await installedVersion(m2)).toBe('');
    expect((await exec(m2, ['test', '-e', '/etc/fleet'])).code).not.toBe(0);
  });
});
