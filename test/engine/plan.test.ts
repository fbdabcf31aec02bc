import { describe, expect, it } from 'vitest';
import { planPass } from '../../src/engine/plan.js';
import type { Requirements } from '../../src/job/types.js';
import type { RequirementsByUnit } from '../../src/placement/model.js';
import type { EngineSnapshot, Machine } from '../../src/registry/model.js';
import { requirements } from '../support/requirements.js';

const HASH = 'a'.repeat(40);

function machine(id: string): Machine {
  return { id, publicIP: '', metadata: {}, capabilities: { disableEngine: false }, version: 't' };
}

function snapshot(options: {
  units: string[];
  placements?: Record<string, string>;
  machines: string[];
}): EngineSnapshot {
  return {
    units: new Map(
      options.units.map((name, i) => [
        name,
        { record: { name, hash: HASH, desiredState: 'launched' }, modRevision: String(10 + i) },
      ]),
    ),
    placements: new Map(
      Object.entries(options.placements ?? {}).map(([name, machineID], i) => [
        name,
        { machineID, modRevision: String(100 + i) },
      ]),
    ),
    machines: new Map(options.machines.map((id) => [id, machine(id)])),
    cordons: new Map(),
  };
}

/** Every unit of `state` known with no requirements, but those in `overrides` as given. */
function knownFor(
  state: EngineSnapshot,
  overrides: Record<string, Partial<Requirements>> = {},
): RequirementsByUnit {
  return new Map(
    [...state.units].map(([name, { record }]) => [
      name,
      { hash: record.hash, requirements: requirements(overrides[name]) },
    ]),
  );
}

/** `known` without the units named. */
function without(known: RequirementsByUnit, ...names: string[]): RequirementsByUnit {
  return new Map([...known].filter(([name]) => !names.includes(name)));
}

describe('engine pass planning', () => {
  it('schedules an unscheduled unit with the revisions its decision was based on', () => {
    const state = snapshot({ units: ['a.service'], machines: ['m1'] });
    const plan = planPass(state, knownFor(state), new Set());
    expect(plan.changes).toEqual([
      {
        type: 'schedule',
        unitName: 'a.service',
        machineID: 'm1',
        fromMachineID: null,
        entry: { hash: HASH, desiredState: 'launched' },
        unitModRevision: '10',
        placementModRevision: '0',
      },
    ]);
  });

  it('turns the unschedule and reschedule of a lost machine’s unit into one move', () => {
    const state = snapshot({
      units: ['a.service'],
      placements: { 'a.service': 'gone' },
      machines: ['m1'],
    });
    const plan = planPass(state, knownFor(state), new Set());
    expect(plan.tasks.map((task) => task.type)).toEqual(['UnscheduleUnit', 'AttemptScheduleUnit']);
    expect(plan.tasks.map((task) => task.cause)).toEqual(['machine-away', 'not-scheduled']);
    expect(plan.changes).toEqual([
      expect.objectContaining({
        type: 'schedule',
        machineID: 'm1',
        fromMachineID: 'gone',
        placementModRevision: '100',
      }),
    ]);
  });

  it('leaves units on an unconfirmed machine in place and places nothing new there', () => {
    const state = snapshot({
      units: ['a.service', 'b.service'],
      placements: { 'a.service': 'rejoining' },
      machines: ['m1'],
    });
    const plan = planPass(state, knownFor(state), new Set(['rejoining']));
    expect(plan.changes.map((change) => [change.unitName, change.machineID])).toEqual([
      ['b.service', 'm1'],
    ]);
  });

  it('leaves out a unit whose body has not been read yet, and names the body it lacks', () => {
    const state = snapshot({ units: ['a.service'], machines: ['m1'] });
    expect(planPass(state, new Map(), new Set())).toEqual({
      tasks: [],
      changes: [],
      missingBodies: [HASH],
      drains: [],
      draining: false,
    });
  });

  it('counts requirements read from an older body as unknown', () => {
    const state = snapshot({ units: ['a.service'], machines: ['m1'] });
    const stale = new Map([['a.service', { hash: 'b'.repeat(40), requirements: requirements() }]]);
    const plan = planPass(state, stale, new Set());
    expect(plan.changes).toEqual([]);
    expect(plan.missingBodies).toEqual([HASH]);
  });

  it('unschedules a unit whose desired state became inactive', () => {
    const state = snapshot({
      units: ['a.service'],
      placements: { 'a.service': 'm1' },
      machines: ['m1'],
    });
    const inactive = state.units.get('a.service')!;
    (state.units as Map<string, typeof inactive>).set('a.service', {
      ...inactive,
      record: { ...inactive.record, desiredState: 'inactive' },
    });
    expect(planPass(state, knownFor(state), new Set()).changes).toEqual([
      { type: 'unschedule', unitName: 'a.service', machineID: 'm1', placementModRevision: '100' },
    ]);
  });
});

describe('engine pass planning with a cold cache', () => {
  it('a new leader with a cold cache does not unschedule a MachineOf follower whose leader it cannot yet see', () => {
    const state = snapshot({
      units: ['leader.service', 'follower.service'],
      placements: { 'leader.service': 'm1', 'follower.service': 'm1' },
      machines: ['m1', 'm2'],
    });
    const known = without(
      knownFor(state, { 'follower.service': { peers: ['leader.service'] } }),
      'leader.service',
    );
    const plan = planPass(state, known, new Set());
    expect(plan.tasks).toEqual([]);
    expect(plan.missingBodies).toEqual([HASH]);
  });

  it('does not move a MachineOf follower away from where its unseen leader is not', () => {
    const state = snapshot({
      units: ['leader.service', 'follower.service'],
      placements: { 'leader.service': 'm1', 'follower.service': 'm2' },
      machines: ['m1', 'm2'],
    });
    const known = without(
      knownFor(state, { 'follower.service': { peers: ['leader.service'] } }),
      'leader.service',
    );
    expect(planPass(state, known, new Set()).tasks).toEqual([]);
  });

  it('does not place a MachineOf follower of a unit it cannot see', () => {
    const state = snapshot({
      units: ['leader.service', 'follower.service'],
      placements: { 'leader.service': 'm1' },
      machines: ['m1', 'm2'],
    });
    const known = without(
      knownFor(state, { 'follower.service': { peers: ['leader.service'] } }),
      'leader.service',
    );
    expect(planPass(state, known, new Set()).tasks).toEqual([]);
  });

  it('places nothing beside a unit it cannot see, which may conflict with it', () => {
    const state = snapshot({
      units: ['b.service', 'c.service', 'd.service', 'x.service'],
      placements: { 'b.service': 'm1', 'c.service': 'm2', 'd.service': 'm2' },
      machines: ['m1', 'm2'],
    });
    const known = without(
      knownFor(state, { 'x.service': { conflicts: ['b.service'] } }),
      'b.service',
    );
    // m1 is the least loaded, but what b.service requires is not known yet.
    expect(planPass(state, known, new Set()).changes).toEqual([
      expect.objectContaining({ unitName: 'x.service', machineID: 'm2' }),
    ]);
  });

  it('decides no conflict with a unit it cannot see', () => {
    const state = snapshot({
      units: ['a.service', 'b.service'],
      placements: { 'a.service': 'm1', 'b.service': 'm1' },
      machines: ['m1', 'm2'],
    });
    const seen = knownFor(state, { 'a.service': { conflicts: ['b.service'] } });
    expect(planPass(state, seen, new Set()).changes).toEqual([
      expect.objectContaining({ unitName: 'a.service', machineID: 'm2', fromMachineID: 'm1' }),
    ]);
    expect(planPass(state, without(seen, 'b.service'), new Set()).changes).toEqual([]);
  });

  it('decides no replacement by a unit it cannot see', () => {
    const state = snapshot({
      units: ['new.service', 'old.service'],
      placements: { 'new.service': 'm1', 'old.service': 'm1' },
      machines: ['m1', 'm2'],
    });
    const seen = knownFor(state, { 'new.service': { replaces: ['old.service'] } });
    expect(planPass(state, seen, new Set()).changes).toEqual([
      expect.objectContaining({ unitName: 'old.service', machineID: 'm2', fromMachineID: 'm1' }),
    ]);
    expect(planPass(state, without(seen, 'new.service'), new Set()).changes).toEqual([]);
  });

  it('decides as a warm cache would on machines that hold no unit it cannot see', () => {
    const state = snapshot({
      units: ['a.service', 'b.service', 'c.service'],
      placements: { 'a.service': 'm1', 'b.service': 'gone' },
      machines: ['m1', 'm2'],
    });
    const plan = planPass(state, without(knownFor(state), 'a.service'), new Set());
    expect(plan.changes.map((change) => [change.unitName, change.machineID])).toEqual([
      ['b.service', 'm2'],
      ['c.service', 'm2'],
    ]);
  });
});
