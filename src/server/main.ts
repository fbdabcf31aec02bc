import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { AccessGateOptions } from '../api/access/access-gate.js';
import { apiListeners } from '../api/listeners.js';
import { MetricsRegistry } from '../api/metrics.js';
import { type ApiServer, serveApi } from '../api/serve.js';
import { DEFAULT_CONFIG_PATH, type FleetConfig, loadConfig } from '../config/index.js';
import type { EngineMetrics } from '../engine/metrics.js';
import { errorMessage } from '../error-message.js';
import type { RegistrySeam } from '../registry/ports.js';
import { connectRegistry } from '../registry/registry.js';
import { createSystemdUnitManager } from '../systemd/systemd-unit-manager.js';
import type { UnitManager } from '../systemd/unit-manager.js';
import { FLEET_VERSION } from '../version.js';
import { prepareApiSecurity } from './api-security.js';
import { bestEffort } from './best-effort.js';
import { parseFleetdArgs } from './cli.js';
import { etcdPlaintextWarning } from './etcd-plaintext-warning.js';
import { FleetServer } from './fleet-server.js';
import { detectPublicIP, readMachineID, sessionToken } from './identity.js';
import { createLogger, levelOf, stderrIsJournal } from './log.js';
import { engineMetricsOn, systemdMetricsOn } from './metrics.js';
import { TlsPeerForwarder } from './peer-forwarder.js';
import { listenForPeers, type PeerListener } from './peer-listener.js';
import { type PeerCredentials, readPeerCredentials } from './peers.js';
import { restartOnlyChanges } from './reload.js';
import { restrictApiSocket } from './socket-access.js';

/** What one configuration runs: a reload builds a new one and retires the old. */
interface Generation {
  config: FleetConfig;
  registry: RegistrySeam;
  server: FleetServer;
  handler: RequestListener;
  /** What the peer listener serves, for this generation's registry. */
  peerHandler: RequestListener;
}

async function main(argv: readonly string[]): Promise<number> {
  const argv0 = process.argv[1] ?? 'fleetd';
  const command = parseFleetdArgs(argv, argv0);
  if (command.action === 'fail') {
    process.stderr.write(command.stderr);
    return command.exitCode;
  }
  if (command.action === 'version') {
    process.stdout.write(`fleetd version ${FLEET_VERSION}\n`);
    return 0;
  }

  const journal = stderrIsJournal(process.env);
  let log = createLogger({ verbosity: 0, journal });
  log.info(`Starting fleetd version ${FLEET_VERSION}`);
  try {
    const config = readConfig(command.configPath, log);
    log = createLogger({ verbosity: config.verbosity, journal });
    const security = prepareApiSecurity(config, log);
    const peers = readPeerCredentials(config);
    const machineID = readMachineID();
    const token = sessionToken();
    const metrics = new MetricsRegistry();
    const manager = await createSystemdUnitManager({
      unitsDirectory: config.unitsDirectory,
      userBus: config.systemdUser,
      log,
      onConnectionChange: systemdMetricsOn(metrics),
    });

    const shared = {
      manager,
      machineID,
      token,
      log,
      metrics,
      engineMetrics: engineMetricsOn(metrics),
      access: security.access,
      peers,
      forwarder: peers === null ? null : new TlsPeerForwarder(peers),
    };
    let current = startGeneration(config, shared);
    const listeners = apiListeners(config.apiListen);
    let api: ApiServer | null = null;
    if (listeners.length > 0) {
      // One handler for the process's life: a reload swaps what it delegates to, since
      // sockets handed over by systemd cannot be opened again.
      api = await serveApi(
        (req, res) => current.handler(req, res),
        listeners,
        log,
        security.transport,
      );
      await security.listening(api);
      // Sockets systemd handed over have the access fleet.socket gives them.
      for (const listener of listeners) {
        if ('path' in listener) await restrictApiSocket(listener.path, log);
      }
    }
    // Listening before registering, so that no peer is sent to an address nobody serves.
    let peerListener: PeerListener | null = null;
    if (peers !== null) {
      peerListener = await listenForPeers(peers, (req, res) => current.peerHandler(req, res), log);
    }
    void current.server.start();

    let busy: Promise<unknown> = Promise.resolve();
    const exclusive = (work: () => Promise<unknown>) => {
      busy = busy.then(work).catch((err: unknown) => log.error({ err }, 'signal handling failed'));
    };
    const shutdown = () =>
      exclusive(async () => {
        log.info('Gracefully shutting down');
        await bestEffort(log, 'stopping and unloading units', () => current.server.shutdown());
        await bestEffort(log, 'closing the API', () => api?.close());
        await bestEffort(log, 'closing the peer listener', () => peerListener?.close());
        await bestEffort(log, 'closing the systemd connection', () => manager.close());
        current.registry.close();
        process.exit(0);
      });
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    process.on('SIGHUP', () =>
      exclusive(async () => {
        const path = command.configPath ?? DEFAULT_CONFIG_PATH;
        log.info(`Reloading configuration from ${path}`);
        const reloaded = readConfig(command.configPath, log);
        log.level = levelOf(reloaded.verbosity);
        for (const option of restartOnlyChanges(config, reloaded)) {
          log.warn(`Configuration option ${option} changed; restart fleetd to apply it`);
        }
        const retired = current;
        await retired.server.retire();
        current = startGeneration(reloaded, shared);
        retired.registry.close();
        void current.server.start();
      }),
    );
    process.on('SIGUSR1', () => {
      process.stdout.write(`${JSON.stringify(current.server.dumpState())}\n`);
    });
    return await new Promise<number>(() => undefined);
  } catch (err) {
    log.fatal(errorMessage(err));
    return 1;
  }
}

function readConfig(path: string | undefined, log: Logger): FleetConfig {
  const { config, notices } = loadConfig({ ...(path !== undefined && { path }), env: process.env });
  for (const notice of notices) log[notice.level](notice.msg);
  return config;
}

/** What every generation shares: the process's systemd connection, identity and metrics. */
interface Shared {
  manager: UnitManager;
  machineID: string;
  token: string;
  log: Logger;
  metrics: MetricsRegistry;
  engineMetrics: EngineMetrics;
  access: Omit<AccessGateOptions, 'log'>;
  /** Read at start; a reload keeps them, as it keeps the listener they serve. */
  peers: PeerCredentials | null;
  forwarder: TlsPeerForwarder | null;
}

function startGeneration(config: FleetConfig, shared: Shared): Generation {
  const { log } = shared;
  log.info('Establishing etcd connectivity');
  const plaintext = etcdPlaintextWarning(config);
  if (plaintext !== null) log.warn({ options: plaintext.options }, plaintext.msg);
  const registry = connectRegistry(
    {
      endpoints: config.etcdServers,
      caFile: config.etcdCaFile,
      certFile: config.etcdCertFile,
      keyFile: config.etcdKeyFile,
      username: config.etcdUsername,
      password: config.etcdPassword,
      requestTimeoutMs: config.etcdRequestTimeoutMs,
    },
    config.etcdKeyPrefix,
    (key, err) => log.warn({ key, err }, 'Ignoring an unreadable registry value'),
  );
  const server = new FleetServer({
    config,
    registry,
    manager: shared.manager,
    log,
    machineID: shared.machineID,
    sessionToken: shared.token,
    detectPublicIP: () => detectPublicIP(),
    ...(shared.peers !== null && { peerAddress: shared.peers.address }),
    engineMetrics: shared.engineMetrics,
  });
  // The API (express and its routes, 2 to 3 MB resident) loads on the first request: a
  // fleetd that no fleetctl talks to never needs it.
  const serve = loadedOnFirstRequest('API', log, () =>
    import('../api/handler.js').then(({ createApiHandler }) =>
      createApiHandler({
        registry,
        version: FLEET_VERSION,
        tokenLimit: config.tokenLimit,
        available: () => server.available,
        metrics: () => shared.metrics.render(),
        access: shared.access,
        reports: { machineID: shared.machineID, forwarder: shared.forwarder },
        log,
      }),
    ),
  );
  const servePeer = loadedOnFirstRequest('peer API', log, () =>
    import('../api/peer-handler.js').then(({ createPeerHandler }) =>
      createPeerHandler({
        registry,
        machineID: shared.machineID,
        version: FLEET_VERSION,
        available: () => server.available,
        log,
      }),
    ),
  );
  return { config, registry, server, handler: serve, peerHandler: servePeer };
}

/** A listener whose handler is loaded by its first request; a failed load drops the request. */
function loadedOnFirstRequest(
  what: string,
  log: Logger,
  load: () => Promise<RequestListener>,
): RequestListener {
  let handler: Promise<RequestListener> | null = null;
  return (req, res) => {
    handler ??= load();
    handler
      .then((listener) => listener(req, res))
      .catch((err: unknown) => {
        log.error({ err }, `Unable to load the ${what}`);
        res.destroy();
      });
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fleetd: ${String(err)}\n`);
    process.exit(1);
  },
);
