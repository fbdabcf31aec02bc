// fleetd in a cluster of three real systemd machines: graceful stop and purge, duplicate
// machine IDs, machine loss and rescheduling, member reboots, batched unloads and engine
// leader failover. Test names carry fleet's functional test they port, where there is one.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, teardown } from '../../harness/index.js';
import { placement } from './guards.js';
import { CONFLICT, count, expectNoLeftovers, PIN, sleep, sleeper } from './units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const ETCD_DOWN_MESSAGE = 'fleet server unable to communicate with etcd';

describe.skipIf(unavailable !== undefined)('fleetd in a cluster of three machines', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'cluster', machines: 3 });
  });

  afterEach(async (ctx) => {
    if (cluster === undefined) return;
    if (ctx.task.result?.state === 'fail') {
      console.log(await cluster.fleetJournalTails(80));
    }
    if (cluster.network.record.destroyed) return;
    // Back to three members running fleetd (m1..m3), with no units.
    for (const m of [...cluster.machines.values()]) {
      const member = ['m1', 'm2', 'm3'].includes(m.name);
      if (member && !m.alive) await cluster.replace(m);
      else if (!member && m.alive) await cluster.kill(m);
      // restart, not start: a start waits out the auto-restart delay of a crashed fleetd.
      else if (member && !m.fleetRunning) await cluster.restartFleet(m);
      if (!member) cluster.machines.delete(m.name);
    }
    await cluster.waitForMachines(3);
    await cluster.destroyAllUnits();
  });

  afterAll(async () => {
    await teardown();
  });

  it('TestNodeShutdown: systemctl stop fleet stops the pinned unit, removes its file, and the machine leaves the cluster', async () => {
    const m1 = cluster.machine('m1');
    const unit = `pin@${m1.id}.service`;
    await cluster.putUnit(unit, PIN);
    const [state] = await cluster.waitForActiveUnits(1);
    expect(state?.machineID).toBe(m1.id);
    expect(await cluster.unitProperty(m1, unit, 'ActiveState')).toBe('active');

    await cluster.stopFleet(m1);
    await cluster.waitForMachines(2, { via: 'm2' });
    await cluster.waitForActiveUnits(0, { via: 'm2' });
    expect(await cluster.unitStates('m2')).toEqual([]);
    // Purged: stopped, unlinked, file gone (no other machine may run it).
    expect(await cluster.unitProperty(m1, unit, 'ActiveState')).toBe('inactive');
    expect(await cluster.unitProperty(m1, unit, 'LoadState')).toBe('not-found');
    expect(await cluster.unitFiles(m1)).toEqual([]);
    expect(await cluster.unitProperty(m1, 'fleet.service', 'Result')).toBe('success');
    const units = await cluster.units('m2');
    expect(units).toEqual([expect.objectContaining({ name: unit, desiredState: 'launched' })]);

    // Back with fleet, the pinned unit returns to its machine.
    await cluster.startFleet(m1);
    const [again] = await cluster.waitForActiveUnits(1, { via: 'm2' });
    expect(again?.machineID).toBe(m1.id);
  });

  it('unloads 50 units in one agent pass, with one daemon-reload', async () => {
    const m3 = cluster.machine('m3');
    const names = Array.from(
      { length: 50 },
      (_, i) => `batch${String(i).padStart(2, '0')}.service`,
    );
    await Promise.all(
      names.map((n) =>
        cluster.putUnit(n, sleeper(n, `MachineID=${m3.id}`), 'launched', { via: 'm1' }),
      ),
    );
    await cluster.waitForActiveUnits(50, { via: 'm1', timeoutMs: 120_000 });
    expect((await cluster.unitFiles(m3)).sort()).toEqual([...names].sort());

    // Freeze m3's fleetd while the 50 units are destroyed through m1's API, so that its agent
    // meets all 50 removals at once (a short freeze: its 3 s lease stays alive). The claim: any
    // number of pending unloads take one pass and one daemon-reload (fleet ended a pass after
    // each unload, one unit per 5 s).
    const cursor = await cluster.journalCursor(m3);
    const pid = await cluster.fleetdPid(m3);
    await cluster.execOk(m3, ['kill', '-STOP', String(pid)]);
    try {
      const client = cluster.client('m1');
      await Promise.all(names.map((n) => client.destroyUnit(n)));
    } finally {
      await cluster.execOk(m3, ['kill', '-CONT', String(pid)]);
    }
    await waitFor(
      'no unit files on m3',
      () => cluster.unitFiles(m3),
      (f) => f.length === 0,
      {
        timeoutMs: cluster.patienceMs,
      },
    );
    await cluster.waitForUnits(0, { via: 'm1' });

    const journal = await cluster.journal(m3, { unit: 'fleet.service', afterCursor: cursor });
    expect(count(journal, 'Removing systemd unit batch')).toBe(50);
    expect(count(journal, 'Instructing systemd to reload units')).toBe(1);
    expect(journal).not.toContain('task failed');
    const loaded = await cluster.exec(m3, [
      'systemctl',
      'list-units',
      '--all',
      '--plain',
      '--no-legend',
      'batch*',
    ]);
    expect(loaded.stdout.trim()).toBe('');
  });

  it('TestDetectMachineId: a machine whose ID is already in use is refused (503) until it gets its own', async () => {
    const m1 = cluster.machine('m1');
    const m2 = cluster.machine('m2');
    const m3 = cluster.machine('m3');
    const own = m3.id;
    await cluster.setMachineId(m3, m1.id);
    await cluster.restartFleet(m3);

    const refused = await waitFor(
      'm3 answering 503',
      () => cluster.request(m3, 'GET', '/fleet/v1/machines'),
      (r) => r.status === 503,
      { timeoutMs: cluster.patienceMs },
    );
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 503, message: ETCD_DOWN_MESSAGE } });
    // It stays refused for longer than a TTL: m1's presence is alive and is not taken over.
    const until = Date.now() + 2 * cluster.agentTtlMs;
    while (Date.now() < until) {
      expect((await cluster.request(m3, 'GET', '/fleet/v1/machines')).status).toBe(503);
      await sleep(500);
    }
    expect(await cluster.unitProperty(m3, 'fleet.service', 'ActiveState')).toBe('active');
    const machines = await cluster.waitForMachines(2, { via: m2 });
    expect(machines.find((x) => x.id === m1.id)?.primaryIP).toBe(m1.ip);
    const fleetctl = await cluster.fleetctl(m3, ['list-machines']);
    expect(fleetctl.code).toBe(1);
    expect(fleetctl.stderr).toContain(ETCD_DOWN_MESSAGE);
    expect(await cluster.journal(m3, { unit: 'fleet.service' })).toContain(
      `Server register machine failed: machine ID ${m1.id} is already registered by another fleetd`,
    );

    // A new ID of its own, and a restart: m3 joins.
    const fresh = randomBytes(16).toString('hex');
    await cluster.setMachineId(m3, fresh);
    await cluster.restartFleet(m3);
    const joined = await cluster.waitForMachines(3, { via: m3 });
    expect(joined.find((x) => x.id === fresh)?.primaryIP).toBe(m3.ip);
    expect(joined.map((x) => x.id)).not.toContain(own);
    // Give it back the ID the harness booted it with, for the next tests.
    await cluster.setMachineId(m3, own);
    await cluster.restartFleet(m3);
    await waitFor(
      'm3 back under its own ID',
      () => cluster.machinesSeen(m1),
      (ms) => ms.length === 3 && ms.some((x) => x.id === own),
      { timeoutMs: cluster.patienceMs },
    );
  });

  it('reschedules the units of a machine that dies onto the other machines', async () => {
    const names = [
      'resched.1.service',
      'resched.2.service',
      'resched.3.service',
      'resched.4.service',
    ];
    await Promise.all(names.map((n) => cluster.putUnit(n, sleeper(n))));
    const before = placement(await cluster.waitForActiveUnits(names.length));
    const victimId = before['resched.1.service']!;
    const victim = cluster.byId(victimId);
    const survivors = cluster.live().filter((m) => m !== victim);

    await cluster.kill(victim);
    await cluster.waitForMachines(2, { via: survivors[0] });
    const after = placement(
      await waitFor(
        'every unit active on a surviving machine',
        () => cluster.unitStates(survivors[0]),
        (s) =>
          s.length === names.length &&
          s.every((x) => x.systemdActiveState === 'active' && x.machineID !== victimId),
        { timeoutMs: cluster.patienceMs },
      ),
    );
    for (const name of names) {
      if (before[name] === victimId) expect(survivors.map((m) => m.id)).toContain(after[name]);
      else expect(after[name]).toBe(before[name]); // units elsewhere did not move
    }
    for (const m of survivors) {
      const here = names.filter((n) => after[n] === m.id);
      expect((await cluster.unitFiles(m)).sort()).toEqual(here.sort());
    }
  });

  it('TestDynamicClusterMemberReboot: after a member is replaced, 3 conflicting units run again and exactly one moved', async () => {
    const names = ['conflict.0.service', 'conflict.1.service', 'conflict.2.service'];
    await Promise.all(names.map((n) => cluster.putUnit(n, CONFLICT)));
    const before = placement(await cluster.waitForActiveUnits(3));
    expect(new Set(Object.values(before)).size).toBe(3);

    const rebooted = cluster.byId(before['conflict.0.service']!);
    const fresh = await cluster.replace(rebooted);
    await cluster.waitForMachines(3);
    const after = placement(await cluster.waitForActiveUnits(3));
    const moved = names.filter((n) => after[n] !== before[n]);
    expect(moved).toEqual(['conflict.0.service']);
    expect(after['conflict.0.service']).toBe(fresh.id);
  });

  it('TestDynamicClusterNewMemberUnitMigration: a unit whose machine stops fleet migrates to the free member; the others stay', async () => {
    await cluster.addMachine('m4');
    await cluster.waitForMachines(4);
    const names = ['conflict.0.service', 'conflict.1.service', 'conflict.2.service'];
    await Promise.all(names.map((n) => cluster.putUnit(n, CONFLICT)));
    const before = placement(await cluster.waitForActiveUnits(3));
    const used = new Set(Object.values(before));
    const free = [...cluster.machines.values()].find((m) => !used.has(m.id));
    expect(free).toBeDefined();

    const leaving = cluster.byId(before['conflict.1.service']!);
    await cluster.stopFleet(leaving);
    await cluster.waitForMachines(3);
    const after = placement(
      await waitFor(
        'conflict.1 on the free member',
        () => cluster.unitStates(),
        (s) =>
          s.length === 3 &&
          s.every((x) => x.systemdActiveState === 'active') &&
          placement(s)['conflict.1.service'] === free?.id,
        { timeoutMs: cluster.patienceMs },
      ),
    );
    expect(after['conflict.0.service']).toBe(before['conflict.0.service']);
    expect(after['conflict.2.service']).toBe(before['conflict.2.service']);
    expect(await cluster.unitFiles(leaving)).toEqual([]);
  });

  it('elects another engine leader when the leader fleetd is killed with SIGKILL', async () => {
    const leaderId = await waitFor(
      'a leader',
      () => cluster.leaderMachineId(),
      (id) => id !== null,
    );
    const leader = cluster.byId(leaderId!);
    const others = cluster.live().filter((m) => m !== leader);
    const cursors = new Map(
      await Promise.all(others.map(async (m) => [m.name, await cluster.journalCursor(m)] as const)),
    );

    await cluster.signalFleet(leader, 'SIGKILL');
    leader.fleetRunning = false;
    const next = await waitFor(
      'another leader',
      () => cluster.leaderMachineId(),
      (id) => id !== null && id !== leaderId,
      { timeoutMs: cluster.patienceMs },
    );
    const successor = cluster.byId(next!);
    expect(others).toContain(successor);
    const journal = await cluster.journal(successor, {
      unit: 'fleet.service',
      afterCursor: cursors.get(successor.name)!,
    });
    expect(journal).toContain('Engine leadership acquired');

    // The new leader schedules.
    await cluster.putUnit('after-failover.service', sleeper('after failover'), 'launched', {
      via: successor,
    });
    await cluster.waitForActiveUnits(1, { via: successor });
  });

  it('leaves nothing behind after teardown', async () => {
    await teardown();
    expectNoLeftovers();
  });
});
