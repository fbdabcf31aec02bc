import { describe, expect, it } from 'vitest';
import { decideRollout, type RolloutInput, stepKey } from '../../src/engine/rollout.js';
import type { UnitState } from '../../src/registry/model.js';
import type { RolloutRecord, RolloutStep } from '../../src/registry/records.js';

const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);
const MACHINES = ['m1', 'm2', 'm3', 'm4'];

function record(overrides: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    id: 'r1',
    createdAt: 0,
    units: [{ name: 'g.service', oldHash: OLD, newHash: NEW }],
    maxParallel: 1,
    minHealthyMs: 1000,
    healthyDeadlineMs: 60_000,
    autoRevert: true,
    canary: 0,
    canaryPassed: false,
    healthCmd: null,
    status: 'running',
    steps: MACHINES.map((machineID) => ({ unit: 'g.service', machineID, phase: 'waiting' })),
    message: 'Rollout started',
    ...overrides,
  };
}

function state(machineID: string, hash: string, activeState = 'active'): UnitState {
  return {
    name: 'g.service',
    machineID,
    hash,
    activeState,
    subState: activeState === 'active' ? 'running' : 'dead',
    loadState: 'loaded',
    launched: true,
  };
}

function input(rollout: RolloutRecord, overrides: Partial<RolloutInput> = {}): RolloutInput {
  return {
    record: rollout,
    unitHashes: new Map([['g.service', NEW]]),
    states: MACHINES.map((machineID) => state(machineID, OLD)),
    machines: new Set(MACHINES),
    healthChecks: new Map(),
    now: 100_000,
    ...overrides,
  };
}

function withSteps(steps: Array<Partial<RolloutStep> & { machineID: string }>): RolloutStep[] {
  return MACHINES.map((machineID) => {
    const given = steps.find((step) => step.machineID === machineID);
    return { unit: 'g.service', machineID, phase: 'waiting', ...given };
  });
}

const phases = (rollout: RolloutRecord) => rollout.steps.map((step) => step.phase);

describe('a rollout pass', () => {
  it('starts max-parallel steps in order, pinning each to the new content', () => {
    const decision = decideRollout(input(record({ maxParallel: 2 })));
    expect(phases(decision.record)).toEqual(['updating', 'updating', 'waiting', 'waiting']);
    expect(decision.record.steps[0]!.startedAt).toBe(100_000);
    expect(decision.pins).toEqual([
      { machineID: 'm1', unit: 'g.service', hash: NEW },
      { machineID: 'm2', unit: 'g.service', hash: NEW },
    ]);
  });

  it('hands a step’s health command to its machine with the pin', () => {
    const decision = decideRollout(input(record({ healthCmd: 'curl -f localhost' })));
    expect(decision.pins).toEqual([
      { machineID: 'm1', unit: 'g.service', hash: NEW, healthCmd: 'curl -f localhost' },
    ]);
  });

  it('waits while the units still have their old content: the API has not replaced them yet', () => {
    const decision = decideRollout(input(record(), { unitHashes: new Map([['g.service', OLD]]) }));
    expect(decision.changed).toBe(false);
    expect(phases(decision.record)).toEqual(['waiting', 'waiting', 'waiting', 'waiting']);
  });

  it('notes when a step turned active with the new content, and starts nothing more meanwhile', () => {
    const rollout = record({
      steps: withSteps([{ machineID: 'm1', phase: 'updating', startedAt: 99_000 }]),
    });
    const states = [state('m1', NEW), ...MACHINES.slice(1).map((id) => state(id, OLD))];
    const decision = decideRollout(input(rollout, { states }));
    expect(decision.record.steps[0]).toMatchObject({ phase: 'updating', activeSince: 100_000 });
    expect(phases(decision.record).slice(1)).toEqual(['waiting', 'waiting', 'waiting']);
    expect(decision.pins).toEqual([]);
    expect(decision.changed).toBe(true);
  });

  it('makes a step healthy after the minimum healthy time, releases its pin and starts the next', () => {
    const rollout = record({
      steps: withSteps([
        { machineID: 'm1', phase: 'updating', startedAt: 98_000, activeSince: 99_000 },
      ]),
    });
    const states = [state('m1', NEW), ...MACHINES.slice(1).map((id) => state(id, OLD))];
    const decision = decideRollout(input(rollout, { states }));
    expect(phases(decision.record)).toEqual(['healthy', 'updating', 'waiting', 'waiting']);
    expect(decision.pins).toEqual([
      { machineID: 'm1', unit: 'g.service', hash: null },
      { machineID: 'm2', unit: 'g.service', hash: NEW },
    ]);
  });

  it('starts the minimum healthy time again when the unit leaves active', () => {
    const rollout = record({
      steps: withSteps([
        { machineID: 'm1', phase: 'updating', startedAt: 98_000, activeSince: 99_500 },
      ]),
    });
    const states = [
      state('m1', NEW, 'activating'),
      ...MACHINES.slice(1).map((id) => state(id, OLD)),
    ];
    const decision = decideRollout(input(rollout, { states }));
    expect(decision.record.steps[0]!.activeSince).toBeUndefined();
    expect(decision.record.steps[0]!.phase).toBe('updating');
  });

  it('does not count a state of the previous content as healthy', () => {
    const rollout = record({
      minHealthyMs: 0,
      steps: withSteps([{ machineID: 'm1', phase: 'updating', startedAt: 99_000 }]),
    });
    const decision = decideRollout(input(rollout));
    expect(decision.record.steps[0]!.phase).toBe('updating');
  });

  it('with a health command, waits for it to succeed on that machine', () => {
    const rollout = record({
      healthCmd: 'true',
      minHealthyMs: 0,
      steps: withSteps([{ machineID: 'm1', phase: 'updating', startedAt: 99_000 }]),
    });
    const states = [state('m1', NEW), ...MACHINES.slice(1).map((id) => state(id, OLD))];
    const failing = decideRollout(
      input(rollout, { states, healthChecks: new Map([['m1/g.service', false]]) }),
    );
    expect(failing.record.steps[0]!.phase).toBe('updating');
    const passing = decideRollout(
      input(rollout, {
        states,
        healthChecks: new Map([[stepKey({ machineID: 'm1', unit: 'g.service' }), true]]),
      }),
    );
    expect(passing.record.steps[0]!.phase).toBe('healthy');
  });

  it('past the deadline, reverts the step, fails the rollout and leaves the others untouched', () => {
    const rollout = record({
      steps: withSteps([{ machineID: 'm1', phase: 'updating', startedAt: 40_000 }]),
    });
    const states = [state('m1', NEW, 'failed'), ...MACHINES.slice(1).map((id) => state(id, OLD))];
    const decision = decideRollout(input(rollout, { states }));
    expect(decision.record.status).toBe('failed');
    expect(phases(decision.record)).toEqual(['reverted', 'waiting', 'waiting', 'waiting']);
    expect(decision.record.steps[0]!.reason).toBe('failed/dead');
    expect(decision.pins).toEqual([{ machineID: 'm1', unit: 'g.service', hash: OLD }]);
    expect(decision.record.message).toBe(
      'Rollout failed: g.service on machine m1 did not become healthy within 1m0s (failed/dead); reverted to the previous content',
    );
  });

  it('without auto-revert, fails the rollout and leaves the step on the new content', () => {
    const rollout = record({
      autoRevert: false,
      steps: withSteps([{ machineID: 'm1', phase: 'updating', startedAt: 40_000 }]),
    });
    const decision = decideRollout(input(rollout));
    expect(decision.record.status).toBe('failed');
    expect(decision.record.steps[0]).toMatchObject({
      phase: 'failed',
      reason: 'still runs the previous content',
    });
    expect(decision.pins).toEqual([]);
  });

  it('pauses after the canary steps are healthy, and starts no more than the canary before', () => {
    const first = decideRollout(input(record({ canary: 1, maxParallel: 3 })));
    expect(phases(first.record)).toEqual(['updating', 'waiting', 'waiting', 'waiting']);
    const rollout = record({
      canary: 1,
      maxParallel: 3,
      steps: withSteps([{ machineID: 'm1', phase: 'healthy' }]),
    });
    const paused = decideRollout(input(rollout));
    expect(paused.record.status).toBe('paused');
    expect(paused.record.message).toBe(
      'Paused after 1 canary step: resume with fleetctl rollout resume r1',
    );
    expect(paused.pins).toEqual([]);
    const resumed = decideRollout(input({ ...rollout, canaryPassed: true }));
    expect(phases(resumed.record)).toEqual(['healthy', 'updating', 'updating', 'updating']);
  });

  it('decides nothing for a rollout that is paused, failed, aborted or completed', () => {
    for (const status of ['paused', 'failed', 'aborted', 'completed'] as const) {
      expect(decideRollout(input(record({ status }))).changed).toBe(false);
    }
  });

  it('completes once every step is healthy', () => {
    const rollout = record({
      steps: MACHINES.map((machineID) => ({ unit: 'g.service', machineID, phase: 'healthy' })),
    });
    const decision = decideRollout(input(rollout));
    expect(decision.record.status).toBe('completed');
    expect(decision.record.message).toBe('Rollout completed: 4 of 4 updated');
  });

  it('waits for an updating step whose machine is away (a fleetd restart) until the deadline', () => {
    const rollout = record({
      steps: withSteps([{ machineID: 'm1', phase: 'updating', startedAt: 99_000 }]),
    });
    const away = { machines: new Set(['m2', 'm3', 'm4']) };
    const waiting = decideRollout(input(rollout, away));
    expect(phases(waiting.record)).toEqual(['updating', 'waiting', 'waiting', 'waiting']);
    expect(waiting.pins).toEqual([]);
    const decision = decideRollout(input(rollout, { ...away, now: 160_000 }));
    expect(decision.record.status).toBe('running');
    expect(phases(decision.record)).toEqual(['lost', 'updating', 'waiting', 'waiting']);
    expect(decision.pins).toEqual([
      { machineID: 'm1', unit: 'g.service', hash: null },
      { machineID: 'm2', unit: 'g.service', hash: NEW },
    ]);
  });

  it('skips waiting steps on absent machines, and ends with them lost', () => {
    const rollout = record({
      steps: withSteps([
        { machineID: 'm2', phase: 'healthy' },
        { machineID: 'm3', phase: 'healthy' },
        { machineID: 'm4', phase: 'healthy' },
      ]),
    });
    const decision = decideRollout(input(rollout, { machines: new Set(['m2', 'm3', 'm4']) }));
    expect(decision.record.status).toBe('completed');
    expect(decision.record.message).toBe(
      'Rollout completed: 3 of 4 updated, 1 lost with their machine',
    );
  });

  it('fails, releasing every pin, when a unit is replaced or destroyed behind its back', () => {
    const rollout = record({
      steps: withSteps([
        { machineID: 'm1', phase: 'healthy' },
        { machineID: 'm2', phase: 'updating', startedAt: 99_000 },
      ]),
    });
    const decision = decideRollout(input(rollout, { unitHashes: new Map() }));
    expect(decision.record.status).toBe('failed');
    expect(decision.record.message).toBe(
      'Unit g.service was replaced or destroyed during the rollout',
    );
    expect(decision.pins.map((pin) => [pin.machineID, pin.hash])).toEqual([
      ['m2', null],
      ['m3', null],
      ['m4', null],
    ]);
  });
});
