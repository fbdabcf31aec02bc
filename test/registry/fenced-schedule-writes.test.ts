import { describe, expect, it } from 'vitest';
import { leaderFence } from '../../src/registry/fence.js';
import type { LeaderFence, ScheduleChange } from '../../src/registry/model.js';
import type { Registry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { unaryCalls } from '../support/etcd-metrics.js';
import { useEtcd } from '../support/etcd-suite.js';

const etcd = useEtcd();
const hello = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');

/** Takes the leader key as an engine does; its create revision fences the writes. */
async function lead(registry: Registry): Promise<LeaderFence> {
  const key = registry.keys.engineLeader;
  const result = await registry.etcd.put(key).value('{"machineID":"m1"}').exec();
  return leaderFence(result.header.revision);
}

/** Submits `count` units and decides to place each on one of `machines`, in turn. */
async function decisions(
  registry: Registry,
  count: number,
  machines: string[],
): Promise<ScheduleChange[]> {
  const names = Array.from({ length: count }, (_, i) => `u${String(i).padStart(4, '0')}.service`);
  await Promise.all(names.map((name) => registry.units.put(name, hello, 'launched')));
  const records = await registry.etcd.getAll().prefix(registry.keys.unitsPrefix).exec();
  const modRevisions = new Map(records.kvs.map((kv) => [kv.key.toString(), kv.mod_revision]));
  return names.map((unitName, i) => ({
    type: 'schedule',
    unitName,
    machineID: machines[i % machines.length]!,
    fromMachineID: null,
    entry: { hash: hello.hash, desiredState: 'launched' },
    unitModRevision: modRevisions.get(registry.keys.unit(unitName))!,
    placementModRevision: '0',
  }));
}

async function placements(registry: Registry): Promise<Map<string, string>> {
  const kvs = (await registry.etcd.getAll().prefix(registry.keys.placementsPrefix).exec()).kvs;
  return new Map(
    kvs.map((kv) => [
      kv.key.toString().slice(registry.keys.placementsPrefix.length),
      kv.value.toString(),
    ]),
  );
}

async function txnsOf(action: () => Promise<unknown>): Promise<number> {
  const before = (await unaryCalls(etcd.cluster)).get('Txn') ?? 0;
  await action();
  return ((await unaryCalls(etcd.cluster)).get('Txn') ?? 0) - before;
}

describe('EtcdFencedScheduleWrites', () => {
  it('commits a schedule of many batches, each unit with its schedule entry, and reports the last revision', async () => {
    const registry = etcd.freshRegistry();
    const fence = await lead(registry);
    const changes = await decisions(registry, 500, ['m1', 'm2', 'm3']);
    const result = await registry.scheduleWriter.apply(fence, changes);
    expect(result.deposed).toBe(false);
    expect(result.applied).toHaveLength(500);
    const placed = await placements(registry);
    expect(placed.size).toBe(500);
    for (const change of changes) expect(placed.get(change.unitName)).toBe(change.machineID);
    const entries = await registry.etcd.getAll().prefix(registry.keys.schedulePrefix('m2')).keys();
    expect(entries).toHaveLength(changes.filter((change) => change.machineID === 'm2').length);
    const now = await registry.etcd.get(registry.keys.engineLeader).exec();
    expect(result.revision).toBe(now.header.revision);
  });

  it('leaves out a change whose unit changed after the decision, and commits the rest of its batch', async () => {
    const registry = etcd.freshRegistry();
    const fence = await lead(registry);
    const changes = await decisions(registry, 10, ['m1']);
    await registry.units.setDesiredState('u0003.service', 'loaded');
    const result = await registry.scheduleWriter.apply(fence, changes);
    expect(result.deposed).toBe(false);
    expect(result.applied.map((change) => change.unitName)).not.toContain('u0003.service');
    expect(result.applied).toHaveLength(9);
    expect((await placements(registry)).has('u0003.service')).toBe(false);
  });

  it('refuses every change of a deposed leader, without trying them one by one', async () => {
    const registry = etcd.freshRegistry();
    const fence = await lead(registry);
    const changes = await decisions(registry, 200, ['m1', 'm2']);
    // Another engine won the key since: same key, later create revision.
    await registry.etcd.delete().key(registry.keys.engineLeader);
    await lead(registry);
    let result: Awaited<ReturnType<Registry['scheduleWriter']['apply']>> | undefined;
    const txns = await txnsOf(async () => {
      result = await registry.scheduleWriter.apply(fence, changes);
    });
    expect(result).toMatchObject({ applied: [], revision: null, deposed: true });
    // At most one refused commit per batch of 40; retried change by change, it would be 205.
    expect(txns).toBeLessThanOrEqual(200 / 40);
    expect(await placements(registry)).toEqual(new Map());
  });
});
