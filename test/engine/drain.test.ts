import { describe, expect, it } from 'vitest';
import { planPass } from '../../src/engine/plan.js';
import type { Requirements } from '../../src/job/types.js';
import type { EngineSnapshot, Machine, UnitState } from '../../src/registry/model.js';
import type { CordonRecord, DrainRecord } from '../../src/registry/records.js';
import { requirements } from '../support/requirements.js';

const HASH = 'a'.repeat(40);

interface UnitSpec {
  on?: string;
  desired?: 'launched' | 'loaded' | 'inactive';
  needs?: Partial<Requirements>;
}

function machine(id: string, metadata: Record<string, string> = {}): Machine {
  return { id, publicIP: '', metadata, capabilities: { disableEngine: false }, version: 't' };
}

/** A cluster of `machines` with `units`, and `cordons` by machine ID. */
function cluster(
  units: Record<string, UnitSpec>,
  machines: Machine[],
  cordons: Record<string, CordonRecord>,
) {
  const snapshot: EngineSnapshot = {
    units: new Map(
      Object.entries(units).map(([name, spec], i) => [
        name,
        {
          record: { name, hash: HASH, desiredState: spec.desired ?? 'launched' },
          modRevision: String(10 + i),
        },
      ]),
    ),
    placements: new Map(
      Object.entries(units)
        .filter(([, spec]) => spec.on !== undefined)
        .map(([name, spec], i) => [name, { machineID: spec.on!, modRevision: String(100 + i) }]),
    ),
    machines: new Map(machines.map((m) => [m.id, m])),
    cordons: new Map(
      Object.entries(cordons).map(([id, record]) => [id, { record, modRevision: '500' }]),
    ),
  };
  const known = new Map(
    Object.entries(units).map(([name, spec]) => [
      name,
      { hash: HASH, requirements: requirements(spec.needs) },
    ]),
  );
  return { snapshot, known };
}

function draining(maxParallel: number, progress: Partial<DrainRecord> = {}): CordonRecord {
  return { drain: { maxParallel, moving: [], moved: [], stayed: [], done: false, ...progress } };
}

function active(machineID: string): UnitState[] {
  return [
    {
      name: 'x',
      machineID,
      hash: HASH,
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      launched: true,
    },
  ];
}

function moves(plan: ReturnType<typeof planPass>): string[] {
  return plan.changes.map((change) =>
    change.type === 'schedule'
      ? `${change.unitName}: ${change.fromMachineID} -> ${change.machineID}`
      : `${change.unitName}: ${change.machineID} -> nowhere`,
  );
}

const machines = [machine('m1'), machine('m2'), machine('m3')];

describe('cordoned machines', () => {
  it('take no new unit, even when least loaded, and keep what runs there', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm2' }, 'b.service': { on: 'm3' }, 'c.service': {} },
      machines,
      { m1: { drain: null } },
    );
    const plan = planPass(snapshot, known, new Set());
    expect(moves(plan)).toEqual(['c.service: null -> m2']);
  });

  it('leave a unit pinned to them by MachineID unscheduled, and leave their own units alone', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm1' }, 'p.service': { needs: { machineID: 'm1' } } },
      machines,
      { m1: { drain: null } },
    );
    const plan = planPass(snapshot, known, new Set());
    expect(plan.changes).toEqual([]);
    expect(plan.draining).toBe(false);
  });

  it('get a unit again once uncordoned', () => {
    const { snapshot, known } = cluster(
      { 'p.service': { needs: { machineID: 'm1' } } },
      machines,
      {},
    );
    expect(moves(planPass(snapshot, known, new Set()))).toEqual(['p.service: null -> m1']);
  });
});

describe('drain decisions', () => {
  it('moves one unit at a time by default, and records it as on its way', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm1' }, 'b.service': { on: 'm1' }, 'c.service': { on: 'm1' } },
      machines,
      { m1: draining(1) },
    );
    const plan = planPass(snapshot, known, new Set());
    expect(moves(plan)).toEqual(['a.service: m1 -> m2']);
    expect(plan.drains).toEqual([
      {
        machineID: 'm1',
        modRevision: '500',
        moved: ['a.service'],
        drain: { maxParallel: 1, moving: ['a.service'], moved: [], stayed: [], done: false },
      },
    ]);
    expect(plan.draining).toBe(true);
  });

  it('moves nothing more while the moved unit is not active at its new place', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm2' }, 'b.service': { on: 'm1' } },
      machines,
      { m1: draining(1, { moving: ['a.service'] }) },
    );
    const notYet = new Map([['a.service', [{ ...active('m2')[0]!, activeState: 'activating' }]]]);
    const plan = planPass(snapshot, known, new Set(), notYet);
    expect(plan.changes).toEqual([]);
    expect(plan.drains).toEqual([]);
    expect(plan.draining).toBe(true);
  });

  it('moves the next unit once the last one is active at its new place', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm2' }, 'b.service': { on: 'm1' } },
      machines,
      { m1: draining(1, { moving: ['a.service'] }) },
    );
    const plan = planPass(snapshot, known, new Set(), new Map([['a.service', active('m2')]]));
    expect(moves(plan)).toEqual(['b.service: m1 -> m3']);
    expect(plan.drains[0]?.drain).toEqual({
      maxParallel: 1,
      moving: ['b.service'],
      moved: ['a.service'],
      stayed: [],
      done: false,
    });
  });

  it('does not count a state reported from another machine than the unit’s new place', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm2' }, 'b.service': { on: 'm1' } },
      machines,
      { m1: draining(1, { moving: ['a.service'] }) },
    );
    const plan = planPass(snapshot, known, new Set(), new Map([['a.service', active('m1')]]));
    expect(plan.changes).toEqual([]);
  });

  it('moves as many units at once as --max-parallel allows', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm1' }, 'b.service': { on: 'm1' }, 'c.service': { on: 'm1' } },
      machines,
      { m1: draining(2) },
    );
    expect(moves(planPass(snapshot, known, new Set()))).toEqual([
      'a.service: m1 -> m2',
      'b.service: m1 -> m3',
    ]);
  });

  it('moves a MachineOf pair together, to one machine, in one pass', () => {
    const { snapshot, known } = cluster(
      {
        'a.service': { on: 'm1', needs: { peers: ['z.service'] } },
        'z.service': { on: 'm1' },
        'x.service': { on: 'm2' },
      },
      machines,
      { m1: draining(1) },
    );
    const plan = planPass(snapshot, known, new Set());
    expect(moves(plan)).toEqual(['z.service: m1 -> m3', 'a.service: m1 -> m3']);
    expect(plan.drains[0]?.drain.moving).toEqual(['z.service', 'a.service']);
  });

  it('moves a MachineOf pair to the next machine when one member cannot run on the first', () => {
    const { snapshot, known } = cluster(
      {
        'a.service': { on: 'm1', needs: { peers: ['z.service'], conflicts: ['x.service'] } },
        'z.service': { on: 'm1' },
        'x.service': { on: 'm2' },
        'y.service': { on: 'm3' },
      },
      [...machines, machine('m4')],
      { m1: draining(1), m4: { drain: null } },
    );
    const plan = planPass(snapshot, known, new Set());
    expect(moves(plan)).toEqual(['z.service: m1 -> m3', 'a.service: m1 -> m3']);
  });

  it('reports a pinned unit and its MachineOf follower as stayed, and finishes', () => {
    const { snapshot, known } = cluster(
      {
        'p.service': { on: 'm1', needs: { machineID: 'm1' } },
        'f.service': { on: 'm1', needs: { peers: ['p.service'] } },
      },
      machines,
      { m1: draining(1) },
    );
    const plan = planPass(snapshot, known, new Set());
    expect(plan.changes).toEqual([]);
    expect(plan.drains[0]?.drain).toEqual({
      maxParallel: 1,
      moving: [],
      moved: [],
      stayed: [
        { name: 'f.service', reason: 'MachineOf ties it to p.service' },
        { name: 'p.service', reason: 'pinned to this machine by MachineID' },
      ],
      done: true,
    });
  });

  it('reports a unit no other machine can run, honouring Conflicts and metadata', () => {
    const { snapshot, known } = cluster(
      {
        'a.service': { on: 'm1', needs: { metadata: new Map([['disk', new Set(['ssd'])]]) } },
        'b.service': { on: 'm1', needs: { conflicts: ['x.service'] } },
        'x.service': { on: 'm2' },
      },
      [machine('m1', { disk: 'ssd' }), machine('m2')],
      { m1: draining(1) },
    );
    const plan = planPass(snapshot, known, new Set());
    expect(plan.changes).toEqual([]);
    expect(plan.drains[0]?.drain.stayed).toEqual([
      { name: 'a.service', reason: 'no other machine can run it' },
      { name: 'b.service', reason: 'no other machine can run it' },
    ]);
    expect(plan.drains[0]?.drain.done).toBe(true);
  });

  it('finishes once the last moved unit arrived and nothing is left', () => {
    const { snapshot, known } = cluster({ 'a.service': { on: 'm3' } }, machines, {
      m1: draining(1, { moving: ['a.service'] }),
    });
    const plan = planPass(snapshot, known, new Set(), new Map([['a.service', active('m3')]]));
    expect(plan.drains[0]?.drain).toEqual({
      maxParallel: 1,
      moving: [],
      moved: ['a.service'],
      stayed: [],
      done: true,
    });
  });

  it('moves again a unit whose move never committed, which its record already lists', () => {
    const { snapshot, known } = cluster({ 'a.service': { on: 'm1' } }, machines, {
      m1: draining(1, { moving: ['a.service'] }),
    });
    const plan = planPass(snapshot, known, new Set());
    expect(moves(plan)).toEqual(['a.service: m1 -> m2']);
    // Written again all the same: the moves must not outlive a drain called off meanwhile.
    expect(plan.drains).toEqual([
      {
        machineID: 'm1',
        modRevision: '500',
        moved: ['a.service'],
        drain: { maxParallel: 1, moving: ['a.service'], moved: [], stayed: [], done: false },
      },
    ]);
  });

  it('waits for a loaded unit only until it is loaded at its new place', () => {
    const { snapshot, known } = cluster(
      { 'a.service': { on: 'm2', desired: 'loaded' }, 'b.service': { on: 'm1' } },
      machines,
      { m1: draining(1, { moving: ['a.service'] }) },
    );
    const loaded = [{ ...active('m2')[0]!, activeState: 'inactive', launched: false }];
    const plan = planPass(snapshot, known, new Set(), new Map([['a.service', loaded]]));
    expect(moves(plan)).toEqual(['b.service: m1 -> m3']);
  });

  it('leaves a held machine’s drain as it is', () => {
    const { snapshot, known } = cluster({ 'a.service': { on: 'm1' } }, machines, {
      m1: draining(1),
    });
    const plan = planPass(snapshot, known, new Set(['m1']));
    expect(plan.changes).toEqual([]);
    expect(plan.drains).toEqual([]);
  });

  it('leaves a finished drain alone, the machine still cordoned', () => {
    const { snapshot, known } = cluster({ 'n.service': {} }, [machine('m1')], {
      m1: draining(1, { done: true }),
    });
    const plan = planPass(snapshot, known, new Set());
    expect(plan.changes).toEqual([]);
    expect(plan.draining).toBe(false);
  });
});
