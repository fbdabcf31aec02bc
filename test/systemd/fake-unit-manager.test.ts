import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';
import { isNoSuchUnit, SystemdError } from '../../src/systemd/systemd-error.js';
import { UnitFile } from '../../src/unit/unit-file.js';

const HELLO = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const WANTED = UnitFile.parse(
  '[Service]\nExecStart=/bin/sleep 1000\n\n[Install]\nWantedBy=hello.service\n',
);

function state(loadState: string, activeState: string, subState: string) {
  return { loadState, activeState, subState };
}

describe('FakeUnitManager', () => {
  it('follows the unit flow of the real manager (TestSystemdUnitFlow)', async () => {
    const um = new FakeUnitManager();
    expect(await um.listUnitFiles()).toEqual(new Map());

    await um.load('hello.service', HELLO.serialized);
    await um.reload();
    expect(await um.listUnitFiles()).toEqual(new Map([['hello.service', HELLO.hash]]));
    expect(await um.states(['hello.service'])).toEqual(
      new Map([['hello.service', state('loaded', 'inactive', 'dead')]]),
    );

    await um.start('hello.service');
    expect((await um.states(['hello.service'])).get('hello.service')).toEqual(
      state('loaded', 'active', 'running'),
    );

    await um.stop('hello.service');
    expect((await um.states(['hello.service'])).get('hello.service')).toEqual(
      state('loaded', 'inactive', 'dead'),
    );

    await um.unload('hello.service');
    await um.reload();
    expect(await um.listUnitFiles()).toEqual(new Map());
    expect((await um.states(['hello.service'])).get('hello.service')).toEqual(
      state('not-found', 'inactive', 'dead'),
    );
  });

  it('reports names it never loaded as not-found, in one states call', async () => {
    const um = new FakeUnitManager();
    const names = Array.from({ length: 50 }, (_, i) => `u${i}.service`);
    const states = await um.states(names);
    expect(states.size).toBe(50);
    expect(states.get('u7.service')).toEqual(state('not-found', 'inactive', 'dead'));
    expect(um.calls.filter((c) => c.method === 'states')).toEqual([
      { method: 'states', args: names },
    ]);
  });

  it('unloads a running unit: stopped and gone', async () => {
    const um = new FakeUnitManager();
    await um.load('hello.service', HELLO.serialized);
    await um.start('hello.service');
    await um.unload('hello.service');
    expect((await um.states(['hello.service'])).get('hello.service')).toEqual(
      state('not-found', 'inactive', 'dead'),
    );
    expect(um.files.has('hello.service')).toBe(false);
  });

  it('unloads and stops units it does not know without error, but refuses to start them', async () => {
    const um = new FakeUnitManager();
    await um.unload('ghost.service');
    await um.stop('ghost.service');
    const err = await um.start('ghost.service').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemdError);
    expect((err as Error).message).toBe('Unit ghost.service not found.');
    expect(isNoSuchUnit(err)).toBe(true);
  });

  it('enables units with an [Install] section and only those', async () => {
    const um = new FakeUnitManager();
    await um.load('hello.service', HELLO.serialized);
    await um.load('discovery.service', WANTED.serialized);
    expect([...um.enabled]).toEqual(['discovery.service']);
    await um.unload('discovery.service');
    expect(um.enabled.size).toBe(0);
  });

  it('hashes files like the unit model does, listing every unit type and nothing else', async () => {
    const um = new FakeUnitManager({
      files: { 'hello.service': HELLO.serialized, 'notes.txt': 'x', 'web.target': '' },
    });
    expect(await um.listUnitFiles()).toEqual(
      new Map([
        ['hello.service', createHash('sha1').update(HELLO.serialized).digest('hex')],
        ['web.target', createHash('sha1').update('').digest('hex')],
      ]),
    );
  });

  it('keeps units running from before, as after a fleetd crash', async () => {
    const um = new FakeUnitManager({
      files: { 'a.service': '' },
      running: ['a.service', 'b.service'],
    });
    const states = await um.states(['a.service', 'b.service']);
    expect(states.get('a.service')).toEqual(state('loaded', 'active', 'running'));
    // Running, but its file is gone: what systemd shows after such a unit's file is deleted.
    expect(states.get('b.service')).toEqual(state('not-found', 'active', 'running'));
  });

  it('notifies change listeners after a start and a stop, asynchronously', async () => {
    const um = new FakeUnitManager();
    let changes = 0;
    um.onChange(() => {
      changes += 1;
    });
    await um.load('hello.service', HELLO.serialized);
    const started = um.start('hello.service');
    expect(changes).toBe(0);
    await started;
    await Promise.resolve();
    expect(changes).toBe(1);
    await um.stop('hello.service');
    await Promise.resolve();
    expect(changes).toBe(2);
  });

  it('reports an injected systemd state until the next start or stop', async () => {
    const um = new FakeUnitManager();
    await um.load('hello.service', HELLO.serialized);
    await um.start('hello.service');
    um.setSystemdState('hello.service', state('loaded', 'failed', 'failed'));
    expect((await um.states(['hello.service'])).get('hello.service')).toEqual(
      state('loaded', 'failed', 'failed'),
    );
    await um.start('hello.service');
    expect((await um.states(['hello.service'])).get('hello.service')).toEqual(
      state('loaded', 'active', 'running'),
    );
  });

  it('fails the next matching call once when told to', async () => {
    const um = new FakeUnitManager();
    um.failNext('start', new Error('boom'), 'b.service');
    await um.load('a.service', HELLO.serialized);
    await um.load('b.service', HELLO.serialized);
    await um.start('a.service');
    await expect(um.start('b.service')).rejects.toThrow('boom');
    await um.start('b.service');
    expect(um.calls.map((c) => `${c.method} ${c.args.join(',')}`)).toEqual([
      'load a.service',
      'load b.service',
      'start a.service',
      'start b.service',
      'start b.service',
    ]);
    expect(um.reloads).toBe(0);
  });

  it('rejects names that are not unit names before touching anything', async () => {
    const um = new FakeUnitManager();
    await expect(um.load('../etc/passwd', '')).rejects.toThrow(
      'Invalid unit name "../etc/passwd": invalid unit type: "/etc/passwd"',
    );
    expect(um.calls).toEqual([]);
  });
});
