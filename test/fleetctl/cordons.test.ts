import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runFleetctl } from '../../src/fleetctl/run.js';
import type { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import type { DrainRecord } from '../../src/registry/records.js';
import { type ApiFixture, startApi } from '../api/support/api-fixture.js';
import { registerMachine } from '../api/support/machines.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { BufferedOutput } from './buffered-output.js';
import { FAST_TIMING, runInProcess } from './in-process.js';

// Generous bounds for a loaded two-core machine; no test asserts how fast anything is.
const EVENTUALLY = { timeout: 20_000, interval: 20 };

const M1 = 'a1b20000000000000000000000000000';
const M2 = 'a1c30000000000000000000000000000';

let etcd: EtcdCluster;
let client: Etcd3;
let api: ApiFixture;
let sessions: EtcdPresenceLease[];
const servers: Server[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3(etcd.clientOptions());
});
afterAll(async () => {
  client?.close();
  await etcd?.stop();
});
beforeEach(async () => {
  api = await startApi(client);
  sessions = [
    await registerMachine(client, api.registry.keys, M1, {}),
    await registerMachine(client, api.registry.keys, M2, {}),
  ];
});
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await Promise.all(sessions.map((session) => session.close()));
  await api?.close();
});

const fleetctl = (...argv: string[]) =>
  runInProcess(['--endpoint', api.baseUrl, ...argv], { realDrivers: true });

/** What the engine leader would record of the drain of M1 (no engine runs here). */
async function engineRecords(drain: DrainRecord): Promise<void> {
  await client.put(api.registry.keys.cordon(M1)).value(JSON.stringify({ drain }));
}

describe('fleetctl cordon and uncordon', () => {
  it('cordon a machine named by a unique prefix, and uncordon it', async () => {
    expect(await fleetctl('cordon', 'a1b')).toEqual({
      exitCode: 0,
      stdout: `Machine ${M1} cordoned\n`,
      stderr: '',
    });
    expect([...(await api.registry.cordons.list()).keys()]).toEqual([M1]);
    expect(await fleetctl('uncordon', M1)).toEqual({
      exitCode: 0,
      stdout: `Machine ${M1} uncordoned\n`,
      stderr: '',
    });
    expect(await fleetctl('uncordon', M1)).toEqual({
      exitCode: 0,
      stdout: `Machine ${M1} was not cordoned\n`,
      stderr: '',
    });
  });

  it('refuse an ambiguous prefix, an unknown machine, and a missing argument', async () => {
    expect(await fleetctl('cordon', 'a1')).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Machine a1 is ambiguous: it begins 2 machine IDs\n',
    });
    expect(await fleetctl('drain', 'ff')).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Machine ff not found\n',
    });
    expect(await fleetctl('uncordon')).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'One machine must be provided\n',
    });
    expect(await api.registry.cordons.list()).toEqual(new Map());
  });

  it('say so against a server answering the original fleet’s 404', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":{"code":404,"message":""}}');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const command of ['cordon', 'uncordon', 'drain']) {
      const result = await runInProcess(['--endpoint', endpoint, command, M1], {
        realDrivers: true,
      });
      expect(result).toEqual({
        exitCode: 1,
        stdout: '',
        stderr: 'Cordon and drain are not supported by this server\n',
      });
    }
  });
});

describe('fleetctl drain', () => {
  function startDrain(...argv: string[]) {
    const stdout = new BufferedOutput();
    const stderr = new BufferedOutput();
    const exit = runFleetctl({
      argv: ['--endpoint', api.baseUrl, 'drain', ...argv],
      env: {},
      cwd: process.cwd(),
      stdin: Readable.from([]),
      stdout,
      stderr,
      localMachineId: async () => null,
      timing: FAST_TIMING,
    });
    return { exit, stdout, stderr };
  }

  it('prints each move as it begins and ends, and reports the units that stayed', async () => {
    const drain = startDrain('--max-parallel=2', 'a1b2');
    const started = { maxParallel: 2, moving: [], moved: [], stayed: [], done: false };
    await vi.waitFor(
      async () =>
        expect((await api.registry.cordons.list()).get(M1)?.record.drain).toEqual(started),
      EVENTUALLY,
    );
    await engineRecords({ ...started, moving: ['a.service', 'b.service'] });
    await vi.waitFor(() => expect(drain.stdout.text).toContain('Moving b.service'), EVENTUALLY);
    await engineRecords({ ...started, moving: ['b.service'], moved: ['a.service'] });
    await vi.waitFor(() => expect(drain.stdout.text).toContain('Moved a.service'), EVENTUALLY);
    await engineRecords({
      ...started,
      moved: ['a.service', 'b.service'],
      stayed: [{ name: 'p.service', reason: 'pinned to this machine by MachineID' }],
      done: true,
    });
    expect(await drain.exit).toBe(1);
    expect(drain.stdout.text).toBe(
      [
        `Draining machine ${M1}, 2 units at a time`,
        'Moving a.service',
        'Moving b.service',
        'Moved a.service: it runs at its new place',
        'Moved b.service: it runs at its new place',
        `Machine ${M1} drained: 2 units moved`,
        'Unit p.service stayed: pinned to this machine by MachineID',
        '',
      ].join('\n'),
    );
    expect(drain.stderr.text).toBe('');
  });

  it('exits 0 once everything moved, and 1 when the drain is called off', async () => {
    const done = startDrain(M1);
    await vi.waitFor(
      async () => expect((await api.registry.cordons.list()).has(M1)).toBe(true),
      EVENTUALLY,
    );
    await engineRecords({ maxParallel: 1, moving: [], moved: [], stayed: [], done: true });
    expect(await done.exit).toBe(0);
    expect(done.stdout.text).toBe(
      `Draining machine ${M1}, 1 unit at a time\nMachine ${M1} drained: 0 units moved\n`,
    );

    const calledOff = startDrain(M1);
    await vi.waitFor(
      async () =>
        expect((await api.registry.cordons.list()).get(M1)?.record.drain?.done).toBe(false),
      EVENTUALLY,
    );
    expect((await fleetctl('uncordon', M1)).exitCode).toBe(0);
    expect(await calledOff.exit).toBe(1);
    expect(calledOff.stderr.text).toBe(`The drain of machine ${M1} was called off\n`);
  });

  it('refuses a --max-parallel below 1', async () => {
    expect(await fleetctl('drain', '--max-parallel=0', M1)).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Invalid --max-parallel 0: at least 1 unit must move\n',
    });
  });
});
