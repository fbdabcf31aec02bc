/**
 * A child process of the scale benchmark hosting many simulated machines: each one a
 * complete FleetServer (presence, agent, and engine unless disabled) with its own machine ID,
 * session and in-memory unit manager, and by default its own etcd client, as separate
 * hosts would have. Driven over the IPC channel by `main.ts`; exits when that channel closes.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Etcd3 } from 'etcd3';
import { type Logger, pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { openRegistry } from '../../src/registry/registry.js';
import { FleetServer } from '../../src/server/fleet-server.js';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';
import type { WorkerCommand, WorkerInit, WorkerReport } from './protocol.js';

interface HostedMachine {
  id: string;
  server: FleetServer;
  manager: FakeUnitManager;
  etcd: Etcd3;
}

const SHUTDOWN_TIMEOUT_MS = 15_000;

let machines: HostedMachine[] = [];
let sharedClient: Etcd3 | null = null;
let log: Logger | null = null;
let flushLog: () => void = () => undefined;
let warnings = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function send(report: WorkerReport): void {
  process.send?.(report);
}

function init(command: WorkerInit): void {
  const destination = pino.destination({ dest: command.logFile, sync: false, minLength: 4096 });
  flushLog = () => destination.flushSync();
  log = pino(
    {
      level: command.logLevel,
      hooks: {
        logMethod(args, method, level) {
          if (level >= 40) warnings++;
          method.apply(this, args);
        },
      },
    },
    destination,
  );
  const configFor = (engine: boolean) =>
    loadConfig({
      env: {
        FLEET_ETCD_SERVERS: command.etcd.endpoints.join(','),
        FLEET_ETCD_KEY_PREFIX: command.prefix,
        FLEET_AGENT_TTL: command.agentTtl,
        FLEET_ENGINE_RECONCILE_INTERVAL: command.engineReconcileInterval,
        FLEET_PUBLIC_IP: '127.0.0.1',
        FLEET_DISABLE_ENGINE: engine ? 'false' : 'true',
      },
      defaultPath: '/nonexistent/fleet.conf',
    }).config;
  const configs = { engine: configFor(true), agentOnly: configFor(false) };
  if (command.sharedClient) sharedClient = createEtcdClient(command.etcd);
  machines = command.machines.map(({ id, engine }) => {
    const etcd = sharedClient ?? createEtcdClient(command.etcd);
    const machineLog = log!.child({ machine: id });
    const registry = openRegistry(etcd, command.prefix, (key, err) =>
      machineLog.warn({ key, err }, 'Ignoring an unreadable registry value'),
    );
    const manager = new FakeUnitManager();
    const server = new FleetServer({
      config: engine ? configs.engine : configs.agentOnly,
      registry,
      manager,
      log: machineLog,
      machineID: id,
      sessionToken: randomUUID(),
      detectPublicIP: () => '127.0.0.1',
    });
    return { id, server, manager, etcd };
  });
}

async function start(): Promise<void> {
  const started = performance.now();
  // start() retries registration until it succeeds, so every machine comes up eventually.
  await Promise.all(machines.map((machine) => machine.server.start()));
  send({ type: 'started', elapsedMs: performance.now() - started, failed: 0 });
}

/** Stops the machines as a crashed fleetd would leave them: units running, lease abandoned. */
async function stop(ids: readonly string[]): Promise<void> {
  const started = performance.now();
  const wanted = new Set(ids);
  const victims = machines.filter((machine) => wanted.has(machine.id));
  machines = machines.filter((machine) => !wanted.has(machine.id));
  await Promise.all(
    victims.map(async (machine) => {
      await machine.server.stop();
      // The process is gone: its connection (and with it any stream) goes too.
      if (sharedClient === null) machine.etcd.close();
    }),
  );
  send({ type: 'stopped', elapsedMs: performance.now() - started });
}

async function stats(): Promise<void> {
  let running = 0;
  for (const { manager } of machines) {
    const states = await manager.states([...manager.files.keys()]);
    for (const state of states.values()) if (state.activeState === 'active') running++;
    // The fake records every call for tests' assertions; a long run must not hoard them.
    manager.calls.length = 0;
  }
  const memory = process.memoryUsage();
  send({
    type: 'stats',
    stats: {
      loopDelayP50Ms: loopDelay.percentile(50) / 1e6,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      warnings,
      running,
    },
  });
  loopDelay.reset();
}

async function shutdown(): Promise<void> {
  const stopping = Promise.all(
    machines.map(async (machine) => {
      await machine.server.stop();
      if (sharedClient === null) machine.etcd.close();
    }),
  );
  const timeout = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref());
  await Promise.race([stopping, timeout]);
  sharedClient?.close();
  flushLog();
  send({ type: 'shutdown-done' });
  process.exit(0);
}

function fail(err: unknown): void {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  log?.fatal(message);
  flushLog();
  send({ type: 'error', message });
  process.exit(1);
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
// The coordinator died or dropped us: never outlive it.
process.on('disconnect', () => process.exit(1));

process.on('message', (command: WorkerCommand) => {
  const run = async () => {
    switch (command.type) {
      case 'init':
        init(command);
        return send({ type: 'ready' });
      case 'start':
        return start();
      case 'stop':
        return stop(command.ids);
      case 'stats':
        return stats();
      case 'shutdown':
        return shutdown();
    }
  };
  run().catch(fail);
});
