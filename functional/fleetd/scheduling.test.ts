// fleet's scheduling and metadata functional tests (scheduling_test.go, metadata_test.go) on
// three real systemd machines running our fleetd. fleetctl runs as a user runs it, in a
// directory of unit files (fleet's fixtures), and the results are read from fleetctl
// list-units / list-unit-files and from systemd on the machines. Where fleet used a smaller
// cluster, the other machines are kept out of reach (MachineID) or made busier with pinned units,
// so that least-loaded placement alone would give a different answer than the rule under test.
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  type ClusterMachine,
  ensureFreshBuild,
  FLEET_TCP_PORT,
  processRunning,
  SshAgent,
  waitFor,
} from '../../cluster/index.js';
import {
  harnessUnavailable,
  type RunResult,
  randomMachineId,
  teardown,
} from '../../harness/index.js';
import { machineIdOf, show, tableRows } from '../fleetctl-output.js';
import {
  busy,
  CONFLICT_GLOBAL,
  CONFLICT_MULTIPLE,
  CONFLICTS_WITH_HELLO,
  GLOBAL,
  GOODBYE,
  METADATA_TEMPLATE,
  machineIdUnit,
  PING,
  pong,
  REPLACE_0_CIRCULAR,
  REPLACE_2,
  REPLACE_KICK0,
  REPLACE_PLAIN,
} from './scheduling-fixtures.js';
import { CONFLICT, expectNoLeftovers, HELLO, sleep, unitDir } from './units.js';

const unavailable =
  harnessUnavailable() ??
  (['/usr/sbin/sshd', '/usr/bin/ssh-keygen', '/usr/bin/ssh-agent'].every((p) => existsSync(p))
    ? undefined
    : 'openssh-server is not installed');
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

/** The cluster's engine_reconcile_interval, in seconds. */
const RECONCILE_INTERVAL_S = 0.5;
/** How long a check that something does NOT happen watches: this many engine passes. */
const QUIET_MS = 6 * RECONCILE_INTERVAL_S * 1000;
const NAMES = ['m1', 'm2', 'm3'] as const;

interface UnitRow {
  unit: string;
  active: string;
  /** Full machine ID, or `-`. */
  machine: string;
}

interface UnitFileRow {
  unit: string;
  dstate: string;
  state: string;
  /** Full machine ID, `global`, or `-`. */
  target: string;
}

/** unit name → machine ID, from list-units rows (each unit once). */
function placement(rows: readonly UnitRow[]): Record<string, string> {
  return Object.fromEntries(rows.map((r) => [r.unit, r.machine]));
}

describe.skipIf(unavailable !== undefined)('scheduling on three machines (fleetctl)', () => {
  let cluster: Cluster;
  let agent: SshAgent | undefined;
  let fixtures: { dir: string; remove: () => void } | undefined;
  const member = (name: string): ClusterMachine => cluster.machine(name);
  const members = (): ClusterMachine[] => NAMES.map(member);

  /** Our fleetctl on the host, against a member's API socket, in the fixtures directory. */
  function fleetctl(args: readonly string[], cwd?: string): Promise<RunResult> {
    return cluster.fleetctl('host', args, { cwd: cwd ?? fixtures!.dir });
  }

  async function fleetctlOk(args: readonly string[], cwd?: string): Promise<RunResult> {
    const r = await fleetctl(args, cwd);
    expect(r.code, `fleetctl ${args.join(' ')}\n${show(r)}`).toBe(0);
    return r;
  }

  async function listUnits(): Promise<UnitRow[]> {
    const r = await fleetctl([
      'list-units',
      '--no-legend',
      '--full',
      '--fields=unit,active,machine',
    ]);
    if (r.code !== 0) throw new Error(`fleetctl list-units: ${show(r)}`);
    return tableRows(r.stdout).map(([unit = '', active = '', machine]) => ({
      unit,
      active,
      machine: machineIdOf(machine),
    }));
  }

  async function listUnitFiles(): Promise<UnitFileRow[]> {
    const r = await fleetctl([
      'list-unit-files',
      '--no-legend',
      '--full',
      '--fields=unit,dstate,state,target',
    ]);
    if (r.code !== 0) throw new Error(`fleetctl list-unit-files: ${show(r)}`);
    return tableRows(r.stdout).map(([unit = '', dstate = '', state = '', target]) => ({
      unit,
      dstate,
      state,
      target: machineIdOf(target),
    }));
  }

  /** fleet's WaitForNActiveUnits: until exactly `n` rows of list-units are active (and `also`). */
  function waitForActive(
    n: number,
    also: (active: UnitRow[]) => boolean = () => true,
  ): Promise<UnitRow[]> {
    return waitFor(
      `${n} active unit(s) in fleetctl list-units`,
      async () => (await listUnits()).filter((r) => r.active === 'active'),
      (active) => active.length === n && also(active),
      { timeoutMs: cluster.patienceMs },
    );
  }

  /** Watches for QUIET_MS that `ok` keeps holding; fails at the first poll where it does not. */
  async function keepsHolding<T>(
    what: string,
    probe: () => Promise<T>,
    ok: (value: T) => boolean,
  ): Promise<T> {
    const until = Date.now() + QUIET_MS;
    for (;;) {
      const value = await probe();
      if (!ok(value)) throw new Error(`${what} stopped holding: ${JSON.stringify(value)}`);
      if (Date.now() >= until) return value;
      await sleep(250);
    }
  }

  const activeState = (m: ClusterMachine, unit: string) =>
    cluster.unitProperty(m, unit, 'ActiveState');

  /** Starts pinned units that only make machines busier: `{ m2: 1, m3: 2 }`. */
  async function makeBusy(
    counts: Partial<Record<(typeof NAMES)[number], number>>,
  ): Promise<number> {
    const names = Object.entries(counts).flatMap(([m, n]) =>
      Array.from({ length: n ?? 0 }, (_, k) => `busy.${m}.${k}.service`),
    );
    await fleetctlOk(['start', ...names]);
    return names.length;
  }

  beforeAll(async () => {
    await ensureFreshBuild();
    agent = await SshAgent.start();
    // Machine IDs in name order, so that ties in load go to m1, then m2 (the IDs break them);
    // each machine's `hostname` metadata is its ID, for metadata@<machine ID>.service.
    const ids = NAMES.map(() => randomMachineId()).sort();
    cluster = await Cluster.start({
      name: 'scheduling',
      machines: NAMES.map((name, i) => ({
        name,
        machineId: ids[i]!,
        metadata: { hostname: ids[i]! },
      })),
      engineReconcileInterval: String(RECONCILE_INTERVAL_S),
      ssh: true,
    });
    await authorizeRootKey(cluster, agent.publicKey);
    const pinned: Record<string, string> = {};
    for (const m of members()) {
      pinned[`machineid.${m.name}.service`] = machineIdUnit(m.id);
      for (const k of [0, 1]) pinned[`busy.${m.name}.${k}.service`] = busy(m.id);
    }
    fixtures = unitDir({
      'hello.service': HELLO,
      'goodbye.service': GOODBYE,
      ...Object.fromEntries(
        [0, 1, 2].flatMap((i) => [
          [`ping.${i}.service`, PING],
          [`pong.${i}.service`, pong(i)],
        ]),
      ),
      ...Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`conflict.${i}.service`, CONFLICT])),
      ...CONFLICT_MULTIPLE,
      'conflicts-with-hello.service': CONFLICTS_WITH_HELLO,
      'replace.0.service': REPLACE_PLAIN,
      'replace.1.service': REPLACE_PLAIN,
      'replace.2.service': REPLACE_2,
      'replace-kick0.service': REPLACE_KICK0,
      'global.service': GLOBAL,
      'conflict-global.0.service': CONFLICT_GLOBAL,
      'conflict-global.1.service': CONFLICT_GLOBAL,
      'metadata@.service': METADATA_TEMPLATE,
      ...pinned,
    });
  });

  afterEach(async (ctx) => {
    if (cluster === undefined) return;
    if (ctx.task.result?.state === 'fail') {
      console.log(await cluster.fleetJournalTails(60));
    }
    if (cluster.network.record.destroyed) return;
    // restart, not start: a start waits out the auto-restart delay of a crashed fleetd.
    for (const m of cluster.live()) if (!m.fleetRunning) await cluster.restartFleet(m);
    await cluster.waitForMachines(NAMES.length);
    await cluster.destroyAllUnits();
  });

  afterAll(async () => {
    await teardown();
    fixtures?.remove();
    const pid = agent?.pid;
    await agent?.stop();
    if (pid !== undefined) expect(processRunning(pid)).toBe(false);
  });

  it('TestScheduleMachineOf: each pong runs on its ping’s machine, and a pair moves together when fleet stops on its host', async () => {
    for (const i of [0, 1, 2]) {
      const r = await fleetctlOk(['start', '--no-block', `ping.${i}.service`, `pong.${i}.service`]);
      expect(r.stdout).toContain(`Triggered unit pong.${i}.service start`);
    }
    expect(await listUnitFiles()).toHaveLength(6);
    const before = placement(await waitForActive(6));
    for (const i of [0, 1, 2]) {
      const host = before[`ping.${i}.service`]!;
      expect(before[`pong.${i}.service`]).toBe(host);
      expect(await activeState(cluster.byId(host), `pong.${i}.service`)).toBe('active');
    }

    const old = cluster.byId(before['ping.1.service']!);
    await cluster.stopFleet(old);
    await cluster.waitForMachines(2);
    const after = placement(
      await waitForActive(6, (rows) => placement(rows)['ping.1.service'] !== old.id),
    );
    const moved = cluster.byId(after['ping.1.service']!);
    expect(moved).not.toBe(old);
    expect(after['pong.1.service']).toBe(moved.id);
    expect(await activeState(moved, 'ping.1.service')).toBe('active');
    expect(await activeState(moved, 'pong.1.service')).toBe('active');
    // fleet's graceful stop purged the old host; the other pairs stayed where they were.
    expect(await activeState(old, 'ping.1.service')).toBe('inactive');
    expect(await activeState(old, 'pong.1.service')).toBe('inactive');
    expect(await cluster.unitFiles(old)).toEqual([]);
    for (const name of ['ping.0.service', 'pong.0.service', 'ping.2.service', 'pong.2.service']) {
      expect(after[name]).toBe(before[name]);
    }
  });

  it('TestScheduleConflicts: of 5 mutually conflicting units, exactly 3 run, one per machine', async () => {
    for (const i of [0, 1, 2, 3, 4])
      await fleetctlOk(['start', '--no-block', `conflict.${i}.service`]);
    expect(await listUnitFiles()).toHaveLength(5);
    const active = await waitForActive(3);
    expect(new Set(active.map((r) => r.machine))).toEqual(new Set(members().map((m) => m.id)));

    // The other two stay unscheduled: no machine can take them.
    const files = await keepsHolding(
      'two conflict units unscheduled',
      listUnitFiles,
      (rows) => rows.filter((r) => r.target === '-' && r.state === 'inactive').length === 2,
    );
    expect(files.every((r) => r.dstate === 'launched')).toBe(true);
    for (const m of members()) {
      const here = await cluster.unitFiles(m);
      expect(here, m.name).toHaveLength(1);
      expect(await activeState(m, here[0]!)).toBe('active');
    }
  });

  it('TestScheduleOneWayConflict: a unit blocked only by the other side’s Conflicts waits until that unit is destroyed', async () => {
    await fleetctlOk(['start', '--no-block', 'conflicts-with-hello.service']);
    const [blocker] = await waitForActive(1);
    const host = cluster.byId(blocker!.machine);
    // fleet ran this on one machine: hello may only run on the blocker's.
    const own = unitDir({ 'hello.service': `${HELLO}\n[X-Fleet]\nMachineID=${host.id}\n` });
    try {
      await fleetctlOk(['start', '--no-block', 'hello.service'], own.dir);
    } finally {
      own.remove();
    }
    expect(await listUnitFiles()).toHaveLength(2);
    await keepsHolding(
      'only conflicts-with-hello.service active, hello.service unscheduled',
      async () => [await listUnits(), await listUnitFiles()] as const,
      ([units, files]) =>
        units.length === 1 &&
        units[0]?.unit === 'conflicts-with-hello.service' &&
        units[0].active === 'active' &&
        files.some((f) => f.unit === 'hello.service' && f.target === '-' && f.state === 'inactive'),
    );
    expect(await activeState(host, 'hello.service')).toBe('inactive');

    const destroy = await fleetctlOk(['destroy', 'conflicts-with-hello.service']);
    expect(destroy.stdout).toBe('Destroyed conflicts-with-hello.service\n');
    const [hello] = await waitFor(
      'hello.service the only unit in list-units, active',
      listUnits,
      (rows) =>
        rows.length === 1 && rows[0]?.unit === 'hello.service' && rows[0].active === 'active',
      { timeoutMs: cluster.patienceMs },
    );
    expect(hello?.machine).toBe(host.id);
    expect(await activeState(host, 'hello.service')).toBe('active');
    expect(await activeState(host, 'conflicts-with-hello.service')).toBe('inactive');
  });

  it('TestScheduleMultipleConflicts: 3 units listing each other in Conflicts (one line, repeated lines) run on 3 machines', async () => {
    // m2 and m3 busier: without the conflicts, least-loaded placement would stack them on m1
    // and m2; with them the third can only go to the busiest machine.
    const busyUnits = await makeBusy({ m2: 1, m3: 2 });
    const names = Object.keys(CONFLICT_MULTIPLE);
    for (const name of names) await fleetctlOk(['start', '--no-block', name]);
    expect(await listUnitFiles()).toHaveLength(busyUnits + 3);
    const active = (await waitForActive(busyUnits + 3)).filter((r) => names.includes(r.unit));
    expect(active).toHaveLength(3);
    expect(new Set(active.map((r) => r.machine)).size).toBe(3);
    for (const r of active)
      expect(await activeState(cluster.byId(r.machine), r.unit)).toBe('active');
  });

  it('TestScheduleReplace: the replacing unit lands on its victim’s machine and the victim moves away', async () => {
    // m3 busier: the cluster places units as fleet's two machines did.
    const busyUnits = await makeBusy({ m3: 2 });
    await fleetctlOk(['start', '--no-block', 'replace.0.service']);
    const first = placement(await waitForActive(busyUnits + 1));
    const oldHost = first['replace.0.service']!;
    await fleetctlOk(['start', '--no-block', 'replace.1.service']);
    await fleetctlOk(['start', '--no-block', 'replace.2.service']);
    const three = placement(await waitForActive(busyUnits + 3));
    expect(three['replace.1.service']).not.toBe(oldHost);
    expect(three['replace.2.service']).toBe(three['replace.1.service']);

    await fleetctlOk(['start', '--no-block', 'replace-kick0.service']);
    expect(await listUnitFiles()).toHaveLength(busyUnits + 4);
    const settled = (rows: readonly UnitRow[]) => {
      const p = placement(rows);
      return p['replace-kick0.service'] === oldHost && p['replace.0.service'] !== oldHost;
    };
    const after = placement(await waitForActive(busyUnits + 4, settled));
    const moved = cluster.byId(after['replace.0.service']!);
    expect(await activeState(moved, 'replace.0.service')).toBe('active');
    expect(await activeState(cluster.byId(oldHost), 'replace-kick0.service')).toBe('active');
    expect(await activeState(cluster.byId(oldHost), 'replace.0.service')).toBe('inactive');
    // The replacer stays: nothing moves back.
    await keepsHolding(
      'kick0 on the old host, replace.0 elsewhere',
      listUnits,
      (rows) => rows.filter((r) => r.active === 'active').length === busyUnits + 4 && settled(rows),
    );
  });

  it('TestScheduleCircularReplace: two units replacing each other are unrelated: both run where placement puts them and neither is pushed away', async () => {
    // Our rule (src/placement/rules.ts replacesOneWay): a replace relation counts only when
    // exactly one side declares it, or each unit would keep pushing the other away. m2 and m3
    // busier, so normal placement puts both units on m1, next to each other.
    const m1 = member('m1');
    const busyUnits = await makeBusy({ m2: 2, m3: 2 });
    const circular = unitDir({ 'replace.0.service': REPLACE_0_CIRCULAR });
    const cursors = new Map(
      await Promise.all(members().map(async (m) => [m, await cluster.journalCursor(m)] as const)),
    );
    try {
      await fleetctlOk(['start', '--no-block', 'replace.0.service'], circular.dir);
    } finally {
      circular.remove();
    }
    expect(placement(await waitForActive(busyUnits + 1))['replace.0.service']).toBe(m1.id);
    await fleetctlOk(['start', '--no-block', 'replace-kick0.service']);
    expect(await listUnitFiles()).toHaveLength(busyUnits + 2);

    const bothOnM1 = (rows: readonly UnitRow[]) => {
      const p = placement(rows.filter((r) => r.active === 'active'));
      return p['replace.0.service'] === m1.id && p['replace-kick0.service'] === m1.id;
    };
    await waitForActive(busyUnits + 2, bothOnM1);
    await keepsHolding('both replacing units active on m1', listUnits, bothOnM1);
    const files = await listUnitFiles();
    for (const unit of ['replace.0.service', 'replace-kick0.service']) {
      expect(files.find((f) => f.unit === unit)).toEqual({
        unit,
        dstate: 'launched',
        state: 'launched',
        target: m1.id,
      });
      expect(await activeState(m1, unit)).toBe('active');
    }
    // Each was scheduled once and never unscheduled (whichever machine led the engine).
    const journals = (
      await Promise.all(
        members().map((m) =>
          cluster.journal(m, { unit: 'fleet.service', afterCursor: cursors.get(m)! }),
        ),
      )
    ).join('');
    expect(journals.match(/Scheduled Unit\(replace[^)]*\)/g)?.sort()).toEqual([
      'Scheduled Unit(replace-kick0.service)',
      'Scheduled Unit(replace.0.service)',
    ]);
    expect(journals).not.toContain('Unscheduled Job(replace');
  });

  it('TestScheduleConditionMachineID: units with MachineID=<machine> run on that machine', async () => {
    // In reverse order: least-loaded placement alone would put the first one on m1.
    for (const m of [...members()].reverse()) {
      const r = await fleetctlOk(['start', `machineid.${m.name}.service`]);
      expect(r.stdout).toContain(
        `Unit machineid.${m.name}.service launched on ${m.id.slice(0, 8)}.../${m.ip}`,
      );
    }
    const active = placement(await waitForActive(3));
    for (const m of members()) {
      expect(active[`machineid.${m.name}.service`]).toBe(m.id);
      expect(await cluster.unitFiles(m)).toEqual([`machineid.${m.name}.service`]);
      expect(await activeState(m, `machineid.${m.name}.service`)).toBe('active');
    }
  });

  it('TestScheduleGlobalUnits: a global unit runs on every machine, through status --no-block and restart', async () => {
    await fleetctlOk(['start', '--no-block', 'hello.service', 'goodbye.service']);
    await waitForActive(2);
    const start = await fleetctlOk(['start', '--no-block', 'global.service']);
    expect(start.stdout).toContain('Triggered global unit global.service start');
    const ids = members()
      .map((m) => m.id)
      .sort();
    const globalRows = (rows: readonly UnitRow[]) =>
      rows
        .filter((r) => r.unit === 'global.service')
        .map((r) => r.machine)
        .sort();
    await waitForActive(5, (rows) => globalRows(rows).join() === ids.join());
    const pids = async () =>
      Promise.all(
        members().map(async (m) => {
          expect(await activeState(m, 'global.service'), m.name).toBe('active');
          return cluster.unitProperty(m, 'global.service', 'MainPID');
        }),
      );
    const running = await pids();

    // An unknown flag for status: fleetctl prints the usage and exits 0, as fleet's did.
    const status = await fleetctl(['status', '--no-block', 'global.service']);
    expect(status.code, show(status)).toBe(0);
    expect(status.stdout).toMatch(/^NAME:\n\tstatus - /);
    expect(status.stderr).toBe(
      'Error: unknown flag: --no-block\n\ncannot execute cmdFleet: unknown flag: --no-block\n',
    );
    expect(await pids()).toEqual(running);

    // Our restart of a global unit runs `systemctl restart` on every machine reporting it, over
    // SSH from outside the machines (as root: `core` may not restart system units).
    const restart = await cluster.fleetctlInNetwork(
      [
        `--endpoint=http://${member('m1').ip}:${FLEET_TCP_PORT}`,
        '--ssh-username=root',
        '--strict-host-key-checking=false',
        'restart',
        'global.service',
      ],
      { env: agent!.env, cwd: fixtures!.dir },
    );
    expect(restart.code, show(restart)).toBe(0);
    expect(restart.stderr).toBe('');
    const restarted = await pids();
    for (const [i, pid] of restarted.entries()) expect(pid, NAMES[i]).not.toBe(running[i]);
    const after = await waitForActive(5);
    expect(globalRows(after)).toEqual(ids);
  });

  it('TestScheduleGlobalConflicts: of two conflicting global units, only the first by name runs, on every machine', async () => {
    await fleetctlOk(['start', '--no-block', 'conflict-global.0.service']);
    await waitForActive(3, (rows) => rows.every((r) => r.unit === 'conflict-global.0.service'));
    await fleetctlOk(['start', '--no-block', 'conflict-global.1.service']);
    expect(await listUnitFiles()).toHaveLength(2);

    const rows = await keepsHolding(
      'conflict-global.0 alone on the three machines',
      listUnits,
      (rows) =>
        rows.length === 3 &&
        rows.every((r) => r.unit === 'conflict-global.0.service' && r.active === 'active'),
    );
    expect(new Set(rows.map((r) => r.machine))).toEqual(new Set(members().map((m) => m.id)));
    for (const m of members()) {
      expect(await cluster.unitFiles(m)).toEqual(['conflict-global.0.service']);
      expect(await activeState(m, 'conflict-global.1.service')).toBe('inactive');
    }
  });

  it('TestTemplatesWithSpecifiersInMetadata: metadata@<hostname> instances run where hostname metadata matches; metadata@invalid never starts', async () => {
    const submit = await fleetctlOk(['submit', 'metadata@.service']);
    expect(submit.stdout).toBe('Unit metadata@.service inactive\n');
    // No machine has hostname=invalid: this start waits out its 20 attempts (about 40 s), so it
    // runs alongside the others, which it must not disturb.
    const invalid = fleetctl(['start', '--block-attempts=20', 'metadata@invalid.service']);
    // In reverse order: least-loaded placement alone would put the first one on m1.
    for (const m of [...members()].reverse()) {
      const r = await fleetctlOk(['start', `metadata@${m.id}.service`]);
      expect(r.stdout).toContain(
        `Unit metadata@${m.id}.service launched on ${m.id.slice(0, 8)}.../${m.ip}`,
      );
    }
    const active = await waitForActive(3);
    for (const row of active) expect(row.unit).toBe(`metadata@${row.machine}.service`);
    for (const m of members())
      expect(await activeState(m, `metadata@${m.id}.service`)).toBe('active');

    // It fails with the messages and exit status of fleet's fleetctl (the fleetctl transcript,
    // step start-unschedulable), and stays unscheduled.
    const failed = await invalid;
    expect(failed.code, show(failed)).toBe(1);
    expect(failed.stdout).toBe('Unit metadata@invalid.service inactive\n');
    const timedOut = 'timed out waiting for unit metadata@invalid.service to report state launched';
    expect(failed.stderr).toBe(
      `Error waiting for units: ${timedOut}\nError waiting for unit states, exit status: ${timedOut}\n`,
    );
    expect((await listUnitFiles()).find((f) => f.unit === 'metadata@invalid.service')).toEqual({
      unit: 'metadata@invalid.service',
      dstate: 'launched',
      state: 'inactive',
      target: '-',
    });
    expect(await listUnits()).toHaveLength(3);
  });

  it('leaves nothing behind after teardown', async () => {
    await teardown();
    expectNoLeftovers();
  });
});

/**
 * Lets the agent's key log in as root on every machine (the cluster's `ssh` option authorises
 * keys for `core` only): fleetctl's `--ssh-username=root`, for `systemctl restart` of system units.
 */
async function authorizeRootKey(cluster: Cluster, publicKey: string): Promise<void> {
  await Promise.all(
    cluster
      .live()
      .map((m) =>
        cluster.execOk(
          m,
          [
            '/bin/sh',
            '-euc',
            'install -d -m 0700 /root/.ssh; cat >/root/.ssh/authorized_keys; chmod 0600 /root/.ssh/authorized_keys',
          ],
          { input: `${publicKey}\n` },
        ),
      ),
  );
}
