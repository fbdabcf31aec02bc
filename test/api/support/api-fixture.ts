import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { type ApiHandlerOptions, createApiHandler } from '../../../src/api/handler.js';
import { type ApiServer, serveApi } from '../../../src/api/serve.js';
import { openRegistry, type Registry } from '../../../src/registry/registry.js';

export const TEST_VERSION = '1.0.0-test';

export interface ApiFixture {
  registry: Registry;
  /** `http://127.0.0.1:<port>` or `unix:///…/fleet.sock`. */
  baseUrl: string;
  server: ApiServer;
  /** Log lines (message text) the API wrote. */
  logs: string[];
  setAvailable(available: boolean): void;
  close(): Promise<void>;
}

export interface ApiFixtureOptions {
  tokenLimit?: number;
  unixSocket?: boolean;
  metrics?: () => string;
  /** Key prefix; a fresh one by default, so every fixture starts from an empty cluster. */
  prefix?: string;
  /** This fleetd's machine, and its forwarder, for units' status and journal. */
  reports?: ApiHandlerOptions['reports'];
}

/** The API over the real registry on `etcd`, served on a loopback port or a unix socket. */
export async function startApi(etcd: Etcd3, options: ApiFixtureOptions = {}): Promise<ApiFixture> {
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
  const registry = openRegistry(etcd, options.prefix ?? `/api-test-${randomUUID()}/`, (key, err) =>
    log.warn({ key, err }, 'bad record'),
  );
  let available = true;
  const handler = createApiHandler({
    registry,
    version: TEST_VERSION,
    tokenLimit: options.tokenLimit ?? 100,
    available: () => available,
    ...(options.metrics !== undefined && { metrics: options.metrics }),
    ...(options.reports !== undefined && { reports: options.reports }),
    log,
  });
  const directory = options.unixSocket ? await mkdtemp(join(tmpdir(), 'fleet-api-')) : undefined;
  const socketPath = directory === undefined ? undefined : join(directory, 'fleet.sock');
  const server = await serveApi(
    handler,
    [socketPath === undefined ? { host: '127.0.0.1', port: 0 } : { path: socketPath }],
    log,
  );
  const baseUrl =
    socketPath === undefined ? `http://${server.addresses[0]}` : `unix://${socketPath}`;
  return {
    registry,
    baseUrl,
    server,
    logs,
    setAvailable: (value) => {
      available = value;
    },
    close: async () => {
      await server.close();
      if (directory !== undefined) await rm(directory, { recursive: true, force: true });
    },
  };
}
