// fleetctl's unit actions as a user runs them (our bin/fleetctl on the host, against a member's
// socket, unit files under examples/), on a cluster of three real systemd machines: submit,
// load, start, stop, unload, destroy, restart, `--replace`, cat, status and list-unit-files.
// Ports fleet's unit_action_test.go (TestUnitSSHActions lives in ssh.test.ts). Counts are read
// from fleetctl's own tables as fleet's harness read them; where fleet only counted rows, the
// machines' systemd is asked as well.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, type RunResult, teardown } from '../../harness/index.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { machineIdOf, show, tableRows } from '../fleetctl-output.js';
import { expectNoLeftovers } from '../fleetd/units.js';
import { CWD, example } from './fixtures.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

type Command = 'submit' | 'load' | 'start';

/** How fleet's tests undid each command, one unit per call. */
const CLEAN = { submit: 'destroy', load: 'unload', start: 'stop', restart: 'stop' } as const;

/** `hello@1.service` … `hello@n.service`: instances of examples/hello@.service. */
function instances(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `hello@${i + 1}.service`);
}

/** A row of list-unit-files (`unit,dstate,state`) or list-units (`unit,active,machine`). */
type Row = readonly string[];

describe.skipIf(unavailable !== undefined)('fleetctl unit actions on three machines', () => {
  let cluster: Cluster;
  let dir: string | undefined;

  const fleetctl = (args: readonly string[]) => cluster.fleetctl('host', args, { cwd: CWD });

  /** fleetctl that must succeed without an error on stderr (fleet's launchUnitsCmd check). */
  async function ok(args: readonly string[]): Promise<RunResult> {
    const r = await fleetctl(args);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr, show(r)).not.toContain('Error');
    return r;
  }

  async function table(args: readonly string[]): Promise<Row[]> {
    const r = await fleetctl(args);
    if (r.code !== 0) throw new Error(show(r));
    return tableRows(r.stdout);
  }

  const unitFileRows = () =>
    table(['list-unit-files', '--no-legend', '--full', '--fields', 'unit,dstate,state']);
  const unitRows = () =>
    table(['list-units', '--no-legend', '--full', '--fields', 'unit,active,machine']);

  /** fleet's WaitForNUnitFiles / WaitForNUnits / WaitForNActiveUnits, through fleetctl. */
  const waitForNUnitFiles = (n: number) =>
    waitFor(`${n} unit file(s)`, unitFileRows, (rows) => rows.length === n, {
      timeoutMs: cluster.patienceMs,
    });
  const waitForNUnits = (n: number) =>
    waitFor(`${n} unit(s)`, unitRows, (rows) => rows.length === n, {
      timeoutMs: cluster.patienceMs,
    });
  const waitForNActiveUnits = async (n: number) =>
    (
      await waitFor(
        `${n} active unit(s)`,
        unitRows,
        (rows) => rows.filter((r) => r[1] === 'active').length === n,
        { timeoutMs: cluster.patienceMs },
      )
    ).filter((r) => r[1] === 'active');

  /** fleet's checkListUnits: exactly these units, counted the way `cmd` is checked. */
  async function checkListUnits(cmd: Command | 'restart', names: readonly string[]) {
    const rows =
      cmd === 'submit'
        ? await waitForNUnitFiles(names.length)
        : cmd === 'load'
          ? await waitForNUnits(names.length)
          : await waitForNActiveUnits(names.length);
    expect(rows.map((r) => r[0]).sort()).toEqual([...names].sort());
    return rows;
  }

  /** The unit as systemd on `machineId` has it. */
  async function systemd(machineId: string, unit: string) {
    const m = cluster.byId(machineId);
    const r = await cluster.execOk(m, [
      'systemctl',
      'show',
      '-p',
      'LoadState,ActiveState,SubState,InvocationID',
      unit,
    ]);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as { LoadState: string; ActiveState: string; SubState: string; InvocationID: string };
  }

  /** Every row's unit is loaded in its machine's systemd, active (running) or not. */
  async function expectInSystemd(rows: readonly Row[], active: boolean) {
    for (const [unit = '', state, machine = ''] of rows) {
      expect(state).toBe(active ? 'active' : 'inactive');
      const s = await systemd(machineIdOf(machine), unit);
      expect(s, `${unit} on ${machine}`).toMatchObject(
        active
          ? { LoadState: 'loaded', ActiveState: 'active', SubState: 'running' }
          : { LoadState: 'loaded', ActiveState: 'inactive', SubState: 'dead' },
      );
    }
  }

  /** No machine keeps a file of these units, and no systemd knows them any more. */
  async function expectGoneFromMachines(names: readonly string[]) {
    for (const m of cluster.live()) {
      await waitFor(
        `${names.join(' ')} gone from ${m.name}`,
        () => cluster.unitFiles(m),
        (files) => !files.some((f) => names.includes(f)),
        { timeoutMs: cluster.patienceMs },
      );
      for (const unit of names) {
        expect(await cluster.unitProperty(m, unit, 'LoadState'), `${unit} on ${m.name}`).toBe(
          'not-found',
        );
      }
    }
  }

  /** `<cmd> examples/hello@1.service … examples/hello@n.service` in one call, as fleet did. */
  async function launch(cmd: Command | 'restart', n: number): Promise<string[]> {
    const names = instances(n);
    await ok([cmd, ...names.map((u) => `examples/${u}`)]);
    return names;
  }

  async function clean(cmd: Command | 'restart', names: readonly string[]) {
    for (const unit of names) await ok([CLEAN[cmd], unit]);
  }

  async function tempDir(): Promise<string> {
    dir ??= await mkdtemp(join(tmpdir(), 'fleetctl-unit-actions-'));
    return dir;
  }

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'fleetctl-units', machines: 3 });
  });

  afterEach(async (ctx) => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
    if (cluster === undefined || cluster.network.record.destroyed) return;
    if (ctx.task.result?.state === 'fail') {
      console.log(await cluster.fleetJournalTails(60));
    }
    await cluster.destroyAllUnits();
  });

  afterAll(async () => {
    await teardown();
  });

  it('TestUnitRunnable: a started hello.service is the sole active unit', async () => {
    await ok(['start', 'examples/hello.service']);
    const active = await waitForNActiveUnits(1);
    expect(active.map((r) => r[0])).toEqual(['hello.service']);
    await expectInSystemd(active, true);
  });

  it('TestUnitSubmit: submit and destroy 9 units, twice', async () => {
    for (let round = 0; round < 2; round++) {
      const names = await launch('submit', 9);
      const rows = await checkListUnits('submit', names);
      // Submitted only: desired and current state inactive, nothing on any machine.
      for (const row of rows) expect(row.slice(1)).toEqual(['inactive', 'inactive']);
      expect(await unitRows()).toEqual([]);
      // Submitting the same units again is no error and changes nothing.
      await launch('submit', 9);
      await checkListUnits('submit', names);
      await clean('submit', names);
      await checkListUnits('submit', []);
      const cat = await fleetctl(['cat', names[0]!]);
      expect(cat.code, show(cat)).toBe(1);
      expect(cat.stderr).toContain(`Unit ${names[0]} not found`);
    }
  });

  it('TestUnitLoad: load and unload 6 units, twice', async () => {
    for (let round = 0; round < 2; round++) {
      const names = await launch('load', 6);
      const rows = await checkListUnits('load', names);
      await expectInSystemd(rows, false);
      await clean('load', names);
      await checkListUnits('load', []);
      await expectGoneFromMachines(names);
      // Unloaded, not destroyed.
      const files = await unitFileRows();
      expect(files.map((r) => r.join(' ')).sort()).toEqual(
        names.map((u) => `${u} inactive inactive`).sort(),
      );
    }
  });

  it('TestUnitStart: start and stop 3 units, twice; stopped units are inactive in systemd', async () => {
    for (let round = 0; round < 2; round++) {
      const names = await launch('start', 3);
      const active = await checkListUnits('start', names);
      await expectInSystemd(active, true);
      await clean('start', names);
      await checkListUnits('start', []);
      // Stopped, not unloaded: still listed, loaded and inactive where they ran.
      const rows = await waitForNUnits(3);
      await expectInSystemd(rows, false);
    }
  });

  const replaceCases = [
    { name: 'TestUnitSubmitReplace', cmd: 'submit', n: 9 },
    { name: 'TestUnitLoadReplace', cmd: 'load', n: 6 },
    { name: 'TestUnitStartReplace', cmd: 'start', n: 3 },
  ] as const;
  for (const { name, cmd, n } of replaceCases) {
    it(`${name}: ${cmd} --replace changes what cat shows and keeps ${n} units`, async () => {
      const names = await launch(cmd, n);
      await checkListUnits(cmd, names);

      // fleet's GenNewFleetService: hello.service with `sleep 2` for `sleep 1`, as hello@N.
      const replacement = example('hello.service').replace('sleep 1', 'sleep 2');
      expect(replacement).not.toBe(example('hello.service'));
      const serialized = UnitFile.parse(replacement).serialized;
      const hash = UnitFile.parse(replacement).hash;
      const tmp = await tempDir();
      const before = new Map<string, string>();
      for (const unit of names) {
        before.set(unit, (await ok(['cat', unit])).stdout);
        await writeFile(join(tmp, unit), replacement);
      }

      for (const unit of names) {
        await ok([cmd, '--replace', join(tmp, unit)]);
        await checkListUnits(cmd, names);
        const after = (await ok(['cat', unit])).stdout;
        expect(after).not.toBe(before.get(unit));
        expect(after).toBe(serialized);
      }

      const files = await table([
        'list-unit-files',
        '--no-legend',
        '--full',
        '--fields',
        'unit,hash,dstate',
      ]);
      const desired = cmd === 'submit' ? 'inactive' : cmd === 'load' ? 'loaded' : 'launched';
      expect(files.map((r) => r.join(' ')).sort()).toEqual(
        names.map((u) => `${u} ${hash} ${desired}`).sort(),
      );
      if (cmd !== 'submit') {
        // The machines run the new file: they report its hash, hold its text, and systemd has it.
        const states = await waitFor(
          `${n} unit states of the replaced file`,
          () => cluster.unitStates(),
          (ss) => ss.length === n && ss.every((s) => s.hash === hash),
          { timeoutMs: cluster.patienceMs },
        );
        for (const s of states) {
          const m = cluster.byId(s.machineID!);
          const text = await cluster.execOk(m, ['cat', `/run/fleet/units/${s.name}`]);
          expect(text.stdout).toBe(serialized);
          expect(await cluster.unitProperty(m, s.name, 'ExecStart')).toContain('sleep 2;');
        }
        await expectInSystemd(await waitForNUnits(n), cmd === 'start');
      }

      await clean(cmd, names);
      await checkListUnits(cmd, []);
    });
  }

  it('TestUnitRestart: restart stops and starts launched units, and starts stopped ones', async () => {
    const names = await launch('start', 3);
    const started = await checkListUnits('start', names);
    await expectInSystemd(started, true);
    const invocations = async (rows: readonly Row[]) =>
      new Map(
        await Promise.all(
          rows.map(
            async ([unit = '', , machine = '']) =>
              [unit, (await systemd(machineIdOf(machine), unit)).InvocationID] as const,
          ),
        ),
      );
    const first = await invocations(started);

    // Launched units: a new run of each (a restart that skipped the stop would keep the old one).
    await launch('restart', 3);
    const restarted = await checkListUnits('restart', names);
    await expectInSystemd(restarted, true);
    const second = await invocations(restarted);
    for (const unit of names) {
      expect(first.get(unit)).toMatch(/^[0-9a-f]{32}$/);
      expect(second.get(unit)).toMatch(/^[0-9a-f]{32}$/);
      expect(second.get(unit)).not.toBe(first.get(unit));
    }

    await clean('restart', names);
    await checkListUnits('restart', []);
    await expectInSystemd(await waitForNUnits(3), false);

    // Stopped (loaded) units: restart starts them.
    await launch('restart', 3);
    await expectInSystemd(await checkListUnits('restart', names), true);
    await clean('restart', names);
    await checkListUnits('restart', []);
  });

  it('TestUnitCat: cat prints the submitted unit file', async () => {
    const file = example('hello.service');
    await ok(['submit', 'examples/hello.service']);
    await waitForNUnitFiles(1);
    const cat = await ok(['cat', 'hello.service']);
    expect(cat.stdout.trim()).toBe(file.trim());
    // The fixture is already in canonical form, so cat gives it back byte for byte.
    expect(cat.stdout).toBe(file);
  });

  it('TestUnitStatus: status of a loaded unit shows "Loaded: loaded"', async () => {
    await ok(['load', 'examples/hello.service']);
    const [row] = await waitForNUnits(1);
    const machine = cluster.byId(machineIdOf(row![2]!));
    // fleetctl where the unit is: `systemctl status` runs locally (elsewhere it needs SSH,
    // which ssh.test.ts covers). A loaded unit that was never started is inactive, for which
    // systemctl status exits 3, and fleetctl passes that on.
    const status = await cluster.fleetctl(machine, ['status', 'hello.service']);
    expect(status.stdout, show(status)).toContain('Loaded: loaded');
    expect(status.stdout).toContain('Active: inactive (dead)');
    expect(status.code, show(status)).toBe(3);
  });

  it('TestListUnitFilesOrder: list-unit-files lists units sorted by name', async () => {
    const names = Array.from(
      { length: 20 },
      (_, i) => `hello@${String(i + 1).padStart(2, '0')}.service`,
    );
    // Submitted in reverse, so that the order shown is fleetctl's, not the submission's.
    await ok(['submit', ...[...names].reverse().map((u) => `examples/${u}`)]);
    await waitForNUnitFiles(20);
    const r = await ok(['list-unit-files', '--no-legend', '--fields', 'unit']);
    expect(r.stdout.trim().split('\n')).toEqual([...names].sort());
  });

  it('leaves nothing behind', async () => {
    await teardown();
    expectNoLeftovers();
  });
});
