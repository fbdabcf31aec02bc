import { afterEach, describe, expect, it } from 'vitest';
import type { AppliedChanges } from '../../src/registry/model.js';
import type { FencedScheduleWrites } from '../../src/registry/ports.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { slowBodies, TTL_MS, Twin } from '../support/twin.js';

const plain = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const other = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
const onWorkers = UnitFile.parse(
  '[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nMachineMetadata=role=worker\n',
);
const followsLeader = UnitFile.parse(
  '[Service]\nExecStart=/bin/sleep 3000\n\n[X-Fleet]\nMachineOf=leader.service\n',
);

let twin: Twin;
afterEach(async () => {
  await twin.stop();
});

/** A writer that lets `before` run once, just before the first write reaches the registry. */
function racing(
  before: () => Promise<void>,
  results: AppliedChanges[],
): (writer: FencedScheduleWrites) => FencedScheduleWrites {
  let raced = false;
  return (writer) => ({
    apply: async (fence, changes) => {
      if (!raced) {
        raced = true;
        await before();
      }
      const result = await writer.apply(fence, changes);
      results.push(result);
      return result;
    },
  });
}

describe('the engine on the registry twin', () => {
  it('schedules submitted units on the least loaded machines', async () => {
    twin = new Twin();
    await twin.start('m1');
    await twin.start('m2');
    for (const name of ['a.service', 'b.service', 'c.service', 'd.service']) {
      await twin.client.units.put(name, plain, 'launched');
    }
    await twin.quiet();
    expect(await twin.placements()).toEqual({
      'a.service': 'm1',
      'b.service': 'm2',
      'c.service': 'm1',
      'd.service': 'm2',
    });
    expect(twin.scheduleEntry('m1', 'a.service')).toEqual({
      hash: plain.hash,
      desiredState: 'launched',
    });
  });

  it('refuses the fenced write of a deposed leader, which then stops leading', async () => {
    twin = new Twin();
    const m1 = await twin.start('m1');
    expect(twin.leader()).toBe(m1);

    // m1 no longer hears of the leader key, which another machine takes meanwhile.
    twin.store.severWatches(twin.keys.engineLeader);
    await twin.quiet();
    twin.store.txn({ compare: [], success: [{ type: 'delete', key: twin.keys.engineLeader }] });
    const usurper = await twin.start('m2', { engine: false, agent: false });
    expect((await usurper.leadership.campaign())?.machineID).toBe('m2');

    await twin.client.units.put('a.service', plain, 'launched');
    await twin.quiet();
    expect(m1.logs).toContain(
      'Engine leadership lost, renewal failed: leader key no longer held by this machine',
    );
    expect(m1.logs.filter((line) => line.startsWith('Scheduled Unit('))).toEqual([]);
    expect(m1.leadership.fence).toBeNull();
    expect(await twin.placements()).toEqual({ 'a.service': null });

    // Hearing the key again, it finds m2 leading and does not campaign.
    twin.store.restoreWatches();
    await twin.elapse(TTL_MS / 2);
    expect(m1.leadership.fence).toBeNull();
    expect(m1.logs).toContain('Engine leader is m2');
  });

  it('leaves units on machines absent at its election alone for one TTL, then moves them', async () => {
    twin = new Twin();
    const m1 = await twin.start('m1');
    await twin.start('m2');
    for (const name of ['a.service', 'b.service']) {
      await twin.client.units.put(name, plain, 'launched');
    }
    await twin.quiet();
    expect(await twin.placements()).toEqual({ 'a.service': 'm1', 'b.service': 'm2' });

    // The leader dies: its lease takes its presence and the leader key at once.
    await m1.crash();
    await twin.elapse(TTL_MS);
    const m2 = twin.leader();
    expect(m2.machineID).toBe('m2');
    expect(await twin.placements()).toEqual({ 'a.service': 'm1', 'b.service': 'm2' });

    await twin.elapse(TTL_MS);
    expect(await twin.placements()).toEqual({ 'a.service': 'm2', 'b.service': 'm2' });
    expect(m2.logs).toContain('Scheduled Unit(a.service) to Machine(m2)');
  });

  it('moves the units of a machine lost while it leads at once, without waiting out a grace', async () => {
    twin = new Twin();
    await twin.start('m1');
    const m2 = await twin.start('m2');
    await twin.start('m3');
    for (const name of ['a.service', 'b.service', 'c.service']) {
      await twin.client.units.put(name, plain, 'launched');
    }
    await twin.quiet();
    expect(await twin.placements()).toEqual({
      'a.service': 'm1',
      'b.service': 'm2',
      'c.service': 'm3',
    });

    await m2.crash();
    // The lease outlives its last renewal by one TTL; the pass that follows moves b.service.
    await twin.elapse(TTL_MS);
    const placed = await twin.placements();
    expect(placed['b.service']).not.toBe('m2');
    expect(placed['b.service']).not.toBeNull();
    expect(twin.scheduleEntry('m2', 'b.service')).toBeNull();
  });

  it('decides again a unit that changed between its decision and its write', async () => {
    twin = new Twin();
    await twin.client.units.put('a.service', plain, 'launched');
    const results: AppliedChanges[] = [];
    const replace = () => twin.client.units.put('a.service', other, 'loaded');
    await twin.start('m1', { writer: racing(replace, results) });

    expect(results[0]).toEqual({ applied: [], revision: null, deposed: false });
    expect(twin.scheduleEntry('m1', 'a.service')).toEqual({
      hash: other.hash,
      desiredState: 'loaded',
    });
  });

  it('commits the rest of a batch in which one change lost its race', async () => {
    twin = new Twin();
    for (const name of ['a.service', 'b.service', 'c.service']) {
      await twin.client.units.put(name, plain, 'launched');
    }
    const results: AppliedChanges[] = [];
    const stop = async () => {
      await twin.client.units.setDesiredState('b.service', 'loaded');
    };
    await twin.start('m1', { writer: racing(stop, results) });

    expect(results[0]?.deposed).toBe(false);
    expect(results[0]?.applied.map((change) => change.unitName)).toEqual([
      'a.service',
      'c.service',
    ]);
    expect(twin.scheduleEntry('m1', 'b.service')).toEqual({
      hash: plain.hash,
      desiredState: 'loaded',
    });
  });

  it('a new leader with a cold cache does not unschedule a MachineOf follower whose leader unit it cannot yet see', async () => {
    twin = new Twin();
    const m1 = await twin.start('m1');
    await twin.start('m2', { metadata: { role: 'worker' }, engine: false });
    await twin.client.units.put('leader.service', onWorkers, 'launched');
    await twin.client.units.put('follower.service', followsLeader, 'launched');
    await twin.quiet();
    expect(await twin.placements()).toEqual({
      'follower.service': 'm2',
      'leader.service': 'm2',
    });

    // The successor cannot read leader.service's body until released.
    let release: () => void = () => undefined;
    const m3 = await twin.start('m3', {
      bodies: (bodies) => {
        const slow = slowBodies(bodies, new Set([onWorkers.hash]));
        release = slow.release;
        return slow.bodies;
      },
    });
    await m1.crash();
    await twin.elapse(TTL_MS * 3);
    expect(twin.leader()).toBe(m3);
    expect(await twin.placements()).toEqual({
      'follower.service': 'm2',
      'leader.service': 'm2',
    });

    release();
    await twin.elapse(TTL_MS);
    expect(await twin.placements()).toEqual({
      'follower.service': 'm2',
      'leader.service': 'm2',
    });
    expect(m3.logs.filter((line) => line.startsWith('Unscheduled Job('))).toEqual([]);
  });
});
