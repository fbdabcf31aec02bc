// Acceptance tests of the functional harness itself: real systemd machines on this host.
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootMachine,
  createNetwork,
  exec,
  execOk,
  harnessUnavailable,
  isClean,
  isMachineAlive,
  kill,
  leftovers,
  type Machine,
  type Network,
  poweroff,
  runInNamespace,
  startEtcdInNamespace,
  teardown,
} from '../harness/index.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

/** Host cgroup directories holding a unit of a machine, e.g. <machine>/system.slice/probe.service. */
function unitCgroup(m: Machine, unit: string): string {
  return join(m.cgroups.systemd, 'system.slice', unit);
}

function procsIn(dir: string): number[] {
  return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

describe.skipIf(unavailable !== undefined)('functional harness', () => {
  let net: Network;
  let a: Machine;
  let b: Machine;
  // An old file in the host's /tmp: a machine's boot-time tmpfiles clean-up must never see it.
  const marker = join(tmpdir(), `fleetfn-marker-${process.pid}`);

  beforeAll(async () => {
    writeFileSync(marker, 'host file\n');
    const old = new Date(Date.now() - 60 * 24 * 3600 * 1000);
    utimesSync(marker, old, old);
    net = await createNetwork();
    await startEtcdInNamespace(net);
    a = await bootMachine({ name: 'fn-a', network: net });
    b = await bootMachine({ name: 'fn-b', network: net });
    for (const m of [a, b]) {
      console.log(
        `[harness] ${m.name} ${m.ip} booted in ${m.bootMs} ms (${m.bootState}` +
          `${m.failedUnits?.length ? `; failed: ${m.failedUnits.join(', ')}` : ''})`,
      );
    }
  });

  afterAll(async () => {
    await teardown();
    rmSync(marker, { force: true });
  });

  it('boots each machine with systemd as its PID 1, reaching running', async () => {
    for (const m of [a, b]) {
      expect((await execOk(m, ['cat', '/proc/1/comm'])).stdout.trim()).toBe('systemd');
      const state = (await exec(m, ['systemctl', 'is-system-running'])).stdout.trim();
      expect(state).toBe('running');
      expect(m.failedUnits).toEqual([]);
      expect(readFileSync(`/proc/${m.pid}/comm`, 'utf8').trim()).toBe('systemd');
    }
  });

  it('gives each machine its own machine ID, hostname and address', async () => {
    expect(a.machineId).not.toBe(b.machineId);
    for (const m of [a, b]) {
      expect((await execOk(m, ['cat', '/etc/machine-id'])).stdout.trim()).toBe(m.machineId);
      expect((await execOk(m, ['hostname'])).stdout.trim()).toBe(m.name);
      const addr = await execOk(m, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'host0']);
      expect(addr.stdout).toContain(`inet ${m.ip}/24`);
      const route = await execOk(m, ['ip', 'route', 'show', 'default']);
      expect(route.stdout).toContain(`default via ${net.bridgeIp} dev host0`);
    }
    expect(readFileSync('/etc/machine-id', 'utf8').trim()).not.toBe(a.machineId);
  });

  it('puts the same transient unit of two machines in two distinct host cgroups', async () => {
    for (const m of [a, b]) {
      await execOk(m, ['systemd-run', '--unit=probe.service', 'sleep', '1000']);
    }
    const dirA = unitCgroup(a, 'probe.service');
    const dirB = unitCgroup(b, 'probe.service');
    expect(dirA).not.toBe(dirB);
    const [pidA] = procsIn(dirA);
    const [pidB] = procsIn(dirB);
    expect(pidA).toBeDefined();
    expect(pidB).toBeDefined();
    expect(pidA).not.toBe(pidB);
    expect(readFileSync(`/proc/${pidA}/cmdline`, 'utf8')).toContain('sleep');
    // Inside, each machine sees the unit at the root of its own cgroup tree.
    const inside = await execOk(a, ['systemctl', 'show', '-P', 'ControlGroup', 'probe.service']);
    expect(inside.stdout.trim()).toBe('/system.slice/probe.service');
    // ...and no other host hierarchy (pids, memory, devices, ...) got a cgroup of theirs.
    expect(leftovers().cgroups.filter((c) => c.startsWith('foreign:'))).toEqual([]);
  });

  it('reaches etcd in the harness namespace on the bridge address', async () => {
    const endpoint = net.etcd!.endpoint;
    expect(endpoint).toBe(`http://${net.bridgeIp}:2379`);
    const env = { ETCDCTL_API: '3' };
    const health = await exec(a, ['etcdctl', `--endpoints=${endpoint}`, 'endpoint', 'health'], {
      env,
    });
    expect(health.code, health.stderr).toBe(0);
    await execOk(a, ['etcdctl', `--endpoints=${endpoint}`, 'put', '/fleetfn/probe', a.name], {
      env,
    });
    const got = await execOk(
      b,
      ['etcdctl', `--endpoints=${endpoint}`, 'get', '--print-value-only', '/fleetfn/probe'],
      { env },
    );
    expect(got.stdout.trim()).toBe(a.name);
    const fromNs = await runInNamespace(
      net,
      ['etcdctl', `--endpoints=${endpoint}`, 'get', '--print-value-only', '/fleetfn/probe'],
      {
        env: { ...process.env, ETCDCTL_API: '3' },
      },
    );
    expect(fromNs.stdout.trim()).toBe(a.name);
  });

  it('runs a system bus on which systemd answers', async () => {
    for (const m of [a, b]) {
      const status = await exec(m, ['busctl', 'status', 'org.freedesktop.systemd1']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/^PID=1$/m);
      const version = await execOk(m, [
        'busctl',
        'get-property',
        'org.freedesktop.systemd1',
        '/org/freedesktop/systemd1',
        'org.freedesktop.systemd1.Manager',
        'Version',
      ]);
      expect(version.stdout).toMatch(/^s "\d+/);
    }
  });

  it('sees the project checkout at the same path inside a machine', async () => {
    const r = await execOk(a, ['cat', join(process.cwd(), 'package.json')]);
    expect(r.stdout).toContain('"name"');
  });

  it('serves from a machine to the harness namespace and to the other machine', async () => {
    const server =
      "require('http').createServer((q, s) => s.end(require('os').hostname())).listen(8080)";
    await execOk(b, ['systemd-run', '--unit=web.service', 'node', '-e', server]);
    const url = `http://${b.ip}:8080/`;
    const curl = ['curl', '-sS', '--max-time', '5', url];
    // Wait (bounded) until node listens inside b.
    let fromNs = await runInNamespace(net, curl);
    for (let i = 0; i < 100 && fromNs.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      fromNs = await runInNamespace(net, curl);
    }
    expect(fromNs.stdout, fromNs.stderr).toBe(b.name);
    const fromA = await exec(a, curl);
    expect(fromA.stdout, fromA.stderr).toBe(b.name);
  });

  it('keeps the other machine running when one is killed', async () => {
    await kill(b);
    expect(isMachineAlive(b)).toBe(false);
    expect(existsSync(b.cgroups.systemd)).toBe(false);
    expect(existsSync(b.cgroups.unified)).toBe(false);
    await expect(exec(b, ['true'])).rejects.toThrow(/not running/);
    expect(isMachineAlive(a)).toBe(true);
    expect((await exec(a, ['systemctl', 'is-system-running'])).stdout.trim()).toBe('running');
    expect((await exec(a, ['systemctl', 'is-active', 'probe.service'])).stdout.trim()).toBe(
      'active',
    );
    const health = await exec(
      a,
      ['etcdctl', `--endpoints=${net.etcd!.endpoint}`, 'endpoint', 'health'],
      {
        env: { ETCDCTL_API: '3' },
      },
    );
    expect(health.code).toBe(0);
  });

  it('powers a machine off from inside and frees its cgroups', async () => {
    const c = await bootMachine({ name: 'fn-c', network: net, index: b.index });
    expect(c.ip).toBe(b.ip); // a replaced member gets its predecessor's address back
    console.log(`[harness] ${c.name} ${c.ip} booted in ${c.bootMs} ms (${c.bootState})`);
    await poweroff(c);
    expect(isMachineAlive(c)).toBe(false);
    expect(existsSync(c.cgroups.systemd)).toBe(false);
    expect(isMachineAlive(a)).toBe(true);
  });

  it('leaves no processes, mounts, namespaces, links or cgroups after teardown', async () => {
    const pid = a.pid;
    await teardown();
    const left = leftovers();
    expect(left).toEqual({
      processes: [],
      mounts: [],
      netns: [],
      links: [],
      cgroups: [],
      files: [],
    });
    expect(isClean(left)).toBe(true);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(`/run/netns/${net.netns}`)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(net.stateDir);
    // The host's /tmp was never the machines' /tmp.
    expect(existsSync(marker)).toBe(true);
  });
});
