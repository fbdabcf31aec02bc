import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { type EngineNode, startEngineNode } from '../support/engine-node.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';

const TTL_MS = 3_000;
/** A new leader needs the old lease to run out, then at most one reconcile tick to campaign. */
const FAILOVER_BOUND_MS = TTL_MS + 3_000;

const plain = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');

let etcd: EtcdCluster;
let observerClient: Etcd3;
let nodes: EngineNode[] = [];

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  observerClient = createEtcdClient(etcd.clientConfig());
});
afterEach(async () => {
  await Promise.all(nodes.map((node) => node.shutdown()));
  nodes = [];
});
afterAll(async () => {
  observerClient?.close();
  await etcd?.stop();
});

async function startCluster(machineIDs: string[], watches = true): Promise<Registry> {
  const prefix = `/engine-${randomUUID()}/`;
  for (const machineID of machineIDs) {
    nodes.push(
      await startEngineNode({
        etcd: etcd.clientConfig(),
        prefix,
        machineID,
        ttlMs: TTL_MS,
        watches,
      }),
    );
  }
  return openRegistry(observerClient, prefix, () => undefined);
}

async function placements(registry: Registry): Promise<Map<string, string | null>> {
  const units = await registry.cluster.units();
  return new Map(units.map((unit) => [unit.name, unit.machineID]));
}

async function allScheduled(
  registry: Registry,
  count: number,
): Promise<Map<string, string | null>> {
  let current = new Map<string, string | null>();
  await waitFor(
    async () => {
      current = await placements(registry);
      return current.size === count && [...current.values()].every((machine) => machine !== null);
    },
    15_000,
    `${count} units scheduled`,
  );
  return current;
}

async function submit(registry: Registry, names: string[]): Promise<void> {
  await Promise.all(names.map((name) => registry.units.put(name, plain, 'launched')));
}

function leaderOf(): EngineNode {
  const leaders = nodes.filter((node) => node.logs.includes('Engine leadership acquired'));
  expect(leaders).toHaveLength(1);
  return leaders[0]!;
}

const unitNames = (count: number) =>
  Array.from({ length: count }, (_, i) => `u${String(i).padStart(2, '0')}.service`);

describe('engine', () => {
  it('elects one leader, which spreads units least-loaded first and logs fleet’s lines', async () => {
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(6));
    const placed = await allScheduled(registry, 6);
    const perMachine = new Map<string, number>();
    for (const machine of placed.values())
      perMachine.set(machine!, (perMachine.get(machine!) ?? 0) + 1);
    expect([...perMachine.values()]).toEqual([2, 2, 2]);
    const leader = leaderOf();
    expect(leader.logs).toContain(
      `Scheduled Unit(u00.service) to Machine(${placed.get('u00.service')})`,
    );
    for (const node of nodes.filter((node) => node !== leader)) {
      expect(node.logs).toContain(`Engine leader is ${leader.machineID}`);
    }
  });

  it('elects a new leader within the lease TTL plus a reconcile tick after the leader dies', async () => {
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(3));
    await allScheduled(registry, 3);
    const leader = leaderOf();
    const crashedAt = Date.now();
    await leader.crash();
    await waitFor(
      () =>
        nodes.some((node) => node !== leader && node.logs.includes('Engine leadership acquired')),
      FAILOVER_BOUND_MS,
      'a new engine leader',
    );
    expect(Date.now() - crashedAt).toBeLessThan(FAILOVER_BOUND_MS);
  });

  it('reschedules the units of a machine whose lease expired, and only those', async () => {
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(6));
    const before = await allScheduled(registry, 6);
    const leader = leaderOf();
    const victim = nodes.find((node) => node !== leader)!;
    await victim.crash();

    let after = before;
    await waitFor(
      async () => {
        after = await placements(registry);
        return [...after.values()].every(
          (machine) => machine !== null && machine !== victim.machineID,
        );
      },
      TTL_MS * 4,
      `units moved off ${victim.machineID}`,
    );
    for (const [name, machine] of before) {
      if (machine !== victim.machineID) expect(after.get(name)).toBe(machine);
    }
  });

  it('keeps every placement through an etcd leader change', async () => {
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(12));
    const before = await allScheduled(registry, 12);
    await etcd.moveLeader();
    await etcd.moveLeader();
    await new Promise((resolve) => setTimeout(resolve, TTL_MS * 2));
    expect(await placements(registry)).toEqual(before);
    expect(
      nodes.every((node) => !node.logs.some((line) => line.startsWith('Unscheduled Job('))),
    ).toBe(true);
  });

  it('keeps every placement and desired state through an etcd restart in the middle of scheduling', async () => {
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(12));
    // Some of these writes may fail while etcd is down; they are retried once it is back.
    const submitting = submit(registry, unitNames(24).slice(12)).then(
      () => true,
      () => false,
    );
    await etcd.restart();
    if (!(await submitting)) await submit(registry, unitNames(24).slice(12));
    const after = await allScheduled(registry, 24);
    const units = await registry.units.list();
    expect(units.every((unit) => unit.desiredState === 'launched')).toBe(true);
    expect(after.size).toBe(24);
    expect(
      nodes.every((node) => !node.logs.some((line) => line.startsWith('Unscheduled Job('))),
    ).toBe(true);
  });

  it('schedules by re-listing on every tick when watches are disabled', async () => {
    const registry = await startCluster(['m1', 'm2'], false);
    await submit(registry, unitNames(4));
    await allScheduled(registry, 4);
  });

  it('unschedules a unit whose desired state becomes inactive, and a destroyed unit leaves no schedule', async () => {
    const registry = await startCluster(['m1']);
    await submit(registry, ['a.service', 'b.service']);
    await allScheduled(registry, 2);
    await registry.units.setDesiredState('a.service', 'inactive');
    await registry.units.destroy('b.service');
    await waitFor(
      async () => (await placements(registry)).get('a.service') === null,
      5_000,
      'a.service unscheduled',
    );
    expect([...(await placements(registry)).keys()]).toEqual(['a.service']);
  });
});
