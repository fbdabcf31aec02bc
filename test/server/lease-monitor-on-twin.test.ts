import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM_CLOCK } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { RegistryKeys } from '../../src/registry/keys.js';
import { openMemoryRegistry } from '../../src/registry/memory/registry.js';
import { MemoryStore } from '../../src/registry/memory/store.js';
import type { PresenceLease, RegistrySeam } from '../../src/registry/ports.js';
import { FleetServer } from '../../src/server/fleet-server.js';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';
import { waitFor } from '../support/wait.js';

// The presence monitor on the registry's in-memory twin: heartbeats (unary calls) that never
// get an answer while the lease's keepalives still do, as when a member stalls unary requests.
// The same case runs against a real etcd behind a delaying proxy in lease-monitor.test.ts.

const AGENT_TTL = '1s';
let servers: FleetServer[] = [];

afterEach(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  servers = [];
});

/** The twin's seam, with a switch that leaves every heartbeat of its leases unanswered. */
function stallableSeam(store: MemoryStore): { seam: RegistrySeam; stall: () => void } {
  const seam = openMemoryRegistry(store);
  let stalled = false;
  const presence = seam.presence;
  const withStall = (lease: PresenceLease): PresenceLease =>
    new Proxy(lease, {
      get(target, property, receiver) {
        if (property === 'isAlive' && stalled) return () => new Promise<boolean>(() => {});
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  const stallable: RegistrySeam = {
    ...seam,
    presence: {
      ...presence,
      open: async (...args: Parameters<typeof presence.open>) =>
        withStall(await presence.open(...args)),
    },
  };
  return {
    seam: stallable,
    stall: () => {
      stalled = true;
    },
  };
}

async function startFleetd(seam: RegistrySeam, logs: string[]): Promise<FleetServer> {
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        logs.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        done();
      },
    }),
  );
  const { config } = loadConfig({
    env: { FLEET_AGENT_TTL: AGENT_TTL, FLEET_PUBLIC_IP: '127.0.0.1' },
    defaultPath: '/nonexistent/fleet.conf',
  });
  const server = new FleetServer({
    config,
    registry: seam,
    manager: new FakeUnitManager(),
    log,
    machineID: 'm1',
    sessionToken: 'session-m1',
    detectPublicIP: () => '',
  });
  servers.push(server);
  await server.start();
  return server;
}

describe('the presence monitor on the twin', () => {
  it('keeps a lease whose keepalives are answered while its heartbeats never are', async () => {
    const store = new MemoryStore(SYSTEM_CLOCK);
    const { seam, stall } = stallableSeam(store);
    const logs: string[] = [];
    await startFleetd(seam, logs);
    const presenceKey = new RegistryKeys().machine('m1');
    const leaseOfPresence = () => store.get(presenceKey)?.lease;
    const lease = leaseOfPresence();
    expect(lease).toBeDefined();

    stall();
    // Several monitor checks (one each half TTL), each left unanswered.
    await waitFor(
      () => logs.filter((line) => line.startsWith('Heartbeat timed out')).length >= 3,
      10_000,
      'three heartbeats left unanswered',
    );

    expect(logs).not.toContain('Restarting server');
    expect(leaseOfPresence()).toBe(lease);
  });
});
