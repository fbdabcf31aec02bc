import { describe, expect, it } from 'vitest';
import {
  globalUnitsFor,
  hasMetadata,
  matchesMachineID,
  replacesOneWay,
} from '../../src/placement/rules.js';
import { machine, unit } from './helpers.js';

describe('globalUnitsFor', () => {
  it('runs only the first of two conflicting global units on every machine (TestScheduleGlobalConflicts)', () => {
    const units = [
      unit('conflict-global.1.service', { global: true, conflicts: ['conflict-global*'] }),
      unit('conflict-global.0.service', { global: true, conflicts: ['conflict-global*'] }),
    ];
    for (const id of ['m1', 'm2', 'm3']) {
      expect(globalUnitsFor(machine(id), units)).toEqual(['conflict-global.0.service']);
    }
  });

  it('runs a global unit only where the machine metadata matches', () => {
    const units = [unit('g.service', { global: true, metadata: { role: ['web'] } })];
    expect(globalUnitsFor(machine('m1', { role: 'web' }), units)).toEqual(['g.service']);
    expect(globalUnitsFor(machine('m2', { role: 'db' }), units)).toEqual([]);
  });

  it('ignores MachineID and MachineOf, which do not apply to global units', () => {
    const units = [
      unit('g.service', { global: true, machineID: 'other', machineOf: ['x.service'] }),
    ];
    expect(globalUnitsFor(machine('m1'), units)).toEqual(['g.service']);
  });

  it('keeps out a global unit that conflicts with a unit scheduled to the machine', () => {
    const units = [
      unit('g.service', { global: true }),
      unit('x.service', { on: 'm1', conflicts: ['g.service'] }),
    ];
    expect(globalUnitsFor(machine('m1'), units)).toEqual([]);
    expect(globalUnitsFor(machine('m2'), units)).toEqual(['g.service']);
  });

  it('does not let an inactive scheduled unit keep a global unit out', () => {
    const units = [
      unit('g.service', { global: true }),
      unit('x.service', { on: 'm1', state: 'inactive', conflicts: ['g.service'] }),
    ];
    expect(globalUnitsFor(machine('m1'), units)).toEqual(['g.service']);
  });

  it('lets a global unit that was kept out keep nothing out itself', () => {
    const units = [
      unit('g1.service', { global: true, conflicts: ['g2.service'] }),
      unit('g2.service', { global: true, conflicts: ['g3.service'] }),
      unit('g3.service', { global: true }),
    ];
    expect(globalUnitsFor(machine('m1'), units)).toEqual(['g1.service', 'g3.service']);
  });

  it('places global units regardless of their own desired state', () => {
    const units = [
      unit('g0.service', { global: true, state: 'inactive', conflicts: ['g1.service'] }),
      unit('g1.service', { global: true }),
    ];
    expect(globalUnitsFor(machine('m1'), units)).toEqual(['g0.service']);
  });
});

describe('placement rules', () => {
  it.each([
    ['0123456789abcdef', '0123456789abcdef', true],
    ['0123456789abcdef', '01234567', true],
    ['0123456789abcdef', '0123456', false],
    ['0123456789abcdef', '012345678', false],
    ['0123456789abcdef', '', false],
    ['short', 'short', true],
    ['short', 'shor', false],
  ] as const)('machine %s meets MachineID %j: %s', (id, required, matches) => {
    expect(matchesMachineID(id, required)).toBe(matches);
  });

  it('needs no metadata when none is required', () => {
    expect(hasMetadata(machine('m1'), new Map())).toBe(true);
  });

  it('sees no replace relation between units that replace each other', () => {
    const a = unit('a.service', { replaces: ['b.service'] });
    const b = unit('b.service', { replaces: ['a.service'] });
    expect(replacesOneWay(a, b)).toBe(false);
    expect(replacesOneWay(b, a)).toBe(false);
    expect(replacesOneWay(a, unit('b.service'))).toBe(true);
    expect(replacesOneWay(unit('b.service'), a)).toBe(false);
  });
});
