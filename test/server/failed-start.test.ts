import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { FleetServer } from '../../src/server/fleet-server.js';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';
import { useEtcd } from '../support/etcd-suite.js';
import { startInProcessFleetd } from '../support/in-process-fleetd.js';
import { waitFor } from '../support/wait.js';

// An etcd of this file's own: every lease it holds is one these tests made.
const etcd = useEtcd();
let servers: FleetServer[] = [];

afterEach(async () => {
  await Promise.all(servers.map((server) => server.shutdown()));
  servers = [];
});

async function liveLeases(): Promise<string[]> {
  const { leases } = await etcd.client().leaseClient.leaseLeases({});
  return leases.map((lease) => lease.ID);
}

describe('a fleetd whose start fails', () => {
  it('revokes the lease of every failed attempt, so retries never pile leases up', async () => {
    const manager = new FakeUnitManager();
    // Two starts fail as a readdir of the units directory would; the third succeeds.
    manager.failNext('listUnitFiles', new Error('EIO: i/o error, scandir'));
    manager.failNext('listUnitFiles', new Error('EIO: i/o error, scandir'));
    const fleetd = await startInProcessFleetd({
      etcd: etcd.client(),
      prefix: `/fleet-${randomUUID()}/`,
      machineID: 'm1',
      manager,
      waitForRegistration: false,
    });
    servers.push(fleetd.server);

    const attempts = () => manager.calls.filter((call) => call.method === 'listUnitFiles').length;
    await waitFor(
      () => attempts() === 3 && fleetd.server.available,
      15_000,
      'a third start, which succeeds',
    );
    const failures = fleetd.logs.filter((line) =>
      line.startsWith('Server register machine failed'),
    );
    expect(failures).toHaveLength(2);
    expect(await liveLeases()).toHaveLength(1);

    await fleetd.server.shutdown();
    expect(await liveLeases()).toEqual([]);
  });

  it('is not available while its components are not running', async () => {
    const manager = new FakeUnitManager();
    manager.failNext('listUnitFiles', new Error('EIO: i/o error, scandir'));
    const fleetd = await startInProcessFleetd({
      etcd: etcd.client(),
      prefix: `/fleet-${randomUUID()}/`,
      machineID: 'm1',
      manager,
      waitForRegistration: false,
    });
    servers.push(fleetd.server);
    await waitFor(
      () => fleetd.logs.some((line) => line.startsWith('Server register machine failed')),
      10_000,
      'the failed start',
    );
    expect(fleetd.server.available).toBe(false);
    expect(await liveLeases()).toEqual([]);
  });
});
