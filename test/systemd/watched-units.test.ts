import { describe, expect, it } from 'vitest';
import { unitNameOfPath, WatchedUnits } from '../../src/systemd/watched-units.js';

const path = (label: string) => `/org/freedesktop/systemd1/unit/${label}`;
const running = { ActiveState: 'active', SubState: 'running' };
const dead = { ActiveState: 'inactive', SubState: 'dead' };

describe('unitNameOfPath', () => {
  it("undoes systemd's object path escaping", () => {
    expect(unitNameOfPath(path('idle_2eservice'))).toBe('idle.service');
    expect(unitNameOfPath(path('postgresql_4015_2dmain_2eservice'))).toBe(
      'postgresql@15-main.service',
    );
    expect(unitNameOfPath(path('_2d_2eslice'))).toBe('-.slice');
    expect(unitNameOfPath(path('a_5fb_3ac_5c_2eservice'))).toBe('a_b:c\\.service');
  });

  it('is null for paths outside the unit namespace or not escaped by systemd', () => {
    expect(unitNameOfPath('/org/freedesktop/systemd1/job/7')).toBeNull();
    expect(unitNameOfPath(path('a.service'))).toBeNull();
  });
});

describe('WatchedUnits', () => {
  it('reports the first change of a unit whose state it does not know yet', () => {
    const watched = new WatchedUnits();
    watched.watch('a.service');
    expect(watched.apply(path('a_2eservice'), running, [])).toBe(true);
    expect(watched.apply(path('a_2eservice'), running, [])).toBe(false);
    expect(watched.apply(path('a_2eservice'), dead, [])).toBe(true);
  });

  it('ignores a re-announced state that a query already returned', () => {
    const watched = new WatchedUnits();
    watched.record('a.service', { activeState: 'inactive', subState: 'dead' });
    expect(watched.apply(path('a_2eservice'), dead, ['Conditions'])).toBe(false);
    expect(
      watched.apply(path('a_2eservice'), { ActiveState: 'activating', SubState: 'start' }, []),
    ).toBe(true);
  });

  it('ignores units nobody loaded or asked about, and forgotten ones', () => {
    const watched = new WatchedUnits();
    expect(watched.apply(path('basic_2etarget'), running, [])).toBe(false);
    watched.watch('a.service');
    watched.forget('a.service');
    expect(watched.apply(path('a_2eservice'), running, [])).toBe(false);
  });

  it('treats states announced as invalidated, without values, as changed', () => {
    const watched = new WatchedUnits();
    watched.record('a.service', { activeState: 'active', subState: 'running' });
    expect(watched.apply(path('a_2eservice'), {}, ['ActiveState', 'SubState'])).toBe(true);
    expect(watched.apply(path('a_2eservice'), {}, ['Conditions'])).toBe(false);
  });
});
