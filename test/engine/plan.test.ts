import { describe, expect, it } from 'vitest';
import { planPass } from '../../src/engine/plan.js';
import type { Requirements } from '../../src/job/types.js';
import type { EngineSnapshot } from '../../src/registry/engine-feed.js';
import type { Machine } from '../../src/registry/machine-store.js';

const HASH = 'a'.repeat(40);

const noRequirements: Requirements = {
  machineID: null,
  peers: [],
  conflicts: [],
  replaces: [],
  metadata: new Map(),
  global: false,
};

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
  };
}

const requirementsOf = () => noRequirements;

describe('engine pass planning', () => {
  it('schedules an unscheduled unit with the revisions its decision was based on', () => {
    const plan = planPass(
      snapshot({ units: ['a.service'], machines: ['m1'] }),
      requirementsOf,
      new Set(),
    );
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
    const plan = planPass(state, requirementsOf, new Set());
    expect(plan.tasks.map((task) => task.type)).toEqual(['UnscheduleUnit', 'AttemptScheduleUnit']);
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
    const plan = planPass(state, requirementsOf, new Set(['rejoining']));
    expect(plan.changes.map((change) => [change.unitName, change.machineID])).toEqual([
      ['b.service', 'm1'],
    ]);
  });

  it('leaves out units whose body has not been read yet', () => {
    const plan = planPass(
      snapshot({ units: ['a.service'], machines: ['m1'] }),
      () => undefined,
      new Set(),
    );
    expect(plan).toEqual({ tasks: [], changes: [] });
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
    expect(planPass(state, requirementsOf, new Set()).changes).toEqual([
      { type: 'unschedule', unitName: 'a.service', machineID: 'm1', placementModRevision: '100' },
    ]);
  });
});
