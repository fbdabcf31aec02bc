import { describe, expect, it } from 'vitest';
import {
  applyLine,
  type EventLine,
  emptyView,
  parseEventLine,
  ResumePoint,
  unitCounts,
  unitFile,
} from '../../ui/src/cluster-view.js';

const M1 = 'a1000000000000000000000000000000';
const M2 = 'b2000000000000000000000000000000';

const unit = (revision: string, name: string, object: unknown): EventLine => ({
  revision,
  type: 'unit',
  name,
  object,
});
const state = (revision: string, name: string, machineID: string, active: string): EventLine => ({
  revision,
  type: 'state',
  name,
  machineID,
  object: { name, machineID, systemdActiveState: active, systemdSubState: 'running' },
});

describe('the page view built from event lines', () => {
  it('sets, replaces and removes units, states and machines, and starts afresh on a reset', () => {
    let view = emptyView();
    const lines: EventLine[] = [
      { revision: '5', type: 'machine', name: M1, object: { id: M1, primaryIP: '10.0.0.1' } },
      { revision: '5', type: 'machine', name: M2, object: { id: M2, primaryIP: '10.0.0.2' } },
      unit('6', 'a.service', { name: 'a.service', desiredState: 'launched', options: [] }),
      state('7', 'a.service', M1, 'activating'),
      state('8', 'a.service', M1, 'active'),
      state('8', 'g.service', M1, 'active'),
      state('8', 'g.service', M2, 'active'),
      { revision: '9', type: 'machine', name: M2, object: null },
      state('9', 'g.service', M2, 'active'),
    ];
    for (const line of lines) view = applyLine(view, line);
    lines.at(-1)!.object = null;
    view = applyLine(view, lines.at(-1)!);
    expect([...view.machines.keys()]).toEqual([M1]);
    expect(view.states.get('a.service')?.get(M1)?.systemdActiveState).toBe('active');
    expect([...(view.states.get('g.service')?.keys() ?? [])]).toEqual([M1]);
    expect(unitCounts(view)).toEqual(new Map([[M1, 2]]));
    view = applyLine(view, { revision: '10', type: 'reset' });
    expect([view.units.size, view.states.size, view.machines.size]).toEqual([0, 0, 0]);
  });

  it('takes a line seen twice (a cut revision sent again) as once', () => {
    const line = unit('6', 'a.service', { name: 'a.service', desiredState: 'loaded', options: [] });
    const once = applyLine(emptyView(), line);
    const twice = applyLine(applyLine(emptyView(), line), line);
    expect(twice).toEqual(once);
  });

  it('ignores heartbeats and lines of unknown types', () => {
    expect(parseEventLine('')).toBeNull();
    expect(parseEventLine('{"revision":"3","type":"other"}')).toBeNull();
    expect(parseEventLine('{"revision":"3","type":"unit","name":"a","object":null}')).toEqual({
      revision: '3',
      type: 'unit',
      name: 'a',
      object: null,
    });
  });

  it('writes a unit file section by section, in the order the options came', () => {
    const text = unitFile([
      { section: 'Unit', name: 'Description', value: 'hello' },
      { section: 'Service', name: 'ExecStart', value: '/bin/sleep 1' },
      { section: 'Unit', name: 'After', value: 'x.service' },
    ]);
    expect(text).toBe(
      '[Unit]\nDescription=hello\nAfter=x.service\n\n[Service]\nExecStart=/bin/sleep 1\n',
    );
  });
});

describe('where the page resumes the stream', () => {
  it('after the last revision all of whose lines came', () => {
    const resume = new ResumePoint();
    resume.see({ revision: '10', type: 'reset' });
    resume.see(unit('10', 'a.service', null));
    expect(resume.since).toBeNull();
    resume.see(unit('12', 'a.service', null));
    resume.see(unit('12', 'b.service', null));
    expect(resume.since).toBe('10');
    resume.see(unit('13', 'a.service', null));
    expect(resume.since).toBe('12');
  });

  it('from a fresh snapshot when a reset came after it', () => {
    const resume = new ResumePoint();
    resume.see(unit('12', 'a.service', null));
    resume.see(unit('13', 'a.service', null));
    resume.see({ revision: '20', type: 'reset' });
    expect(resume.since).toBeNull();
  });
});
