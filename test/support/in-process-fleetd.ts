import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { openRegistry } from '../../src/registry/registry.js';
import { FleetServer } from '../../src/server/fleet-server.js';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';

/** A fleetd in the test process: real presence, engine and agent; systemd is a fake. */
export interface InProcessFleetd {
  id: string;
  server: FleetServer;
  manager: FakeUnitManager;
  /** Messages it logged, in order. */
  logs: string[];
}

export interface InProcessFleetdOptions {
  etcd: Etcd3;
  prefix: string;
  machineID: string;
  metadata?: Record<string, string>;
  manager?: FakeUnitManager;
  sessionToken?: string;
  /** Resolve only once registered (default), or at once. */
  waitForRegistration?: boolean;
  /** The peer listener's address it publishes (none by default). */
  peerAddress?: string;
}

/** Starts one fleetd as fleetd's main would, with the short timings of the test suites. */
export async function startInProcessFleetd(
  options: InProcessFleetdOptions,
): Promise<InProcessFleetd> {
  const logs: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        logs.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        done();
      },
    }),
  );
  const metadata = Object.entries(options.metadata ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  const { config } = loadConfig({
    env: {
      FLEET_ETCD_KEY_PREFIX: options.prefix,
      FLEET_AGENT_TTL: '3s',
      FLEET_ENGINE_RECONCILE_INTERVAL: '0.5',
      FLEET_PUBLIC_IP: '127.0.0.1',
      FLEET_METADATA: metadata,
    },
    defaultPath: '/nonexistent/fleet.conf',
  });
  const manager = options.manager ?? new FakeUnitManager();
  const server = new FleetServer({
    config,
    registry: openRegistry(options.etcd, options.prefix, () => undefined),
    manager,
    log,
    machineID: options.machineID,
    sessionToken: options.sessionToken ?? randomUUID(),
    detectPublicIP: () => '',
    ...(options.peerAddress !== undefined && { peerAddress: options.peerAddress }),
  });
  const starting = server.start();
  if (options.waitForRegistration ?? true) await starting;
  return { id: options.machineID, server, manager, logs };
}
