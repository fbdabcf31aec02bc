import { describe, expect, it } from 'vitest';
import type { Signal } from '../../src/systemd/bus-client.js';
import { ownerMatchRule, SignalSender } from '../../src/systemd/signal-sender.js';

const SYSTEMD = 'org.freedesktop.systemd1';
const BUS = 'org.freedesktop.DBus';

function from(sender: string, member = 'PropertiesChanged'): Signal {
  return {
    sender,
    path: '/org/freedesktop/systemd1/unit/a_2eservice',
    interface: 'org.freedesktop.DBus.Properties',
    member,
    body: [],
  };
}

function ownerChanged(sender: string, name: string, oldOwner: string, newOwner: string): Signal {
  return {
    sender,
    path: '/org/freedesktop/DBus',
    interface: BUS,
    member: 'NameOwnerChanged',
    body: [name, oldOwner, newOwner],
  };
}

describe('SignalSender', () => {
  it.each([
    { case: "systemd's unique name", sender: ':1.3', verdict: 'owner' },
    { case: 'another connection', sender: ':1.9', verdict: 'stranger' },
    {
      case: 'the well-known name, which no real signal carries',
      sender: SYSTEMD,
      verdict: 'stranger',
    },
    { case: 'the bus daemon', sender: BUS, verdict: 'bus' },
  ])('judges a signal from $case: $verdict', ({ sender, verdict }) => {
    const judge = new SignalSender(SYSTEMD);
    judge.ownedBy(':1.3');
    expect(judge.judge(from(sender))).toBe(verdict);
  });

  it('trusts nobody before it knows the owner, or when the name has none', () => {
    const judge = new SignalSender(SYSTEMD);
    expect(judge.judge(from(':1.3'))).toBe('stranger');
    judge.ownedBy('');
    expect(judge.judge(from(''))).toBe('stranger');
  });

  it('follows the owner through NameOwnerChanged from the bus', () => {
    const judge = new SignalSender(SYSTEMD);
    judge.ownedBy(':1.3');
    expect(judge.judge(ownerChanged(BUS, SYSTEMD, ':1.3', ':1.40'))).toBe('bus');
    expect(judge.judge(from(':1.40'))).toBe('owner');
    expect(judge.judge(from(':1.3'))).toBe('stranger');
    judge.judge(ownerChanged(BUS, SYSTEMD, ':1.40', ''));
    expect(judge.judge(from(':1.40'))).toBe('stranger');
  });

  it('ignores a NameOwnerChanged about another name, or sent by anyone but the bus', () => {
    const judge = new SignalSender(SYSTEMD);
    judge.ownedBy(':1.3');
    judge.judge(ownerChanged(BUS, 'org.example.Other', ':1.5', ':1.9'));
    expect(judge.judge(ownerChanged(':1.9', SYSTEMD, ':1.3', ':1.9'))).toBe('stranger');
    expect(judge.judge(from(':1.9'))).toBe('stranger');
    expect(judge.judge(from(':1.3'))).toBe('owner');
  });

  it("matches the bus's NameOwnerChanged for the name only", () => {
    expect(ownerMatchRule(SYSTEMD)).toBe(
      "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.freedesktop.systemd1'",
    );
  });
});
