import { describe, expect, it } from 'vitest';
import { EtcdBodySweeps, removeBodiesUnchangedSince } from '../../src/registry/body-sweeps.js';
import type { Registry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';

const etcd = useEtcd();

const one = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const two = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
const three = UnitFile.parse('[Service]\nExecStart=/bin/sleep 3000\n');

/** The hashes etcd holds a body for. */
async function bodies(registry: Registry): Promise<string[]> {
  const keys = await registry.etcd.getAll().prefix(registry.keys.unitFilesPrefix).keys();
  return keys.map((key) => key.slice(registry.keys.unitFilesPrefix.length)).sort();
}

describe('EtcdBodySweeps', () => {
  it('removes the bodies no unit references and keeps those still shared', async () => {
    const registry = etcd.freshRegistry();
    const collector = new EtcdBodySweeps(registry.etcd, registry.keys);
    await registry.units.put('a@1.service', one, 'launched');
    await registry.units.put('a@2.service', one, 'launched');
    await registry.units.put('b.service', two, 'launched');
    await registry.units.put('c.service', three, 'launched');

    await registry.units.destroy('a@1.service');
    await registry.units.destroy('b.service');
    await registry.units.put('c.service', two, 'launched');
    expect(await collector.sweep()).toBe(1);
    // one: still used by a@2; two: used again by c; three: replaced, gone.
    expect(await bodies(registry)).toEqual([one.hash, two.hash].sort());

    await registry.units.destroy('a@2.service');
    await registry.units.destroy('c.service');
    expect(await collector.sweep()).toBe(2);
    expect(await bodies(registry)).toEqual([]);
    expect(await collector.sweep()).toBe(0);
  });

  it('keeps a body written again after the revision the decision was made at', async () => {
    const registry = etcd.freshRegistry();
    await registry.units.put('a.service', one, 'launched');
    await registry.units.put('b.service', two, 'launched');
    await registry.units.destroy('a.service');
    await registry.units.destroy('b.service');
    const decidedAt = BigInt((await registry.etcd.get('x').exec()).header.revision);
    // A writer submits a unit with the first content between the sweep's listing and its delete.
    await registry.units.put('again.service', one, 'launched');

    const removed = await removeBodiesUnchangedSince(
      registry.etcd,
      registry.keys,
      [one.hash, two.hash],
      decidedAt,
    );
    expect(removed).toBe(1);
    expect(await bodies(registry)).toEqual([one.hash]);
    expect((await registry.units.get('again.service'))?.unitFile.hash).toBe(one.hash);
  });

  it('removes nothing while a unit record cannot be read (it may reference any body)', async () => {
    const registry = etcd.freshRegistry();
    await registry.units.put('a.service', one, 'launched');
    await registry.units.destroy('a.service');
    await registry.etcd.put(registry.keys.unit('broken.service')).value('{not json');
    const collector = new EtcdBodySweeps(registry.etcd, registry.keys);
    expect(await collector.sweep()).toBe(0);
    expect(await bodies(registry)).toEqual([one.hash]);
  });

  it('runs the sweeps asked for in a burst once, and flush runs a due sweep at once', async () => {
    const registry = etcd.freshRegistry();
    const collector = new EtcdBodySweeps(registry.etcd, registry.keys, { delayMs: 60_000 });
    for (const [name, unit] of [
      ['a.service', one],
      ['b.service', two],
    ] as const) {
      await registry.units.put(name, unit, 'launched');
      await registry.units.destroy(name);
      collector.sweepSoon();
    }
    expect(await bodies(registry)).toEqual([one.hash, two.hash].sort());
    await collector.flush();
    expect(await bodies(registry)).toEqual([]);
  });

  it('sweeps on its own shortly after being asked', async () => {
    const registry = etcd.freshRegistry();
    const collector = new EtcdBodySweeps(registry.etcd, registry.keys, { delayMs: 10 });
    await registry.units.put('a.service', one, 'launched');
    await registry.units.destroy('a.service');
    collector.sweepSoon();
    await expect.poll(() => bodies(registry)).toEqual([]);
  });
});
