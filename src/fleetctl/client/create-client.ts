import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type { EtcdDriverOptions } from '../../client/etcd-driver.js';
import type { FleetClient } from '../../client/types.js';
import { BatchNotServedError } from '../../client/unit-batch.js';
import { errorMessage } from '../../error-message.js';
import { goPathError } from '../../go/path-error.js';
import { quoteString } from '../../go/text.js';
import { parseGoUrl } from '../../go/url-parse.js';
import type { FlagValues } from '../args/flags.js';
import { DEFAULT_ENDPOINT } from '../args/specs.js';
import type { Logger } from '../log.js';
import type { Output } from '../output.js';
import { type SshConnector, type SshOptions, tunnelAddress } from '../remote/ssh.js';
import { lazyMachineCordons, lazyRollouts } from './lazy-extensions.js';
import { readTokenFile } from './token-file.js';
import { latestVersion, versionWarning } from './version-check.js';

const LOG_SOURCE = 'create-client.ts';

/** The global flags that decide how fleetctl reaches the cluster. */
export interface ClientOptions {
  driver: string;
  endpoint: string;
  experimentalApi: boolean;
  etcdKeyPrefix: string;
  requestTimeoutMs: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The file holding the API's bearer token; empty for none. */
  tokenFile: string;
  tunnel: string;
  ssh: Omit<SshOptions, 'address' | 'tunnel' | 'agentForwarding'>;
}

export function clientOptions(flags: FlagValues, home: string): ClientOptions {
  return {
    driver: flags.string('driver'),
    endpoint: flags.string('endpoint'),
    experimentalApi: flags.bool('experimental-api'),
    etcdKeyPrefix: flags.string('etcd-key-prefix'),
    requestTimeoutMs: Math.trunc(flags.number('request-timeout') * 1000),
    caFile: flags.string('ca-file'),
    certFile: flags.string('cert-file'),
    keyFile: flags.string('key-file'),
    tokenFile: flags.string('token-file'),
    tunnel: tunnelAddress(flags.string('tunnel')),
    ssh: {
      user: flags.string('ssh-username'),
      timeoutMs: Math.trunc(flags.number('ssh-timeout') * 1000),
      strictHostKeyChecking: flags.bool('strict-host-key-checking'),
      knownHostsFile: flags.string('known-hosts-file').replace(/^~(?=\/|$)/, home),
    },
  };
}

/** What the HTTP driver is given; `src/client/http-client.ts` implements it. */
export interface HttpClientOptions {
  /** The API URL: `http(s)://host:port`, or `unix:///path` / `file:///path` for a socket. */
  endpoint: string;
  requestTimeoutMs: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Sent as `Authorization: Bearer <token>` with every request. */
  token?: string;
  /** With `--tunnel`: opens each connection through the SSH bastion instead. */
  createConnection?: () => Promise<Duplex>;
}

/** A client of the etcd driver, which can also list the fleetd versions it sees. */
export interface EtcdFleetClient extends FleetClient {
  daemonVersions(): Promise<string[]>;
}

/** How the two drivers are loaded: real modules by default, fakes in tests. */
export interface Drivers {
  api(options: HttpClientOptions): Promise<FleetClient>;
  etcd(options: EtcdDriverOptions): Promise<EtcdFleetClient>;
}

// Variables, not literals: the HTTP driver is written alongside, and each driver is only
// loaded when chosen, so `fleetctl version` never loads etcd3 or an HTTP stack.
const HTTP_DRIVER_MODULE = '../../client/http-client.js';
const ETCD_DRIVER_MODULE = '../../client/etcd-driver.js';

interface HttpDriverModule {
  createHttpClient(options: HttpClientOptions): FleetClient | Promise<FleetClient>;
}

interface EtcdDriverModule {
  createEtcdDriver(options: EtcdDriverOptions): EtcdFleetClient;
}

export const MODULE_DRIVERS: Drivers = {
  async api(options) {
    const module = (await import(HTTP_DRIVER_MODULE)) as HttpDriverModule;
    return module.createHttpClient(options);
  },
  async etcd(options) {
    const module = (await import(ETCD_DRIVER_MODULE)) as EtcdDriverModule;
    return module.createEtcdDriver(options);
  },
};

export interface ClientServices {
  drivers: Drivers;
  ssh: SshConnector;
  log: Logger;
  stderr: Output;
  version: string;
}

/**
 * fleet's `getClient`: checks everything the original checks when it builds its client
 * (driver name, endpoint URL, tunnel, TLS files) and returns how to connect. Every command
 * runs the checks, so a bad `--driver` fails even `fleetctl version`; only commands that
 * talk to the cluster connect. Errors carry fleet's text, printed after
 * `Unable to initialize client: `.
 */
export async function prepareClient(
  options: ClientOptions,
  services: ClientServices,
): Promise<() => Promise<FleetClient>> {
  let { driver, endpoint } = options;
  if (!options.experimentalApi) {
    // `--experimental-api=false` predates the drivers and means etcd; with the endpoint
    // left alone it also means etcd's old default addresses.
    driver = 'etcd';
    if (endpoint === DEFAULT_ENDPOINT) endpoint = 'http://127.0.0.1:2379,http://127.0.0.1:4001';
  } else if (driver === '') {
    driver = looksLikeEtcd(endpoint) ? 'etcd' : driver;
  }
  switch (driver) {
    case 'API':
      return prepareApiClient({ ...options, endpoint }, services);
    case 'etcd':
      return prepareEtcdClient({ ...options, endpoint }, services);
    default:
      throw new Error(`unrecognized driver ${quoteString(driver)}`);
  }
}

/** fleet picks the etcd driver for an unset `--driver` when the port is etcd's. */
function looksLikeEtcd(endpoint: string): boolean {
  try {
    const { host } = parseGoUrl(endpoint.split(',')[0]!);
    const port = host.slice(host.lastIndexOf(':') + 1);
    return host.includes(':') && (port === '4001' || port === '2379');
  } catch {
    return false;
  }
}

async function prepareApiClient(
  options: ClientOptions,
  services: ClientServices,
): Promise<() => Promise<FleetClient>> {
  const endpoints = options.endpoint.split(',');
  const first = endpoints[0]!;
  if (endpoints.length > 1) {
    services.log.warning(
      LOG_SOURCE,
      `multiple endpoints provided but only the first (${first}) is used`,
    );
  }
  const url = parseGoUrl(first);
  if (url.scheme === '') throw new Error('URL scheme undefined');
  const viaSocket = url.scheme === 'unix' || url.scheme === 'file';

  const tunnel = await openTunnel(options, services, url, viaSocket);
  let token: string | undefined;
  try {
    if (viaSocket && url.host !== '') {
      // Usually a missing slash: "unix://var/run/fleet.sock" names host "var".
      throw new Error(
        `unable to connect to host ${quoteString(url.host)} with scheme ${quoteString(url.scheme)}`,
      );
    }
    await checkTlsFiles(options);
    token = options.tokenFile === '' ? undefined : await readTokenFile(options.tokenFile);
  } catch (err) {
    await tunnel?.close();
    throw err;
  }
  const httpOptions: HttpClientOptions = {
    endpoint: first,
    requestTimeoutMs: options.requestTimeoutMs,
    caFile: options.caFile,
    certFile: options.certFile,
    keyFile: options.keyFile,
    ...(token === undefined ? {} : { token }),
    ...(tunnel === undefined ? {} : { createConnection: tunnel.createConnection }),
  };
  // fleet builds its HTTP client without contacting the API; loading ours waits for the
  // first request, so commands that end before one (`submit` without units) never load it.
  return async () =>
    lazyClient(
      () => services.drivers.api(httpOptions),
      async () => await tunnel?.close(),
    );
}

/** A client whose driver is created at its first call; `release` runs when it is closed. */
function lazyClient(create: () => Promise<FleetClient>, release: () => Promise<void>): FleetClient {
  let created: Promise<FleetClient> | undefined;
  const client = () => {
    created ??= create();
    return created;
  };
  return {
    machines: async () => (await client()).machines(),
    unit: async (name) => (await client()).unit(name),
    units: async () => (await client()).units(),
    unitStates: async () => (await client()).unitStates(),
    unitState: async (name) => (await client()).unitState(name),
    createUnit: async (unit) => (await client()).createUnit(unit),
    setUnitTargetState: async (name, state) => (await client()).setUnitTargetState(name, state),
    destroyUnit: async (name) => (await client()).destroyUnit(name),
    writeUnits: async (units) => {
      const driver = await client();
      // A driver without it (the in-memory ones of tests) answers as an original fleetd would.
      if (driver.writeUnits === undefined) throw new BatchNotServedError();
      return driver.writeUnits(units);
    },
    // A driver without it (the in-memory ones of tests) answers as an original fleetd would.
    unitOutput: async (request, sink, signal) =>
      (await client()).unitOutput?.(request, sink, signal) ?? { served: false },
    followEvents: async (since, onLine, signal) =>
      (await client()).followEvents?.(since, onLine, signal) ?? 'not-served',
    cordons: lazyMachineCordons(async () => (await client()).cordons),
    rollouts: lazyRollouts(async () => (await client()).rollouts),
    close: async () => {
      // A driver that failed to load has nothing to close.
      await (await created?.catch(() => undefined))?.close();
      await release();
    },
  };
}

/** How the HTTP client reaches the API through `--tunnel`, and how the tunnel is closed. */
interface Tunnel {
  createConnection: () => Promise<Duplex>;
  close(): Promise<void>;
}

/**
 * With `--tunnel`, fleet connects to the bastion while building the client (with agent
 * forwarding, as fleet asked for it) and reaches a socket endpoint by running
 * `fleetctl fd-forward <path>` there, a TCP endpoint by forwarding to its address, which
 * the bastion resolves. Every request gets a connection of its own.
 */
async function openTunnel(
  options: ClientOptions,
  services: ClientServices,
  url: { scheme: string; host: string; path: string },
  viaSocket: boolean,
): Promise<Tunnel | undefined> {
  if (options.tunnel === '') return undefined;
  let session: Awaited<ReturnType<SshConnector['connect']>>;
  try {
    session = await services.ssh.connect({
      ...options.ssh,
      address: options.tunnel,
      tunnel: '',
      agentForwarding: true,
    });
  } catch (err) {
    throw new Error(`failed initializing SSH client: ${errorMessage(err)}`);
  }
  const close = () => session.close();
  if (viaSocket) {
    return {
      createConnection: () => {
        services.log.debug(LOG_SOURCE, `Establishing remote fleetctl proxy to ${url.path}`);
        return session.dialCommand(`fleetctl fd-forward ${url.path}`);
      },
      close,
    };
  }
  const [host, port] = endpointHostPort(url.host, url.scheme);
  return { createConnection: () => session.dial(host, port), close };
}

/** The host and port Go's HTTP transport dials for a URL host: 80 or 443 when none is given. */
function endpointHostPort(host: string, scheme: string): [string, number] {
  const defaultPort = scheme === 'https' ? 443 : 80;
  const bracketed = /^\[(.*)\](?::(\d*))?$/.exec(host);
  if (bracketed !== null) {
    const port = bracketed[2] ?? '';
    return [bracketed[1]!, port === '' ? defaultPort : Number(port)];
  }
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon === host.length - 1) {
    return [colon < 0 ? host : host.slice(0, colon), defaultPort];
  }
  return [host.slice(0, colon), Number(host.slice(colon + 1))];
}

async function prepareEtcdClient(
  options: ClientOptions,
  services: ClientServices,
): Promise<() => Promise<FleetClient>> {
  const endpoints = options.endpoint.split(',');
  for (const endpoint of endpoints) parseGoUrl(endpoint);
  if (options.tokenFile !== '') {
    // etcd knows nothing of the API's tokens. A warning, not an error: FLEETCTL_TOKEN_FILE
    // is usually set once for a shell, which may still use the etcd driver now and then.
    services.log.warning(
      LOG_SOURCE,
      'the token file applies to the API driver only; the etcd driver ignores it',
    );
  }
  if (options.tunnel !== '') {
    // fleet reaches etcd by TCP forwarding through the bastion. Connecting to the bastion
    // reports its errors as fleet did; the forwarding of etcd3's gRPC channels is not
    // there, so a working tunnel is refused rather than silently bypassed.
    let session: Awaited<ReturnType<SshConnector['connect']>>;
    try {
      session = await services.ssh.connect({
        ...options.ssh,
        address: options.tunnel,
        tunnel: '',
        agentForwarding: false,
      });
    } catch (err) {
      throw new Error(`failed initializing SSH client: ${errorMessage(err)}`);
    }
    await session.close();
    throw new Error('the etcd driver cannot reach etcd through --tunnel yet');
  }
  await checkTlsFiles(options);
  return async () => {
    const client = await services.drivers.etcd({
      endpoints,
      keyPrefix: options.etcdKeyPrefix,
      requestTimeoutMs: options.requestTimeoutMs,
      caFile: options.caFile,
      certFile: options.certFile,
      keyFile: options.keyFile,
      onBadRecord: (key, err) => services.log.debug(LOG_SOURCE, `skipped ${key}: ${err.message}`),
    });
    await warnIfOutdated(client, services);
    return client;
  };
}

/** fleet's `checkVersion`: best effort; a failure is logged, an older fleetctl warned about. */
async function warnIfOutdated(client: EtcdFleetClient, services: ClientServices): Promise<void> {
  try {
    const latest = latestVersion(await client.daemonVersions());
    const warning = latest === null ? null : versionWarning(services.version, latest);
    if (warning !== null) services.stderr.write(warning);
  } catch (err) {
    services.log.error(
      LOG_SOURCE,
      `error attempting to check latest fleet version in Registry: ${errorMessage(err)}`,
    );
  }
}

/** fleet's `ReadTLSConfigFiles`: the key pair only counts when both halves are given. */
async function checkTlsFiles(options: ClientOptions): Promise<void> {
  const files =
    options.certFile !== '' && options.keyFile !== '' ? [options.certFile, options.keyFile] : [];
  if (options.caFile !== '') files.push(options.caFile);
  for (const file of files) {
    try {
      await readFile(file);
    } catch (err) {
      throw new Error(goPathError(err, file));
    }
  }
}
