// fleetctl writes the units of a command on several units through the batch path
// (src/fleetctl/units/planned-jobs.ts): these pin how many requests that takes against the
// real API on a real etcd, and that its output is the one-by-one sequence's.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../src/api/handler.js';
import { runFleetctl } from '../../src/fleetctl/run.js';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { BufferedOutput } from './buffered-output.js';
import { FakeApiServer } from './fake-api-server.js';
import { FAST_TIMING, runInProcess } from './in-process.js';
import { threeMachines, unitDirectory } from './support.js';

const TEMPLATE = '[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/sleep 1000\n';
const HELLO = '[Service]\nExecStart=/bin/sleep 1000\n';
const GLOBAL = '[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nGlobal=true\n';
const BATCH = 'POST /fleet/ext/v1/batch';

/** The API over a fresh registry, counting requests, its batch route as `batch` says. */
interface CountingApi {
  endpoint: string;
  registry: Registry;
  /** `METHOD /path` of every request, in order. */
  requests: string[];
}

let etcd: EtcdCluster;
let client: Etcd3;
const servers: Server[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = createEtcdClient(etcd.clientConfig());
});

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

/** How the batch route answers: served, the original's 404, or another answer given here. */
type BatchRoute = boolean | { status: number; body: string };

async function countingApi({ batch }: { batch: BatchRoute }): Promise<CountingApi> {
  const registry = openRegistry(client, `/batch-test-${randomUUID()}/`, () => {});
  const handler = createApiHandler({
    registry,
    version: '1.0.0-test',
    tokenLimit: 100,
    available: () => true,
    log: pino({ level: 'silent' }),
  });
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://fleet').pathname;
    requests.push(`${req.method} ${path}`);
    if (batch !== true && path === '/fleet/ext/v1/batch') {
      // By default the original fleet's answer to any path it does not know.
      const { status, body } =
        batch === false ? { status: 404, body: '{"error":{"code":404,"message":""}}' } : batch;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(body);
      return;
    }
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, registry, requests };
}

async function fleetctl(argv: readonly string[], cwd: string) {
  const stdout = new BufferedOutput();
  const stderr = new BufferedOutput();
  const exitCode = await runFleetctl({
    argv,
    env: {},
    cwd,
    stdin: Readable.from([]),
    stdout,
    stderr,
    localMachineId: async () => null,
    timing: FAST_TIMING,
  });
  return { exitCode, stdout: stdout.text, stderr: stderr.text };
}

const count = (requests: readonly string[], request: string) =>
  requests.filter((line) => line === request).length;

/** The lines of waits (`Unit <name> <state>`), whose order races, sorted; the rest as printed. */
function settled(stdout: string): string[] {
  const lines = stdout.split('\n');
  const isWait = (line: string) => line.startsWith('Unit ');
  return [...lines.filter(isWait).sort(), ...lines.filter((line) => !isWait(line))];
}

describe('fleetctl on many units, through the batch path', () => {
  it('sends 1,100 new units and their desired states in ceil(1,100 / 1,000) batches each', async () => {
    const api = await countingApi({ batch: true });
    const cwd = await unitDirectory({ 'web@.service': TEMPLATE });
    const names = Array.from({ length: 1100 }, (_, i) => `web@${i + 1}.service`);
    const result = await fleetctl(
      ['--endpoint', api.endpoint, 'start', '--no-block', ...names],
      cwd,
    );
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').slice(1100, -1)).toEqual(
      names.map((name) => `Triggered unit ${name} start`),
    );
    expect(count(api.requests, BATCH)).toBe(4);
    expect(api.requests.filter((line) => line.startsWith('PUT'))).toEqual([]);
    const stored = await api.registry.units.get('web@1100.service');
    expect(stored?.desiredState).toBe('launched');
  }, 120_000);

  it('a command on one unit sends what fleet sent: no batch', async () => {
    const api = await countingApi({ batch: true });
    const cwd = await unitDirectory({ 'hello.service': HELLO });
    const result = await fleetctl(
      ['--endpoint', api.endpoint, 'start', '--no-block', 'hello.service'],
      cwd,
    );
    expect(result.exitCode).toBe(0);
    expect(count(api.requests, BATCH)).toBe(0);
    expect(count(api.requests, 'PUT /fleet/v1/units/hello.service')).toBe(2);
  });

  it("prints what the one-by-one sequence prints, which runs after the original's 404", async () => {
    // Global units: nothing to schedule them is needed for `unload` to write them.
    const cwd = await unitDirectory({ 'all@.service': GLOBAL, 'hello.service': HELLO });
    const names = ['hello.service', ...Array.from({ length: 40 }, (_, i) => `all@${i}.service`)];
    const run = async (batch: boolean) => {
      const api = await countingApi({ batch });
      const start = await fleetctl(
        ['--endpoint', api.endpoint, 'start', '--no-block', ...names],
        cwd,
      );
      const unload = await fleetctl(
        ['--endpoint', api.endpoint, 'unload', '--no-block', ...names],
        cwd,
      );
      return { api, start, unload };
    };
    const batched = await run(true);
    const oneByOne = await run(false);
    expect(oneByOne.start.exitCode).toBe(batched.start.exitCode);
    expect(settled(oneByOne.start.stdout)).toEqual(settled(batched.start.stdout));
    expect(oneByOne.start.stderr).toBe(batched.start.stderr);
    expect(oneByOne.unload).toEqual(batched.unload);
    expect(batched.unload.stdout).toBe(
      names
        .slice(1)
        .map((name) => `Triggered global unit ${name} unload\n`)
        .join(''),
    );
    // Batched: the creates, the desired states, the unloads. One by one: each command asked
    // once (the client remembers the answer), then one PUT per write.
    expect(count(batched.api.requests, BATCH)).toBe(3);
    expect(batched.api.requests.filter((line) => line.startsWith('PUT'))).toEqual([]);
    expect(count(oneByOne.api.requests, BATCH)).toBe(2);
    expect(oneByOne.api.requests.filter((line) => line.startsWith('PUT'))).toHaveLength(
      41 + 41 + 40,
    );
  }, 60_000);

  it("maps a unit's refusal in a batch onto the message of its own request", async () => {
    const cwd = await unitDirectory({ 'web@.service': TEMPLATE, 'hello.service': HELLO });
    const argv = (endpoint: string) => [
      '--endpoint',
      endpoint,
      'start',
      '--no-block',
      'hello.service',
      'web@.service',
      'web@1.service',
    ];
    const batched = await countingApi({ batch: true });
    const oneByOne = await countingApi({ batch: false });
    const viaBatch = await fleetctl(argv(batched.endpoint), cwd);
    const viaPuts = await fleetctl(argv(oneByOne.endpoint), cwd);
    expect(viaBatch.exitCode).toBe(viaPuts.exitCode);
    expect(settled(viaBatch.stdout)).toEqual(settled(viaPuts.stdout));
    expect(viaBatch.stderr).toBe(viaPuts.stderr);
    expect(viaBatch.exitCode).toBe(1);
    expect(viaBatch.stderr).toBe(
      'Error starting units: googleapi: Error 400: cannot activate template "web@.service"\n',
    );
    expect(count(batched.requests, BATCH)).toBe(2);
  });

  it("takes any other refusal of a batch for its first unit's, and falls back at none", async () => {
    const cwd = await unitDirectory({ 'web@.service': TEMPLATE });
    const api = await countingApi({
      batch: { status: 404, body: '{"error":{"code":404,"message":"no such batch"}}' },
    });
    const result = await fleetctl(
      ['--endpoint', api.endpoint, 'submit', 'web@1.service', 'web@2.service'],
      cwd,
    );
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        'Error creating units: failed creating unit web@1.service: googleapi: Error 404: no such batch\n',
    });
    expect(count(api.requests, BATCH)).toBe(1);
    expect(api.requests.filter((line) => line.startsWith('PUT'))).toEqual([]);
  });

  it("falls back against fleet's 404 (the fake API), with the output of the in-memory cluster", async () => {
    const cwd = await unitDirectory({ 'web@.service': TEMPLATE });
    const names = Array.from({ length: 20 }, (_, i) => `web@${i}.service`);
    const served = threeMachines();
    const server = await FakeApiServer.start(served);
    try {
      const overHttp = await fleetctl(
        ['--endpoint', server.endpoint, 'load', '--no-block', ...names],
        cwd,
      );
      const direct = threeMachines();
      const inMemory = await runInProcess(['load', '--no-block', ...names], {
        cluster: direct,
        cwd,
      });
      expect(overHttp.exitCode).toBe(inMemory.exitCode);
      expect(settled(overHttp.stdout)).toEqual(settled(inMemory.stdout));
      expect(overHttp.stderr).toBe(inMemory.stderr);
      // The fake's cluster saw the one-by-one writes, once each.
      expect(served.calls.filter((call) => call.startsWith('createUnit')).sort()).toEqual(
        names.map((name) => `createUnit ${name}`).sort(),
      );
      expect(served.calls.filter((call) => call.startsWith('setUnitTargetState'))).toEqual(
        names.map((name) => `setUnitTargetState ${name} loaded`),
      );
    } finally {
      await server.close();
    }
  });
});
