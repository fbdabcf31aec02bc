// Two fleetds' worth of serving in one process, on one etcd, with real TLS: the API of
// machine A forwards units' status and journal to the peer listener of machine B.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { issue, type KeyPair, makeCa } from '../../harness/certificates.js';
import { createPeerHandler } from '../../src/api/peer-handler.js';
import type { PresenceLease } from '../../src/registry/ports.js';
import type { UnitStateRecord } from '../../src/registry/records.js';
import { TlsPeerForwarder } from '../../src/server/peer-forwarder.js';
import { listenForPeers, type PeerListener } from '../../src/server/peer-listener.js';
import { type ApiFixture, startApi } from '../api/support/api-fixture.js';
import { type RawResponse, sendRaw } from '../api/support/raw-http.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';

const run = promisify(execFile);

const A = 'a1000000000000000000000000000000';
const B = 'b2000000000000000000000000000000';
/** Publishes B's peer address as its own: its certificate will not say C. */
const C = 'c3000000000000000000000000000000';
/** Publishes an address nobody listens on. */
const E = 'e5000000000000000000000000000000';
/** Publishes no peer address. */
const F = 'f6000000000000000000000000000000';
const HASH = '52690a5969e3c94d4d65727c565e88de9240d750';

let dir: string;
let etcd: EtcdCluster;
let client: Etcd3;
let entry: ApiFixture;
let peer: PeerListener;
const peerLogs: string[] = [];
const leases: PresenceLease[] = [];
let certs: Record<'a' | 'b' | 'noOrganisation' | 'otherCa', KeyPair>;
let caPem: Buffer;

function pem(pair: KeyPair) {
  return { cert: readFileSync(pair.cert), key: readFileSync(pair.key) };
}

async function present(id: string, peerAddress?: string) {
  const lease = await entry.registry.presence.open(
    {
      id,
      publicIP: '127.0.0.1',
      metadata: {},
      capabilities: { disableEngine: true },
      version: 'test',
      sessionToken: randomUUID(),
      ...(peerAddress !== undefined && { peerAddress }),
    },
    30_000,
  );
  leases.push(lease);
}

async function unitOn(name: string, machineID: string) {
  const created = await sendRaw(entry.baseUrl, {
    method: 'PUT',
    path: `/fleet/v1/units/${name}`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      desiredState: 'launched',
      options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }],
    }),
  });
  expect(created.status).toBe(201);
  await client.put(entry.registry.keys.placement(name)).value(machineID);
  const state: UnitStateRecord = {
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    hash: HASH,
    launched: true,
  };
  await client.put(entry.registry.keys.unitState(name, machineID)).value(JSON.stringify(state));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-peers-'));
  const ca = makeCa(dir, 'cluster-ca');
  const other = makeCa(dir, 'other-ca');
  certs = {
    a: issue(ca, 'peer-a', { subject: `/CN=${A}/O=fleet-peer` }),
    b: issue(ca, 'peer-b', { subject: `/CN=${B}/O=fleet-peer` }),
    noOrganisation: issue(ca, 'client-a', { subject: `/CN=${A}/O=fleet-client` }),
    otherCa: issue(other, 'peer-a-other', { subject: `/CN=${A}/O=fleet-peer` }),
  };
  caPem = readFileSync(ca.cert);
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
  entry = await startApi(client, {
    reports: { machineID: A, forwarder: new TlsPeerForwarder({ ...pem(certs.a), ca: caPem }) },
  });
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        peerLogs.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        done();
      },
    }),
  );
  peer = await listenForPeers(
    { ...pem(certs.b), ca: caPem, address: '127.0.0.1:0' },
    createPeerHandler({
      registry: entry.registry,
      machineID: B,
      version: 'test',
      available: () => true,
      log,
    }),
    log,
  );
  await present(B, peer.address);
  await present(C, peer.address);
  await present(E, '127.0.0.1:1');
  await present(F);
  await unitOn('here.service', A);
  await unitOn('there.service', B);
  await unitOn('c.service', C);
  await unitOn('e.service', E);
  await unitOn('f.service', F);
});
afterAll(async () => {
  for (const lease of leases) await lease.close();
  await peer?.close();
  await entry?.close();
  client?.close();
  await etcd?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const viaEntry = (path: string) => sendRaw(entry.baseUrl, { method: 'GET', path });

/** A request straight to B's peer listener, presenting `pair` (or no certificate). */
function toPeer(path: string, pair: KeyPair | null): Promise<RawResponse> {
  const [host, port] = peer.address.split(':');
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host,
        port: Number(port),
        path,
        agent: false,
        ca: caPem,
        checkServerIdentity: () => undefined,
        ...(pair !== null && pem(pair)),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

type Frame = { stdout?: string; stderr?: string; exit?: number };

function printed(body: string, stream: 'stdout' | 'stderr'): string {
  return body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => Buffer.from((JSON.parse(line) as Frame)[stream] ?? '', 'base64').toString())
    .join('');
}

async function direct(program: string, args: string[]) {
  try {
    return { ...(await run(program, args)), exit: 0 };
  } catch (err) {
    const failed = err as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, exit: failed.code };
  }
}

const NOT_FOUND = '{"error":{"code":404,"message":""}}';

describe('forwarding a unit report to the fleetd of the unit’s machine', () => {
  it('streams back what the unit’s machine ran, unchanged', async () => {
    peerLogs.length = 0;
    const response = await viaEntry('/fleet/ext/v1/units/there.service/status');
    const expected = await direct('systemctl', ['status', '-l', 'there.service']);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson');
    expect(printed(response.body, 'stdout')).toBe(expected.stdout);
    expect(printed(response.body, 'stderr')).toBe(expected.stderr);
    expect(response.body.trimEnd().split('\n').at(-1)).toBe(`{"exit":${expected.exit}}`);
    expect(peerLogs).toContain('Served the status of there.service');
  });

  it('passes the journal’s options on', async () => {
    peerLogs.length = 0;
    const response = await viaEntry('/fleet/ext/v1/units/there.service/journal?lines=2&output=cat');
    const expected = await direct('journalctl', [
      ...['--unit', 'there.service', '--no-pager', '-n', '2', '--output', 'cat'],
    ]);
    expect(printed(response.body, 'stdout')).toBe(expected.stdout);
    expect(peerLogs).toContain('Served the journal of there.service');
  });

  it('ends the target’s followed journalctl when the client hangs up on the entry fleetd', async () => {
    const { port } = new URL(entry.baseUrl);
    const { request: plainRequest } = await import('node:http');
    const outgoing = plainRequest({
      host: '127.0.0.1',
      port: Number(port),
      path: '/fleet/ext/v1/units/there.service/journal?follow=true&lines=1',
      agent: false,
    });
    const answered = new Promise<number>((resolve) =>
      outgoing.once('response', (res) => resolve(res.statusCode ?? 0)),
    );
    outgoing.on('error', () => undefined);
    outgoing.end();
    expect(await answered).toBe(200);
    let following: string[] = [];
    await vi.waitFor(async () => {
      following = await journalctlChildren();
      expect(following).not.toEqual([]);
    });
    outgoing.destroy();
    await vi.waitFor(async () =>
      expect((await journalctlChildren()).filter((pid) => following.includes(pid))).toEqual([]),
    );
  });

  it('keeps the peer address out of /fleet/v1/machines', async () => {
    const machines = await viaEntry('/fleet/v1/machines');
    expect(machines.status).toBe(200);
    expect(machines.body).toContain(B);
    expect(machines.body).not.toContain(peer.address);
    expect(machines.body).not.toContain('peer');
  });

  it('502 when the published address answers with another machine’s certificate', async () => {
    const response = await viaEntry('/fleet/ext/v1/units/c.service/status');
    expect([response.status, response.body]).toEqual([
      502,
      `{"error":{"code":502,"message":"machine ${C} could not be reached: its certificate names ${B}, not ${C}"}}`,
    ]);
  });

  it('502 when nobody answers at the published address', async () => {
    const response = await viaEntry('/fleet/ext/v1/units/e.service/journal');
    expect(response.status).toBe(502);
    expect(JSON.parse(response.body).error.message).toBe(
      `machine ${E} could not be reached: connect ECONNREFUSED 127.0.0.1:1`,
    );
  });

  it('the original’s 404 when the unit’s machine publishes no peer address', async () => {
    const response = await viaEntry('/fleet/ext/v1/units/f.service/status');
    expect([response.status, response.body]).toEqual([404, NOT_FOUND]);
  });
});

describe('the peer listener', () => {
  it('refuses a certificate of another CA, and a client without one, at the handshake', async () => {
    await expect(
      toPeer('/fleet/ext/v1/units/there.service/status', certs.otherCa),
    ).rejects.toThrow();
    await expect(toPeer('/fleet/ext/v1/units/there.service/status', null)).rejects.toThrow();
  });

  it('refuses a certificate of the CA whose subject is not O=fleet-peer', async () => {
    const response = await toPeer('/fleet/ext/v1/units/there.service/status', certs.noOrganisation);
    expect([response.status, response.body]).toEqual([
      403,
      '{"error":{"code":403,"message":"the peer listener serves only certificates with O=fleet-peer"}}',
    ]);
  });

  it('serves its own machine’s units to a peer', async () => {
    const response = await toPeer('/fleet/ext/v1/units/there.service/status', certs.a);
    expect(response.status).toBe(200);
    expect(response.body).toMatch(/\{"exit":\d+\}\n$/);
  });

  it('409 for a unit of another machine: no second hop', async () => {
    const response = await toPeer('/fleet/ext/v1/units/here.service/status', certs.a);
    expect([response.status, response.body]).toEqual([
      409,
      `{"error":{"code":409,"message":"unit here.service is not on machine ${B}"}}`,
    ]);
  });

  it('serves nothing else', async () => {
    for (const path of ['/fleet/v1/units', '/fleet/v1/machines', '/metrics']) {
      const response = await toPeer(path, certs.a);
      expect([path, response.status, response.body]).toEqual([path, 404, NOT_FOUND]);
    }
  });
});

/** The journalctl processes this test process started. */
async function journalctlChildren(): Promise<string[]> {
  try {
    const { stdout } = await run('pgrep', ['-P', String(process.pid), '-x', 'journalctl']);
    return stdout.split('\n').filter((line) => line !== '');
  } catch {
    return [];
  }
}
