import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentView } from '../../src/engine/agent-view.js';
import type { SchedulerUnit } from '../../src/placement/model.js';
import { byName, conflicts, globalUnitsFor, replacesOneWay } from '../../src/placement/rules.js';
import { machine, unit } from '../placement/helpers.js';

describe('AgentView', () => {
  const names = ['a.service', 'b.service', 'c.service', 'd.service'];
  const globals = [
    unit('g1.service', { global: true, conflicts: ['a.service'] }),
    unit('g2.service', { global: true, conflicts: ['g1.service'] }),
    unit('g3.service', { global: true, metadata: { role: ['web'] } }),
    unit('g4.service', { global: true }),
  ];
  const declared: Record<string, { conflicts?: string[]; replaces?: string[] }> = {
    'b.service': { conflicts: ['g4.service'] },
    'c.service': { replaces: ['probe*'] },
    'd.service': { conflicts: ['probe*'], replaces: ['*'] },
  };
  const scheduledUnit = (name: string): SchedulerUnit =>
    unit(name, { on: 'm1', ...declared[name] });
  const probes = [
    unit('probe.service'),
    unit('probe.service', { conflicts: ['[ag]*'], replaces: ['[ab]*'] }),
    unit('probe.service', { replaces: ['d.service'] }),
  ];

  it('answers as a from-scratch computation would, through any adds and removes', () => {
    const step = fc.record({ add: fc.boolean(), name: fc.constantFrom(...names) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), fc.boolean(), (steps, web) => {
        const m = machine('m1', web ? { role: 'web' } : {});
        const view = new AgentView(m, [], globals);
        const here = new Set<string>();
        for (const { add, name } of steps) {
          if (add && !here.has(name)) {
            view.add(scheduledUnit(name));
            here.add(name);
          } else if (!add) {
            view.remove(name);
            here.delete(name);
          }
          const scheduled = [...here].map(scheduledUnit);
          const expected = new Set([...here, ...globalUnitsFor(m, [...scheduled, ...globals])]);
          expect(view.load).toBe(expected.size);
          for (const u of [...names, ...globals.map((g) => g.name)]) {
            expect(view.has(u)).toBe(expected.has(u));
          }
          expect(view.scheduledUnits().map((u) => u.name)).toEqual([...here].sort());

          const placed = [...scheduled, ...globals.filter((g) => expected.has(g.name))];
          placed.sort(byName);
          for (const probe of probes) {
            expect(view.firstConflict(probe)?.name).toBe(
              placed.find((u) => conflicts(probe, u))?.name,
            );
            expect(view.firstReplaceRelation(probe)?.name).toBe(
              scheduled
                .sort(byName)
                .find((u) => replacesOneWay(probe, u) || replacesOneWay(u, probe))?.name,
            );
          }
        }
      }),
    );
  });

  it('reports the first conflicting unit by name, global or not', () => {
    const view = new AgentView(
      machine('m1'),
      [unit('z.service'), unit('b.service', { conflicts: ['x.service'] })],
      [unit('g.service', { global: true })],
    );
    const x = unit('x.service', { conflicts: ['z.service', 'g.service'] });
    expect(view.firstConflict(x)?.name).toBe('b.service');
    view.remove('b.service');
    expect(view.firstConflict(x)?.name).toBe('g.service');
    expect(view.firstConflict(unit('y.service'))).toBeUndefined();
  });
});
