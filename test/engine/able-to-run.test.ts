import { describe, expect, it } from 'vitest';
import { ableToRun } from '../../src/engine/able-to-run.js';
import { AgentView } from '../../src/engine/agent-view.js';
import type { SchedulerUnit } from '../../src/placement/model.js';
import { machine, unit } from '../placement/helpers.js';

const webMachine = machine('0123456789abcdef', { role: 'web' });

function viewWith(...placed: SchedulerUnit[]): AgentView {
  const globals = placed.filter((u) => u.requirements.global);
  const scheduled = placed.filter((u) => !u.requirements.global);
  return new AgentView(webMachine, scheduled, globals);
}

describe('ableToRun', () => {
  it('schedules a unit without requirements', () => {
    expect(ableToRun(viewWith(), unit('x.service'))).toEqual({ action: 'schedule' });
  });

  it.each([
    [
      'a MachineID of another machine',
      unit('x.service', { machineID: 'fedcba98' }),
      'agent ID "0123456789abcdef" does not match required "fedcba98"',
    ],
    [
      'missing metadata',
      unit('x.service', { metadata: { role: ['db'] } }),
      'local Machine metadata insufficient',
    ],
    [
      'a peer that is not here',
      unit('x.service', { machineOf: ['here.service', 'elsewhere.service'] }),
      'required peer Unit(elsewhere.service) is not scheduled locally',
    ],
    [
      'a placed unit it conflicts with',
      unit('x.service', { conflicts: ['h*'] }),
      'found conflict with locally-scheduled Unit(here.service)',
    ],
    [
      'a placed unit that conflicts with it',
      unit('clash.service'),
      'found conflict with locally-scheduled Unit(picky.service)',
    ],
  ])('refuses a unit with %s', (_, candidate, reason) => {
    const placed = viewWith(unit('here.service'), unit('picky.service', { conflicts: ['clash*'] }));
    expect(ableToRun(placed, candidate)).toEqual({ action: 'unschedule', reason });
  });

  it('applies the checks in fleet’s order: MachineID, metadata, peers, conflicts', () => {
    const placed = viewWith(unit('here.service'));
    const everythingWrong = unit('x.service', {
      machineID: 'other',
      metadata: { role: ['db'] },
      machineOf: ['elsewhere.service'],
      conflicts: ['*'],
    });
    const reasons = [
      everythingWrong,
      unit('x.service', { metadata: { role: ['db'] }, machineOf: ['e.service'], conflicts: ['*'] }),
      unit('x.service', { machineOf: ['e.service'], conflicts: ['*'] }),
      unit('x.service', { conflicts: ['*'] }),
    ].map((candidate) => {
      const verdict = ableToRun(placed, candidate);
      return verdict.action === 'unschedule' ? verdict.reason.split(' ')[0] : verdict.action;
    });
    expect(reasons).toEqual(['agent', 'local', 'required', 'found']);
  });

  it('names the first conflicting unit by name', () => {
    const placed = viewWith(unit('c.service'), unit('b.service'), unit('a.service'));
    expect(ableToRun(placed, unit('x.service', { conflicts: ['[bc].service'] }))).toEqual({
      action: 'unschedule',
      reason: 'found conflict with locally-scheduled Unit(b.service)',
    });
  });

  it('counts global units in conflict checks', () => {
    const placed = viewWith(unit('g.service', { global: true }));
    expect(ableToRun(placed, unit('x.service', { conflicts: ['g.service'] }))).toEqual({
      action: 'unschedule',
      reason: 'found conflict with locally-scheduled Unit(g.service)',
    });
  });

  it('asks for a reschedule beside a unit it replaces or that replaces it', () => {
    const reschedule = {
      action: 'reschedule',
      reason: 'found replace with locally-scheduled Unit(old.service)',
    };
    expect(
      ableToRun(viewWith(unit('old.service')), unit('new.service', { replaces: ['old*'] })),
    ).toEqual(reschedule);
    expect(
      ableToRun(viewWith(unit('old.service', { replaces: ['new.service'] })), unit('new.service')),
    ).toEqual(reschedule);
  });

  it('schedules beside a unit when both replace each other', () => {
    const placed = viewWith(unit('a.service', { replaces: ['b.service'] }));
    expect(ableToRun(placed, unit('b.service', { replaces: ['a.service'] }))).toEqual({
      action: 'schedule',
    });
  });

  it('does not count the unit itself, already placed here, against it', () => {
    const self = unit('x.service', {
      conflicts: ['x*'],
      replaces: ['x*'],
      machineOf: ['x.service'],
    });
    expect(ableToRun(viewWith(self), self)).toEqual({ action: 'schedule' });
  });
});
