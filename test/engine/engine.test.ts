import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { encodeRecord } from '../../src/registry/records.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { type EngineNode, startEngineNode } from '../support/engine-node.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { watcherCount } from '../support/etcd-metrics.js';
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

async function startCluster(
  machineIDs: string[],
  watches = true,
  reconcileIntervalMs?: number,
): Promise<Registry> {
  const prefix = `/engine-${randomUUID()}/`;
  for (const machineID of machineIDs) {
    nodes.push(
      await startEngineNode({
        etcd: etcd.clientConfig(),
        prefix,
        machineID,
        ttlMs: TTL_MS,
        watches,
        ...(reconcileIntervalMs !== undefined && { reconcileIntervalMs }),
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

/** Waits until every unit is placed, on none of `excluded`. */
async function allScheduledAway(
  registry: Registry,
  count: number,
  excluded: string,
): Promise<Map<string, string | null>> {
  let current = new Map<string, string | null>();
  await waitFor(
    async () => {
      current = await placements(registry);
      return (
        current.size === count &&
        [...current.values()].every((machine) => machine !== null && machine !== excluded)
      );
    },
    TTL_MS * 5,
    `${count} units scheduled away from ${excluded}`,
  );
  return current;
}

/** Watches of the engines: the leader key for each, and the registry state (cordons too) for the leader. */
const STATE_PREFIXES = 5;

async function watchersAre(count: number): Promise<void> {
  let seen = -1;
  const counted = async () => {
    seen = await watcherCount(etcd);
    return seen === count;
  };
  await waitFor(counted, TTL_MS * 2).catch(() => {
    throw new Error(`expected ${count} etcd watchers, saw ${seen}`);
  });
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

  it('only the leader mirrors units, placements and machines; other engines follow the leader key alone', async () => {
    await watchersAre(0);
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(6));
    await allScheduled(registry, 6);
    await watchersAre(nodes.length + STATE_PREFIXES);
  });

  it('after the leader dies, the new leader lists everything and schedules every unit, its predecessor’s too', async () => {
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(6));
    await allScheduled(registry, 6);
    const leader = leaderOf();
    await leader.crash();
    await submit(registry, unitNames(12).slice(6));
    const after = await allScheduledAway(registry, 12, leader.machineID);
    const survivors = new Set(after.values());
    expect(survivors.size).toBe(2);
    const successor = nodes.find(
      (node) => node !== leader && node.logs.includes('Engine leadership acquired'),
    );
    expect(successor).toBeDefined();
    await watchersAre(nodes.length - 1 + STATE_PREFIXES);
  });

  it('a leader that finds another engine’s key stops deciding; the engines campaign again once that key goes', async () => {
    const registry = await startCluster(['m1', 'm2', 'm3']);
    await submit(registry, unitNames(3));
    await allScheduled(registry, 3);
    const leader = leaderOf();
    await watchersAre(nodes.length + STATE_PREFIXES);

    // The key now names another engine. Its create revision stays, so the fence would still
    // let this leader's writes through: it must stop deciding by itself.
    const key = registry.keys.engineLeader;
    const lease = observerClient.lease(30, { autoKeepAlive: true });
    const leaseID = await lease.grant();
    const swapped = await observerClient
      .if(key, 'Create', '>', 0)
      .then(
        observerClient
          .put(key)
          .value(encodeRecord({ machineID: 'elsewhere' }))
          .lease(leaseID),
      )
      .commit();
    expect(swapped.succeeded).toBe(true);
    await waitFor(
      () =>
        leader.logs.includes(
          'Engine leadership lost, renewal failed: leader key no longer held by this machine',
        ),
      TTL_MS,
      'the leader to notice',
    );
    await watchersAre(nodes.length);
    await submit(registry, ['late.service']);
    // Given time to go wrong: nobody decides while another engine holds the key.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await placements(registry)).get('late.service')).toBeNull();

    await lease.revoke();
    await allScheduled(registry, 4);
    await watchersAre(nodes.length + STATE_PREFIXES);
  });

  it('an idle leader’s periodic pass decides nothing again until something changes', async () => {
    const registry = await startCluster(['m1', 'm2']);
    await submit(registry, unitNames(4));
    await allScheduled(registry, 4);
    const leader = leaderOf();
    const skipped = 'Engine reconciliation skipped: nothing changed since the last pass';
    const decided = (line: string) => line.startsWith('Engine completed reconciliation');
    const scheduled = leader.logs.length;
    const afterScheduling = () => leader.logs.slice(scheduled);
    await waitFor(
      () => afterScheduling().filter((line) => line === skipped).length >= 3,
      TTL_MS * 2,
      'three idle ticks',
    );
    const idle = afterScheduling().slice(afterScheduling().indexOf(skipped));
    expect(idle.filter(decided)).toEqual([]);

    const mark = leader.logs.length;
    await submit(registry, ['late.service']);
    await allScheduled(registry, 5);
    expect(leader.logs.slice(mark).some(decided)).toBe(true);
    expect(leader.logs.slice(mark)).toContain(
      `Scheduled Unit(late.service) to Machine(${(await placements(registry)).get('late.service')})`,
    );
  });

  it('a new leader moves the units of a machine that never re-registered when its grace period ends, with nothing else happening', async () => {
    // No safety-net tick within the test: only the grace period's end can move the units.
    const registry = await startCluster(['m1', 'm2'], true, 600_000);
    await submit(registry, unitNames(4));
    await allScheduled(registry, 4);
    const leader = leaderOf();
    const successor = nodes.find((node) => node !== leader)!;
    await leader.crash();
    await waitFor(
      () => successor.logs.includes('Engine leadership acquired'),
      FAILOVER_BOUND_MS,
      'the successor to lead',
    );
    const placed = await allScheduledAway(registry, 4, leader.machineID);
    expect(new Set(placed.values())).toEqual(new Set([successor.machineID]));
    expect(successor.logs.filter((line) => line.startsWith('Unscheduled Job('))).toHaveLength(2);
  });
});
