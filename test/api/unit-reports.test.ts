import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { UnitStateRecord } from '../../src/registry/records.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { sendRaw } from './support/raw-http.js';

const run = promisify(execFile);

const HERE = 'a1000000000000000000000000000000';
const THERE = 'b2000000000000000000000000000000';
const HASH = '52690a5969e3c94d4d65727c565e88de9240d750';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;
let plain: ApiFixture;

async function create(api: ApiFixture, name: string, global = false): Promise<void> {
  const options = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];
  if (global) options.push({ section: 'X-Fleet', name: 'Global', value: 'true' });
  const created = await sendRaw(api.baseUrl, {
    method: 'PUT',
    path: `/fleet/v1/units/${name}`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ desiredState: 'launched', options }),
  });
  expect(created.status).toBe(201);
}

/** Where the engine placed it and what its agent reports (no engine or agent runs here). */
async function runsOn(api: ApiFixture, name: string, machineID: string, placed = true) {
  if (placed) await client.put(api.registry.keys.placement(name)).value(machineID);
  const state: UnitStateRecord = {
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    hash: HASH,
    launched: true,
  };
  await client.put(api.registry.keys.unitState(name, machineID)).value(JSON.stringify(state));
}

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
  api = await startApi(client, { reports: { machineID: HERE, forwarder: null } });
  plain = await startApi(client, { prefix: api.registry.keys.prefix });
  await create(api, 'here.service');
  await runsOn(api, 'here.service', HERE);
  await create(api, 'there.service');
  await runsOn(api, 'there.service', THERE);
  await create(api, 'idle.service');
  await create(api, 'g.service', true);
  await runsOn(api, 'g.service', HERE, false);
  await runsOn(api, 'g.service', THERE, false);
});
afterAll(async () => {
  await api?.close();
  await plain?.close();
  client?.close();
  await etcd?.stop();
});

const get = (path: string) => sendRaw(api.baseUrl, { method: 'GET', path });

type Frame = { stdout?: string; stderr?: string; exit?: number };

function framesOf(body: string): Frame[] {
  return body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Frame);
}

function printed(frames: readonly Frame[], stream: 'stdout' | 'stderr'): string {
  return frames.map((frame) => Buffer.from(frame[stream] ?? '', 'base64').toString()).join('');
}

/** What the command prints and exits with when run directly on this host. */
async function direct(program: string, args: string[]) {
  try {
    const { stdout, stderr } = await run(program, args);
    return { stdout, stderr, exit: 0 };
  } catch (err) {
    const failed = err as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, exit: failed.code };
  }
}

const NOT_FOUND = '{"error":{"code":404,"message":""}}';

describe('GET /fleet/ext/v1/units/<name>/status and /journal on the unit’s own machine', () => {
  it('streams systemctl status -l as NDJSON frames, ending with its exit status', async () => {
    const response = await get('/fleet/ext/v1/units/here.service/status');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson');
    const frames = framesOf(response.body);
    const expected = await direct('systemctl', ['status', '-l', 'here.service']);
    expect(printed(frames, 'stdout')).toBe(expected.stdout);
    expect(printed(frames, 'stderr')).toBe(expected.stderr);
    expect(frames.at(-1)).toEqual({ exit: expected.exit });
  });

  it('runs journalctl with the lines and output asked for, defaulting to 10 and short', async () => {
    const asked = framesOf(
      (await get('/fleet/ext/v1/units/here.service/journal?lines=3&output=json')).body,
    );
    const expected = await direct('journalctl', [
      ...['--unit', 'here.service', '--no-pager', '-n', '3', '--output', 'json'],
    ]);
    expect([printed(asked, 'stdout'), printed(asked, 'stderr'), asked.at(-1)]).toEqual([
      expected.stdout,
      expected.stderr,
      { exit: expected.exit },
    ]);
    const defaults = framesOf((await get('/fleet/ext/v1/units/here.service/journal')).body);
    const expectedDefaults = await direct('journalctl', [
      ...['--unit', 'here.service', '--no-pager', '-n', '10', '--output', 'short'],
    ]);
    expect(printed(defaults, 'stdout')).toBe(expectedDefaults.stdout);
    expect(defaults.at(-1)).toEqual({ exit: expectedDefaults.exit });
  });

  it('serves a global unit on the machine named', async () => {
    const response = await get(`/fleet/ext/v1/units/g.service/status?machine=${HERE}`);
    expect(response.status).toBe(200);
    expect(framesOf(response.body).at(-1)).toHaveProperty('exit');
  });

  it('kills a followed journalctl when the client hangs up', async () => {
    const { port } = new URL(api.baseUrl);
    const outgoing = request({
      host: '127.0.0.1',
      port: Number(port),
      path: '/fleet/ext/v1/units/here.service/journal?follow=true&lines=1',
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
});

describe('refusals, before anything runs', () => {
  it.each([
    ['lines=-1', 'lines must be a non-negative integer'],
    ['lines=ten', 'lines must be a non-negative integer'],
    ['output=fancy', 'output must be one of short, short-full, short-iso'],
    ['follow=maybe', 'follow must be true or false'],
  ])('400 for %s', async (query, message) => {
    const response = await get(`/fleet/ext/v1/units/here.service/journal?${query}`);
    expect(response.status).toBe(400);
    expect(response.body).toContain(`{"error":{"code":400,"message":"${message}`);
  });

  it('404 with a message for a unit that does not exist or does not run anywhere', async () => {
    expect((await get('/fleet/ext/v1/units/nope.service/status')).body).toBe(
      '{"error":{"code":404,"message":"unit nope.service does not exist"}}',
    );
    expect((await get('/fleet/ext/v1/units/idle.service/journal')).body).toBe(
      '{"error":{"code":404,"message":"unit idle.service is not running on any machine"}}',
    );
  });

  it('400 for a global unit without machine=, or a unit on another machine than named', async () => {
    const global = await get('/fleet/ext/v1/units/g.service/journal');
    // Go's encoder, which writes every error body, escapes < and >.
    expect([global.status, JSON.parse(global.body)]).toEqual([
      400,
      {
        error: { code: 400, message: 'unit g.service is global: name a machine with machine=<ID>' },
      },
    ]);
    expect((await get(`/fleet/ext/v1/units/here.service/status?machine=${THERE}`)).body).toBe(
      `{"error":{"code":400,"message":"unit here.service runs on machine ${HERE}, not ${THERE}"}}`,
    );
  });

  it('the original’s 404 for a unit of a machine this fleetd cannot reach', async () => {
    const unknownPath = await get('/fleet/ext/v1/nothing-here');
    expect(unknownPath.body).toBe(NOT_FOUND);
    const response = await get('/fleet/ext/v1/units/there.service/status');
    expect([response.status, response.body]).toEqual([404, NOT_FOUND]);
  });

  it('the original’s 404 from a fleetd that serves no reports, and for other report names', async () => {
    const response = await sendRaw(plain.baseUrl, {
      method: 'GET',
      path: '/fleet/ext/v1/units/here.service/status',
    });
    expect([response.status, response.body]).toEqual([404, NOT_FOUND]);
    expect((await get('/fleet/ext/v1/units/here.service/logs')).body).toBe(NOT_FOUND);
  });

  it('405 for other methods', async () => {
    const response = await sendRaw(api.baseUrl, {
      method: 'DELETE',
      path: '/fleet/ext/v1/units/here.service/journal',
    });
    expect([response.status, response.body]).toEqual([
      405,
      '{"error":{"code":405,"message":"only GET supported against this resource"}}',
    ]);
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
