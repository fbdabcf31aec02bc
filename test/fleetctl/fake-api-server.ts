import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ApiUnit } from '../../src/api/schema.js';
import { FakeApiError, type FakeCluster } from './fake-cluster.js';

/**
 * What serves `GET /fleet/ext/v1/units/<unit>/{status,journal}` (docs/api-v1.md): it writes
 * the whole answer itself, streamed NDJSON or a refusal.
 */
export type FakeUnitOutput = (
  request: { kind: string; unit: string; query: URLSearchParams },
  req: IncomingMessage,
  res: ServerResponse,
) => void;

/**
 * fleet's HTTP API v1 in front of a FakeCluster, enough of it for fleetctl: the routes it
 * calls, JSON bodies, fleet's error entity. It lets the real HTTP driver and the built
 * CLI run against a cluster that converges at once. Unit status and journal are served
 * only with a `unitOutput`; without, their paths get the original fleet's 404.
 */
export class FakeApiServer {
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    /** The headers of every request served, in order. */
    readonly requests: readonly IncomingHttpHeaders[],
  ) {}

  /** Serves plain HTTP, or HTTPS with `tls`. */
  static async start(
    cluster: FakeCluster,
    tls?: ServerOptions,
    unitOutput?: FakeUnitOutput,
  ): Promise<FakeApiServer> {
    const requests: IncomingHttpHeaders[] = [];
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.headers);
      handle(cluster, req, res, unitOutput).catch((err: unknown) => {
        const status = err instanceof FakeApiError ? err.status : 500;
        const message = err instanceof FakeApiError ? err.apiMessage : String(err);
        reply(res, status, { error: { code: status, message } });
      });
    };
    const server: Server = tls === undefined ? createServer(serve) : createTlsServer(tls, serve);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const scheme = tls === undefined ? 'http' : 'https';
    return new FakeApiServer(server, `${scheme}://127.0.0.1:${port}`, requests);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function reply(res: ServerResponse, status: number, body?: object): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(
  cluster: FakeCluster,
  req: IncomingMessage,
  res: ServerResponse,
  unitOutput: FakeUnitOutput | undefined,
) {
  const url = new URL(req.url ?? '/', 'http://fleet');
  const ext = /^\/fleet\/ext\/v1\/units\/([^/]+)\/(status|journal)$/.exec(url.pathname);
  if (ext !== null && req.method === 'GET' && unitOutput !== undefined) {
    const unit = decodeURIComponent(ext[1]!);
    return unitOutput({ kind: ext[2]!, unit, query: url.searchParams }, req, res);
  }
  const [, prefix, version, resource, rawName] = url.pathname.split('/');
  // fleet's catch-all: an unknown path is a 404 with an empty message.
  if (prefix !== 'fleet' || version !== 'v1') throw new FakeApiError(404, '');
  const name = rawName === undefined ? undefined : decodeURIComponent(rawName);
  const notFound = (what: string) => new FakeApiError(404, `${what} does not exist`);

  if (req.method === 'GET' && resource === 'machines') {
    return reply(res, 200, { machines: await cluster.machines() });
  }
  if (req.method === 'GET' && resource === 'units' && name === undefined) {
    return reply(res, 200, { units: await cluster.units() });
  }
  if (req.method === 'GET' && resource === 'units') {
    const unit = await cluster.unit(name!);
    if (unit === null) throw notFound('unit');
    return reply(res, 200, unit);
  }
  if (req.method === 'GET' && resource === 'state' && name === undefined) {
    return reply(res, 200, { states: await cluster.unitStates() });
  }
  if (req.method === 'GET' && resource === 'state') {
    const state = await cluster.unitState(name!);
    if (state === null) throw notFound('unit state');
    return reply(res, 200, state);
  }
  if (req.method === 'PUT' && resource === 'units' && name !== undefined) {
    const unit = JSON.parse(await readBody(req)) as ApiUnit;
    if (unit.options === undefined || unit.options.length === 0) {
      if ((await cluster.unit(name)) === null) {
        throw new FakeApiError(409, 'unit does not exist and options field empty');
      }
      await cluster.setUnitTargetState(name, unit.desiredState ?? '');
      return reply(res, 204);
    }
    await cluster.createUnit({ ...unit, name });
    return reply(res, 201);
  }
  if (req.method === 'DELETE' && resource === 'units' && name !== undefined) {
    await cluster.destroyUnit(name);
    return reply(res, 204);
  }
  throw new FakeApiError(405, 'method not allowed');
}
