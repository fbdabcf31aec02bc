import { describe, expect, it } from 'vitest';
import type { Signal } from '../../src/systemd/bus-client.js';
import {
  CHANGE_MATCH_RULES,
  type ChangeSignal,
  classifySignal,
  watchChanges,
} from '../../src/systemd/change-signals.js';
import { SignalSender } from '../../src/systemd/signal-sender.js';

function signal(path: string, iface: string, member: string, body: unknown[] = []): Signal {
  return { sender: ':1.3', path, interface: iface, member, body };
}

const MANAGER = ['/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager'] as const;
const PROPS = 'org.freedesktop.DBus.Properties';
const UNIT_PATH = '/org/freedesktop/systemd1/unit/a_2eservice';

describe('change signals', () => {
  it('uses two bus-wide match rules, none per unit', () => {
    expect(CHANGE_MATCH_RULES).toEqual([
      "type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit',arg0='org.freedesktop.systemd1.Unit'",
      "type='signal',sender='org.freedesktop.systemd1',path='/org/freedesktop/systemd1',interface='org.freedesktop.systemd1.Manager',member='Reloading'",
    ]);
  });

  it('reads a Unit property change, unwrapping variants and keeping 64-bit values inside', () => {
    const change = classifySignal(
      signal(UNIT_PATH, PROPS, 'PropertiesChanged', [
        'org.freedesktop.systemd1.Unit',
        {
          ActiveState: { signature: 's', value: 'active' },
          SubState: { signature: 's', value: 'running' },
          StateChangeTimestamp: { signature: 't', value: 1795577217474134n },
        },
        ['Conditions'],
      ]),
    );
    expect(change).toEqual({
      kind: 'unit-properties',
      path: UNIT_PATH,
      changed: {
        ActiveState: 'active',
        SubState: 'running',
        StateChangeTimestamp: 1795577217474134n,
      },
      invalidated: ['Conditions'],
    });
  });

  it('counts the end of a reload but not its start', () => {
    expect(classifySignal(signal(...MANAGER, 'Reloading', [false]))).toEqual({ kind: 'reloaded' });
    expect(classifySignal(signal(...MANAGER, 'Reloading', [true]))).toBeNull();
  });

  it('ignores unit churn, jobs, service properties and other senders', () => {
    expect(classifySignal(signal(...MANAGER, 'UnitNew', ['a.service', UNIT_PATH]))).toBeNull();
    expect(
      classifySignal(signal(...MANAGER, 'JobRemoved', [7, '/j/7', 'a.service', 'done'])),
    ).toBeNull();
    expect(
      classifySignal(
        signal(UNIT_PATH, PROPS, 'PropertiesChanged', ['org.freedesktop.systemd1.Service', {}, []]),
      ),
    ).toBeNull();
    expect(
      classifySignal(signal('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameAcquired')),
    ).toBeNull();
  });
});

describe('watching changes', () => {
  it("acts on systemd's signals only, and hands a stranger's to be logged", () => {
    let deliver: (signal: Signal) => void = () => {};
    const sender = new SignalSender('org.freedesktop.systemd1');
    sender.ownedBy(':1.3');
    const changes: ChangeSignal[] = [];
    const strangers: string[] = [];
    watchChanges(
      { onSignal: (listener) => (deliver = listener) },
      sender,
      (change) => changes.push(change),
      (stranger) => strangers.push(stranger.sender),
    );
    const changed = (who: string): Signal => ({
      ...signal(UNIT_PATH, PROPS, 'PropertiesChanged', [
        'org.freedesktop.systemd1.Unit',
        { ActiveState: { signature: 's', value: 'failed' } },
        [],
      ]),
      sender: who,
    });
    deliver(changed(':1.66'));
    deliver({ ...signal(...MANAGER, 'Reloading', [false]), sender: ':1.66' });
    deliver({
      ...signal('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameAcquired', [':1.9']),
      sender: 'org.freedesktop.DBus',
    });
    expect(changes).toEqual([]);
    expect(strangers).toEqual([':1.66', ':1.66']);
    deliver(changed(':1.3'));
    expect(changes).toEqual([
      {
        kind: 'unit-properties',
        path: UNIT_PATH,
        changed: { ActiveState: 'failed' },
        invalidated: [],
      },
    ]);
  });
});
