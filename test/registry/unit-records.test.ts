import { randomUUID } from 'node:crypto';
import { GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { unaryCalls } from '../support/etcd-metrics.js';
import { useEtcd } from '../support/etcd-suite.js';

const etcd = useEtcd();
const badRecords: string[] = [];

function freshRegistry(): Registry {
  return etcd.freshRegistry((key) => badRecords.push(key));
}

const hello = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const global = UnitFile.parse('[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n');

/** Places a unit the way the engine does, so client writes have a schedule to keep in step. */
async function placeOn(registry: Registry, name: string, machineID: string): Promise<void> {
  const unit = await registry.units.get(name);
  await registry.etcd.put(registry.keys.placement(name)).value(machineID);
  await registry.etcd
    .put(registry.keys.scheduleEntry(machineID, name))
    .value(JSON.stringify({ hash: unit!.hash, desiredState: unit!.desiredState }));
}

/** The etcd calls `action` made, by method, counted by etcd itself. */
async function callsOf(action: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await unaryCalls(etcd.cluster);
  await action();
  const after = await unaryCalls(etcd.cluster);
  const made: Record<string, number> = {};
  for (const [method, count] of after) {
    const delta = count - (before.get(method) ?? 0);
    if (delta > 0) made[method] = delta;
  }
  return made;
}

async function scheduleEntry(registry: Registry, machineID: string, name: string) {
  const value = await registry.etcd.get(registry.keys.scheduleEntry(machineID, name)).string();
  return value === null ? null : JSON.parse(value);
}

describe('EtcdUnitRecords', () => {
  it('stores a unit under its name with its body addressed by hash', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'inactive');
    const stored = await registry.units.get('hello.service');
    expect(stored).toMatchObject({
      name: 'hello.service',
      hash: hello.hash,
      desiredState: 'inactive',
      global: false,
    });
    expect(stored?.unitFile.serialized).toBe(hello.serialized);
    expect(await registry.etcd.get(registry.keys.unitFile(hello.hash)).string()).toBe(
      hello.serialized,
    );
  });

  it('lists units sorted by name and skips an unreadable record, reporting it', async () => {
    const registry = freshRegistry();
    await registry.units.put('b.service', hello, 'inactive');
    await registry.units.put('a.service', hello, 'loaded');
    await registry.etcd.put(registry.keys.unit('broken.service')).value('{not json');
    const names = (await registry.units.list()).map((unit) => unit.name);
    expect(names).toEqual(['a.service', 'b.service']);
    expect(badRecords).toContain(registry.keys.unit('broken.service'));
  });

  it('takes a unit whose body is gone for absent, reporting it, but fails when a body read fails', async () => {
    const writer = freshRegistry();
    await writer.units.put('a.service', hello, 'inactive');
    await writer.etcd.delete().key(writer.keys.unitFile(hello.hash));
    const reader = openRegistry(etcd.client(), writer.keys.prefix, (key) => badRecords.push(key));
    expect(await reader.units.get('a.service')).toBeNull();
    expect(badRecords).toContain(writer.keys.unit('a.service'));

    await writer.units.put('b.service', global, 'inactive');
    const unavailable = etcd.client();
    const bodiesPrefix = writer.keys.unitFilesPrefix;
    const range = unavailable.kv.range.bind(unavailable.kv);
    unavailable.kv.range = (request, callOptions) =>
      Buffer.from(request.key ?? '')
        .toString()
        .startsWith(bodiesPrefix)
        ? Promise.reject(new GRPCUnavailableError('injected: etcd unavailable'))
        : range(request, callOptions);
    const cut = openRegistry(unavailable, writer.keys.prefix, (key) => badRecords.push(key));
    await expect(cut.units.get('b.service')).rejects.toThrow('injected: etcd unavailable');
  });

  it('keeps a scheduled unit’s schedule entry in step with its desired state', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'launched');
    await placeOn(registry, 'hello.service', 'm1');
    expect(await registry.units.setDesiredState('hello.service', 'loaded')).toBe(true);
    expect(await scheduleEntry(registry, 'm1', 'hello.service')).toEqual({
      hash: hello.hash,
      desiredState: 'loaded',
    });
  });

  it('unschedules a unit whose desired state becomes inactive', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'launched');
    await placeOn(registry, 'hello.service', 'm1');
    await registry.units.setDesiredState('hello.service', 'inactive');
    expect(await registry.etcd.get(registry.keys.placement('hello.service')).string()).toBeNull();
    expect(await scheduleEntry(registry, 'm1', 'hello.service')).toBeNull();
  });

  it('replacing a scheduled unit’s content updates the hash its machine runs', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'launched');
    await placeOn(registry, 'hello.service', 'm1');
    const changed = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
    await registry.units.put('hello.service', changed, 'launched');
    expect(await scheduleEntry(registry, 'm1', 'hello.service')).toEqual({
      hash: changed.hash,
      desiredState: 'launched',
    });
  });

  it('destroying a unit removes its record, placement and schedule entry', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'launched');
    await placeOn(registry, 'hello.service', 'm1');
    expect(await registry.units.destroy('hello.service')).toBe(true);
    expect(await registry.units.get('hello.service')).toBeNull();
    expect(await registry.etcd.get(registry.keys.placement('hello.service')).string()).toBeNull();
    expect(await scheduleEntry(registry, 'm1', 'hello.service')).toBeNull();
    expect(await registry.units.destroy('hello.service')).toBe(false);
  });

  it('reports a missing unit instead of creating one on a desired-state change', async () => {
    const registry = freshRegistry();
    expect(await registry.units.setDesiredState('nope.service', 'launched')).toBe(false);
    expect(await registry.units.list()).toEqual([]);
  });

  it('mirrors global units where every agent watches them, and drops the mirror on destroy', async () => {
    const registry = freshRegistry();
    await registry.units.put('global.service', global, 'launched');
    expect(
      JSON.parse((await registry.etcd.get(registry.keys.globalUnit('global.service')).string())!),
    ).toEqual({
      hash: global.hash,
      desiredState: 'launched',
    });
    await registry.units.destroy('global.service');
    expect(await registry.etcd.get(registry.keys.globalUnit('global.service')).string()).toBeNull();
  });

  it('serialises concurrent desired-state changes so the last one wins everywhere', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'launched');
    await placeOn(registry, 'hello.service', 'm1');
    await Promise.all([
      registry.units.setDesiredState('hello.service', 'loaded'),
      registry.units.setDesiredState('hello.service', 'launched'),
      registry.units.setDesiredState('hello.service', 'loaded'),
    ]);
    const unit = await registry.units.get('hello.service');
    expect((await scheduleEntry(registry, 'm1', 'hello.service')).desiredState).toBe(
      unit!.desiredState,
    );
  });

  it('creates a new unit in one transaction, without reading first', async () => {
    const registry = freshRegistry();
    expect(await callsOf(() => registry.units.put('hello.service', hello, 'launched'))).toEqual({
      Txn: 1,
    });
    expect(await registry.units.get('hello.service')).toMatchObject({
      hash: hello.hash,
      desiredState: 'launched',
    });
  });

  it('replaces an existing scheduled unit with one more transaction, which reads it back', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'launched');
    await placeOn(registry, 'hello.service', 'm1');
    const changed = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
    expect(await callsOf(() => registry.units.put('hello.service', changed, 'loaded'))).toEqual({
      Txn: 2,
    });
    expect(await registry.units.get('hello.service')).toMatchObject({
      hash: changed.hash,
      desiredState: 'loaded',
    });
    expect(await scheduleEntry(registry, 'm1', 'hello.service')).toEqual({
      hash: changed.hash,
      desiredState: 'loaded',
    });
  });

  it('retries puts that lose a race, so concurrent writers of one unit all succeed and agree', async () => {
    // Six API servers, each with a client of its own, writing one unit at the same moment.
    const prefix = `/test-${randomUUID()}/`;
    const registries = Array.from({ length: 6 }, () =>
      openRegistry(etcd.client(), prefix, () => undefined),
    );
    await registries[0]!.units.put('hello.service', hello, 'launched');
    await placeOn(registries[0]!, 'hello.service', 'm1');
    const contents = registries.map((_, i) =>
      UnitFile.parse(`[Service]\nExecStart=/bin/sleep ${3000 + i}\n`),
    );
    const calls = await callsOf(() =>
      Promise.all(
        registries.map((registry, i) =>
          registry.units.put('hello.service', contents[i]!, 'launched'),
        ),
      ),
    );
    // Every writer first guesses the unit is new and loses; most then race each other.
    expect(calls.Txn).toBeGreaterThanOrEqual(2 * registries.length);
    const stored = await registries[0]!.units.get('hello.service');
    expect(contents.map((content) => content.hash)).toContain(stored!.hash);
    expect(await scheduleEntry(registries[0]!, 'm1', 'hello.service')).toEqual({
      hash: stored!.hash,
      desiredState: 'launched',
    });
  });
  it('changes the desired state of a unit it just wrote in one transaction, without reading', async () => {
    const registry = freshRegistry();
    await registry.units.put('hello.service', hello, 'inactive');
    expect(
      await callsOf(() => registry.units.setDesiredState('hello.service', 'launched')),
    ).toEqual({ Txn: 1 });
    expect(await registry.units.get('hello.service')).toMatchObject({ desiredState: 'launched' });
  });

  it('writes over what etcd holds when another writer changed the unit since its last write', async () => {
    const prefix = `/test-${randomUUID()}/`;
    const [mine, other] = [0, 1].map(() => openRegistry(etcd.client(), prefix, () => undefined));
    await mine!.units.put('hello.service', hello, 'loaded');
    const changed = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
    await other!.units.put('hello.service', changed, 'loaded');
    await placeOn(other!, 'hello.service', 'm1');
    expect(await mine!.units.setDesiredState('hello.service', 'launched')).toBe(true);
    expect(await mine!.units.get('hello.service')).toMatchObject({
      hash: changed.hash,
      desiredState: 'launched',
    });
    expect(await scheduleEntry(mine!, 'm1', 'hello.service')).toEqual({
      hash: changed.hash,
      desiredState: 'launched',
    });

    expect(await other!.units.destroy('hello.service')).toBe(true);
    expect(await mine!.units.setDesiredState('hello.service', 'loaded')).toBe(false);
    expect(await mine!.units.get('hello.service')).toBeNull();
  });

  it('creates an absent unit in one transaction, and leaves an existing one as it is', async () => {
    const registry = freshRegistry();
    let created: unknown;
    expect(
      await callsOf(async () => {
        created = await registry.units.createIfAbsent('hello.service', hello, 'loaded');
      }),
    ).toEqual({ Txn: 1 });
    expect(created).toBeNull();
    const changed = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
    const existing = await registry.units.createIfAbsent('hello.service', changed, 'launched');
    expect(existing).toMatchObject({ hash: hello.hash, desiredState: 'loaded' });
    expect(await registry.units.get('hello.service')).toMatchObject({
      hash: hello.hash,
      desiredState: 'loaded',
    });
  });

  it('creates a unit another writer destroyed since this store last wrote it', async () => {
    const prefix = `/test-${randomUUID()}/`;
    const [mine, other] = [0, 1].map(() => openRegistry(etcd.client(), prefix, () => undefined));
    await mine!.units.put('hello.service', hello, 'loaded');
    await other!.units.destroy('hello.service');
    expect(await mine!.units.createIfAbsent('hello.service', hello, 'launched')).toBeNull();
    expect(await other!.units.get('hello.service')).toMatchObject({ desiredState: 'launched' });
  });
});
