// The failures fleet's users hit (fleet #1289, #1690, #993), on three real systemd machines
// against a three-member etcd: etcd members restarting, the whole etcd going away, etcd leader
// changes, the engine leader dying mid-scheduling, destroy/resubmit races, fleetd SIGKILLed, and
// a machine partitioned from etcd for longer than agent_ttl.
//
// "Not stopped" is proved on systemd itself (UndisturbedUnits): on each unit's machine its
// MainPID and ActiveEnterTimestampMonotonic are unchanged and PID 1 logged nothing about it
// since a journal cursor taken before the fault.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, teardown } from '../../harness/index.js';
import type { ApiUnit } from '../../src/api/schema.js';
import { RegistryKeys } from '../../src/registry/keys.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import {
  activeEverywhere,
  expectEachActiveOnce,
  loadedUnits,
  placement,
  UndisturbedUnits,
  unitRuns,
} from './guards.js';
import { expectNoLeftovers, sleep, sleeper, unitDir } from './units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const MEMBERS = ['m1', 'm2', 'm3'];

/** A service named for itself, so systemd's messages about it name it too. */
function service(name: string, xFleet = ''): string {
  return sleeper(name, xFleet);
}

describe.skipIf(unavailable !== undefined)('fleetd through failures', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'failures', machines: 3, etcdMembers: 3 });
  });

  afterEach(async (ctx) => {
    if (cluster === undefined || cluster.network.record.destroyed) return;
    if (ctx.task.result?.state === 'fail') {
      console.log(await cluster.fleetJournalTails(120));
    }
    // Back to three etcd members and three members running fleetd (m1..m3), with no units.
    for (const member of cluster.etcdCluster?.members ?? []) {
      if (!member.running) await cluster.startEtcdMember(member);
    }
    for (const m of [...cluster.machines.values()]) {
      if (!MEMBERS.includes(m.name)) continue;
      if (!m.alive) await cluster.replace(m);
      else {
        await cluster.exec(m, [
          'ip',
          'route',
          'del',
          'blackhole',
          `${cluster.network.bridgeIp}/32`,
        ]);
        if (!m.fleetRunning) await cluster.restartFleet(m);
      }
    }
    await cluster.waitForMachines(3);
    await cluster.destroyAllUnits();
  });

  afterAll(async () => {
    await teardown();
  });

  /**
   * Steady state: two units per machine (six, spread by the scheduler) and a global unit on
   * every machine, all active; returns their placement.
   */
  async function steadyState(prefix: string): Promise<Record<string, string>> {
    const names = Array.from({ length: 6 }, (_, i) => `${prefix}-${i}.service`);
    await Promise.all(names.map((n) => cluster.putUnit(n, service(n))));
    const global = `${prefix}-global.service`;
    await cluster.putUnit(global, service(global, 'Global=true'));
    const states = await cluster.waitForActiveUnits(names.length + 3);
    const where = placement(states.filter((s) => s.name !== global));
    expect(new Set(Object.values(where)).size).toBe(3);
    return where;
  }

  /**
   * After a fault: every unit of the steady state publishes an active state again from the
   * machine it ran on, and a new unit can still be scheduled and started.
   */
  async function expectConverged(prefix: string, where: Record<string, string>): Promise<void> {
    const global = `${prefix}-global.service`;
    await cluster.waitForMachines(3);
    // Past the expiry of every lease from before the fault, whose states would otherwise still
    // show, and past a new engine leader's grace for machines that were absent.
    await sleep(2 * cluster.agentTtlMs);
    const states = await waitFor(
      'every state published again, from the same machines',
      () => cluster.unitStates(),
      (s) => {
        const ours = s.filter((x) => x.name.startsWith(`${prefix}-`));
        return (
          ours.length === Object.keys(where).length + 3 &&
          ours.every((x) => x.systemdActiveState === 'active') &&
          Object.entries(where).every(([n, id]) => placement(ours)[n] === id)
        );
      },
      { timeoutMs: cluster.patienceMs },
    );
    expect(
      states
        .filter((s) => s.name === global)
        .map((s) => s.machineID)
        .sort(),
    ).toEqual(
      cluster
        .live()
        .map((m) => m.id)
        .sort(),
    );
    const fresh = `after-${prefix}.service`;
    await cluster.putUnit(fresh, service(fresh));
    await waitFor(
      `${fresh} active`,
      () => cluster.unitStates(),
      (s) => s.some((x) => x.name === fresh && x.systemdActiveState === 'active'),
      { timeoutMs: cluster.patienceMs },
    );
    const leader = await cluster.leaderMachineId();
    expect(cluster.live().map((m) => m.id)).toContain(leader);
  }

  it('starts a three-member etcd and lists every member in each fleet.conf', async () => {
    const members = cluster.etcdCluster!.members;
    expect(members.map((m) => m.running)).toEqual([true, true, true]);
    const list = await cluster.etcdctl(['member', 'list']);
    expect(list.stdout.trim().split('\n')).toHaveLength(3);
    for (const m of cluster.live()) {
      const conf = await cluster.execOk(m, ['cat', '/etc/fleet/fleet.conf']);
      expect(conf.stdout).toContain(`etcd_servers=${cluster.etcdEndpoints.join(',')}\n`);
    }
    expect(cluster.etcdEndpoints).toHaveLength(3);
    expect(new Set(cluster.etcdEndpoints).size).toBe(3);
  });

  it('etcd members restarting one at a time (one, then all in turn) stop no unit anywhere', async () => {
    const where = await steadyState('roll');
    const guard = await UndisturbedUnits.capture(cluster, 'roll-*');
    expect(guard.count).toBe(9);

    const members = cluster.etcdCluster!.members;
    const pids = members.map((m) => m.pid);
    await cluster.restartEtcdMember(2);
    for (const member of members) await cluster.restartEtcdMember(member);
    expect(members.map((m) => m.pid).filter((pid, i) => pid === pids[i])).toEqual([]);

    await guard.verify();
    await expectConverged('roll', where);
    await guard.verify();
  });

  // What an operator expects when etcd goes away as a whole (every member stopped, then
  // started) while the machines stay up: nothing fleet runs is stopped or moved, however long
  // the outage. The machines did not fail, etcd did; fleet's users lost their units to exactly
  // this (fleet #1289, #1690). The outage here lasts four agent_ttl, longer than any lease, so the
  // claim cannot pass merely because nothing had time to expire; long enough, too, for every
  // fleetd to back off between attempts to register again, which must not outlast the new
  // engine leader's grace once etcd is back.
  it('the whole etcd cluster stopped for longer than agent_ttl and started again stops no unit', async () => {
    const where = await steadyState('outage');
    const guard = await UndisturbedUnits.capture(cluster, 'outage-*');

    await cluster.stopEtcd();
    await Promise.all([
      sleep(4 * cluster.agentTtlMs),
      // Every fleetd notices: its API answers that it cannot reach etcd.
      ...cluster.live().map((m) =>
        waitFor(
          `${m.name} answering 503`,
          () => cluster.request(m, 'GET', '/fleet/v1/units'),
          (r) => r.status === 503,
          { timeoutMs: cluster.patienceMs },
        ),
      ),
    ]);
    // Units keep running while etcd is gone.
    await guard.verify();
    await cluster.startEtcd();

    await expectConverged('outage', where);
    await guard.verify();
  });

  // A longer outage (seven agent_ttl), and one fleetd crashes during it and is started again:
  // it registers as soon as etcd is back and leads, while the others, long failing, wait
  // between attempts. Its grace for absent machines (one agent_ttl) must cover their return,
  // or their units move and stop (fleet #1289): fleet's registration backoff of up to 60 s
  // failed this here (units "went away"); it is now at most agent_ttl / 2.
  it('a fleetd that crashed during a long etcd outage and comes back first moves no unit of the others', async () => {
    const where = await steadyState('crashout');
    const guard = await UndisturbedUnits.capture(cluster, 'crashout-*');
    const crashed = cluster.machine('m1');

    await cluster.stopEtcd();
    await sleep(7 * cluster.agentTtlMs);
    const pid = await cluster.fleetdPid(crashed);
    await cluster.signalFleet(crashed, 'KILL');
    await waitFor(
      'fleetd dead',
      () => cluster.fleetdPid(crashed),
      (p) => p !== pid,
      {
        timeoutMs: 10_000,
      },
    );
    await cluster.restartFleet(crashed);
    await cluster.startEtcd();

    await expectConverged('crashout', where);
    await guard.verify();
  });

  it('etcd leader changes (move-leader, then the leader member killed) stop no unit anywhere', async () => {
    const where = await steadyState('elect');
    const guard = await UndisturbedUnits.capture(cluster, 'elect-*');

    const first = await cluster.etcdLeader();
    const moved = await cluster.moveEtcdLeader();
    expect(moved).not.toBe(first);
    const killed = await cluster.killEtcdLeader();
    expect(killed).toBe(moved);
    expect(await cluster.etcdLeader()).not.toBe(killed);

    await expectConverged('elect', where);
    await guard.verify();
    // The killed member rejoins; still nothing stopped.
    await cluster.startEtcdMember(killed);
    await guard.verify();
  });

  it('losing the engine leader while 100 units are being scheduled: each ends up active exactly once, the dead machine’s units rescheduled', async () => {
    const names = Array.from(
      { length: 100 },
      (_, i) => `burst-${String(i).padStart(3, '0')}.service`,
    );
    const leaderId = await waitFor(
      'an engine leader',
      () => cluster.leaderMachineId(),
      (id) => id !== null,
    );
    const leader = cluster.byId(leaderId!);
    const via = cluster.live().find((m) => m !== leader)!;

    // Submit in the background, a few at a time, through a member that survives.
    let submitted = 0;
    const submitting = (async () => {
      for (let i = 0; i < names.length; i += 5) {
        await Promise.all(
          names.slice(i, i + 5).map((n) => cluster.putUnit(n, service(n), 'launched', { via })),
        );
        submitted = i + 5;
      }
    })();
    // Kill the leader's machine mid-stream, once it runs some of the units.
    const onLeader = await waitFor(
      'units running on the engine leader',
      async () => (await cluster.unitStates(via)).filter((s) => s.machineID === leaderId),
      (s) => s.filter((x) => x.systemdActiveState === 'active').length >= 5,
      { timeoutMs: cluster.patienceMs, intervalMs: 100 },
    );
    await cluster.kill(leader);
    const submittedAtKill = submitted;
    await submitting;
    expect(submittedAtKill).toBeLessThan(names.length);

    const survivors = cluster.live();
    const states = await waitFor(
      '100 units active on the survivors',
      () => cluster.unitStates(via),
      (s) =>
        s.length === names.length &&
        s.every((x) => x.systemdActiveState === 'active' && x.machineID !== leaderId),
      { timeoutMs: cluster.patienceMs },
    );
    expect(states.map((s) => s.name).sort()).toEqual(names);
    const next = await cluster.leaderMachineId();
    expect(survivors.map((m) => m.id)).toContain(next);

    // systemd agrees: each unit active on exactly one survivor, where the API says.
    const running = await expectEachActiveOnce(cluster, 'burst-*', names);
    const placed = placement(states);
    for (const [name, member] of running) expect(cluster.machine(member).id).toBe(placed[name]);
    for (const s of onLeader) expect(survivors.map((m) => m.id)).toContain(placed[s.name]);
    for (const m of survivors) {
      const here = names.filter((n) => placed[n] === m.id);
      expect((await cluster.unitFiles(m)).sort()).toEqual(here);
    }
  });

  it('destroy and resubmit races, also from two fleetctl processes at once, leave exactly the current units in etcd and in systemd', async () => {
    const names = ['race-a.service', 'race-b.service', 'race-c.service', 'race-d.service'];
    /** Unit files of one version: the round is in the environment of the running process. */
    const version = (v: number) =>
      Object.fromEntries(names.map((n) => [n, `${service(n)}Environment=ROUND=${v}\n`] as const));
    const hashOf = new Map<string, number>();
    for (let v = 0; v <= 41; v++) {
      for (const text of Object.values(version(v))) hashOf.set(UnitFile.parse(text).hash, v);
    }
    const dirs = Array.from({ length: 42 }, (_, v) => unitDir(version(v)));
    /**
     * fleetctl from the directory of version `v`. When another client destroys a unit between
     * this start's lookup or create and its desired-state write, start fails as fleet's did:
     * "unable to find unit", the API's 404 when the unit went during the write, or its 409
     * when it was gone before (a desired state alone cannot create a unit). Allowed only where
     * two clients race.
     */
    const fleetctl = async (args: string[], v: number, racing: boolean) => {
      const r = await cluster.fleetctl('host', args, { cwd: dirs[v]!.dir, via: 'm1' });
      const lost =
        /^Error starting units: (unable to find unit race-|googleapi: Error 404: unit does not exist|googleapi: Error 409: unit does not exist and options field empty)/;
      if (racing && r.code === 1 && lost.test(r.stderr)) {
        lostRaces++;
        return;
      }
      expect(r.code, `fleetctl ${args.join(' ')}: ${r.stderr}`).toBe(0);
    };
    const cycle = async (v: number, offsetMs: number, racing: boolean) => {
      await fleetctl(['destroy', ...names], v, racing);
      await sleep(offsetMs);
      await fleetctl(['start', '--no-block', ...names], v, racing);
    };
    let lostRaces = 0;
    try {
      await fleetctl(['start', ...names], 0, false);
      for (let round = 1; round <= 20; round++) {
        const offsetMs = [0, 50, 150, 400][round % 4]!;
        if (round % 2 === 0) {
          await cycle(round, offsetMs, false);
        } else {
          // Two clients racing: their own content each, the second a little behind.
          await Promise.all([
            cycle(round, 0, true),
            sleep(offsetMs).then(() => cycle(20 + round, 0, true)),
          ]);
        }
      }
      // A start that lost a race leaves its units as created (inactive): launch what is
      // stored, whatever its content (a differing local file only earns a warning).
      if (lostRaces > 0) await fleetctl(['start', '--no-block', ...names], 0, false);
    } finally {
      for (const d of dirs) d.remove();
    }

    // Converged: each unit's one state is active, from its placement, with its current hash.
    const units = await cluster.units();
    expect(units.map((u) => u.name).sort()).toEqual(names);
    const hashes = new Map(units.map((u) => [u.name, unitHash(u)]));
    const states = await waitFor(
      'one active state per unit, with its current content',
      () => cluster.unitStates(),
      (s) =>
        s.length === names.length &&
        s.every((x) => x.systemdActiveState === 'active' && x.hash === hashes.get(x.name)),
      { timeoutMs: cluster.patienceMs },
    );
    const placed = placement(states);
    // The API's units: unchanged content, launched where their states come from.
    expect(
      (await cluster.units()).map((u) => [
        u.name,
        unitHash(u),
        u.desiredState,
        u.currentState,
        u.machineID,
      ]),
    ).toEqual(names.map((n) => [n, hashes.get(n), 'launched', 'launched', placed[n]]));

    // etcd holds exactly these units, their bodies and their schedule; nothing stale.
    const keys = cluster.keys;
    const under = async (prefix: string) =>
      (await cluster.etcdctl(['get', '--prefix', '--keys-only', prefix])).stdout
        .split('\n')
        .filter((l) => l !== '')
        .sort();
    const names1 = (prefix: string, ks: string[]) =>
      ks.map((k) => RegistryKeys.nameUnder(prefix, k));
    expect(names1(keys.unitsPrefix, await under(keys.unitsPrefix))).toEqual(names);
    expect(await under(keys.globalUnitsPrefix)).toEqual([]);
    const placements = await cluster.etcdctl(['get', '--prefix', keys.placementsPrefix]);
    const lines = placements.stdout.split('\n').filter((l) => l !== '');
    const fromEtcd: Record<string, string> = {};
    for (let i = 0; i + 1 < lines.length; i += 2) {
      fromEtcd[RegistryKeys.nameUnder(keys.placementsPrefix, lines[i]!)!] = lines[i + 1]!;
    }
    expect(fromEtcd).toEqual(placed);
    const schedule = (await under(keys.allSchedulesPrefix)).map((k) =>
      RegistryKeys.pairUnder(keys.allSchedulesPrefix, k)?.join(' '),
    );
    expect(schedule.sort()).toEqual(names.map((n) => `${placed[n]} ${n}`).sort());
    const stateKeys = (await under(keys.statesPrefix)).map((k) =>
      RegistryKeys.pairUnder(keys.statesPrefix, k)?.join(' '),
    );
    expect(stateKeys.sort()).toEqual(names.map((n) => `${n} ${placed[n]}`).sort());

    // systemd on each machine runs exactly what list-units says, with the current content.
    const running = await expectEachActiveOnce(cluster, 'race-*', names);
    for (const m of cluster.live()) {
      const here = names.filter((n) => placed[n] === m.id);
      expect(await loadedUnits(cluster, m, 'race-*')).toEqual(here);
      expect((await cluster.unitFiles(m)).sort()).toEqual(here);
      for (const n of here) {
        expect(running.get(n)).toBe(m.name);
        const file = await cluster.execOk(m, ['cat', `/run/fleet/units/${n}`]);
        expect(UnitFile.parse(file.stdout).hash).toBe(hashes.get(n));
        const env = await cluster.unitProperty(m, n, 'Environment');
        expect(env).toBe(`ROUND=${hashOf.get(hashes.get(n)!)}`);
      }
    }
    const list = await cluster.fleetctl('host', [
      'list-units',
      '--no-legend',
      '--fields=unit,machine,active',
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n').sort()).toEqual(
      names.map((n) => `${n}\t${placed[n]!.slice(0, 8)}.../${cluster.byId(placed[n]!).ip}\tactive`),
    );
    // No body is left of the contents that are gone.
    expect(names1(keys.unitFilesPrefix, await under(keys.unitFilesPrefix))).toEqual(
      [...new Set(hashes.values())].sort(),
    );
  });

  it('fleetd killed with SIGKILL and started again leaves its units running: not restarted, not moved', async () => {
    const where = await steadyState('crash');
    const victim = cluster.byId(where['crash-0.service']!);
    const guard = await UndisturbedUnits.capture(cluster, 'crash-*');
    expect(guard.on(victim)).toHaveLength(3);
    const pid = await cluster.fleetdPid(victim);

    await cluster.signalFleet(victim, 'KILL');
    await waitFor(
      'fleetd dead',
      () => cluster.fleetdPid(victim),
      (p) => p !== pid,
      {
        timeoutMs: 10_000,
      },
    );
    // restart, not start: a start would wait out the crashed service's RestartSec.
    await cluster.restartFleet(victim);
    await cluster.waitForSelf(victim);
    expect(await cluster.fleetdPid(victim)).not.toBe(pid);

    await expectConverged('crash', where);
    // Past the old lease's expiry and an agent pass of the new fleetd: still untouched.
    await sleep(2 * cluster.agentTtlMs);
    await guard.verify();
    expect(placement(await cluster.unitStates())).toMatchObject(where);
  });

  it('a machine cut off etcd for longer than agent_ttl: its units move to the others, and back it stops its orphaned copies', async () => {
    const where = await steadyState('cut');
    const leaderId = await cluster.leaderMachineId();
    // A machine that is not the engine leader: its loss is noticed by a leader that stays.
    const victim = cluster.live().find((m) => m.id !== leaderId)!;
    const orphans = Object.keys(where).filter((n) => where[n] === victim.id);
    expect(orphans).toHaveLength(2);
    const others = cluster.live().filter((m) => m !== victim);
    const guard = await UndisturbedUnits.capture(cluster, 'cut-*');

    await cluster.cutEtcd(victim);
    try {
      const moved = await waitFor(
        `${orphans.join(', ')} active on the other machines`,
        () => cluster.unitStates(others[0]),
        (s) =>
          orphans.every((n) =>
            s.some(
              (x) => x.name === n && x.systemdActiveState === 'active' && x.machineID !== victim.id,
            ),
          ),
        { timeoutMs: cluster.patienceMs },
      );
      for (const n of orphans) {
        const to = cluster.byId(placement(moved.filter((x) => x.name === n))[n]!);
        expect(others).toContain(to);
        expect(await cluster.unitProperty(to, n, 'ActiveState')).toBe('active');
      }
      // Longer than agent_ttl: the machine is gone from the cluster.
      await cluster.waitForMachines(2, { via: others[0] });
    } finally {
      await cluster.restoreEtcd(victim);
    }

    await cluster.waitForMachines(3, { via: others[0] });
    // Back, it stops and unloads the copies it kept while it could not know.
    await waitFor(
      `${victim.name} runs none of its orphaned units`,
      async () => await loadedUnits(cluster, victim, 'cut-[0-9]*'),
      (loaded) => loaded.length === 0,
      { timeoutMs: cluster.patienceMs },
    );
    for (const [name, run] of await unitRuns(cluster, victim, orphans)) {
      expect(run.activeState, name).toBe('inactive');
    }
    expect(await cluster.unitFiles(victim)).toEqual(['cut-global.service']);
    const all = Object.keys(where);
    await waitFor(
      'each unit active once, the global one on each machine',
      () => activeEverywhere(cluster, 'cut-*'),
      (w) => all.every((n) => w.get(n)?.length === 1) && w.get('cut-global.service')?.length === 3,
      { timeoutMs: cluster.patienceMs },
    );
    const states = await cluster.waitForActiveUnits(all.length + 3);
    const after = placement(states.filter((s) => s.name !== 'cut-global.service'));
    for (const n of all) {
      if (orphans.includes(n)) expect(after[n]).not.toBe(victim.id);
      else expect(after[n]).toBe(where[n]);
    }
    // Units on the machines that kept etcd were never touched (they only gained the moved
    // ones), nor was the global unit on the machine that lost it.
    await guard.verify({ members: others, exact: false });
    await guard.verify({ members: [victim], units: ['cut-global.service'], exact: false });
  });

  it('leaves nothing behind after teardown, etcd members included', async () => {
    await teardown();
    expectNoLeftovers();
  });
});

/** A unit's content hash from the options the API reports (as fleetctl computes it). */
function unitHash(u: ApiUnit): string {
  return new UnitFile(u.options ?? []).hash;
}
