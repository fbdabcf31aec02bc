import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeRecord } from '../../src/registry/records.js';
import { openRegistry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';

const etcd = useEtcd();

const PAGE_SIZE = 2;
const UNITS = ['a.service', 'b.service', 'c.service', 'd.service', 'e.service'];
const MACHINES = ['m1', 'm2', 'm3'];

describe('registry', () => {
  it('pages every read of a whole prefix, so no reply grows with the cluster', async () => {
    const prefix = `/registry-${randomUUID()}/`;
    const writer = openRegistry(etcd.client(), prefix, () => undefined);
    for (const [i, name] of UNITS.entries()) {
      const unitFile = UnitFile.parse(`[Service]\nExecStart=/bin/sleep ${i}\n`);
      await writer.units.put(name, unitFile, 'launched');
      const machineID = MACHINES[i % MACHINES.length]!;
      await writer.etcd.put(writer.keys.placement(name)).value(machineID);
      for (const machine of MACHINES) {
        await writer.etcd.put(writer.keys.unitState(name, machine)).value(
          encodeRecord({
            loadState: 'loaded',
            activeState: 'active',
            subState: 'running',
            hash: unitFile.hash,
            launched: true,
          }),
        );
      }
    }
    for (const id of MACHINES) {
      await writer.etcd.put(writer.keys.machine(id)).value(
        encodeRecord({
          id,
          publicIP: '127.0.0.1',
          metadata: {},
          capabilities: { disableEngine: false },
          version: 'test',
          sessionToken: id,
        }),
      );
      for (const key of ['x', 'y', 'z']) {
        await writer.etcd.put(writer.keys.machineMetadata(id, key)).value(`${id}-${key}`);
      }
    }
    await writer.units.destroy('e.service');

    const client = etcd.client();
    const replies: number[] = [];
    const range = client.kv.range.bind(client.kv);
    client.kv.range = async (request, callOptions) => {
      const response = await range(request, callOptions);
      replies.push(response.kvs.length);
      return response;
    };
    const registry = openRegistry(client, prefix, () => undefined, { pageSize: PAGE_SIZE });
    const live = UNITS.slice(0, -1);

    expect((await registry.units.list()).map((unit) => unit.name)).toEqual(live);
    expect(await registry.states.list()).toHaveLength(UNITS.length * MACHINES.length);
    expect(await registry.states.forUnit('a.service')).toHaveLength(MACHINES.length);
    const machines = await registry.machines.list();
    expect(machines.map((machine) => [machine.id, Object.keys(machine.metadata)])).toEqual(
      MACHINES.map((id) => [id, ['x', 'y', 'z']]),
    );
    const units = await registry.cluster.units();
    expect(units.map((unit) => [unit.name, unit.currentState])).toEqual(
      live.map((name) => [name, 'launched']),
    );
    expect(await registry.cluster.unitStates()).toHaveLength(UNITS.length * MACHINES.length);
    expect(await registry.unitFileCollector.sweep()).toBe(1);

    expect(replies.length).toBeGreaterThan(10);
    expect(Math.max(...replies)).toBeLessThanOrEqual(PAGE_SIZE);
  });
});
