// The real UnitManager against a real systemd: one harness machine, the manager running
// inside it (unit-manager-probe.mjs) so that its paths and system bus are the machine's own.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootMachine,
  createNetwork,
  exec,
  execOk,
  harnessUnavailable,
  isClean,
  isMachineAlive,
  leftovers,
  type Machine,
  teardown,
} from '../../harness/index.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { ensureFreshBuild } from './fresh-build.js';
import { ProbeError, UnitManagerProbe } from './probe-client.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const UNITS_DIR = '/run/fleet/units';
const LOADED = { loadState: 'loaded', activeState: 'inactive', subState: 'dead' };
const RUNNING = { loadState: 'loaded', activeState: 'active', subState: 'running' };
const GONE = { loadState: 'not-found', activeState: 'inactive', subState: 'dead' };

function sleeper(description: string, extra = ''): UnitFile {
  return UnitFile.parse(
    `[Unit]\nDescription=${description}\n\n[Service]\nExecStart=/bin/sleep 3000\n${extra}`,
  );
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean) {
  const deadline = Date.now() + 10_000;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

/** Freezes or thaws the machine's systemd (its PID 1), leaving the rest of it running. */
function signalSystemd(m: Machine, signal: 'SIGSTOP' | 'SIGCONT'): void {
  if (isMachineAlive(m)) process.kill(m.pid, signal);
}

describe.skipIf(unavailable !== undefined)('systemd UnitManager in a real machine', () => {
  let m: Machine;
  let um: UnitManagerProbe;

  beforeAll(async () => {
    await ensureFreshBuild();
    const net = await createNetwork();
    m = await bootMachine({ name: 'um', network: net });
    um = await UnitManagerProbe.start(m, { unitsDirectory: UNITS_DIR, callTimeoutMs: 10_000 });
  });

  afterAll(async () => {
    if (m !== undefined) signalSystemd(m, 'SIGCONT');
    await um?.close().catch(() => undefined);
    await teardown();
  });

  it('loads, starts, stops and unloads a unit (TestSystemdUnitFlow)', async () => {
    expect(await um.listUnitFiles()).toEqual({});

    const unit = UnitFile.parse('[Service]\nExecStart=/usr/bin/sleep 3000\n');
    const name = `fleet-unit-${Math.floor(Math.random() * 2 ** 48)}.service`;
    await um.load(name, unit.serialized);
    await um.reload();
    expect(await um.listUnitFiles()).toEqual({ [name]: unit.hash });
    const stateOf = () => um.states([name]).then((s) => s[name]);
    await until(`${name} loaded`, stateOf, (s) => equal(s, LOADED));

    await um.start(name);
    await until(`${name} running`, stateOf, (s) => equal(s, RUNNING));

    await um.stop(name);
    await until(`${name} stopped`, stateOf, (s) => equal(s, LOADED));

    await um.unload(name);
    await um.reload();
    expect(await um.listUnitFiles()).toEqual({});
    await until(`${name} gone`, stateOf, (s) => equal(s, GONE));

    const size = Buffer.byteLength(unit.serialized);
    const messages = um.messages().map((msg) => msg.replace(/ job=\d+$/, ' job=<id>'));
    expect(messages).toEqual(
      expect.arrayContaining([
        `Writing systemd unit ${name} (${size}b)`,
        'Instructing systemd to reload units',
        `Triggered systemd unit ${name} start: job=<id>`,
        `Triggered systemd unit ${name} stop: job=<id>`,
        `Removing systemd unit ${name}`,
      ]),
    );
  });

  it('writes the canonical text 0640 and links it at runtime from the units directory', async () => {
    const unit = sleeper('linked');
    await um.load('linked.service', unit.serialized);
    await um.reload();
    const file = await execOk(m, ['stat', '-c', '%a', `${UNITS_DIR}/linked.service`]);
    expect(file.stdout.trim()).toBe('640');
    const content = await execOk(m, ['cat', `${UNITS_DIR}/linked.service`]);
    expect(createHash('sha1').update(content.stdout).digest('hex')).toBe(unit.hash);
    // systemd 252 shows the link's own path; the link points into the units directory.
    const status = await exec(m, ['systemctl', 'status', '--no-pager', 'linked.service']);
    expect(status.stdout).toContain(
      'Loaded: loaded (/run/systemd/system/linked.service; linked-runtime;',
    );
    const target = await execOk(m, ['readlink', '/run/systemd/system/linked.service']);
    expect(target.stdout.trim()).toBe(`${UNITS_DIR}/linked.service`);
    await um.unload('linked.service');
    await um.reload();
    const link = await exec(m, ['test', '-e', '/run/systemd/system/linked.service']);
    expect(link.code).not.toBe(0);
  });

  it('enables a unit with [Install]: systemd starts it with the unit that wants it (TestInstallUnit)', async () => {
    const discovery = sleeper('discovery', '\n[Install]\nWantedBy=hello.service\n');
    await um.load('hello.service', sleeper('hello').serialized);
    await um.load('discovery.service', discovery.serialized);
    await um.reload();
    expect(um.messages()).toContain('Enabling systemd unit discovery.service');
    expect(um.messages()).not.toContain('Enabling systemd unit hello.service');
    const enabled = await exec(m, ['systemctl', 'is-enabled', 'discovery.service']);
    expect(enabled.stdout.trim()).toBe('enabled-runtime');
    const before = await um.states(['discovery.service']);
    expect(before['discovery.service']).toEqual(LOADED);

    await um.start('hello.service');
    await until(
      'discovery started by hello',
      () => um.states(['discovery.service']),
      (s) => equal(s['discovery.service'], RUNNING),
    );

    await um.unload('discovery.service');
    await um.unload('hello.service');
    await um.reload();
    await until(
      'both gone',
      () => um.states(['hello.service', 'discovery.service']),
      (s) => equal(s['hello.service'], GONE) && equal(s['discovery.service'], GONE),
    );
    const wants = await exec(m, ['ls', '/run/systemd/system/hello.service.wants']);
    expect(wants.code).not.toBe(0);
  });

  it('removes the file and fails the load when systemd refuses to enable the unit', async () => {
    const bad = sleeper('bad', '\n[Install]\nWantedBy=foo\n');
    const err = await um.load('bad.service', bad.serialized).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'Failed to enable systemd unit bad.service: "foo" is not a valid unit name.',
    );
    expect(await um.listUnitFiles()).toEqual({});
    const link = await exec(m, ['test', '-L', '/run/systemd/system/bad.service']);
    expect(link.code).not.toBe(0);
  });

  it('loads, starts and unloads 50 units in parallel batches with one reload each', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `batch${i}.service`);
    const reloadsBefore = count(um.messages(), 'Instructing systemd to reload units');
    await Promise.all(names.map((name) => um.load(name, sleeper(name).serialized)));
    await um.reload();
    expect(Object.keys(await um.listUnitFiles()).sort()).toEqual([...names].sort());

    await Promise.all(names.map((name) => um.start(name)));
    await until(
      '50 running',
      () => um.states(names),
      (s) => names.every((name) => equal(s[name], RUNNING)),
    );

    await Promise.all(names.map((name) => um.unload(name)));
    await um.reload();
    expect(count(um.messages(), 'Instructing systemd to reload units') - reloadsBefore).toBe(2);
    expect(await um.listUnitFiles()).toEqual({});
    await until(
      '50 gone',
      () => um.states(names),
      (s) => names.every((name) => equal(s[name], GONE)),
    );
    expect(um.logs.filter((line) => line.level >= 40)).toEqual([]);
    expect(JSON.stringify(um.logs)).not.toContain('not loaded');
  });

  it('asks systemd for the states of 50 units in one ListUnitsByNames call', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `query${i}.service`);
    const monitor = exec(
      m,
      [
        'timeout',
        '2',
        'dbus-monitor',
        '--system',
        "type='method_call',interface='org.freedesktop.systemd1.Manager'",
      ],
      { timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 700)); // dbus-monitor attaches
    const states = await um.states(names);
    const seen = (await monitor).stdout;
    expect(Object.keys(states)).toHaveLength(50);
    expect(states['query7.service']).toEqual(GONE);
    expect(seen.match(/member=ListUnitsByNames/g)).toHaveLength(1);
    expect(seen.match(/string "query\d+\.service"/g)).toHaveLength(50);
  });

  it('links 50 units loaded at once in a few LinkUnitFiles calls, every one linked', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `linked${i}.service`);
    const monitor = exec(
      m,
      [
        'timeout',
        '2',
        'dbus-monitor',
        '--system',
        "type='method_call',interface='org.freedesktop.systemd1.Manager',member='LinkUnitFiles'",
      ],
      { timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 700)); // dbus-monitor attaches
    await Promise.all(names.map((name) => um.load(name, sleeper(name).serialized)));
    const seen = (await monitor).stdout;
    const calls = seen.match(/member=LinkUnitFiles/g) ?? [];
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThan(names.length / 5);
    for (const name of names) {
      const link = await execOk(m, ['readlink', `/run/systemd/system/${name}`]);
      expect(link.stdout.trim()).toBe(`${UNITS_DIR}/${name}`);
    }
    await Promise.all(names.map((name) => um.unload(name)));
    await um.reload();
  });

  it("keeps three match rules on the bus however many units it handles: two for changes, one for systemd's name", async () => {
    const rules = await execOk(m, [
      'busctl',
      '--system',
      '--json=short',
      'call',
      'org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus.Debug.Stats',
      'GetAllMatchRules',
    ]);
    const byConnection = (JSON.parse(rules.stdout) as { data: [Record<string, string[]>] }).data[0];
    const ours = Object.values(byConnection).filter((list) =>
      list.some((rule) => rule.includes("member='Reloading'")),
    );
    expect(ours).toHaveLength(1);
    expect(ours[0]).toHaveLength(3);
    expect(ours[0]!.filter((rule) => rule.includes("member='NameOwnerChanged'"))).toEqual([
      // The bus daemon lists a rule's parts in an order of its own.
      "type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged',path='/org/freedesktop/DBus',sender='org.freedesktop.DBus',arg0='org.freedesktop.systemd1'",
    ]);
  });

  it('calls onChange listeners after a start', async () => {
    await um.load('watched.service', sleeper('watched').serialized);
    await um.reload();
    const before = um.changes;
    await um.start('watched.service');
    await until(
      'a change',
      async () => um.changes,
      (n) => n > before,
    );
    await um.unload('watched.service');
    await um.reload();
  });

  it('calls onChange listeners when a service dies by itself, with no job', async () => {
    await um.load('crashy.service', sleeper('crashy').serialized);
    await um.reload();
    await um.start('crashy.service');
    await until(
      'crashy running',
      () => um.states(['crashy.service']),
      (s) => equal(s['crashy.service'], RUNNING),
    );
    const before = um.changes;
    await execOk(m, ['systemctl', 'kill', '--signal=KILL', 'crashy.service']);
    await until(
      'a change',
      async () => um.changes,
      (n) => n > before,
    );
    const after = await um.states(['crashy.service']);
    expect(after['crashy.service']).toEqual({
      loadState: 'loaded',
      activeState: 'failed',
      subState: 'failed',
    });
    await um.unload('crashy.service');
    await um.reload();
  });

  it('does not wake onChange listeners by querying states', async () => {
    // systemd loads and drops an inactive unit to answer each query (UnitNew, UnitRemoved).
    await um.load('idle.service', sleeper('idle').serialized);
    await um.reload();
    await new Promise((r) => setTimeout(r, 500));
    const before = um.changes;
    for (let i = 0; i < 5; i++) {
      await um.states(['idle.service', 'unknown.service']);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(um.changes).toBe(before);
    await um.unload('idle.service');
    await um.reload();
  });

  it('unloads and stops units systemd does not know without error', async () => {
    await um.unload('never-loaded.service');
    await um.stop('never-loaded.service');
    await um.load('never-started.service', sleeper('never started').serialized);
    await um.reload();
    await um.unload('never-started.service');
    await um.reload();
    expect(await um.listUnitFiles()).toEqual({});
  });

  it("fails to start a unit systemd does not know, with systemd's message", async () => {
    const err = await um.start('ghost.service').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as ProbeError).errorName).toBe('SystemdError');
    expect((err as Error).message).toBe('Unit ghost.service not found.');
  });

  it('starts newly loaded units without a daemon-reload, also names systemd knew as not-found', async () => {
    const fresh = 'no-reload-fresh.service';
    // Names systemd looked up before they were linked: asked about, failed to start, and
    // one kept in memory as not-found because a loaded unit wants it.
    const asked = 'no-reload-asked.service';
    const started = 'no-reload-started.service';
    const referenced = 'no-reload-referenced.service';
    const holder = 'no-reload-holder.service';
    await um.load(
      holder,
      sleeper('holder', '').serialized.replace('[Unit]\n', `[Unit]\nWants=${referenced}\n`),
    );
    await um.reload();
    // Running, the holder keeps what it wants in memory (an idle unit is garbage-collected).
    await um.start(holder);
    await until(
      `${holder} running`,
      () => um.states([holder]).then((s) => s[holder]),
      (s) => equal(s, RUNNING),
    );
    expect((await execOk(m, ['systemctl', 'show', '-p', 'LoadState', referenced])).stdout).toBe(
      'LoadState=not-found\n',
    );
    expect((await exec(m, ['systemctl', 'status', '--no-pager', asked])).code).toBe(4);
    expect(await um.start(started).catch((e: Error) => e.message)).toBe(
      `Unit ${started} not found.`,
    );
    // Unloaded, then loaded again under the same name with the same content.
    const again = 'no-reload-again.service';
    await um.load(again, sleeper(again).serialized);
    await um.start(again);
    await until(
      `${again} running`,
      () => um.states([again]).then((s) => s[again]),
      (s) => equal(s, RUNNING),
    );
    await um.unload(again);
    const reloadsBetween = count(um.messages(), 'Instructing systemd to reload units');

    const names = [fresh, asked, started, referenced, again];
    for (const name of names) await um.load(name, sleeper(name).serialized);
    const loaded = await um.states(names);
    expect(names.filter((name) => !equal(loaded[name], LOADED))).toEqual([]);
    for (const name of names) await um.start(name);
    await until(
      'every unit running',
      () => um.states(names),
      (states) => names.every((name) => equal(states[name], RUNNING)),
    );
    for (const name of names) {
      expect(
        (
          await execOk(m, [
            'systemctl',
            'show',
            '-p',
            'NeedDaemonReload',
            '-p',
            'Description',
            name,
          ])
        ).stdout,
      ).toBe(`Description=${name}\nNeedDaemonReload=no\n`);
    }
    expect(count(um.messages(), 'Instructing systemd to reload units') - reloadsBetween).toBe(0);
    for (const name of [...names, holder]) await um.unload(name);
    await um.reload();
  });

  it('keeps the old content of a replaced unit that stays referenced until a daemon-reload', async () => {
    const name = 'replaced.service';
    const holder = 'replaced-holder.service';
    const shown = async () =>
      (await execOk(m, ['systemctl', 'show', '-p', 'NeedDaemonReload', '-p', 'Description', name]))
        .stdout;
    await um.load(
      holder,
      sleeper('holder').serialized.replace('[Unit]\n', `[Unit]\nWants=${name}\n`),
    );
    await um.load(name, sleeper('first').serialized);
    await um.reload();
    // Running, the holder keeps the unit in memory once it is unloaded.
    await um.start(holder);
    await until(
      'both running',
      () => um.states([name, holder]),
      (states) => equal(states[name], RUNNING) && equal(states[holder], RUNNING),
    );
    await um.unload(name);
    await um.load(name, sleeper('second').serialized);
    expect(await shown()).toBe('Description=first\nNeedDaemonReload=yes\n');
    await um.reload();
    expect(await shown()).toBe('Description=second\nNeedDaemonReload=no\n');
    for (const unit of [name, holder]) await um.unload(unit);
    await um.reload();
  });

  it('stays under the bus limit of 128 pending replies with 200 calls at once', async () => {
    signalSystemd(m, 'SIGSTOP');
    let calls: Promise<unknown>[];
    try {
      calls = Array.from({ length: 200 }, (_, i) => um.states([`many${i}.service`]));
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      signalSystemd(m, 'SIGCONT');
    }
    const answers = await Promise.all(calls);
    expect(answers).toHaveLength(200);
  });

  it('gives a timeout error naming the call when systemd is frozen, and recovers', async () => {
    const quick = await UnitManagerProbe.start(m, {
      unitsDirectory: UNITS_DIR,
      callTimeoutMs: 1_000,
    });
    try {
      signalSystemd(m, 'SIGSTOP');
      const started = Date.now();
      const err = await quick.states(['hello.service']).catch((e: unknown) => e);
      signalSystemd(m, 'SIGCONT');
      expect(Date.now() - started).toBeLessThan(3_000);
      expect((err as ProbeError).errorName).toBe('DBusTimeoutError');
      expect((err as Error).message).toBe(
        'D-Bus call org.freedesktop.systemd1.Manager.ListUnitsByNames timed out after 1000ms',
      );
      expect(await quick.states(['hello.service'])).toEqual({ 'hello.service': GONE });
    } finally {
      signalSystemd(m, 'SIGCONT');
      await quick.close();
    }
  });

  it('fails calls at once when the bus daemon stops', async () => {
    await execOk(m, ['systemctl', 'stop', 'dbus.socket', 'dbus.service']);
    const started = Date.now();
    const err = await um.states(['hello.service']).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((err as ProbeError).errorName).toBe('DBusClosedError');
  });

  it('leaves nothing behind after teardown', async () => {
    await um.close();
    await teardown();
    expect(isClean(leftovers())).toBe(true);
  });
});

function equal(a: object | undefined, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function count(messages: string[], message: string): number {
  return messages.filter((m) => m === message).length;
}
