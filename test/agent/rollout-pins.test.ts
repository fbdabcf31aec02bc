import { describe, expect, it } from 'vitest';
import { runHealthCommand } from '../../src/agent/health-command.js';
import { healthChecksDue, withPins } from '../../src/agent/plan.js';

const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);
const active = { loadState: 'loaded', activeState: 'active', subState: 'running' };

describe('agent: units a rollout holds back', () => {
  it('runs the pinned content of a pinned unit, and the record’s of every other', () => {
    const entries = new Map([
      ['g.service', { hash: NEW, desiredState: 'launched' as const }],
      ['h.service', { hash: NEW, desiredState: 'loaded' as const }],
    ]);
    expect(withPins(entries, new Map([['g.service', OLD]]))).toEqual(
      new Map([
        ['g.service', { hash: OLD, desiredState: 'launched' }],
        ['h.service', { hash: NEW, desiredState: 'loaded' }],
      ]),
    );
    expect(withPins(entries, new Map())).toBe(entries);
  });

  it('checks health only where the checked content runs and systemd reports it active', () => {
    const check = { rollout: 'r1', hash: NEW, command: 'true' };
    const checks = new Map([
      ['a.service', check],
      ['b.service', check],
      ['c.service', check],
      ['d.service', check],
    ]);
    const local = new Map([
      ['a.service', { hash: NEW, state: 'launched' as const }],
      ['b.service', { hash: OLD, state: 'launched' as const }],
      ['c.service', { hash: NEW, state: 'launched' as const }],
    ]);
    const reported = new Map([
      ['a.service', active],
      ['b.service', active],
      ['c.service', { ...active, activeState: 'activating', subState: 'start-pre' }],
    ]);
    expect(healthChecksDue(checks, local, reported)).toEqual(['a.service']);
  });
});

describe('agent: a health command', () => {
  it('succeeds on exit status 0 and fails otherwise, with the unit named in FLEET_UNIT', async () => {
    expect(await runHealthCommand('test "$FLEET_UNIT" = g.service', 'g.service')).toBe(true);
    expect(await runHealthCommand('test "$FLEET_UNIT" = g.service', 'h.service')).toBe(false);
    expect(await runHealthCommand('exit 3', 'g.service')).toBe(false);
  });
});
