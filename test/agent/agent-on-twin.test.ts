import { afterEach, describe, expect, it } from 'vitest';
import { UnitFile } from '../../src/unit/unit-file.js';
import { TTL_MS, Twin } from '../support/twin.js';

const plain = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const replacement = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');

let twin: Twin;
afterEach(async () => {
  await twin.stop();
});

async function activeState(
  manager: { states(names: readonly string[]): Promise<Map<string, { activeState: string }>> },
  name: string,
): Promise<string | undefined> {
  return (await manager.states([name])).get(name)?.activeState;
}

describe('the agent on the registry twin', () => {
  it('loads and starts a unit scheduled here, and publishes that it launched it', async () => {
    twin = new Twin();
    const m1 = await twin.start('m1');
    await twin.client.units.put('a.service', plain, 'launched');
    await twin.quiet();

    expect(m1.manager.files.get('a.service')).toBe(plain.serialized);
    expect(await activeState(m1.manager, 'a.service')).toBe('active');
    expect(await twin.client.cluster.unit('a.service')).toMatchObject({
      machineID: 'm1',
      currentState: 'launched',
    });
    expect(await twin.client.states.forUnit('a.service')).toMatchObject([
      { machineID: 'm1', hash: plain.hash, activeState: 'active', launched: true },
    ]);
  });

  it('stops a unit set to loaded, replaces one whose content changed, and unloads a destroyed one', async () => {
    twin = new Twin();
    const m1 = await twin.start('m1');
    await twin.client.units.put('a.service', plain, 'launched');
    await twin.quiet();

    await twin.client.units.setDesiredState('a.service', 'loaded');
    await twin.quiet();
    expect(await activeState(m1.manager, 'a.service')).toBe('inactive');
    expect(m1.manager.files.has('a.service')).toBe(true);
    expect(await twin.client.cluster.unit('a.service')).toMatchObject({ currentState: 'loaded' });

    await twin.client.units.put('a.service', replacement, 'launched');
    await twin.quiet();
    expect(m1.manager.files.get('a.service')).toBe(replacement.serialized);
    expect(await activeState(m1.manager, 'a.service')).toBe('active');
    expect(await twin.client.states.forUnit('a.service')).toMatchObject([
      { hash: replacement.hash, launched: true },
    ]);

    await twin.client.units.destroy('a.service');
    await twin.quiet();
    expect(m1.manager.files.has('a.service')).toBe(false);
    expect(await activeState(m1.manager, 'a.service')).toBe('inactive');
    expect(await twin.client.states.forUnit('a.service')).toEqual([]);
  });

  it('runs only what is scheduled to its own machine', async () => {
    twin = new Twin();
    const m1 = await twin.start('m1');
    const m2 = await twin.start('m2');
    await twin.client.units.put('a.service', plain, 'launched');
    await twin.client.units.put('b.service', replacement, 'launched');
    await twin.quiet();

    expect([...m1.manager.files.keys()]).toEqual(['a.service']);
    expect([...m2.manager.files.keys()]).toEqual(['b.service']);
  });

  it('publishes states that vanish with its lease, and its units run on elsewhere', async () => {
    twin = new Twin();
    await twin.start('m1');
    const m2 = await twin.start('m2');
    await twin.client.units.put('a.service', plain, 'launched');
    await twin.client.units.put('b.service', replacement, 'launched');
    await twin.quiet();
    expect(await twin.client.states.forUnit('b.service')).toMatchObject([{ machineID: 'm2' }]);

    await m2.crash();
    await twin.elapse(TTL_MS);
    expect((await twin.client.cluster.machines()).map((machine) => machine.id)).toEqual(['m1']);
    expect(await twin.client.states.forUnit('b.service')).toMatchObject([
      { machineID: 'm1', launched: true },
    ]);
    // A crashed fleetd leaves its units running: only systemd on m2 could stop them.
    expect(await activeState(m2.manager, 'b.service')).toBe('active');
  });
});
