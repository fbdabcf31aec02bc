import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/engine/scheduler.js';
import { JOB_STATES } from '../../src/job/types.js';
import { conflicts, globalUnitsFor } from '../../src/placement/rules.js';
import { machine, unit } from '../placement/helpers.js';
import { applyTasks, describeTasks, placements, runToFixedPoint } from './helpers.js';

const M1 = 'm1';
const M2 = 'm2';
const M3 = 'm3';
const three = [machine(M1), machine(M2), machine(M3)];

describe('decide: least-loaded placement (6.3 phase B)', () => {
  it('places an unscheduled unit on the machine with the fewest units', () => {
    const units = [
      unit('a.service', { on: M1 }),
      unit('b.service', { on: M1 }),
      unit('c.service', { on: M2 }),
      unit('new.service'),
    ];
    expect(describeTasks(decide(units, three))).toEqual(['schedule new.service -> m3']);
  });

  it('breaks ties in load by machine ID, whatever the input order', () => {
    const machines = [machine('c'), machine('a'), machine('b')];
    expect(describeTasks(decide([unit('x.service')], machines))).toEqual([
      'schedule x.service -> a',
    ]);
  });

  it('counts each decision of the pass before taking the next one', () => {
    const units = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => unit(`${n}.service`));
    expect(describeTasks(decide(units, three))).toEqual([
      'schedule a.service -> m1',
      'schedule b.service -> m2',
      'schedule c.service -> m3',
      'schedule d.service -> m1',
      'schedule e.service -> m2',
      'schedule f.service -> m3',
    ]);
  });

  it('gives the target state in the scheduling reason', () => {
    const [task] = decide([unit('x.service', { state: 'loaded' })], three);
    expect(task).toEqual({
      type: 'AttemptScheduleUnit',
      unitName: 'x.service',
      machineID: M1,
      reason: 'target state loaded and unit not scheduled',
      cause: 'not-scheduled',
    });
  });

  it('schedules nothing when no machine is alive', () => {
    expect(decide([unit('x.service')], [])).toEqual([]);
  });

  it('leaves units whose target state is inactive unscheduled', () => {
    expect(decide([unit('x.service', { state: 'inactive' })], three)).toEqual([]);
  });

  it('ignores the order units are given in', () => {
    const units = [
      unit('b.service', { conflicts: ['a.service'] }),
      unit('c.service', { on: M2 }),
      unit('a.service'),
      unit('d.service', { machineOf: ['a.service'] }),
    ];
    expect(decide(units, three)).toEqual(decide([...units].reverse(), [...three].reverse()));
  });
});

describe('decide: scheduled units (6.3 phase A)', () => {
  it('unschedules a unit whose target state became inactive', () => {
    expect(decide([unit('x.service', { on: M1, state: 'inactive' })], three)).toEqual([
      {
        type: 'UnscheduleUnit',
        unitName: 'x.service',
        machineID: M1,
        reason: 'target state inactive',
        cause: 'target-inactive',
      },
    ]);
  });

  it('checks the target state before the machine is known to be gone', () => {
    const [task] = decide([unit('x.service', { on: 'gone', state: 'inactive' })], three);
    expect(task?.reason).toBe('target state inactive');
  });

  it('unschedules the units of a machine that went away and re-places them in the same pass', () => {
    const units = [
      unit('a.service', { on: M1 }),
      unit('b.service', { on: M2 }),
      unit('c.service', { on: M3 }),
      unit('d.service', { on: M3 }),
    ];
    const tasks = decide(units, [machine(M1), machine(M2)]);
    expect(tasks).toEqual([
      {
        type: 'UnscheduleUnit',
        unitName: 'c.service',
        machineID: M3,
        reason: 'target Machine(m3) went away',
        cause: 'machine-away',
      },
      {
        type: 'UnscheduleUnit',
        unitName: 'd.service',
        machineID: M3,
        reason: 'target Machine(m3) went away',
        cause: 'machine-away',
      },
      {
        type: 'AttemptScheduleUnit',
        unitName: 'c.service',
        machineID: M1,
        reason: 'target state launched and unit not scheduled',
        cause: 'not-scheduled',
      },
      {
        type: 'AttemptScheduleUnit',
        unitName: 'd.service',
        machineID: M2,
        reason: 'target state launched and unit not scheduled',
        cause: 'not-scheduled',
      },
    ]);
  });

  it('does not rebalance existing placements when a machine joins', () => {
    const units = [
      unit('a.service', { on: M1 }),
      unit('b.service', { on: M1 }),
      unit('c.service', { on: M1 }),
    ];
    expect(decide(units, [...three, machine('m4')])).toEqual([]);
  });

  it('unschedules a unit its machine can no longer run and re-places it', () => {
    const units = [unit('x.service', { on: M1, metadata: { role: ['web'] } })];
    const machines = [machine(M1, { role: 'db' }), machine(M2, { role: 'web' })];
    expect(decide(units, machines)).toEqual([
      {
        type: 'UnscheduleUnit',
        unitName: 'x.service',
        machineID: M1,
        reason: 'target Machine(m1) unable to run unit: local Machine metadata insufficient',
        cause: 'unable-to-run',
      },
      {
        type: 'AttemptScheduleUnit',
        unitName: 'x.service',
        machineID: M2,
        reason: 'target state launched and unit not scheduled',
        cause: 'not-scheduled',
      },
    ]);
  });

  it('resolves two conflicting units found on one machine by moving the first by name', () => {
    const units = [
      unit('a.service', { on: M1, conflicts: ['b.service'] }),
      unit('b.service', { on: M1 }),
    ];
    const tasks = decide(units, [machine(M1), machine(M2)]);
    expect(tasks[0]?.reason).toBe(
      'target Machine(m1) unable to run unit: found conflict with locally-scheduled Unit(b.service)',
    );
    expect(describeTasks(tasks)).toEqual([
      'unschedule a.service from m1',
      'schedule a.service -> m2',
    ]);
  });
});

describe('decide: MachineID (6.2 rule 1)', () => {
  const longID = 'abcdef0123456789abcdef0123456789';
  const machines = [machine('0000'), machine(longID)];
  const busy = unit('busy.service', { on: longID });

  it('places a unit on the machine with the required full ID even when it is busier', () => {
    const tasks = decide([busy, unit('x.service', { machineID: longID })], machines);
    expect(describeTasks(tasks)).toEqual([`schedule x.service -> ${longID}`]);
  });

  it('accepts the 8-character short machine ID', () => {
    const tasks = decide([busy, unit('x.service', { machineID: 'abcdef01' })], machines);
    expect(describeTasks(tasks)).toEqual([`schedule x.service -> ${longID}`]);
  });

  it('does not accept other prefixes of the machine ID', () => {
    expect(decide([unit('x.service', { machineID: 'abcdef0' })], machines)).toEqual([]);
    expect(decide([unit('x.service', { machineID: 'abcdef012' })], machines)).toEqual([]);
  });

  it('leaves a unit pinned to an absent machine unscheduled', () => {
    expect(decide([unit('x.service', { machineID: 'absent' })], machines)).toEqual([]);
  });

  it('treats an empty MachineID as a requirement no machine meets', () => {
    expect(decide([unit('x.service', { machineID: '' })], machines)).toEqual([]);
  });

  it('moves a scheduled unit to the machine it is pinned to, quoting both IDs', () => {
    const tasks = decide([unit('x.service', { on: '0000', machineID: longID })], machines);
    expect(tasks[0]?.reason).toBe(
      `target Machine(0000) unable to run unit: agent ID "0000" does not match required "${longID}"`,
    );
    expect(describeTasks(tasks)).toEqual([
      'unschedule x.service from 0000',
      `schedule x.service -> ${longID}`,
    ]);
  });

  it('quotes the required ID the way Go %q does', () => {
    const tasks = decide([unit('x.service', { on: '0000', machineID: 'a"b\n' })], machines);
    expect(tasks[0]?.reason).toBe(
      'target Machine(0000) unable to run unit: agent ID "0000" does not match required "a\\"b\\n"',
    );
  });

  it('schedules each TestScheduleConditionMachineID unit onto its own machine', () => {
    const units = three.map((m) => unit(`pinned-${m.id}.service`, { machineID: m.id }));
    const { units: final } = runToFixedPoint(units, three);
    expect(placements(final)).toEqual({
      'pinned-m1.service': M1,
      'pinned-m2.service': M2,
      'pinned-m3.service': M3,
    });
  });
});

describe('decide: MachineMetadata (6.2 rule 2)', () => {
  const machines = [
    machine('a', { region: 'us', disk: 'hdd' }),
    machine('b', { region: 'eu', disk: 'ssd' }),
    machine('c', { region: 'us', disk: 'ssd' }),
  ];

  it('requires every key (AND across keys)', () => {
    const x = unit('x.service', { metadata: { region: ['us'], disk: ['ssd'] } });
    expect(describeTasks(decide([x], machines))).toEqual(['schedule x.service -> c']);
  });

  it('accepts any listed value of a key (OR within a key)', () => {
    const units = [
      unit('busy.service', { on: 'a' }),
      unit('x.service', { metadata: { region: ['eu', 'us'] } }),
    ];
    expect(describeTasks(decide(units, machines))).toEqual(['schedule x.service -> b']);
  });

  it('rejects a machine that lacks the key altogether', () => {
    expect(decide([unit('x.service', { metadata: { rack: ['1'] } })], machines)).toEqual([]);
  });

  it('does not look keys up on the metadata object prototype', () => {
    const x = unit('x.service', { metadata: { constructor: ['Object'] } });
    expect(decide([x], machines)).toEqual([]);
  });

  it('places TestTemplatesWithSpecifiersInMetadata instances by hostname, never the invalid one', () => {
    const hosts = ['m1', 'm2', 'm3'].map((id) => machine(id, { hostname: `smoke${id}` }));
    const units = ['m3', 'm2', 'm1', 'invalid'].map((i) =>
      unit(`metadata@smoke${i}.service`, { metadata: { hostname: [`smoke${i}`] } }),
    );
    const { units: final } = runToFixedPoint(units, hosts);
    expect(placements(final)).toEqual({
      'metadata@smokem3.service': 'm3',
      'metadata@smokem2.service': 'm2',
      'metadata@smokem1.service': 'm1',
      'metadata@smokeinvalid.service': null,
    });
  });
});

describe('decide: MachineOf (6.2 rule 3)', () => {
  it('places a follower on its leader’s machine in the same pass when the leader sorts first', () => {
    const units = [
      unit('ping.service'),
      unit('pong.service', { machineOf: ['ping.service'] }),
      unit('other.service', { on: M1 }),
    ];
    expect(describeTasks(decide(units, three))).toEqual([
      'schedule ping.service -> m2',
      'schedule pong.service -> m2',
    ]);
  });

  it('keeps a follower unscheduled while its leader is not placed', () => {
    const units = [
      unit('leader.service', { state: 'inactive' }),
      unit('follower.service', { machineOf: ['leader.service'] }),
    ];
    expect(decide(units, three)).toEqual([]);
  });

  it('places a follower that sorts before its leader on the next pass', () => {
    const units = [
      unit('a-follower.service', { machineOf: ['b-leader.service'] }),
      unit('b-leader.service'),
    ];
    const { units: final, passes } = runToFixedPoint(units, three);
    expect(passes.map(describeTasks)).toEqual([
      ['schedule b-leader.service -> m1'],
      ['schedule a-follower.service -> m1'],
    ]);
    expect(placements(final)).toEqual({ 'a-follower.service': M1, 'b-leader.service': M1 });
  });

  it('requires every listed peer on the machine', () => {
    const units = [
      unit('a.service', { on: M1 }),
      unit('b.service', { on: M2 }),
      unit('c.service', { machineOf: ['a.service', 'b.service'] }),
    ];
    expect(decide(units, three)).toEqual([]);
  });

  it('counts a global unit running on the machine as a peer', () => {
    const units = [
      unit('agent.service', { global: true, metadata: { role: ['edge'] } }),
      unit('x.service', { machineOf: ['agent.service'] }),
    ];
    const machines = [machine(M1), machine(M2, { role: 'edge' })];
    expect(describeTasks(decide(units, machines))).toEqual(['schedule x.service -> m2']);
  });

  it('moves ping/pong pairs together when their machine dies (TestScheduleMachineOf)', () => {
    const pairs = [1, 2, 3].flatMap((i) => [
      unit(`ping.${i}.service`),
      unit(`pong.${i}.service`, { machineOf: [`ping.${i}.service`] }),
    ]);
    const { units: before } = runToFixedPoint(pairs, three);
    const placed = placements(before);
    for (const i of [1, 2, 3]) {
      expect(placed[`pong.${i}.service`]).toBe(placed[`ping.${i}.service`]);
    }
    expect(new Set(Object.values(placed)).size).toBe(3);

    const lost = placed['ping.1.service']!;
    const survivors = three.filter((m) => m.id !== lost);
    const { units: after } = runToFixedPoint(before, survivors);
    const moved = placements(after);
    expect(moved['ping.1.service']).not.toBe(lost);
    expect(moved['pong.1.service']).toBe(moved['ping.1.service']);
    for (const name of ['ping.2.service', 'pong.2.service', 'ping.3.service', 'pong.3.service']) {
      expect(moved[name]).toBe(placed[name]);
    }
  });

  it('re-places a follower with its leader in the pass that moves the leader', () => {
    const units = [
      unit('leader.service', { on: M1, metadata: { role: ['app'] } }),
      unit('z-follower.service', { on: M1, machineOf: ['leader.service'] }),
    ];
    const machines = [machine(M1, { role: 'old' }), machine(M2, { role: 'app' })];
    const { units: final, passes } = runToFixedPoint(units, machines);
    expect(passes).toHaveLength(1);
    expect(passes[0]?.map((t) => t.reason)).toEqual([
      'target Machine(m1) unable to run unit: local Machine metadata insufficient',
      'target Machine(m1) unable to run unit: required peer Unit(leader.service) is not scheduled locally',
      'target state launched and unit not scheduled',
      'target state launched and unit not scheduled',
    ]);
    expect(placements(final)).toEqual({ 'leader.service': M2, 'z-follower.service': M2 });
  });

  it('moves a follower that sorts before its leader on the pass after the leader moved', () => {
    const units = [
      unit('a-follower.service', { on: M1, machineOf: ['b-leader.service'] }),
      unit('b-leader.service', { on: M1, metadata: { role: ['app'] } }),
    ];
    const machines = [machine(M1, { role: 'old' }), machine(M2, { role: 'app' })];
    const { units: final, passes } = runToFixedPoint(units, machines);
    expect(passes.map(describeTasks)).toEqual([
      ['unschedule b-leader.service from m1', 'schedule b-leader.service -> m2'],
      ['unschedule a-follower.service from m1', 'schedule a-follower.service -> m2'],
    ]);
    expect(placements(final)).toEqual({ 'a-follower.service': M2, 'b-leader.service': M2 });
  });
});

describe('decide: Conflicts (6.2 rule 4)', () => {
  it('puts 5 mutually conflicting units on 3 machines: 3 scheduled apart (TestScheduleConflicts)', () => {
    const units = [0, 1, 2, 3, 4].map((i) =>
      unit(`conflict.${i}.service`, { conflicts: ['conflict*'] }),
    );
    const { units: final } = runToFixedPoint(units, three);
    const scheduled = final.filter((u) => u.targetMachineID !== null);
    expect(scheduled).toHaveLength(3);
    expect(new Set(scheduled.map((u) => u.targetMachineID)).size).toBe(3);
  });

  it('blocks a unit that only the other side declares a conflict with (TestScheduleOneWayConflict)', () => {
    const single = [machine(M1)];
    const blocker = unit('conflicts-with-hello.service', { conflicts: ['hello.service'] });
    const hello = unit('hello.service');
    const { units: first } = runToFixedPoint([blocker, hello], single);
    expect(placements(first)).toEqual({
      'conflicts-with-hello.service': M1,
      'hello.service': null,
    });

    const withoutBlocker = first.filter((u) => u.name === 'hello.service');
    const { units: second } = runToFixedPoint(withoutBlocker, single);
    expect(placements(second)).toEqual({ 'hello.service': M1 });
  });

  it('honours several conflict values per unit (TestScheduleMultipleConflicts)', () => {
    const names = [0, 1, 2].map((i) => `conflict.multiple.${i}.service`);
    const units = names.map((name) =>
      unit(name, { conflicts: names.filter((other) => other !== name) }),
    );
    const { units: final } = runToFixedPoint(units, three);
    expect(new Set(final.map((u) => u.targetMachineID))).toEqual(new Set([M1, M2, M3]));
  });

  it('never counts a unit as conflicting with itself', () => {
    const units = [unit('app@1.service', { conflicts: ['app@*.service'] })];
    expect(describeTasks(decide(units, [machine(M1)]))).toEqual(['schedule app@1.service -> m1']);
  });

  it('treats a malformed conflict pattern as matching nothing', () => {
    const units = [unit('a.service', { on: M1 }), unit('b.service', { conflicts: ['a[', '['] })];
    expect(describeTasks(decide(units, [machine(M1)]))).toEqual(['schedule b.service -> m1']);
  });

  it('keeps the other units in place when one unit’s host leaves (TestDynamicClusterNewMemberUnitMigration)', () => {
    const machines = [...three, machine('m4')];
    const units = [0, 1, 2].map((i) => unit(`conflict.${i}.service`, { conflicts: ['conflict*'] }));
    const { units: before } = runToFixedPoint(units, machines);
    const placed = placements(before);
    const lost = placed['conflict.0.service']!;
    const { units: after, passes } = runToFixedPoint(
      before,
      machines.filter((m) => m.id !== lost),
    );
    expect(passes).toHaveLength(1);
    expect(placements(after)).toEqual({
      ...placed,
      'conflict.0.service': 'm4',
    });
  });

  it('moves exactly one unit when a member is replaced by a new machine (TestDynamicClusterMemberReboot)', () => {
    const units = [0, 1, 2].map((i) => unit(`conflict.${i}.service`, { conflicts: ['conflict*'] }));
    const { units: before } = runToFixedPoint(units, three);
    const rebooted = [machine(M1), machine(M2), machine('m3-new')];
    const { units: after } = runToFixedPoint(before, rebooted);
    const was = placements(before);
    const now = placements(after);
    const changed = Object.keys(now).filter((name) => now[name] !== was[name]);
    expect(changed).toHaveLength(1);
    expect(Object.values(now).filter((id) => id !== null)).toHaveLength(3);
  });
});

describe('decide: global units (5.4, 6.1)', () => {
  it('never schedules or unschedules a global unit, even one with a stale target', () => {
    const units = [
      unit('global.service', { global: true }),
      unit('stale-global.service', { global: true, on: 'gone' }),
    ];
    expect(decide(units, three)).toEqual([]);
  });

  it('counts global units towards a machine’s load', () => {
    const units = [
      unit('g.service', { global: true, metadata: { role: ['web'] } }),
      unit('x.service'),
    ];
    const machines = [machine(M1, { role: 'web' }), machine(M2, { role: 'db' })];
    expect(describeTasks(decide(units, machines))).toEqual(['schedule x.service -> m2']);
  });

  it('keeps a unit away from machines running a global unit it conflicts with', () => {
    const units = [
      unit('g.service', { global: true, metadata: { role: ['web'] } }),
      unit('x.service', { conflicts: ['g.service'] }),
      unit('filler.service', { on: M2 }),
    ];
    const machines = [machine(M1, { role: 'web' }), machine(M2, { role: 'db' })];
    expect(describeTasks(decide(units, machines))).toEqual(['schedule x.service -> m2']);
  });

  it('keeps a unit away from machines running a global unit that declares a conflict with it', () => {
    const units = [
      unit('g.service', { global: true, conflicts: ['x.service'] }),
      unit('x.service'),
    ];
    expect(decide(units, three)).toEqual([]);
  });

  it('lets a unit already on a machine keep a conflicting global off it', () => {
    const units = [
      unit('g.service', { global: true, conflicts: ['x.service'] }),
      unit('x.service', { on: M1 }),
      unit('y.service'),
    ];
    // m1 runs x.service only, m2 and m3 run the global: the new unit goes to m1.
    expect(describeTasks(decide(units, three))).toEqual(['schedule y.service -> m1']);
  });
});

describe('decide: Replaces (6.2 rule 5, 6.4)', () => {
  const twoMachines = [machine('A'), machine('B')];

  it('lands the replacer next to its victim, then moves the victim away (TestScheduleReplace)', () => {
    const units = [
      unit('replace.0.service', { on: 'A' }),
      unit('replace.1.service', { on: 'B' }),
      unit('replace.2.service', { on: 'B' }),
      unit('replace-kick0.service', { replaces: ['replace.0.service'] }),
    ];
    const { units: final, passes } = runToFixedPoint(units, twoMachines);
    expect(passes.map(describeTasks)).toEqual([
      ['schedule replace-kick0.service -> A'],
      ['unschedule replace.0.service from A', 'schedule replace.0.service -> B'],
    ]);
    expect(passes[1]?.map((t) => t.reason)).toEqual([
      'found replace with locally-scheduled Unit(replace.0.service)',
      'found replace with locally-scheduled Unit(replace.0.service)',
    ]);
    expect(passes[1]?.map((t) => t.cause)).toEqual(['replaced', 'replaced']);
    expect(placements(final)['replace-kick0.service']).toBe('A');
    expect(placements(final)['replace.0.service']).toBe('B');
  });

  it('moves the replaced unit, never the replacer, whichever sorts first', () => {
    const units = [
      unit('a-old.service', { on: 'A' }),
      unit('z-new.service', { on: 'A', replaces: ['a-old.service'] }),
    ];
    expect(describeTasks(decide(units, twoMachines))).toEqual([
      'unschedule a-old.service from A',
      'schedule a-old.service -> B',
    ]);
  });

  it('leaves the replaced unit in place when no other machine can take it', () => {
    const units = [
      unit('old.service', { on: 'A', metadata: { zone: ['a'] } }),
      unit('new.service', { on: 'A', replaces: ['old.service'] }),
    ];
    const machines = [machine('A', { zone: 'a' }), machine('B', { zone: 'b' })];
    expect(decide(units, machines)).toEqual([]);
  });

  it('does not move the replaced unit next to another unit that replaces it', () => {
    const units = [
      unit('old.service', { on: 'A' }),
      unit('new-1.service', { on: 'A', replaces: ['old.service'] }),
      unit('new-2.service', { on: 'B', replaces: ['old.service'] }),
    ];
    expect(decide(units, twoMachines)).toEqual([]);
  });

  it('treats units that replace each other as unrelated (TestScheduleCircularReplace)', () => {
    const units = [
      unit('replace.0.service', { on: 'A', replaces: ['replace-kick0.service'] }),
      unit('replace-kick0.service', { replaces: ['replace.0.service'] }),
    ];
    const { units: final, passes } = runToFixedPoint(units, [machine('A')]);
    expect(passes.map(describeTasks)).toEqual([['schedule replace-kick0.service -> A']]);
    expect(placements(final)).toEqual({ 'replace.0.service': 'A', 'replace-kick0.service': 'A' });
  });

  it('does not push away a unit the replacer needs through MachineOf', () => {
    const units = [
      unit('base.service', { on: 'A' }),
      unit('sidecar.service', { on: 'A', machineOf: ['base.service'] }),
      unit('new.service', { on: 'A', machineOf: ['sidecar.service'], replaces: ['base.service'] }),
    ];
    expect(decide(units, twoMachines)).toEqual([]);
  });

  it('settles a cycle of replaces (a over b, b over c, c over a) instead of moving forever', () => {
    const units = [
      unit('a.service', { on: 'A', replaces: ['b.service'] }),
      unit('b.service', { on: 'A', replaces: ['c.service'] }),
      unit('c.service', { on: 'B', replaces: ['a.service'] }),
    ];
    const { units: final } = runToFixedPoint(units, twoMachines);
    expect(placements(final)).toEqual({ 'a.service': 'A', 'b.service': 'A', 'c.service': 'B' });
  });

  it('ignores Replaces globs that match a global unit, which cannot move', () => {
    const units = [
      unit('g.service', { global: true }),
      unit('x.service', { on: 'A', replaces: ['g.service'] }),
    ];
    expect(decide(units, twoMachines)).toEqual([]);
  });

  it('moves the replaced unit’s followers after it on later passes', () => {
    const units = [
      unit('old.service', { on: 'A' }),
      unit('old-sidecar.service', { on: 'A', machineOf: ['old.service'] }),
      unit('new.service', { on: 'A', replaces: ['old.service'] }),
    ];
    const { units: final } = runToFixedPoint(units, twoMachines);
    expect(placements(final)).toEqual({
      'old.service': 'B',
      'old-sidecar.service': 'B',
      'new.service': 'A',
    });
  });
});

describe('applyTasks (test helper)', () => {
  it('carries out a move as a compare-and-delete followed by a create', () => {
    const units = [unit('x.service', { on: 'A' })];
    const moved = applyTasks(units, [
      {
        type: 'UnscheduleUnit',
        unitName: 'x.service',
        machineID: 'A',
        reason: '',
        cause: 'machine-away',
      },
      {
        type: 'AttemptScheduleUnit',
        unitName: 'x.service',
        machineID: 'B',
        reason: '',
        cause: 'not-scheduled',
      },
    ]);
    expect(placements(moved)).toEqual({ 'x.service': 'B' });
  });

  it('refuses to schedule a unit that is already scheduled', () => {
    const units = [unit('x.service', { on: 'A' })];
    const kept = applyTasks(units, [
      {
        type: 'AttemptScheduleUnit',
        unitName: 'x.service',
        machineID: 'B',
        reason: '',
        cause: 'not-scheduled',
      },
    ]);
    expect(placements(kept)).toEqual({ 'x.service': 'A' });
  });
});

describe('decide: repeated passes', () => {
  const machineIDs = ['m1', 'm2', 'm3', 'abcdef0123456789'];
  const unitNames = [
    'a.service',
    'b.service',
    'c.service',
    'd.service',
    'app@1.service',
    'app@2.service',
    'g1.service',
    'g2.service',
  ];
  const patterns = ['a.service', 'b*', 'app@*.service', '*', '?.service', 'g[12].service', '['];

  const machinesArb = fc
    .uniqueArray(fc.constantFrom(...machineIDs), { maxLength: machineIDs.length })
    .chain((ids) =>
      fc.tuple(
        ...ids.map((id) =>
          fc
            .record(
              { role: fc.constantFrom('web', 'db'), zone: fc.constantFrom('a', 'b') },
              {
                requiredKeys: [],
              },
            )
            .map((metadata) => machine(id, metadata)),
        ),
      ),
    );

  const unitArb = (name: string) =>
    fc
      .record({
        on: fc.option(fc.constantFrom(...machineIDs, 'gone'), { freq: 2 }),
        state: fc.constantFrom(...JOB_STATES),
        machineID: fc.option(fc.constantFrom(...machineIDs, 'abcdef01', 'gone', ''), { freq: 4 }),
        machineOf: fc.subarray(unitNames, { maxLength: 2 }),
        conflicts: fc.subarray(patterns, { maxLength: 2 }),
        replaces: fc.subarray(patterns, { maxLength: 2 }),
        metadata: fc.constantFrom<Record<string, string[]>>(
          {},
          { role: ['web'] },
          { role: ['web', 'db'] },
          { zone: ['a'] },
        ),
        global: fc.boolean(),
      })
      .map((options) => unit(name, options));

  const unitsArb = fc
    .subarray(unitNames, { minLength: 1 })
    .chain((names) => fc.tuple(...names.map(unitArb)));

  it('reaches a fixed point that honours every rule, from any starting schedule', () => {
    fc.assert(
      fc.property(unitsArb, machinesArb, (units, machines) => {
        const live = new Set(machines.map((m) => m.id));
        const globals = new Set(units.filter((u) => u.requirements.global).map((u) => u.name));
        const { units: final, passes } = runToFixedPoint(units, machines, 2 * units.length + 2);

        for (const task of passes.flat()) {
          expect(globals.has(task.unitName)).toBe(false);
          if (task.type === 'AttemptScheduleUnit') expect(live.has(task.machineID)).toBe(true);
        }
        for (const u of final) {
          if (u.requirements.global || u.targetMachineID === null) continue;
          expect(live.has(u.targetMachineID)).toBe(true);
          expect(u.targetState).not.toBe('inactive');
        }
        for (const m of machines) {
          const running = final.filter(
            (u) =>
              (!u.requirements.global && u.targetMachineID === m.id) ||
              globalUnitsFor(m, final).includes(u.name),
          );
          for (const a of running) {
            for (const b of running) expect(conflicts(a, b)).toBe(false);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decides the same whatever order units and machines come in', () => {
    fc.assert(
      fc.property(unitsArb, machinesArb, fc.nat(), (units, machines, seed) => {
        const rotate = <T>(list: readonly T[]) => {
          const k = list.length === 0 ? 0 : seed % list.length;
          return [...list.slice(k), ...list.slice(0, k)].reverse();
        };
        expect(decide(rotate(units), rotate(machines))).toEqual(decide(units, machines));
      }),
    );
  });
});
