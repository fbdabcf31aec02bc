import { describe, expect, it } from 'vitest';
import {
  applyOp,
  FAULT_KINDS,
  initialOps,
  type Model,
  PROBE_UNIT,
  planRounds,
  type Round,
} from '../../soak/plan.js';
import { seededRandom } from '../../soak/random.js';
import { Catalogue } from '../../soak/units.js';

function take(seed: number, n: number, machines = 3): Round[] {
  const rounds: Round[] = [];
  for (const r of planRounds(seed, { machines, etcdMembers: 3 })) {
    rounds.push(r);
    if (rounds.length === n) break;
  }
  return rounds;
}

describe('the soak plan', () => {
  it('is a function of the seed: the same seed replays the same rounds, another differs', () => {
    expect(take(42, 12)).toEqual(take(42, 12));
    expect(initialOps(42, new Catalogue(3))).toEqual(initialOps(42, new Catalogue(3)));
    expect(take(43, 12)).not.toEqual(take(42, 12));
  });

  it('injects three different kinds of fault in its first three rounds, whatever the seed', () => {
    for (let seed = 0; seed < 200; seed++) {
      const kinds = take(seed, 3).map((r) => r.fault.kind);
      expect(new Set(kinds).size, `seed ${seed}`).toBe(3);
    }
  });

  it('deals every kind of fault within the first ten rounds', () => {
    const kinds = take(7, FAULT_KINDS.length).map((r) => r.fault.kind);
    expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
  });

  it('hits only machines and etcd members that exist', () => {
    for (const machines of [3, 4, 5]) {
      for (const r of take(machines * 11, 40, machines)) {
        if (r.fault.kind === 'etcd-restart') expect(['1', '2', '3']).toContain(r.fault.target);
        else if (r.fault.kind !== 'etcd-leader-move') {
          const n = Number(r.fault.target.slice(1));
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(machines);
        }
      }
    }
  });

  it('records after each round exactly what its operations asked, starting from the initial ones', () => {
    const catalogue = new Catalogue(3);
    const model = new Map(initialOps(5, catalogue).model);
    for (const r of take(5, 30)) {
      for (const op of [...r.before, ...r.during, ...r.after]) applyOp(model, op);
      expect(r.model).toEqual(model);
    }
  });

  it('keeps each MachineOf pair together: both units exist or neither, in the same desired state', () => {
    for (const r of take(11, 60)) {
      for (const i of [0, 1]) {
        const a = r.model.get(`soak-pair-${i}-a.service`);
        const b = r.model.get(`soak-pair-${i}-b.service`);
        expect(a === undefined, `round ${r.index}`).toBe(b === undefined);
        expect(a?.desired).toBe(b?.desired);
      }
    }
  });

  it('only names units of the catalogue, and creates a MachineOf target before its follower', () => {
    const names = new Set(new Catalogue(3).names);
    for (const r of take(3, 60)) {
      for (const op of [...r.before, ...r.during, ...r.after]) {
        for (const u of op.units) expect(names.has(u)).toBe(true);
        if (op.kind === 'submit' && op.units.length === 2)
          expect(op.units[0]).toMatch(/-a\.service$/);
        if (op.kind === 'destroy' && op.units.length === 2)
          expect(op.units[0]).toMatch(/-b\.service$/);
      }
    }
  });

  it('ends every round with a change of the global unit that every machine must carry out', () => {
    for (const r of take(13, 40)) {
      expect(r.after).toHaveLength(1);
      const [probe] = r.after;
      expect(probe?.units).toEqual([PROBE_UNIT]);
      expect(probe?.kind).not.toBe('destroy');
      expect(r.model.get(PROBE_UNIT)).toBeDefined();
    }
    const launchedThenStopped = take(13, 40).map((r) => r.model.get(PROBE_UNIT)?.desired);
    expect(new Set(launchedThenStopped)).toEqual(new Set(['launched', 'loaded']));
  });

  it('keeps units running most of the time: the model launches a good share of the catalogue', () => {
    const launched = (m: Model) => [...m.values()].filter((w) => w.desired === 'launched').length;
    const counts = take(9, 100).map((r) => launched(r.model));
    expect(counts.reduce((a, b) => a + b, 0) / counts.length).toBeGreaterThan(5);
  });
});

describe('the seeded PRNG', () => {
  it('gives the same sequence for the same seed and stays in range', () => {
    const a = seededRandom(9);
    const b = seededRandom(9);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const r = seededRandom(1);
    for (let i = 0; i < 100; i++) {
      const v = r.between(3, 5);
      expect(v >= 3 && v <= 5 && Number.isInteger(v)).toBe(true);
    }
    expect(seededRandom(1).shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
