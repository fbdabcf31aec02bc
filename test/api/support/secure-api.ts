// The API as fleetd serves it with TLS, client certificates and an access file: a TCP
// listener and a unix socket, over the real registry, with every log line kept.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import {
  type CertificateAuthority,
  issue,
  type KeyPair,
  makeCa,
} from '../../../harness/certificates.js';
import { AccessFileHolder } from '../../../src/api/access/access-file-holder.js';
import { createApiHandler } from '../../../src/api/handler.js';
import { type ApiServer, serveApi } from '../../../src/api/serve.js';
import { openRegistry, type Registry } from '../../../src/registry/registry.js';
import { type EtcdCluster, startEtcd } from '../../support/etcd.js';
import { type RawResponse, sendRaw } from './raw-http.js';

export interface Pki {
  dir: string;
  ca: CertificateAuthority;
  server: KeyPair;
  clients: {
    alice: KeyPair;
    olga: KeyPair;
    rita: KeyPair;
    nobody: KeyPair;
    expired: KeyPair;
    wrongCa: KeyPair;
  };
}

/** alice (admin), olga (operate web-*), rita (read), nobody (no grant); expired and wrongCa are alice's subject. */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-pki-'));
  const ca = makeCa(dir, 'fleet-test-ca');
  const other = makeCa(dir, 'other-ca');
  return {
    dir,
    ca,
    server: issue(ca, 'fleetd', {
      subject: '/CN=fleetd',
      altNames: ['DNS:fleet.test', 'IP:127.0.0.1'],
    }),
    clients: {
      alice: issue(ca, 'alice', { subject: '/CN=alice/O=ops' }),
      olga: issue(ca, 'olga', { subject: '/CN=olga' }),
      rita: issue(ca, 'rita', { subject: '/CN=rita' }),
      nobody: issue(ca, 'nobody', { subject: '/CN=nobody' }),
      expired: issue(ca, 'alice-expired', { subject: '/CN=alice/O=ops', expired: true }),
      wrongCa: issue(other, 'alice-other-ca', { subject: '/CN=alice/O=ops' }),
    },
  };
}

export const TOKENS = {
  viewer: 'viewer-token-1f0c',
  deployer: 'deployer-token-77aa',
  admin: 'admin-token-c0ffee',
};

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function accessFileText(tokens: Partial<typeof TOKENS> = TOKENS): string {
  const roles = {
    viewer: { role: 'read' },
    deployer: { role: 'operate', units: ['web-*'] },
    admin: { role: 'admin' },
  };
  return JSON.stringify({
    tokens: Object.entries(tokens).map(([name, token]) => ({
      name,
      sha256: sha256(token),
      ...roles[name as keyof typeof roles],
    })),
    certificates: [
      { subject: { CN: 'alice', O: 'ops' }, role: 'admin' },
      { subject: { CN: 'olga' }, role: 'operate', units: ['web-*'] },
      { subject: { CN: 'rita' }, role: 'read' },
    ],
  });
}

export interface SecureApi {
  registry: Registry;
  server: ApiServer;
  port: number;
  socketPath: string;
  accessFile: string;
  holder: AccessFileHolder;
  /** Every log line, parsed. */
  lines: Array<Record<string, unknown>>;
  audits(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startSecureApi(
  etcd: Etcd3,
  pki: Pki,
  options: { dashboardDir?: string } = {},
): Promise<SecureApi> {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'fleet-secure-api-'));
  const accessFile = join(dir, 'access.json');
  writeFileSync(accessFile, accessFileText());
  const holder = new AccessFileHolder(accessFile, log);
  await holder.loadAtStart();
  const registry = openRegistry(etcd, `/secure-api-test-${randomUUID()}/`, () => undefined);
  const handler = createApiHandler({
    registry,
    version: '1.0.0-test',
    tokenLimit: 100,
    available: () => true,
    access: {
      accessList: () => holder.current(),
      ownNames: () => new Set(['localhost', '127.0.0.1', '::1', 'fleet.test']),
    },
    ...options,
    log,
  });
  const socketPath = join(dir, 'fleet.sock');
  const server = await serveApi(
    handler,
    [{ host: '127.0.0.1', port: 0 }, { path: socketPath }],
    log,
    {
      tls: {
        cert: readFileSync(pki.server.cert),
        key: readFileSync(pki.server.key),
        clientCa: readFileSync(pki.ca.cert),
      },
      plainTcp: false,
    },
  );
  const port = Number(server.addresses[0]?.split(':')[1]);
  return {
    registry,
    server,
    port,
    socketPath,
    accessFile,
    holder,
    lines,
    audits: () => lines.filter((line) => line.msg === 'audit'),
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SecureRequest {
  method: string;
  path: string;
  client?: KeyPair;
  token?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
}

/** One request over TLS on a fresh connection, trusting the test CA for the server. */
export function sendTls(api: SecureApi, pki: Pki, req: SecureRequest): Promise<RawResponse> {
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers: Record<string, string | string[]> = {
    Host: `127.0.0.1:${api.port}`,
    ...(req.token !== undefined && { Authorization: `Bearer ${req.token}` }),
    ...(body !== undefined && { 'Content-Length': String(body.length) }),
    ...req.headers,
  };
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port: api.port,
        method: req.method,
        path: req.path,
        headers,
        agent: false,
        // Verified against the certificate whatever Host the test sends.
        servername: 'fleet.test',
        ca: readFileSync(pki.ca.cert),
        ...(req.client !== undefined && {
          cert: readFileSync(req.client.cert),
          key: readFileSync(req.client.key),
        }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The same request on the unix socket, with fleetctl's Host. */
export function sendUnix(api: SecureApi, req: SecureRequest): Promise<RawResponse> {
  return sendRaw(`unix://${api.socketPath}`, {
    method: req.method,
    path: req.path,
    headers: { Host: 'domain-sock', ...req.headers },
    ...(req.body !== undefined && { body: req.body }),
  });
}

export const UNIT_BODY = (desiredState = 'inactive') =>
  JSON.stringify({
    desiredState,
    options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }],
  });

/** A test file's etcd, a client of it and its certificates: made before its tests, removed after. */
export function useSecureSuite(): { readonly client: Etcd3; readonly pki: Pki } {
  let etcd: EtcdCluster | undefined;
  let client: Etcd3 | undefined;
  let pki: Pki | undefined;
  beforeAll(async () => {
    pki = makePki();
    etcd = await startEtcd();
    client = new Etcd3(etcd.clientOptions());
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });
  return {
    get client() {
      if (client === undefined)
        throw new Error('the suite is not started yet: use it inside tests');
      return client;
    },
    get pki() {
      if (pki === undefined) throw new Error('the suite is not started yet: use it inside tests');
      return pki;
    },
  };
}

/** Creates each unit over the unix socket, where every caller may write; their statuses. */
export async function createOverSocket(
  api: SecureApi,
  names: readonly string[],
): Promise<number[]> {
  const statuses: number[] = [];
  for (const name of names) {
    const put = await sendUnix(api, {
      method: 'PUT',
      path: `/fleet/v1/units/${name}`,
      headers: { 'Content-Type': 'application/json' },
      body: UNIT_BODY(),
    });
    statuses.push(put.status);
  }
  return statuses;
}
