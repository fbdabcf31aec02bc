import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import type { FleetServer } from '../../src/server/fleet-server.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';
import { GrpcDelayProxy, LEASE_KEEPALIVE } from '../support/grpc-delay-proxy.js';
import { type InProcessFleetd, startInProcessFleetd } from '../support/in-process-fleetd.js';
import { waitFor } from '../support/wait.js';

const hello = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');

// An etcd of this file's own, reached directly by the tests and through a proxy by the
// fleetd under test.
const etcd = useEtcd();
let servers: FleetServer[] = [];
let proxies: GrpcDelayProxy[] = [];
let clients: Etcd3[] = [];
let cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await Promise.all(servers.map((server) => server.stop()));
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  for (const client of clients) client.close();
  servers = [];
  proxies = [];
  clients = [];
  cleanups = [];
});

/** A proxy in front of the suite's etcd, and a client through it configured as fleetd's is. */
async function proxied(): Promise<{ proxy: GrpcDelayProxy; client: Etcd3 }> {
  const proxy = await GrpcDelayProxy.start(etcd.cluster.endpoints[0]!);
  proxies.push(proxy);
  // fleet's default etcd_request_timeout, so a held call fails as it would in production.
  const client = createEtcdClient({
    ...etcd.cluster.clientConfig(),
    endpoints: [proxy.endpoint],
    requestTimeoutMs: 1_000,
  });
  clients.push(client);
  return { proxy, client };
}

async function startMachine(client: Etcd3, prefix: string, id: string): Promise<InProcessFleetd> {
  const machine = await startInProcessFleetd({ etcd: client, prefix, machineID: id });
  servers.push(machine.server);
  return machine;
}

/** A key's lease and every change to it, as the real etcd (not the proxy) sees them. */
async function watchKey(registry: Registry, key: string) {
  const changes: string[] = [];
  const watcher = await registry.etcd.watch().key(key).create();
  watcher.on('put', (kv) => changes.push(`put under lease ${kv.lease}`));
  watcher.on('delete', () => changes.push('delete'));
  cleanups.push(() => watcher.cancel());
  return changes;
}

async function watchPrefix(registry: Registry, prefix: string) {
  const changes: string[] = [];
  const watcher = await registry.etcd.watch().prefix(prefix).create();
  watcher.on('put', (kv) => changes.push(`put ${kv.key.toString()}`));
  watcher.on('delete', (kv) => changes.push(`delete ${kv.key.toString()}`));
  cleanups.push(() => watcher.cancel());
  return changes;
}

async function leaseOf(registry: Registry, key: string): Promise<string | undefined> {
  const { kvs } = await registry.etcd.get(key).exec();
  return kvs[0]?.lease;
}

async function launch(registry: Registry, names: string[]): Promise<void> {
  await Promise.all(names.map((name) => registry.units.put(name, hello, 'launched')));
  await waitFor(
    async () => {
      const units = await Promise.all(names.map((name) => registry.cluster.unit(name)));
      return units.every((unit) => unit?.currentState === 'launched');
    },
    15_000,
    `${names.join(', ')} launched`,
  );
}

const LEASE_GRANT = '/etcdserverpb.Lease/LeaseGrant';
const LEASE_TIME_TO_LIVE = '/etcdserverpb.Lease/LeaseTimeToLive';
const MONITOR_TIMED_OUT = 'Server monitor triggered: Monitor timed out before successful heartbeat';

const restarted = (logs: string[]) =>
  logs.some((line) => line.startsWith('Server monitor triggered'));

const stops = (machine: InProcessFleetd) =>
  machine.manager.calls.filter((call) => call.method === 'stop');

describe('the presence monitor', () => {
  it('keeps the lease and the units while unary calls stall but keepalives are answered', async () => {
    const prefix = `/fleet-${randomUUID()}/`;
    const registry = openRegistry(etcd.client(), prefix, () => undefined);
    // The leader reaches etcd directly, so it would move m1's units the moment m1 vanished.
    await startMachine(etcd.client(), prefix, 'm2');
    await waitFor(
      async () =>
        (await registry.etcd.get(registry.keys.engineLeader).string())?.includes('m2') === true,
      10_000,
      'm2 to lead',
    );
    const { proxy, client } = await proxied();
    const m1 = await startMachine(client, prefix, 'm1');
    const names = ['a.service', 'b.service', 'c.service', 'd.service'];
    await launch(registry, names);
    const onM1 = (await Promise.all(names.map((name) => registry.cluster.unit(name))))
      .filter((unit) => unit?.machineID === 'm1')
      .map((unit) => unit!.name);
    expect(onM1).not.toEqual([]);

    const presenceKey = registry.keys.machine('m1');
    const lease = await leaseOf(registry, presenceKey);
    const presence = await watchKey(registry, presenceKey);
    const schedule = await watchPrefix(registry, registry.keys.schedulePrefix('m1'));

    const keepalives = proxy.answered(LEASE_KEEPALIVE);
    const stall = proxy.stall();
    // Nine keepalives at a third of the TTL apart: three TTLs, many monitor checks, every
    // heartbeat among them held until its deadline. A lapse ends the wait early.
    await waitFor(
      () => proxy.answered(LEASE_KEEPALIVE) >= keepalives + 9 || presence.length > 0,
      30_000,
      'three TTLs of keepalives while unary calls stall',
    );
    expect(stall.held).toBeGreaterThan(0);
    stall.lift();
    await waitFor(() => m1.server.available, 10_000, 'm1 available');
    // One more heartbeat through the proxy, so anything the stall set off has happened.
    const answeredAfter = proxy.answered(LEASE_TIME_TO_LIVE);
    await waitFor(
      () => proxy.answered(LEASE_TIME_TO_LIVE) > answeredAfter,
      10_000,
      'a heartbeat answered after the stall',
    );

    expect(presence).toEqual([]);
    expect(await leaseOf(registry, presenceKey)).toBe(lease);
    expect(schedule).toEqual([]);
    for (const name of onM1) expect((await registry.cluster.unit(name))?.machineID).toBe('m1');
    expect(restarted(m1.logs)).toBe(false);
    expect(m1.logs).toContain('Heartbeat timed out, but etcd still renews the lease; keeping it');
    expect(stops(m1)).toEqual([]);
  });

  it('re-registers under a new lease, keeping its units, when etcd reports the lease gone', async () => {
    const prefix = `/fleet-${randomUUID()}/`;
    const registry = openRegistry(etcd.client(), prefix, () => undefined);
    const { client } = await proxied();
    const m1 = await startMachine(client, prefix, 'm1');
    await launch(registry, ['a.service', 'b.service']);
    const presenceKey = registry.keys.machine('m1');
    const lease = await leaseOf(registry, presenceKey);

    await registry.etcd.leaseClient.leaseRevoke({ ID: lease! });
    await waitFor(
      async () => {
        const current = await leaseOf(registry, presenceKey);
        return current !== undefined && current !== lease;
      },
      15_000,
      'm1 present under a new lease',
    );
    await launch(registry, ['a.service', 'b.service']);
    expect(restarted(m1.logs)).toBe(true);
    expect(stops(m1)).toEqual([]);
  });

  it('restarts once neither heartbeats nor keepalives are answered for a TTL, handing its presence to a new lease without a lapse', async () => {
    const prefix = `/fleet-${randomUUID()}/`;
    const registry = openRegistry(etcd.client(), prefix, () => undefined);
    const { proxy, client } = await proxied();
    const m1 = await startMachine(client, prefix, 'm1');
    await launch(registry, ['a.service']);
    const presenceKey = registry.keys.machine('m1');
    const lease = await leaseOf(registry, presenceKey);
    const presence = await watchKey(registry, presenceKey);

    // etcd still receives the keepalives, and renews the lease, but fleetd hears nothing back;
    // heartbeats and lease grants are held, so a new lease takes as long as the stall lasts.
    const unmute = proxy.muteAnswers((path) => path === LEASE_KEEPALIVE);
    const heartbeats = proxy.stall((path) => path === LEASE_TIME_TO_LIVE);
    const grants = proxy.stall((path) => path === LEASE_GRANT);
    await waitFor(
      () => m1.logs.includes(MONITOR_TIMED_OUT) && grants.held > 0,
      15_000,
      'the monitor to restart fleetd, and fleetd to ask for a new lease',
    );
    // Renewals of the old lease after the new one was asked for: the old one still keeps
    // the machine present. An old lease given up at the restart would lapse meanwhile.
    const renewals = proxy.forwarded(LEASE_KEEPALIVE);
    await waitFor(
      () => proxy.forwarded(LEASE_KEEPALIVE) > renewals || presence.length > 0,
      15_000,
      'the old lease renewed, or the presence lapsing',
    );
    unmute();
    heartbeats.lift();
    grants.lift();
    await waitFor(
      async () => {
        const current = await leaseOf(registry, presenceKey);
        return current !== undefined && current !== lease;
      },
      15_000,
      'm1 present under a new lease',
    );
    await launch(registry, ['a.service']);

    expect(presence).toEqual([expect.stringMatching(/^put under lease /)]);
    expect(stops(m1)).toEqual([]);
  });
});
