// fleetd as a real fleet.service + fleet.socket in one real systemd machine: the agent's work
// on systemd, crash and restart, reload, socket activation and a graceful stop.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, teardown } from '../../harness/index.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { count, expectNoLeftovers, HELLO, sleep, sleeper, unitDir } from './units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const UNITS_DIR = '/run/fleet/units';
const ETCD_DOWN_MESSAGE = 'fleet server unable to communicate with etcd';

function equalLists(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe.skipIf(unavailable !== undefined)('fleetd in a real machine', () => {
  let cluster: Cluster;
  const m = 'm1';

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'machine', machines: 1 });
  });

  afterEach(async (ctx) => {
    if (cluster === undefined) return;
    if (ctx.task.result?.state === 'fail') {
      console.log(
        `--- journal of ${m} (fleet.service)\n${await cluster.journal(m, { unit: 'fleet.service' }).catch(String)}`,
      );
    }
    if (cluster.machine(m).alive && cluster.machine(m).fleetRunning)
      await cluster.destroyAllUnits();
  });

  afterAll(async () => {
    await teardown();
  });

  it('writes a scheduled unit, links it from /run/fleet/units (linked-runtime) and starts it: systemd reports active/running', async () => {
    const files = unitDir({ 'hello.service': HELLO });
    try {
      const r = await cluster.fleetctl('host', ['start', 'hello.service'], { cwd: files.dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(
        `Unit hello.service launched on ${cluster.machine(m).id.slice(0, 8)}...`,
      );
    } finally {
      files.remove();
    }
    await cluster.waitForActiveUnits(1);
    const text = await cluster.execOk(m, ['cat', `${UNITS_DIR}/hello.service`]);
    expect(text.stdout).toBe(UnitFile.parse(HELLO).serialized);
    const link = await cluster.execOk(m, ['readlink', '/run/systemd/system/hello.service']);
    expect(link.stdout.trim()).toBe(`${UNITS_DIR}/hello.service`);
    const status = await cluster.exec(m, ['systemctl', 'status', '--no-pager', 'hello.service']);
    expect(status.stdout).toMatch(/Loaded: loaded \(\S+hello\.service; linked-runtime/);
    expect(status.stdout).toContain('Active: active (running)');
    expect(await cluster.unitProperty(m, 'hello.service', 'ActiveState')).toBe('active');
    expect(await cluster.unitProperty(m, 'hello.service', 'SubState')).toBe('running');
    const journal = await cluster.journal(m, { unit: 'fleet.service' });
    expect(journal).toContain('Writing systemd unit hello.service');
    expect(journal).toMatch(/Triggered systemd unit hello\.service start: job=\d+/);
  });

  it("publishes the unit's systemd states to etcd, as GET /fleet/v1/state shows", async () => {
    await cluster.putUnit('state.service', sleeper('state'));
    const hash = UnitFile.parse(sleeper('state')).hash;
    const [state] = await cluster.waitForActiveUnits(1);
    expect(state).toEqual({
      hash,
      machineID: cluster.machine(m).id,
      name: 'state.service',
      systemdActiveState: 'active',
      systemdLoadState: 'loaded',
      systemdSubState: 'running',
    });
    const one = await cluster.request(m, 'GET', '/fleet/v1/state/state.service');
    expect(one.status).toBe(200);
    // The state lives in etcd under the machine's lease, not only in fleetd's memory.
    const raw = await cluster.etcdctl([
      'get',
      '--prefix',
      cluster.keys.unitStatesPrefix('state.service'),
    ]);
    expect(raw.stdout).toContain(cluster.keys.unitState('state.service', cluster.machine(m).id));
    expect(raw.stdout).toContain('"activeState":"active"');
    const units = await cluster.units();
    expect(units.find((u) => u.name === 'state.service')?.currentState).toBe('launched');
  });

  it('stops a unit on fleetctl stop, and on unload stops it, unlinks it and removes its file', async () => {
    const files = unitDir({ 'hello.service': HELLO });
    try {
      expect(
        (await cluster.fleetctl('host', ['start', 'hello.service'], { cwd: files.dir })).code,
      ).toBe(0);
    } finally {
      files.remove();
    }
    await cluster.waitForActiveUnits(1);

    const stop = await cluster.fleetctl('host', ['stop', 'hello.service']);
    expect(stop.code, stop.stderr).toBe(0);
    await waitFor(
      'hello.service stopped',
      () => cluster.unitStates(),
      (s) => s.length === 1 && s[0]?.systemdActiveState === 'inactive',
      { timeoutMs: cluster.patienceMs },
    );
    expect(await cluster.unitProperty(m, 'hello.service', 'ActiveState')).toBe('inactive');
    expect(await cluster.unitFiles(m)).toEqual(['hello.service']);

    const unload = await cluster.fleetctl('host', ['unload', 'hello.service']);
    expect(unload.code, unload.stderr).toBe(0);
    await cluster.waitForUnits(0);
    await waitFor(
      'no unit file',
      () => cluster.unitFiles(m),
      (f) => f.length === 0,
      {
        timeoutMs: cluster.patienceMs,
      },
    );
    expect(await cluster.unitProperty(m, 'hello.service', 'LoadState')).toBe('not-found');
    const link = await cluster.exec(m, ['test', '-e', '/run/systemd/system/hello.service']);
    expect(link.code).not.toBe(0);
    expect(await cluster.journal(m, { unit: 'fleet.service' })).toContain(
      'Removing systemd unit hello.service',
    );
  });

  it('replaces a unit whose content changed: new file, new hash, restarted with the new content', async () => {
    const v1 = sleeper('version one');
    const v2 = sleeper('version two');
    await cluster.putUnit('replace.service', v1);
    await cluster.waitForActiveUnits(1);
    const pidBefore = await cluster.unitProperty(m, 'replace.service', 'MainPID');
    expect(await cluster.unitProperty(m, 'replace.service', 'Description')).toBe('version one');

    await cluster.putUnit('replace.service', v2);
    const hash2 = UnitFile.parse(v2).hash;
    await waitFor(
      'the new version active',
      () => cluster.unitStates(),
      (s) => s.length === 1 && s[0]?.hash === hash2 && s[0]?.systemdActiveState === 'active',
      { timeoutMs: cluster.patienceMs },
    );
    const file = await cluster.execOk(m, ['cat', `${UNITS_DIR}/replace.service`]);
    expect(file.stdout).toBe(UnitFile.parse(v2).serialized);
    await waitFor(
      'systemd runs the new version',
      () => cluster.unitProperty(m, 'replace.service', 'Description'),
      (d) => d === 'version two',
      { timeoutMs: cluster.patienceMs },
    );
    expect(await cluster.unitProperty(m, 'replace.service', 'ActiveState')).toBe('active');
    expect(await cluster.unitProperty(m, 'replace.service', 'MainPID')).not.toBe(pidBefore);
  });

  it('loads and starts new units without a daemon-reload once it has reloaded after its start', async () => {
    await cluster.putUnit('first.service', sleeper('first'));
    await cluster.waitForActiveUnits(1);
    const cursor = await cluster.journalCursor(m);
    const names = Array.from({ length: 5 }, (_, i) => `new-${i}.service`);
    for (const name of names) await cluster.putUnit(name, sleeper(name));
    await cluster.waitForActiveUnits(6);
    for (const name of names) {
      expect(await cluster.unitProperty(m, name, 'Description')).toBe(name);
      expect(await cluster.unitProperty(m, name, 'NeedDaemonReload')).toBe('no');
    }
    const journal = await cluster.journal(m, { unit: 'fleet.service', afterCursor: cursor });
    expect(count(journal, 'Writing systemd unit new-')).toBe(5);
    expect(count(journal, 'Instructing systemd to reload units')).toBe(0);
  });

  it('reloads to replace the content of a unit that systemd keeps in memory', async () => {
    // A running unit that wants it keeps it loaded in systemd while fleet replaces its file.
    await cluster.putUnit('held.service', sleeper('version one'));
    await cluster.putUnit(
      'holder.service',
      sleeper('holder').replace('[Unit]\n', '[Unit]\nWants=held.service\n'),
    );
    await cluster.waitForActiveUnits(2);
    const cursor = await cluster.journalCursor(m);
    await cluster.putUnit('held.service', sleeper('version two'));
    await waitFor(
      'systemd runs the new version',
      () => cluster.unitProperty(m, 'held.service', 'Description'),
      (d) => d === 'version two',
      { timeoutMs: cluster.patienceMs },
    );
    await cluster.waitForActiveUnits(2);
    expect(await cluster.unitProperty(m, 'held.service', 'NeedDaemonReload')).toBe('no');
    const journal = await cluster.journal(m, { unit: 'fleet.service', afterCursor: cursor });
    expect(count(journal, 'Instructing systemd to reload units')).toBe(1);
  });

  it('keeps units running through a crash: after systemctl kill -s SIGKILL fleet and systemctl start fleet, MainPID is unchanged', async () => {
    await cluster.putUnit('survivor.service', sleeper('survivor'));
    await cluster.waitForActiveUnits(1);
    const pid = await cluster.unitProperty(m, 'survivor.service', 'MainPID');
    expect(Number(pid)).toBeGreaterThan(0);
    const cursor = await cluster.journalCursor(m);

    await cluster.signalFleet(m, 'SIGKILL');
    await waitFor(
      'fleetd dead',
      () => cluster.fleetdPid(m),
      (p) => p === 0,
      { timeoutMs: 10_000 },
    );
    await cluster.startFleet(m);
    await cluster.waitForSelf(m);
    // Past the old lease's expiry and more than one agent pass of the new fleetd.
    await sleep(2 * cluster.agentTtlMs);
    await cluster.waitForActiveUnits(1);

    expect(await cluster.unitProperty(m, 'survivor.service', 'MainPID')).toBe(pid);
    expect(await cluster.unitProperty(m, 'survivor.service', 'ActiveState')).toBe('active');
    const after = await cluster.journal(m, { afterCursor: cursor });
    expect(after).not.toMatch(/Stopping survivor\.service|Stopped survivor\.service/);
    expect(await cluster.unitFiles(m)).toEqual(['survivor.service']);
  });

  it('carries on after the bus daemon restarts: stop and start take effect, a running unit keeps its MainPID, the journal and /metrics tell the cut-off', async () => {
    await cluster.putUnit('steady.service', sleeper('steady'));
    await cluster.putUnit('toggled.service', sleeper('toggled'));
    await cluster.waitForActiveUnits(2);
    const pid = await cluster.unitProperty(m, 'steady.service', 'MainPID');
    const cursor = await cluster.journalCursor(m);
    const fleetdPid = await cluster.fleetdPid(m);
    const activeState = (name: string) => () => cluster.unitProperty(m, name, 'ActiveState');
    // Seconds: an agent pass is 5 s apart at most, and the reconnect itself wakes one.
    const promptly = { timeoutMs: 10_000 };

    await cluster.execOk(m, ['systemctl', 'restart', 'dbus.service']);
    const stop = await cluster.fleetctl('host', ['stop', 'toggled.service']);
    expect(stop.code, stop.stderr).toBe(0);
    await waitFor(
      'toggled.service stopped',
      activeState('toggled.service'),
      (s) => s === 'inactive',
      promptly,
    );
    const start = await cluster.fleetctl('host', ['start', 'toggled.service']);
    expect(start.code, start.stderr).toBe(0);
    await waitFor(
      'toggled.service started',
      activeState('toggled.service'),
      (s) => s === 'active',
      promptly,
    );

    // Cut off for a while: the bus daemon stopped, its socket too, so nothing restarts it.
    await cluster.execOk(m, ['systemctl', 'stop', 'dbus.socket', 'dbus.service']);
    try {
      await waitFor(
        'fleetd to report the lost bus',
        () => cluster.journal(m, { unit: 'fleet.service', afterCursor: cursor }),
        (j) => count(j, 'Lost the D-Bus connection to systemd; reconnecting') === 2,
        promptly,
      );
      await waitFor(
        '/metrics to show the cut-off',
        () => busConnected(cluster, m),
        (v) => v === '0',
        promptly,
      );
      expect(await cluster.unitProperty(m, 'steady.service', 'MainPID')).toBe(pid);
    } finally {
      await cluster.execOk(m, ['systemctl', 'start', 'dbus.socket', 'dbus.service']);
    }
    await waitFor(
      '/metrics to show the bus back',
      () => busConnected(cluster, m),
      (v) => v === '1',
      promptly,
    );
    await cluster.waitForActiveUnits(2);

    expect(await cluster.unitProperty(m, 'steady.service', 'MainPID')).toBe(pid);
    expect(await cluster.fleetdPid(m)).toBe(fleetdPid);
    const journal = await cluster.journal(m, { afterCursor: cursor });
    expect(journal).not.toMatch(/Stopping steady\.service|Stopped steady\.service/);
    expect(count(journal, 'Reconnected to systemd over D-Bus')).toBe(2);
  });

  it('TestReconfigureServer: SIGHUP reloads the configuration and the API keeps answering', async () => {
    await cluster.putUnit('reconfigure.service', sleeper('reconfigure'));
    await cluster.waitForActiveUnits(1);
    await cluster.putUnit('reconfigure.service', sleeper('reconfigure'), 'inactive');
    await cluster.waitForUnits(0);
    const cursor = await cluster.journalCursor(m);
    const pid = await cluster.fleetdPid(m);

    await cluster.signalFleet(m, 'SIGHUP');
    await waitFor(
      'Reloading configuration in the journal',
      () => cluster.journal(m, { unit: 'fleet.service', afterCursor: cursor }),
      (j) => j.includes('Reloading configuration'),
      { timeoutMs: cluster.patienceMs },
    );
    const list = await cluster.fleetctl('host', ['list-units']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('UNIT');
    // The reloaded server still does its job.
    await cluster.putUnit('after-reload.service', sleeper('after reload'));
    await cluster.waitForActiveUnits(1);

    expect(await cluster.fleetdPid(m)).toBe(pid);
    expect(await cluster.unitProperty(m, 'fleet.service', 'ActiveState')).toBe('active');
    expect(await cluster.unitProperty(m, 'fleet.service', 'Result')).toBe('success');
    const journal = await cluster.journal(m, { unit: 'fleet.service', afterCursor: cursor });
    expect(journal).toContain('Reloading configuration from /etc/fleet/fleet.conf');
    expect(journal).not.toContain('Failed serving HTTP on listener:');
  });

  it('SIGHUP applies a new verbosity and logs that a changed units_directory needs a restart', async () => {
    const cursor = await cluster.journalCursor(m);
    await cluster.execOk(m, ['cp', '/etc/fleet/fleet.conf', '/tmp/fleet.conf.before-reload']);
    try {
      await cluster.execOk(m, [
        'sh',
        '-c',
        "printf 'verbosity=1\\nunits_directory=/run/fleet/elsewhere\\n' >> /etc/fleet/fleet.conf",
      ]);
      await cluster.signalFleet(m, 'SIGHUP');
      const journal = () => cluster.journal(m, { unit: 'fleet.service', afterCursor: cursor });
      await waitFor(
        'the restart notice and a DEBUG line',
        journal,
        (j) =>
          j.includes('units_directory changed; restart fleetd to apply it') &&
          j.includes('AgentReconciler completed reconciliation in'),
        { timeoutMs: cluster.patienceMs },
      );
    } finally {
      await cluster.execOk(m, ['cp', '/tmp/fleet.conf.before-reload', '/etc/fleet/fleet.conf']);
      await cluster.signalFleet(m, 'SIGHUP');
    }
    // Answered 503 while the configuration restored above registers again.
    await waitFor(
      'the unit accepted',
      () => cluster.putUnit('after-reload.service', sleeper('after reload')),
      () => true,
      { timeoutMs: cluster.patienceMs },
    );
    await cluster.waitForActiveUnits(1);
    // Still the directory fleetd started with.
    expect(await cluster.unitFiles(m)).toEqual(['after-reload.service']);
  });

  it('TestSingleNodeConnectivityLoss: units keep running and stay linked while etcd is unreachable; states come back after', async () => {
    const single = sleeper('single %i');
    const global = sleeper('global %i', 'Global=true');
    const wanted: Array<[string, string, 'inactive' | 'loaded' | 'launched']> = [
      ['single@0.service', single, 'inactive'],
      ['single@1.service', single, 'loaded'],
      ['single@2.service', single, 'launched'],
      ['global@0.service', global, 'inactive'],
      ['global@1.service', global, 'loaded'],
      ['global@2.service', global, 'launched'],
    ];
    for (const [name, text, state] of wanted) await cluster.putUnit(name, text, state);
    const onMachine = wanted.filter(([, , s]) => s !== 'inactive').map(([n]) => n);
    const systemdView = async () =>
      Object.fromEntries(
        await Promise.all(
          onMachine.map(async (n) => [
            n,
            [
              await cluster.unitProperty(m, n, 'UnitFileState'),
              await cluster.unitProperty(m, n, 'ActiveState'),
              await cluster.unitProperty(m, n, 'SubState'),
              await cluster.unitProperty(m, n, 'MainPID'),
            ].join(' '),
          ]),
        ),
      );
    const apiView = async () =>
      (await cluster.units())
        .map((u) => `${u.name} ${u.desiredState} ${u.currentState ?? '-'}`)
        .sort();
    await cluster.waitForActiveUnits(2);
    await cluster.waitForUnits(onMachine.length);
    // Global units have no current state of their own: the API says inactive, as fleet did.
    const expected = [
      'global@0.service inactive inactive',
      'global@1.service loaded inactive',
      'global@2.service launched inactive',
      'single@0.service inactive inactive',
      'single@1.service loaded loaded',
      'single@2.service launched launched',
    ];
    await waitFor('desired and current states', apiView, (v) => equalLists(v, expected), {
      timeoutMs: cluster.patienceMs,
    });
    const systemdBefore = await systemdView();
    for (const n of onMachine) expect(systemdBefore[n]).toMatch(/^linked-runtime /);
    const cursor = await cluster.journalCursor(m);

    await cluster.cutEtcd(m);
    try {
      // fleet's test held etcd off for agent_ttl + 5 s + 2 s.
      await sleep(cluster.agentTtlMs + 7_000);
      expect(await systemdView()).toEqual(systemdBefore);
      expect((await cluster.request(m, 'GET', '/fleet/v1/units')).status).toBe(503);
    } finally {
      await cluster.restoreEtcd(m);
    }
    await waitFor('the same desired and current states', apiView, (v) => equalLists(v, expected), {
      timeoutMs: cluster.patienceMs,
    });
    await cluster.waitForUnits(onMachine.length);
    expect(await systemdView()).toEqual(systemdBefore);
    const journal = await cluster.journal(m, { afterCursor: cursor });
    expect(journal).not.toMatch(/Stopping (single|global)@/);
    expect(journal).toContain('Server monitor triggered');
  });

  it('TestShutdownVsMonitor: systemctl stop fleet ends inactive/success while the monitor restarts fleetd without etcd', async () => {
    const cursor = await cluster.journalCursor(m);
    await cluster.cutEtcd(m);
    try {
      await waitFor(
        'the monitor to trigger',
        () => cluster.journal(m, { unit: 'fleet.service', afterCursor: cursor }),
        (j) =>
          j.includes('Server monitor triggered: Monitor timed out before successful heartbeat'),
        { timeoutMs: cluster.patienceMs },
      );
      await cluster.stopFleet(m);
      expect(await cluster.unitProperty(m, 'fleet.service', 'ActiveState')).toBe('inactive');
      expect(await cluster.unitProperty(m, 'fleet.service', 'Result')).toBe('success');
    } finally {
      await cluster.restoreEtcd(m);
      await cluster.startFleet(m);
    }
    await cluster.waitForMachines(1);
  });

  it('starts a stopped fleet.service when a request reaches /var/run/fleet.sock (socket activation)', async () => {
    await cluster.stopFleet(m);
    try {
      expect(await cluster.unitProperty(m, 'fleet.service', 'ActiveState')).toBe('inactive');
      expect(await cluster.unitProperty(m, 'fleet.socket', 'ActiveState')).toBe('active');
      // systemd itself rewrites the legacy /var/run/fleet.sock to /run/fleet.sock.
      expect(await cluster.unitProperty(m, 'fleet.socket', 'Listen')).toContain('/run/fleet.sock');

      // The first request is accepted by systemd and answered by the fleetd it starts: 503
      // while that fleetd registers, 200 after.
      const first = await cluster.request(m, 'GET', '/fleet/v1/machines', { timeoutMs: 60_000 });
      expect([200, 503]).toContain(first.status);
      if (first.status === 503) expect(first.body).toContain(ETCD_DOWN_MESSAGE);
      expect(await cluster.unitProperty(m, 'fleet.service', 'ActiveState')).toBe('active');
    } finally {
      await cluster.startFleet(m); // normally already started by the socket: bookkeeping
    }
    await cluster.waitForMachines(1);
    const journal = await cluster.journal(m, { unit: 'fleet.socket' });
    expect(journal).not.toContain('Failed');
  });

  it('also serves the API on fleet-tcp.socket, handed over with fleet.socket', async () => {
    const host = cluster.machine(m);
    const r = await cluster.exec(m, [
      'curl',
      '-sS',
      '--max-time',
      '10',
      `http://${host.ip}:54728/fleet/v1/machines`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      machines: [{ id: host.id, metadata: { hostname: m }, primaryIP: host.ip }],
    });
  });

  it('TestShutdown: systemctl stop fleet ends inactive with result success', async () => {
    await cluster.putUnit('shutdown.service', sleeper('shutdown'));
    await cluster.waitForActiveUnits(1);
    await cluster.stopFleet(m);
    expect(await cluster.unitProperty(m, 'fleet.service', 'ActiveState')).toBe('inactive');
    expect(await cluster.unitProperty(m, 'fleet.service', 'Result')).toBe('success');
    // A graceful stop purges: the unit is stopped and its file is gone.
    expect(await cluster.unitProperty(m, 'shutdown.service', 'ActiveState')).toBe('inactive');
    expect(await cluster.unitFiles(m)).toEqual([]);
    const journal = await cluster.journal(m, { unit: 'fleet.service' });
    expect(journal).toContain('Gracefully shutting down');
    expect(count(journal, 'Failed serving HTTP on listener:')).toBe(0);
  });

  it('leaves nothing behind after teardown', async () => {
    await teardown();
    expectNoLeftovers();
  });
});

/** `fleet_systemd_bus_connected` as a member's /metrics shows it ('' when absent). */
async function busConnected(cluster: Cluster, m: string): Promise<string> {
  const r = await cluster.request(m, 'GET', '/metrics');
  return /^fleet_systemd_bus_connected (\S+)$/m.exec(r.body)?.[1] ?? '';
}
