import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MirroredEngineView } from '../../src/registry/engine-view.js';
import { etcdMirrorSource } from '../../src/registry/etcd-mirror-source.js';
import { fenceRevision, leaderFence } from '../../src/registry/fence.js';
import { EtcdLeadership } from '../../src/registry/leadership.js';
import { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import type { Registry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { watcherCount } from '../support/etcd-metrics.js';
import { useEtcd } from '../support/etcd-suite.js';
import { waitFor } from '../support/wait.js';

const etcd = useEtcd();
const hello = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');

let views: MirroredEngineView[] = [];
let sessions: EtcdPresenceLease[] = [];

afterEach(async () => {
  await Promise.all(views.map((view) => view.stop()));
  await Promise.all(sessions.map((session) => session.close()));
  views = [];
  sessions = [];
  // Every watch of the test is gone before the next one counts watchers.
  await waitFor(async () => (await watcherCount(etcd.cluster)) === 0, 5_000, 'no watchers');
});

function viewOf(registry: Registry): MirroredEngineView {
  const view = new MirroredEngineView(
    etcdMirrorSource(registry.etcd),
    registry.keys,
    () => undefined,
    registry.onBadRecord,
  );
  views.push(view);
  return view;
}

async function register(registry: Registry, id: string): Promise<EtcdPresenceLease> {
  const session = await EtcdPresenceLease.open(
    registry.etcd,
    registry.keys,
    {
      id,
      publicIP: '127.0.0.1',
      metadata: { region: 'east' },
      capabilities: { disableEngine: false },
      version: 'test',
      sessionToken: randomUUID(),
    },
    3_000,
  );
  sessions.push(session);
  return session;
}

async function watchersAre(count: number): Promise<void> {
  let seen = -1;
  const counted = async () => {
    seen = await watcherCount(etcd.cluster);
    return seen === count;
  };
  await waitFor(counted, 5_000).catch(() => {
    throw new Error(`expected ${count} etcd watchers, saw ${seen}`);
  });
}

describe('MirroredEngineView on etcd', () => {
  it('follows the leader key alone until it is asked to mirror the registry state', async () => {
    const registry = etcd.freshRegistry();
    await registry.units.put('hello.service', hello, 'launched');
    const view = viewOf(registry);
    await view.watch();
    await watchersAre(1);
    expect(view.mirrorsState).toBe(false);
    expect(() => view.snapshot()).toThrow(/not mirrored/);
    expect(view.leaderMachineID()).toBeNull();

    const session = await register(registry, 'm1');
    await new EtcdLeadership(registry.etcd, registry.keys, session).campaign();
    await waitFor(() => view.leaderMachineID() === 'm1', 5_000, 'the leader key seen');
  });

  it('lists units, placements, machines and cordons before mirrorState resolves, and keeps them current', async () => {
    const registry = etcd.freshRegistry();
    await registry.units.put('a.service', hello, 'launched');
    await register(registry, 'm1');
    await registry.etcd.put(registry.keys.placement('a.service')).value('m1');
    await registry.cordons.cordon('m1');
    const view = viewOf(registry);
    await view.watch();
    await view.mirrorState({ watch: true });
    // The leader key, and units, placements, machines, metadata and cordons.
    await watchersAre(6);

    const snapshot = view.snapshot();
    expect([...snapshot.units.keys()]).toEqual(['a.service']);
    expect(snapshot.placements.get('a.service')?.machineID).toBe('m1');
    expect(snapshot.machines.get('m1')?.metadata).toEqual({ region: 'east' });
    expect(snapshot.cordons.get('m1')?.record).toEqual({ drain: null });

    await registry.units.put('b.service', hello, 'launched');
    await waitFor(() => view.snapshot().units.has('b.service'), 5_000, 'b.service mirrored');
  });

  it('stops watching the registry state and forgets it on releaseState', async () => {
    const registry = etcd.freshRegistry();
    await registry.units.put('a.service', hello, 'launched');
    const view = viewOf(registry);
    await view.watch();
    await view.mirrorState({ watch: true });
    await watchersAre(6);
    await view.releaseState();
    await watchersAre(1);
    expect(view.mirrorsState).toBe(false);
    expect(() => view.snapshot()).toThrow(/not mirrored/);

    // Mirrored again (leadership won back), it lists afresh: nothing from before is kept.
    await registry.units.destroy('a.service');
    await registry.units.put('b.service', hello, 'launched');
    await view.mirrorState({ watch: true });
    expect([...view.snapshot().units.keys()]).toEqual(['b.service']);
  });

  it('with watches disabled, reads the registry state only when listing, and watches nothing', async () => {
    const registry = etcd.freshRegistry();
    await registry.units.put('a.service', hello, 'launched');
    const view = viewOf(registry);
    await view.relist();
    await view.mirrorState({ watch: false });
    expect([...view.snapshot().units.keys()]).toEqual(['a.service']);
    await registry.units.put('b.service', hello, 'launched');
    await view.relist();
    expect([...view.snapshot().units.keys()].sort()).toEqual(['a.service', 'b.service']);
    expect(await watcherCount(etcd.cluster)).toBe(0);
  });

  it('tells a leader that has not yet seen its own election from one that lost the key', async () => {
    const registry = etcd.freshRegistry();
    const view = viewOf(registry);
    await view.watch();
    const session = await register(registry, 'm1');
    const leadership = new EtcdLeadership(registry.etcd, registry.keys, session);
    await leadership.campaign();
    const won = leadership.fence!;
    await waitFor(() => view.leaderMachineID() === 'm1', 5_000, 'the leader key seen');
    expect(await view.leaderKeySeenSince(won)).toBe(true);
    const later = leaderFence((BigInt(fenceRevision(won)) + 1_000n).toString());
    expect(await view.leaderKeySeenSince(later)).toBe(false);
  });

  it('refuses to start mirroring once stopped', async () => {
    const registry = etcd.freshRegistry();
    const view = viewOf(registry);
    await view.watch();
    await view.stop();
    await expect(view.mirrorState({ watch: true })).rejects.toThrow(/stopped/);
    await watchersAre(0);
  });
});
