import { afterEach, describe, expect, it } from 'vitest';
import type { RolloutRecord } from '../../src/registry/records.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import type { TwinMachine } from '../support/twin.js';
import { INTERVAL_MS, TTL_MS, Twin } from '../support/twin.js';

const OLD = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nGlobal=true\n');
const NEW = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n\n[X-Fleet]\nGlobal=true\n');
const IDS = ['m1', 'm2', 'm3', 'm4'];

let twin: Twin;
let machines: TwinMachine[];
afterEach(async () => {
  await twin.stop();
});

async function cluster(): Promise<void> {
  twin = new Twin();
  machines = [];
  for (const id of IDS) machines.push(await twin.start(id));
  await twin.client.units.put('g.service', OLD, 'launched');
  await twin.quiet();
}

/** What `POST /fleet/ext/v1/rollouts` writes: the rollout and its pins, then the new content. */
async function startRollout(overrides: Partial<RolloutRecord> = {}): Promise<void> {
  const record: RolloutRecord = {
    id: 'r1',
    createdAt: twin.clock.now(),
    units: [{ name: 'g.service', oldHash: OLD.hash, newHash: NEW.hash }],
    maxParallel: 1,
    minHealthyMs: 2 * INTERVAL_MS,
    healthyDeadlineMs: 10 * INTERVAL_MS,
    autoRevert: true,
    canary: 0,
    canaryPassed: false,
    healthCmd: null,
    status: 'running',
    steps: IDS.map((machineID) => ({ unit: 'g.service', machineID, phase: 'waiting' })),
    message: 'Rollout started',
    ...overrides,
  };
  const pins = IDS.map((machineID) => ({ machineID, unit: 'g.service', hash: OLD.hash }));
  expect(await twin.client.rollouts.create(record, pins)).toBe(true);
  await twin.client.units.put('g.service', NEW, 'launched');
  await twin.quiet();
}

/** The content each machine's systemd has for the unit, if it runs it. */
function running(): Array<string | null> {
  return machines.map((machine) => {
    if (machine.crashed) return null;
    const text = machine.manager.files.get('g.service');
    return text === undefined ? null : new UnitFile(UnitFile.parse(text).options).hash;
  });
}

async function rollout(): Promise<RolloutRecord> {
  return (await twin.client.rollouts.get('r1'))!.record;
}

const ONE_AT_A_TIME = [
  [NEW.hash, OLD.hash, OLD.hash, OLD.hash],
  [NEW.hash, NEW.hash, OLD.hash, OLD.hash],
  [NEW.hash, NEW.hash, NEW.hash, OLD.hash],
  [NEW.hash, NEW.hash, NEW.hash, NEW.hash],
];

describe('a rollout on the registry twin', () => {
  it('moves one machine at a time, each after the last stayed active for the minimum time', async () => {
    await cluster();
    expect(running()).toEqual(IDS.map(() => OLD.hash));
    await startRollout();
    const seen: string[] = [];
    for (let tick = 0; tick < 40 && (await rollout()).status === 'running'; tick += 1) {
      seen.push(JSON.stringify(running()));
      await twin.elapse(INTERVAL_MS / 2);
    }
    expect((await rollout()).status).toBe('completed');
    expect([...new Set(seen)]).toEqual(ONE_AT_A_TIME.map((row) => JSON.stringify(row)));
    expect(running()).toEqual(IDS.map(() => NEW.hash));
    expect(twin.store.range(`${twin.keys.prefix}rollout-pins/`).kvs).toEqual([]);
    const states = await twin.client.cluster.unitStates();
    expect(states.map((state) => state.hash)).toEqual(IDS.map(() => NEW.hash));
  });

  it('reverts the first machine when the new version fails there, leaving the others untouched', async () => {
    await cluster();
    await startRollout();
    expect(running()).toEqual(ONE_AT_A_TIME[0]);
    const [m1] = machines;
    m1!.manager.setSystemdState('g.service', {
      loadState: 'loaded',
      activeState: 'failed',
      subState: 'failed',
    });
    await twin.elapse(12 * INTERVAL_MS);
    const record = await rollout();
    expect(record.status).toBe('failed');
    expect(record.steps.map((step) => step.phase)).toEqual([
      'reverted',
      'waiting',
      'waiting',
      'waiting',
    ]);
    expect(record.steps[0]!.reason).toBe('failed/failed');
    expect(running()).toEqual(IDS.map(() => OLD.hash));
    for (const machine of machines.slice(1)) {
      expect(machine.manager.calls.filter((call) => call.method === 'start')).toHaveLength(1);
    }
    // The unit itself shows the new content: the failed rollout holds the machines back.
    expect((await twin.client.units.get('g.service'))?.hash).toBe(NEW.hash);
  });

  it('goes on under the next leader when the leader dies mid-rollout', async () => {
    await cluster();
    expect(twin.leader().machineID).toBe('m1');
    await startRollout();
    await twin.elapse(3 * INTERVAL_MS);
    expect(running()).toEqual(ONE_AT_A_TIME[1]);
    await machines[0]!.crash();
    await twin.elapse(TTL_MS + 20 * INTERVAL_MS);
    const record = await rollout();
    expect(record.status).toBe('completed');
    expect(record.steps.map((step) => step.phase)).toEqual([
      'healthy',
      'healthy',
      'healthy',
      'healthy',
    ]);
    expect(running()).toEqual([null, NEW.hash, NEW.hash, NEW.hash]);
  });

  it('waits for the health command to succeed on the machine before the next one moves', async () => {
    twin = new Twin();
    machines = [];
    const healthy = new Map(IDS.map((id) => [id, id !== 'm1']));
    const asked: string[] = [];
    for (const id of IDS) {
      machines.push(
        await twin.start(id, {
          healthCommand: async (command, unit) => {
            asked.push(`${id} ${unit} ${command}`);
            return healthy.get(id)!;
          },
        }),
      );
    }
    await twin.client.units.put('g.service', OLD, 'launched');
    await twin.quiet();
    await startRollout({ healthCmd: 'curl -f localhost/health' });
    await twin.elapse(5 * INTERVAL_MS);
    expect((await rollout()).steps.map((step) => step.phase)).toEqual([
      'updating',
      'waiting',
      'waiting',
      'waiting',
    ]);
    expect(asked).toContain('m1 g.service curl -f localhost/health');
    expect(asked.every((line) => line.startsWith('m1 '))).toBe(true);
    const reports = () => twin.store.range(`${twin.keys.prefix}rollout-health/`).kvs;
    expect(reports().map((kv) => JSON.parse(kv.value))).toEqual([
      { rollout: 'r1', hash: NEW.hash, ok: false },
    ]);
    healthy.set('m1', true);
    await twin.elapse(20 * INTERVAL_MS);
    expect((await rollout()).status).toBe('completed');
    expect(running()).toEqual(IDS.map(() => NEW.hash));
    expect(reports()).toEqual([]);
  });

  it('pauses after the canary until resumed', async () => {
    await cluster();
    await startRollout({ canary: 1 });
    await twin.elapse(10 * INTERVAL_MS);
    const paused = await twin.client.rollouts.get('r1');
    expect(paused?.record.status).toBe('paused');
    expect(running()).toEqual(ONE_AT_A_TIME[0]);
    const resumed = { ...paused!.record, status: 'running' as const, canaryPassed: true };
    expect(await twin.client.rollouts.update(paused!.modRevision, resumed, [], null)).toBe(true);
    await twin.elapse(20 * INTERVAL_MS);
    expect((await rollout()).status).toBe('completed');
    expect(running()).toEqual(IDS.map(() => NEW.hash));
  });
});
