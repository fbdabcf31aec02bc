import { describe, expect, it } from 'vitest';
import { SettledPass } from '../../src/engine/settled-pass.js';
import type { EngineSnapshot } from '../../src/registry/model.js';

const snapshot = (): EngineSnapshot => ({
  units: new Map(),
  placements: new Map(),
  machines: new Map(),
  cordons: new Map(),
});

describe('settled engine passes', () => {
  it('a pass over the same snapshot and unconfirmed machines as a settled one repeats it', () => {
    const settled = new SettledPass();
    const seen = snapshot();
    settled.passed(seen, new Set(['m1']), true);
    expect(settled.repeats(seen, new Set(['m1']))).toBe(true);
  });

  it('a new snapshot, or other unconfirmed machines, need a decision', () => {
    const settled = new SettledPass();
    const seen = snapshot();
    settled.passed(seen, new Set(['m1']), true);
    expect(settled.repeats(snapshot(), new Set(['m1']))).toBe(false);
    // The grace period ended: the machine is no longer spared, its units must move.
    expect(settled.repeats(seen, new Set())).toBe(false);
    expect(settled.repeats(seen, new Set(['m2']))).toBe(false);
  });

  it('a pass that changed something, or missed requirements, is not repeated', () => {
    const settled = new SettledPass();
    const seen = snapshot();
    settled.passed(seen, new Set(), false);
    expect(settled.repeats(seen, new Set())).toBe(false);
  });

  it('nothing is repeated before the first pass or after leadership is lost', () => {
    const settled = new SettledPass();
    const seen = snapshot();
    expect(settled.repeats(seen, new Set())).toBe(false);
    settled.passed(seen, new Set(), true);
    settled.forget();
    expect(settled.repeats(seen, new Set())).toBe(false);
  });
});
