import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EtcdLeadership } from '../../src/registry/leadership.js';
import { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import { MachineConflictError } from '../../src/registry/model.js';
import type { MachineRecord } from '../../src/registry/records.js';
import type { Registry } from '../../src/registry/registry.js';
import { useEtcd } from '../support/etcd-suite.js';
import { waitFor } from '../support/wait.js';

const TTL_MS = 3_000;

const etcd = useEtcd();

function freshRegistry(): Registry {
  return etcd.freshRegistry();
}

function machineRecord(id: string, sessionToken = randomUUID()): MachineRecord {
  return {
    id,
    publicIP: '10.0.0.1',
    metadata: { region: 'test' },
    capabilities: { disableEngine: false },
    version: '1.0.0',
    sessionToken,
  };
}

describe('EtcdPresenceLease', () => {
  it('registers the machine as present under a lease with the TTL asked for', async () => {
    const registry = freshRegistry();
    const session = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('m1'),
      TTL_MS,
    );
    expect(session.grantedTtlSeconds).toBe(3);
    expect(await registry.machines.list()).toEqual([
      {
        id: 'm1',
        publicIP: '10.0.0.1',
        metadata: { region: 'test' },
        capabilities: { disableEngine: false },
        version: '1.0.0',
      },
    ]);
    await session.close();
  });

  it('refuses a second host registering the same machine ID', async () => {
    const registry = freshRegistry();
    const first = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('m1'),
      TTL_MS,
    );
    await expect(
      EtcdPresenceLease.open(registry.etcd, registry.keys, machineRecord('m1'), TTL_MS),
    ).rejects.toThrow(MachineConflictError);
    await first.close();
  });

  it('lets the same fleetd take its presence back at once after a crash', async () => {
    const registry = freshRegistry();
    const record = machineRecord('m1');
    const crashed = await EtcdPresenceLease.open(registry.etcd, registry.keys, record, TTL_MS);
    crashed.abandon();
    const restarted = await EtcdPresenceLease.open(registry.etcd, registry.keys, record, TTL_MS);
    expect(restarted.leaseID).not.toBe(crashed.leaseID);
    expect((await registry.machines.list()).map((machine) => machine.id)).toEqual(['m1']);
    await restarted.close();
  });

  it('removes the presence at once on close, and after the TTL when abandoned', async () => {
    const registry = freshRegistry();
    const closed = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('m1'),
      TTL_MS,
    );
    const abandoned = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('m2'),
      TTL_MS,
    );
    await closed.close();
    expect((await registry.machines.list()).map((machine) => machine.id)).toEqual(['m2']);
    abandoned.abandon();
    await waitFor(async () => (await registry.machines.list()).length === 0, TTL_MS * 3);
  });

  it('merges metadata set through the API over the configured metadata, and keeps it across rejoins', async () => {
    const registry = freshRegistry();
    await registry.machines.editMetadata([
      { machineID: 'm1', key: 'region', value: null },
      { machineID: 'm1', key: 'disk', value: 'ssd' },
    ]);
    const session = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('m1'),
      TTL_MS,
    );
    expect((await registry.machines.list())[0]?.metadata).toEqual({ disk: 'ssd' });
    await session.close();
    const again = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('m1'),
      TTL_MS,
    );
    expect((await registry.machines.list())[0]?.metadata).toEqual({ disk: 'ssd' });
    await again.close();
  });
});

describe('EtcdLeadership', () => {
  it('goes to the first engine to campaign; the others learn who leads', async () => {
    const registry = freshRegistry();
    const a = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('a'),
      TTL_MS,
    );
    const b = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('b'),
      TTL_MS,
    );
    const leadershipA = new EtcdLeadership(registry.etcd, registry.keys, a);
    const leadershipB = new EtcdLeadership(registry.etcd, registry.keys, b);
    expect((await leadershipA.campaign())?.machineID).toBe('a');
    expect((await leadershipB.campaign())?.machineID).toBe('a');
    expect(leadershipA.fence).not.toBeNull();
    expect(leadershipB.fence).toBeNull();
    await leadershipA.resign();
    expect((await leadershipB.campaign())?.machineID).toBe('b');
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a deposed leader’s schedule write', async () => {
    const registry = freshRegistry();
    const a = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('a'),
      TTL_MS,
    );
    const b = await EtcdPresenceLease.open(
      registry.etcd,
      registry.keys,
      machineRecord('b'),
      TTL_MS,
    );
    const leadershipA = new EtcdLeadership(registry.etcd, registry.keys, a);
    await leadershipA.campaign();
    const staleFence = leadershipA.fence!;
    // A's lease ends (as when etcd expires it); B is elected in its place.
    await a.close();
    const leadershipB = new EtcdLeadership(registry.etcd, registry.keys, b);
    expect((await leadershipB.campaign())?.machineID).toBe('b');

    const { applied } = await registry.scheduleWriter.apply(staleFence, [
      { type: 'unschedule', unitName: 'x.service', machineID: 'a', placementModRevision: '0' },
    ]);
    expect(applied).toEqual([]);
    const { applied: stillApplies } = await registry.scheduleWriter.apply(leadershipB.fence!, [
      { type: 'unschedule', unitName: 'x.service', machineID: 'a', placementModRevision: '0' },
    ]);
    expect(stillApplies).toHaveLength(1);
    await b.close();
  });
});
