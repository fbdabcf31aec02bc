import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Engine } from '../../src/engine/engine.js';
import { MirroredEngineView } from '../../src/registry/engine-view.js';
import { createEtcdClient, type EtcdConnectionConfig } from '../../src/registry/etcd-client.js';
import { etcdMirrorSource } from '../../src/registry/etcd-mirror-source.js';
import { EtcdLeadership } from '../../src/registry/leadership.js';
import { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';

/** One machine's engine as fleetd runs it, with its log lines kept for assertions. */
export interface EngineNode {
  machineID: string;
  registry: Registry;
  session: EtcdPresenceLease;
  engine: Engine;
  logs: string[];
  /** Stops as a graceful fleetd does: resigns leadership, revokes the lease. */
  shutdown(): Promise<void>;
  /** Dies as a SIGKILLed fleetd does: nothing is cleaned up, the lease runs out. */
  crash(): Promise<void>;
}

export interface EngineNodeOptions {
  etcd: EtcdConnectionConfig;
  prefix: string;
  machineID: string;
  metadata?: Record<string, string>;
  ttlMs?: number;
  reconcileIntervalMs?: number;
  watches?: boolean;
}

export async function startEngineNode(options: EngineNodeOptions): Promise<EngineNode> {
  const logs: string[] = [];
  const log = pino(
    { level: 'debug', base: { machine: options.machineID } },
    new Writable({
      write(chunk, _encoding, done) {
        logs.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        done();
      },
    }),
  );
  const etcd = createEtcdClient(options.etcd);
  const ttlMs = options.ttlMs ?? 3_000;
  const registry = openRegistry(etcd, options.prefix, (key, err) =>
    log.warn({ key, err }, 'bad record'),
  );
  const session = await EtcdPresenceLease.open(
    etcd,
    registry.keys,
    {
      id: options.machineID,
      publicIP: '127.0.0.1',
      metadata: options.metadata ?? {},
      capabilities: { disableEngine: false },
      version: 'test',
      sessionToken: randomUUID(),
    },
    ttlMs,
  );
  const engine = new Engine({
    machineID: options.machineID,
    feed: new MirroredEngineView(
      etcdMirrorSource(etcd),
      registry.keys,
      () => engine.trigger(),
      registry.onBadRecord,
    ),
    leadership: new EtcdLeadership(etcd, registry.keys, session),
    writer: registry.scheduleWriter,
    bodies: registry.bodies,
    drains: { states: registry.states, progress: registry.drainProgress },
    log,
    reconcileIntervalMs: options.reconcileIntervalMs ?? 500,
    machineGraceMs: session.grantedTtlSeconds * 1000,
    watches: options.watches ?? true,
  });
  await engine.start();

  let stopped = false;
  const stopOnce = async (graceful: boolean) => {
    if (stopped) return;
    stopped = true;
    await engine.stop({ resign: graceful });
    if (graceful) await session.close();
    else session.abandon();
    etcd.close();
  };
  return {
    machineID: options.machineID,
    registry,
    session,
    engine,
    logs,
    shutdown: () => stopOnce(true),
    crash: () => stopOnce(false),
  };
}
