import { afterEach, describe, expect, it } from 'vitest';
import { UnitFile } from '../../src/unit/unit-file.js';
import type { TwinMachine } from '../support/twin.js';
import { INTERVAL_MS, TTL_MS, Twin } from '../support/twin.js';

const plain = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');

let twin: Twin;
afterEach(async () => {
  await twin.stop();
});

/** Publishes, as `machine`'s agent would, that systemd runs `name` there. */
async function runs(machine: TwinMachine, name: string): Promise<void> {
  await machine.seam.publications(machine.lease).publish([
    {
      name,
      state: {
        loadState: 'loaded',
        activeState: 'active',
        subState: 'running',
        hash: plain.hash,
        launched: true,
      },
    },
  ]);
}

async function drainOf(machineID: string) {
  return (await twin.client.cordons.list()).get(machineID)?.record.drain;
}

describe('a drain on the registry twin', () => {
  it('waits for each moved unit to run at its new place, across a change of engine leader', async () => {
    twin = new Twin();
    const m1 = await twin.start('m1');
    // No agent on m2: nothing runs there until the test says so.
    const m2 = await twin.start('m2', { agent: false, engine: false });
    await twin.start('m3');
    expect(twin.leader()).toBe(m1);
    await twin.client.cordons.cordon('m1');
    await twin.client.cordons.cordon('m2');
    for (const name of ['a.service', 'b.service']) {
      await twin.client.units.put(name, plain, 'launched');
    }
    await twin.quiet();
    expect(await twin.placements()).toEqual({ 'a.service': 'm3', 'b.service': 'm3' });

    await twin.client.cordons.uncordon('m2');
    await twin.client.cordons.drain('m3', 1);
    await twin.quiet();
    expect(await twin.placements()).toEqual({ 'a.service': 'm2', 'b.service': 'm3' });
    await twin.elapse(3 * INTERVAL_MS);
    expect(await twin.placements()).toEqual({ 'a.service': 'm2', 'b.service': 'm3' });
    expect(await drainOf('m3')).toEqual({
      maxParallel: 1,
      moving: ['a.service'],
      moved: [],
      stayed: [],
      done: false,
    });

    await m1.crash();
    await twin.elapse(2 * TTL_MS);
    expect(twin.leader().machineID).toBe('m3');
    expect(await twin.placements()).toEqual({ 'a.service': 'm2', 'b.service': 'm3' });

    await runs(m2, 'a.service');
    await twin.elapse(INTERVAL_MS);
    expect(await twin.placements()).toEqual({ 'a.service': 'm2', 'b.service': 'm2' });
    expect(await drainOf('m3')).toMatchObject({ moving: ['b.service'], moved: ['a.service'] });

    await runs(m2, 'b.service');
    await twin.elapse(INTERVAL_MS);
    expect(await drainOf('m3')).toEqual({
      maxParallel: 1,
      moving: [],
      moved: ['a.service', 'b.service'],
      stayed: [],
      done: true,
    });
  });

  it('moves nothing once uncordoned, and leaves moved units where they are', async () => {
    twin = new Twin();
    await twin.start('m1');
    await twin.start('m2', { agent: false, engine: false });
    await twin.client.cordons.cordon('m2');
    for (const name of ['a.service', 'b.service']) {
      await twin.client.units.put(name, plain, 'launched');
    }
    await twin.quiet();
    await twin.client.cordons.uncordon('m2');
    await twin.client.cordons.drain('m1', 1);
    await twin.quiet();
    expect(await twin.placements()).toEqual({ 'a.service': 'm2', 'b.service': 'm1' });

    await twin.client.cordons.uncordon('m1');
    await twin.elapse(3 * INTERVAL_MS);
    expect(await twin.placements()).toEqual({ 'a.service': 'm2', 'b.service': 'm1' });
    expect(await twin.client.cordons.list()).toEqual(new Map());
  });
});
