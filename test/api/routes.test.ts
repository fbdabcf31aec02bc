import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISCOVERY_DOCUMENT } from '../../src/api/discovery-document.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type ApiFixture, startApi, TEST_VERSION } from './support/api-fixture.js';
import { sendRaw } from './support/raw-http.js';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
  api = await startApi(client, { metrics: () => 'fleet_engine_reconcile_count_total 3\n' });
});
afterAll(async () => {
  await api?.close();
  client?.close();
  await etcd?.stop();
});

const get = (path: string) => sendRaw(api.baseUrl, { method: 'GET', path });
const errorJson = (code: number, message = '') => JSON.stringify({ error: { code, message } });

describe('routing', () => {
  it.each([
    ['GET', '/', 405, ''],
    ['POST', '/', 405, ''],
    ['DELETE', '/', 405, ''],
    ['GET', '/fleet/v1', 405, ''],
    ['PUT', '/v1-alpha', 405, ''],
    ['GET', '/fleet/v1/', 404, ''],
    ['GET', '/nonexistent', 404, ''],
    ['GET', '/fleet/v1/bogus', 404, ''],
    ['GET', '/fleet/v1/machines/', 404, ''],
    ['GET', '/fleet/v1/units/', 404, ''],
    ['GET', '/fleet/v1/units/a/b.service', 404, ''],
    ['GET', '/fleet/v1/units/api-a.service/', 404, ''],
    ['GET', '/fleet/v1/state/', 404, ''],
    ['POST', '/fleet/v1/state/a/b', 404, ''],
    ['GET', '/fleet/v1/discovery/', 404, ''],
    ['GET', '/Fleet/v1/units', 404, ''],
    ['GET', '/fleet/v1/Units', 404, ''],
    ['POST', '/fleet/v1/discovery', 400, 'only HTTP GET supported against this resource'],
    ['DELETE', '/v1-alpha/discovery', 400, 'only HTTP GET supported against this resource'],
    ['POST', '/fleet/v1/machines', 405, 'only GET and PATCH supported against this resource'],
    ['DELETE', '/fleet/v1/machines', 405, 'only GET and PATCH supported against this resource'],
    ['POST', '/fleet/v1/units', 405, 'only GET supported against this resource'],
    [
      'PATCH',
      '/fleet/v1/units/a.service',
      405,
      'only GET, PUT and DELETE supported against this resource',
    ],
    [
      'OPTIONS',
      '/fleet/v1/units/a.service',
      405,
      'only GET, PUT and DELETE supported against this resource',
    ],
    ['POST', '/fleet/v1/state', 405, 'only GET supported against this resource'],
    ['PUT', '/fleet/v1/state/a.service', 405, 'only GET supported against this resource'],
    ['DELETE', '/v1-alpha/state/a.service', 405, 'only GET supported against this resource'],
    ['GET', '/fleet/v1/units/missing.service', 404, 'unit does not exist'],
    ['DELETE', '/v1-alpha/units/missing.service', 404, 'unit does not exist'],
    ['POST', '/metrics', 405, 'only GET supported against this resource'],
  ])('answers %s %s with %i %j', async (method, path, status, message) => {
    const response = await sendRaw(api.baseUrl, { method, path });
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body).toBe(errorJson(status, message));
  });

  it('serves the collections under both prefixes', async () => {
    for (const prefix of ['/fleet/v1', '/v1-alpha']) {
      for (const resource of ['units', 'machines', 'state']) {
        const response = await get(`${prefix}/${resource}`);
        expect([response.status, response.body]).toEqual([200, '{}']);
      }
    }
  });

  it('routes on the decoded path: %2F is a separator, other escapes are the letters they encode', async () => {
    expect((await get('/fleet/v1/units/a%2Fb.service')).body).toBe(errorJson(404));
    expect((await get('/fleet/v1/%75nits')).body).toBe('{}');
    expect((await get('/fleet/v1/units/no%40such.service')).body).toBe(
      errorJson(404, 'unit does not exist'),
    );
  });

  it('answers a malformed escape with a JSON error, not plain text', async () => {
    const response = await get('/fleet/v1/units/a%zz.service');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body).toBe(errorJson(400, 'invalid URL escape "%zz"'));
  });

  it('redirects an unclean path as ServeMux did, keeping the query', async () => {
    const response = await get('//fleet/v1/units?nextPageToken=ZAABAA%3D%3D');
    expect(response.status).toBe(301);
    expect(response.headers.location).toBe('/fleet/v1/units?nextPageToken=ZAABAA%3D%3D');
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toBe(
      '<a href="/fleet/v1/units?nextPageToken=ZAABAA%3D%3D">Moved Permanently</a>.\n\n',
    );
    const put = await sendRaw(api.baseUrl, { method: 'PUT', path: '/fleet/v1/units/../machines' });
    expect([put.status, put.headers.location, put.headers['content-type'], put.body]).toEqual([
      301,
      '/fleet/v1/machines',
      undefined,
      '',
    ]);
  });

  it('answers HEAD with the status of its own method check and no body, never as GET', async () => {
    const machines = await sendRaw(api.baseUrl, { method: 'HEAD', path: '/fleet/v1/machines' });
    expect([machines.status, machines.headers['content-type'], machines.body]).toEqual([
      405,
      'application/json',
      '',
    ]);
    const units = await sendRaw(api.baseUrl, { method: 'HEAD', path: '/fleet/v1/units' });
    expect(units.status).toBe(405);
  });
});

describe('response headers', () => {
  it('names the server and sends the bare JSON media type, without ETag or X-Powered-By', async () => {
    const response = await get('/fleet/v1/units');
    expect(response.headers.server).toBe(`fleetd/${TEST_VERSION}`);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers.etag).toBeUndefined();
    expect(response.headers['x-powered-by']).toBeUndefined();
    expect(response.headers['content-length']).toBe('2');
  });

  it('answers 503 without a Server header until the server is available', async () => {
    api.setAvailable(false);
    try {
      for (const path of ['/fleet/v1/units', '/', '/metrics', '/fleet/v1/discovery']) {
        const response = await get(path);
        expect(response.status).toBe(503);
        expect(response.headers.server).toBeUndefined();
        expect(response.headers['content-type']).toBe('application/json');
        expect(response.body).toBe(errorJson(503, 'fleet server unable to communicate with etcd'));
      }
    } finally {
      api.setAvailable(true);
    }
    expect((await get('/fleet/v1/units')).status).toBe(200);
  });
});

describe('discovery and metrics', () => {
  it("serves fleet's schema/v1.json byte for byte", async () => {
    const response = await get('/fleet/v1/discovery');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body).toBe(DISCOVERY_DOCUMENT);
    // SHA-1 of fleet v1.0.0's schema.DiscoveryJSON.
    expect(createHash('sha1').update(response.body).digest('hex')).toBe(
      '1c11f4f9696be193b36027650ef3e86d7bf49f49',
    );
    expect((await get('/v1-alpha/discovery')).body).toBe(DISCOVERY_DOCUMENT);
  });

  it('serves the metrics it is given in the Prometheus text format', async () => {
    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4');
    expect(response.headers.server).toBe(`fleetd/${TEST_VERSION}`);
    expect(response.body).toBe('fleet_engine_reconcile_count_total 3\n');
  });
});

describe('bad requests', () => {
  it('answers an oversized body with 413 and a JSON error, and closes the connection', async () => {
    const response = await sendRaw(api.baseUrl, {
      method: 'PUT',
      path: '/fleet/v1/units/big.service',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.alloc(2 * 1024 * 1024, 0x20),
    });
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
    expect(response.body).toBe(errorJson(413, 'request body exceeds 1048576 bytes'));
    expect((await get('/fleet/v1/units/big.service')).status).toBe(404);
  });

  it('answers a body that grows past the limit without announcing its length with 413', async () => {
    const { status, body } = await rawExchange(
      'PUT /fleet/v1/units/big.service HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `200000\r\n${' '.repeat(0x200000)}\r\n0\r\n\r\n`,
    );
    expect(status).toBe(413);
    expect(body).toBe(errorJson(413, 'request body exceeds 1048576 bytes'));
  });

  it('answers malformed HTTP with a JSON 400 and keeps serving', async () => {
    const { status, body } = await rawExchange('GARBAGE\r\n\r\n');
    expect(status).toBe(400);
    expect(body).toBe(errorJson(400, 'malformed HTTP request'));
    expect((await get('/fleet/v1/units')).status).toBe(200);
  });
});

describe('unix socket listener', () => {
  it('serves the API on a unix socket', async () => {
    const unix = await startApi(client, { unixSocket: true });
    try {
      const response = await sendRaw(unix.baseUrl, { method: 'GET', path: '/fleet/v1/machines' });
      expect([response.status, response.body]).toEqual([200, '{}']);
    } finally {
      await unix.close();
    }
  });
});

/** Writes raw bytes to the TCP listener and reads the answer's status and body. */
function rawExchange(text: string): Promise<{ status: number; body: string }> {
  const url = new URL(api.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const response = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = response.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body });
    });
    socket.write(text);
  });
}
