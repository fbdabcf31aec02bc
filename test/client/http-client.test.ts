import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../src/api/handler.js';
import { GoogleApiError } from '../../src/client/googleapi-error.js';
import { createHttpClient } from '../../src/client/http-client.js';
import { TransportError } from '../../src/client/transport.js';
import type { FleetClient } from '../../src/client/types.js';
import { type ApiFixture, startApi } from '../api/support/api-fixture.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';

let etcd: EtcdCluster;
let etcdClient: Etcd3;
let api: ApiFixture;

beforeAll(async () => {
  etcd = await startEtcd();
  etcdClient = new Etcd3(etcd.clientOptions());
  api = await startApi(etcdClient, { tokenLimit: 2, unixSocket: true });
});
afterAll(async () => {
  await api?.close();
  etcdClient?.close();
  await etcd?.stop();
});

const OPTIONS = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' }];

/** A server that records requests and answers with `answer`. */
async function fakeServer(
  answer: (req: IncomingMessage, body: string) => { status: number; body: string },
): Promise<{
  url: string;
  requests: Array<{
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: string;
  }>;
  close: () => Promise<void>;
}> {
  const requests: Array<{
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: string;
  }> = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const reply = answer(req, body);
      res.statusCode = reply.status;
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('HTTP client against the API', () => {
  let client: FleetClient;
  beforeAll(() => {
    client = createHttpClient({ endpoint: api.baseUrl });
  });

  it('creates, reads, changes and destroys units over a unix socket', async () => {
    await client.createUnit({ name: 'hello.service', options: OPTIONS });
    expect(await client.unit('hello.service')).toEqual({
      currentState: 'inactive',
      desiredState: 'inactive',
      name: 'hello.service',
      options: [{ name: 'ExecStart', section: 'Service', value: '/bin/sleep 3600' }],
    });
    await client.setUnitTargetState('hello.service', 'launched');
    expect((await client.unit('hello.service'))?.desiredState).toBe('launched');
    await client.destroyUnit('hello.service');
    expect(await client.unit('hello.service')).toBeNull();
  });

  it('follows page tokens until the last page', async () => {
    for (const name of ['p1.service', 'p2.service', 'p3.service', 'p4.service', 'p@5.service']) {
      await client.createUnit({ name, options: OPTIONS, desiredState: 'inactive' });
    }
    expect((await client.units()).map((unit) => unit.name)).toEqual([
      'p1.service',
      'p2.service',
      'p3.service',
      'p4.service',
      'p@5.service',
    ]);
  });

  it('reads unit states and a missing state as null', async () => {
    await etcdClient.put(api.registry.keys.unitState('p1.service', 'm1')).value(
      JSON.stringify({
        loadState: 'loaded',
        activeState: 'active',
        subState: 'running',
        hash: 'a'.repeat(40),
        launched: true,
      }),
    );
    expect(await client.unitStates()).toEqual([
      {
        hash: 'a'.repeat(40),
        machineID: 'm1',
        name: 'p1.service',
        systemdActiveState: 'active',
        systemdLoadState: 'loaded',
        systemdSubState: 'running',
      },
    ]);
    expect((await client.unitState('p1.service'))?.machineID).toBe('m1');
    expect(await client.unitState('p2.service')).toBeNull();
    expect(await client.machines()).toEqual([]);
  });

  it("renders API errors as fleetctl's Go client did", async () => {
    await client.createUnit({ name: 't@.service', options: OPTIONS });
    const err = await rejection(client.setUnitTargetState('t@.service', 'launched'));
    expect(err).toBeInstanceOf(GoogleApiError);
    expect(err.message).toBe('googleapi: Error 400: cannot activate template "t@.service"');
    const missing = await rejection(client.destroyUnit('missing.service'));
    expect(missing.message).toBe('googleapi: Error 404: unit does not exist');
  });

  it('reports an unavailable server with the text tests grep for', async () => {
    api.setAvailable(false);
    try {
      const err = await rejection(client.units());
      expect(err.message).toBe(
        'googleapi: Error 503: fleet server unable to communicate with etcd',
      );
    } finally {
      api.setAvailable(true);
    }
  });

  it('can carry requests over a stream it is given instead of dialling', async () => {
    const socketPath = api.baseUrl.slice('unix://'.length);
    let opened = 0;
    const tunnelled = createHttpClient({
      endpoint: 'http://far-away.invalid:49153',
      createConnection: async () => {
        opened++;
        return connect({ path: socketPath });
      },
    });
    expect((await tunnelled.unit('p1.service'))?.name).toBe('p1.service');
    expect(opened).toBe(1);
  });
});

describe('HTTP client on the wire', () => {
  it('sends alt=json with every request, escapes names, and sends Go-encoded bodies', async () => {
    const server = await fakeServer((req) =>
      req.method === 'GET' && req.url?.startsWith('/prefix/fleet/v1/units?')
        ? req.url.includes('nextPageToken')
          ? { status: 200, body: '{"units":[{"name":"b.service"}]}' }
          : {
              status: 200,
              body: '{"nextPageToken":"AgACAA==","units":[{"name":"a.service","bogus":1}]}',
            }
        : { status: 204, body: '' },
    );
    try {
      const client = createHttpClient({ endpoint: `${server.url}/prefix` });
      expect(await client.units()).toEqual([{ name: 'a.service' }, { name: 'b.service' }]);
      await client.setUnitTargetState('a@b <&>.service', 'loaded');
      await client.destroyUnit('a@b.service');
      expect(server.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
        'GET /prefix/fleet/v1/units?alt=json',
        'GET /prefix/fleet/v1/units?alt=json&nextPageToken=AgACAA%3D%3D',
        'PUT /prefix/fleet/v1/units/a%40b%20%3C%26%3E.service?alt=json',
        'DELETE /prefix/fleet/v1/units/a%40b.service?alt=json',
      ]);
      const put = server.requests[2];
      expect(put?.headers['content-type']).toBe('application/json');
      expect(put?.headers['user-agent']).toBe('google-api-go-client/0.5');
      expect(put?.body).toBe(
        '{"desiredState":"loaded","name":"a@b \\u003c\\u0026\\u003e.service"}\n',
      );
    } finally {
      await server.close();
    }
  });

  it.each([
    [
      500,
      '{"error":{"code":500,"message":""}}',
      'googleapi: got HTTP response code 500 with body: {"error":{"code":500,"message":""}}',
    ],
    [
      502,
      '<html>bad gateway</html>',
      'googleapi: got HTTP response code 502 with body: <html>bad gateway</html>',
    ],
    [500, '{"error":{"code":418,"message":"teapot"}}', 'googleapi: Error 418: teapot'],
    [400, '{"error":{"message":"no code"}}', 'googleapi: Error 400: no code'],
  ])('renders a %i answer %j', async (status, body, message) => {
    const server = await fakeServer(() => ({ status, body }));
    try {
      const err = await rejection(createHttpClient({ endpoint: server.url }).units());
      expect(err.message).toBe(message);
    } finally {
      await server.close();
    }
  });

  it('treats any 404 on a single unit as none, but not on a list', async () => {
    const server = await fakeServer(() => ({ status: 404, body: '' }));
    try {
      const client = createHttpClient({ endpoint: server.url });
      expect(await client.unit('a.service')).toBeNull();
      expect(await client.unitState('a.service')).toBeNull();
      expect((await rejection(client.units())).message).toBe(
        'googleapi: got HTTP response code 404 with body: ',
      );
    } finally {
      await server.close();
    }
  });

  it('reports a body it cannot read in Go decoder terms', async () => {
    const server = await fakeServer(() => ({ status: 200, body: '<html>' }));
    try {
      const err = await rejection(createHttpClient({ endpoint: server.url }).units());
      expect(err.message).toBe("invalid character '<' looking for beginning of value");
    } finally {
      await server.close();
    }
  });

  it('reads absent fields as empty, ignores unknown ones, and names a field of the wrong type', async () => {
    const pages: Record<string, string> = {
      '/fleet/v1/units/a.service': '{"name":"a.service","extra":1,"options":[{"name":"X"}]}',
      '/fleet/v1/machines': '{"machines":[{"id":"m1","metadata":{"k":"v"}},{}]}',
      '/fleet/v1/units': '{"units":[{"name":"a.service"},{"name":7}]}',
      '/fleet/v1/state': '{"states":{}}',
    };
    const server = await fakeServer((req) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      return { status: 200, body: pages[path] ?? '{}' };
    });
    try {
      const client = createHttpClient({ endpoint: server.url });
      expect(await client.unit('a.service')).toEqual({
        name: 'a.service',
        options: [{ name: 'X', section: '', value: '' }],
      });
      expect(await client.machines()).toEqual([{ id: 'm1', metadata: { k: 'v' } }, { id: '' }]);
      expect((await rejection(client.units())).message).toBe(
        'unexpected response: units.1.name: expected string, received number',
      );
      expect((await rejection(client.unitStates())).message).toBe(
        'unexpected response: states: expected array, received object',
      );
    } finally {
      await server.close();
    }
  });
});

describe('HTTP client transport failures', () => {
  it('words connection failures as Go did', async () => {
    const closed = await fakeServer(() => ({ status: 200, body: '{}' }));
    await closed.close();
    const port = new URL(closed.url).port;
    const refused = await rejection(createHttpClient({ endpoint: closed.url }).units());
    expect(refused).toBeInstanceOf(TransportError);
    expect(refused.message).toBe(
      `Get "http://127.0.0.1:${port}/fleet/v1/units?alt=json": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    );
    const noSocket = await rejection(
      createHttpClient({ endpoint: 'unix:///nonexistent/fleet.sock' }).unit('a.service'),
    );
    expect(noSocket.message).toBe(
      'Get "http://domain-sock/fleet/v1/units/a.service?alt=json": dial unix /nonexistent/fleet.sock: connect: no such file or directory',
    );
    const ftp = await rejection(createHttpClient({ endpoint: 'ftp://h' }).destroyUnit('a.service'));
    expect(ftp.message).toBe(
      'Delete "ftp://h/fleet/v1/units/a.service?alt=json": unsupported protocol scheme "ftp"',
    );
  });

  it('gives up after the request timeout when one is set', async () => {
    const server = createHttpServer(() => undefined);
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const { port } = server.address() as { port: number };
    try {
      const err = await rejection(
        createHttpClient({ endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 200 }).units(),
      );
      expect(err.message).toBe(
        `Get "http://127.0.0.1:${port}/fleet/v1/units?alt=json": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      );
    } finally {
      await closeServer(server);
    }
  });

  it('verifies an https server against the CA file, and refuses one it cannot verify', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'fleet-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-noenc',
          '-keyout',
          join(directory, 'key.pem'),
          '-out',
          join(directory, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      const server = createHttpsServer(
        {
          key: await readFile(join(directory, 'key.pem')),
          cert: await readFile(join(directory, 'cert.pem')),
        },
        createApiHandler({
          registry: api.registry,
          version: 'tls',
          tokenLimit: 2,
          available: () => true,
          log: (await import('pino')).pino({ level: 'silent' }),
        }),
      );
      await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
      const { port } = server.address() as { port: number };
      try {
        const endpoint = `https://127.0.0.1:${port}`;
        const trusted = createHttpClient({ endpoint, caFile: join(directory, 'cert.pem') });
        expect((await trusted.unit('p1.service'))?.name).toBe('p1.service');
        const untrusted = await rejection(createHttpClient({ endpoint }).units());
        expect(untrusted.message).toBe(
          `Get "${endpoint}/fleet/v1/units?alt=json": x509: certificate signed by unknown authority`,
        );
      } finally {
        await closeServer(server as unknown as Server);
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('refuses TLS files it cannot read, or a certificate without its key', () => {
    expect(() =>
      createHttpClient({ endpoint: 'https://h', caFile: '/nonexistent/ca.pem' }),
    ).toThrow('open /nonexistent/ca.pem: no such file or directory');
    expect(() => createHttpClient({ endpoint: 'https://h', certFile: '/x.pem' })).toThrow(
      'a client certificate needs a key file as well',
    );
  });
});
