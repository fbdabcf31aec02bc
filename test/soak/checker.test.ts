import { describe, expect, it } from 'vitest';
import {
  check,
  checkDesired,
  checkDisruptions,
  checkLeases,
  checkPlacement,
  checkStray,
  type Expected,
  endsRun,
  type MachineObservation,
  type Observation,
  type RegistryObservation,
  type UnitRun,
} from '../../soak/checker.js';

const run = (pid: string, since = `${pid}000`): UnitRun => ({
  activeState: 'active',
  subState: 'running',
  mainPid: pid,
  activeEnterMonotonic: since,
});
const stopped: UnitRun = {
  activeState: 'inactive',
  subState: 'dead',
  mainPid: '0',
  activeEnterMonotonic: '5',
};

function machine(
  name: string,
  runs: Record<string, UnitRun>,
  extra: Partial<MachineObservation> = {},
): MachineObservation {
  return {
    name,
    id: `id-${name}`,
    boot: 100,
    metadata: { rack: name === 'm2' ? 'b' : 'a' },
    alive: true,
    fleetActive: true,
    files: Object.keys(runs),
    runs,
    ...extra,
  };
}

function registry(extra: Partial<RegistryObservation> = {}): RegistryObservation {
  return {
    units: {},
    globals: {},
    placements: {},
    schedule: [],
    machines: { 'id-m1': 'L1', 'id-m2': 'L2', 'id-m3': 'L3' },
    leases: [
      { id: 'L1', keys: ['machines/id-m1'] },
      { id: 'L2', keys: ['machines/id-m2'] },
      { id: 'L3', keys: ['machines/id-m3'] },
    ],
    ...extra,
  };
}

function obs(atMs: number, machines: MachineObservation[], reg = registry()): Observation {
  return { atMs, registry: reg, machines };
}

const plain = (desired: Expected['desired'] = 'launched', hash = 'h1'): Expected => ({
  hash,
  desired,
  rules: { global: false },
});

describe('(a) desired state in etcd', () => {
  it('holds when etcd records each unit with the asked content and state, and nothing else', () => {
    expect(
      checkDesired(
        { 'x.service': plain() },
        registry({ units: { 'x.service': { hash: 'h1', desiredState: 'launched' } } }),
      ),
    ).toEqual([]);
  });

  it('flags a missing unit, a destroyed one still there, and a wrong state or content', () => {
    const found = checkDesired(
      {
        'gone.service': plain(),
        'x.service': plain('loaded'),
        'y.service': plain('launched', 'h2'),
      },
      registry({
        units: {
          'zombie.service': { hash: 'h1', desiredState: 'launched' },
          'x.service': { hash: 'h1', desiredState: 'launched' },
          'y.service': { hash: 'h1', desiredState: 'launched' },
        },
      }),
    );
    expect(found).toHaveLength(4);
    expect(found.join('\n')).toMatch(/gone\.service is missing/);
    expect(found.join('\n')).toMatch(/zombie\.service is in etcd .* destroyed/);
  });

  it('flags a global unit whose global record disagrees', () => {
    const g: Expected = { hash: 'h1', desired: 'launched', rules: { global: true } };
    const reg = registry({
      units: { 'g.service': { hash: 'h1', desiredState: 'launched' } },
      globals: { 'g.service': { hash: 'h1', desiredState: 'loaded' } },
    });
    expect(checkDesired({ 'g.service': g }, reg)).toHaveLength(1);
  });
});

describe('(b) placement', () => {
  it('holds for a unit active once, a MachineOf pair together, and a global unit where it matches', () => {
    const expected: Record<string, Expected> = {
      'a.service': plain(),
      'b.service': {
        hash: 'h',
        desired: 'launched',
        rules: { global: false, machineOf: 'a.service' },
      },
      'g.service': {
        hash: 'h',
        desired: 'launched',
        rules: { global: true, metadata: ['rack', 'a'] },
      },
    };
    const o = obs(1, [
      machine('m1', { 'a.service': run('1'), 'b.service': run('2'), 'g.service': run('3') }),
      machine('m2', {}),
      machine('m3', { 'g.service': run('4') }),
    ]);
    expect(checkPlacement(expected, o)).toEqual([]);
  });

  it('flags a unit active twice, or nowhere, or apart from its MachineOf target', () => {
    const expected: Record<string, Expected> = {
      'a.service': plain(),
      'b.service': {
        hash: 'h',
        desired: 'launched',
        rules: { global: false, machineOf: 'a.service' },
      },
      'c.service': plain(),
    };
    const o = obs(1, [
      machine('m1', { 'a.service': run('1') }),
      machine('m2', { 'a.service': run('2') }),
      machine('m3', { 'b.service': run('3') }),
    ]);
    const found = checkPlacement(expected, o);
    expect(found).toEqual([
      'a.service is active on m1, m2, not on exactly one machine',
      'b.service is active on m3 without its MachineOf a.service',
      'c.service is active on nowhere, not on exactly one machine',
    ]);
  });

  it('flags conflicting units together, metadata that does not match, and a global unit missing', () => {
    const conf = (): Expected => ({
      hash: 'h',
      desired: 'launched',
      rules: { global: false, conflicts: 'c-*' },
    });
    const expected: Record<string, Expected> = {
      'c-1.service': conf(),
      'c-2.service': conf(),
      'r.service': {
        hash: 'h',
        desired: 'launched',
        rules: { global: false, metadata: ['rack', 'b'] },
      },
      'g.service': { hash: 'h', desired: 'launched', rules: { global: true } },
    };
    const o = obs(1, [
      machine('m1', {
        'c-1.service': run('1'),
        'c-2.service': run('2'),
        'r.service': run('3'),
        'g.service': run('4'),
      }),
      machine('m2', { 'g.service': run('5') }),
      machine('m3', {}),
    ]);
    const found = checkPlacement(expected, o);
    expect(found).toContain('c-1.service is active on m1 with c-2.service');
    expect(found).toContain('r.service is active on m1, whose metadata does not match');
    expect(found).toContain('global g.service is active on m1, m2; it belongs on m1, m2, m3');
  });

  it('flags a machine that is not live, and does not count it as a place to run', () => {
    const o = obs(1, [
      machine('m1', { 'a.service': run('1') }),
      machine('m2', {}, { fleetActive: false }),
      machine('m3', {}),
    ]);
    expect(checkPlacement({ 'a.service': plain() }, o)).toEqual([
      'machine m2 is not live (fleetd not active)',
    ]);
    const unregistered = obs(
      1,
      [machine('m1', { 'a.service': run('1') })],
      registry({ machines: {} }),
    );
    expect(checkPlacement({ 'a.service': plain() }, unregistered)).toEqual([
      'machine m1 is not live (not in etcd)',
      'a.service is active on m1, which is not live',
    ]);
  });
});

describe('(c) disruptions', () => {
  const before = obs(1_000, [
    machine('m1', { 'a.service': run('10') }),
    machine('m2', { 'b.service': run('20') }),
  ]);

  it('holds when every run is unchanged and PID 1 logged only starts', () => {
    const after = obs(2_000, [
      machine('m1', { 'a.service': run('10') }),
      machine('m2', { 'b.service': run('20') }),
    ]);
    const events = [
      { machine: 'm1', unit: 'c.service', message: 'Started c.service.', atMs: 1_500 },
    ];
    expect(checkDisruptions(before, after, events, [])).toEqual([]);
  });

  it('flags a restarted run, a stopped one and a stop PID 1 logged, when nothing explains them', () => {
    const after = obs(2_000, [
      machine('m1', { 'a.service': run('11') }),
      machine('m2', { 'b.service': stopped }),
    ]);
    const events = [
      { machine: 'm2', unit: 'b.service', message: 'Stopping b.service...', atMs: 1_500 },
    ];
    const found = checkDisruptions(before, after, events, []);
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/a\.service on m1 was restarted \(PID 10 → 11\)/);
    expect(found[1]).toMatch(/b\.service on m2 is inactive/);
  });

  it('accepts what a cause explains: a workload operation on the unit, or the loss of its machine', () => {
    const after = obs(2_000, [
      machine('m1', { 'a.service': run('11') }),
      machine('m2', {}, { boot: 200 }),
    ]);
    const events = [
      {
        machine: 'm1',
        unit: 'a.service',
        message: 'a.service: Deactivated successfully.',
        atMs: 1_500,
      },
    ];
    const causes = [
      { unit: 'a.service', fromMs: 1_400, toMs: 2_000, reason: 'workload: submit' },
      { machine: 'm2', fromMs: 1_200, toMs: 2_000, reason: 'fault power-off' },
    ];
    expect(checkDisruptions(before, after, events, causes)).toEqual([]);
  });

  it('does not let a cause explain what happened before it or on another machine', () => {
    const events = [
      { machine: 'm1', unit: 'a.service', message: 'Stopped a.service.', atMs: 1_300 },
    ];
    const after = obs(2_000, [
      machine('m1', { 'a.service': run('10') }),
      machine('m2', { 'b.service': run('20') }),
    ]);
    expect(
      checkDisruptions(before, after, events, [
        { unit: 'a.service', fromMs: 1_400, toMs: 2_000, reason: 'op' },
      ]),
    ).toHaveLength(1);
    expect(
      checkDisruptions(before, after, events, [
        { machine: 'm2', fromMs: 1_000, toMs: 2_000, reason: 'lost' },
      ]),
    ).toHaveLength(1);
  });

  it("does not let an earlier round's cause, ending at the previous check, explain a later change", () => {
    const after = obs(2_000, [
      machine('m1', { 'a.service': run('11') }),
      machine('m2', { 'b.service': run('20') }),
    ]);
    const causes = [{ unit: 'a.service', fromMs: 500, toMs: 1_000, reason: 'op' }];
    expect(checkDisruptions(before, after, [], causes)).toHaveLength(1);
  });

  it('recognises the messages that end a run', () => {
    expect(endsRun('Stopping soak-plain-1.service...')).toBe(true);
    expect(endsRun('soak-plain-1.service: Deactivated successfully.')).toBe(true);
    expect(endsRun('soak-plain-1.service: Main process exited, code=killed, status=9/KILL')).toBe(
      true,
    );
    expect(endsRun('Started soak-plain-1.service.')).toBe(false);
    expect(endsRun('Starting soak-plain-1.service...')).toBe(false);
  });
});

describe('(d) strays', () => {
  const expected: Record<string, Expected> = { 'a.service': plain(), 'l.service': plain('loaded') };
  const reg = registry({
    schedule: [
      { machineId: 'id-m1', unit: 'a.service', desiredState: 'launched' },
      { machineId: 'id-m2', unit: 'l.service', desiredState: 'loaded' },
    ],
    placements: { 'a.service': 'id-m1', 'l.service': 'id-m2' },
  });

  it('holds when each machine holds and runs what its schedule names', () => {
    const o = obs(
      1,
      [
        machine('m1', { 'a.service': run('1') }),
        machine('m2', { 'l.service': stopped }),
        machine('m3', {}),
      ],
      reg,
    );
    expect(checkStray(expected, o)).toEqual([]);
  });

  it('flags a unit file or a running unit the schedule does not name, and a loaded unit running', () => {
    const o = obs(
      1,
      [
        machine('m1', { 'a.service': run('1') }),
        machine('m2', { 'l.service': run('2') }),
        machine('m3', { 'old.service': run('3') }),
      ],
      reg,
    );
    expect(checkStray(expected, o)).toEqual([
      'm2 runs l.service, which its schedule does not launch there',
      'm3 holds the unit file old.service, which its schedule does not name',
      'm3 runs old.service, which its schedule does not launch there',
    ]);
  });

  it('flags a schedule entry for a destroyed unit or a machine that is gone', () => {
    const stale = registry({
      schedule: [
        { machineId: 'id-m1', unit: 'a.service', desiredState: 'launched' },
        { machineId: 'id-dead', unit: 'l.service', desiredState: 'loaded' },
        { machineId: 'id-m3', unit: 'x.service', desiredState: 'launched' },
      ],
      placements: { 'a.service': 'id-m1', 'l.service': 'id-dead', 'x.service': 'id-m3' },
    });
    const o = obs(1, [machine('m1', { 'a.service': run('1') }), machine('m3', {})], stale);
    const found = checkStray(expected, o);
    expect(found).toContain('etcd schedules l.service on id-dead, which is not live');
    expect(found).toContain('etcd schedules x.service on m3, which the workload does not');
  });
});

describe('(e) leases', () => {
  it('holds when every lease carries the presence of a live fleetd', () => {
    expect(checkLeases(obs(1, [machine('m1', {}), machine('m2', {}), machine('m3', {})]))).toEqual(
      [],
    );
  });

  it('flags a lease with no presence (leaked) and one whose machine runs no fleetd', () => {
    const reg = registry({
      leases: [
        { id: 'L1', keys: ['machines/id-m1'] },
        { id: 'L2', keys: ['machines/id-m2'] },
        { id: 'L3', keys: ['machines/id-m3'] },
        { id: 'L9', keys: [] },
      ],
    });
    const found = checkLeases(
      obs(1, [machine('m1', {}), machine('m2', {}, { alive: false }), machine('m3', {})], reg),
    );
    expect(found).toEqual([
      'lease L2 holds the presence of id-m2, which runs no live fleetd',
      "lease L9 carries no machine's presence (keys: none)",
    ]);
  });
});

describe('check', () => {
  it('reports each invariant separately', () => {
    const o = obs(1, [machine('m1', {}), machine('m2', {}), machine('m3', {})]);
    const v = check({
      expected: { 'a.service': plain() },
      previous: null,
      current: o,
      events: [],
      causes: [],
    });
    expect(
      Object.entries(v)
        .filter(([, list]) => list.length > 0)
        .map(([k]) => k),
    ).toEqual(['a', 'b']);
  });
});
