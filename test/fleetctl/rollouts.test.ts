import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RolloutState } from '../../src/client/rollouts.js';
import { listLine, rolloutLines } from '../../src/fleetctl/rollouts/progress.js';
import type { EtcdPresenceLease } from '../../src/registry/machine-presence.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { type ApiFixture, startApi } from '../api/support/api-fixture.js';
import { registerMachine } from '../api/support/machines.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { FAST_TIMING, runInProcess } from './in-process.js';

const M1 = 'a1b20000000000000000000000000000';
const GLOBAL = (execStart: string) =>
  `[Service]\nExecStart=${execStart}\n\n[X-Fleet]\nGlobal=true\n`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rollout-units-'));
  writeFileSync(join(dir, 'g.service'), GLOBAL('/bin/sleep 2'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fleetctl rollout against a server without rollouts', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says so and exits 1, never falling back to a plain replace', async () => {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":{"code":404,"message":""}}');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const args of [['start', 'g.service'], ['list'], ['resume', 'r1'], ['abort', 'r1']]) {
      const result = await runInProcess(['--endpoint', endpoint, 'rollout', ...args], {
        realDrivers: true,
        cwd: dir,
      });
      expect(result).toEqual({
        exitCode: 1,
        stdout: '',
        stderr: 'Rolling updates are not supported by this server\n',
      });
    }
    expect(requests.every((line) => line.includes('/fleet/ext/v1/rollouts'))).toBe(true);
  });
});

describe('fleetctl rollout against fleet', () => {
  let etcd: EtcdCluster;
  let client: Etcd3;
  let api: ApiFixture;
  let session: EtcdPresenceLease;

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
    session = await registerMachine(client, api.registry.keys, M1, {});
    await api.registry.units.put('g.service', UnitFile.parse(GLOBAL('/bin/sleep 1')), 'launched');
  });
  afterEach(async () => {
    await session.close();
    await client.delete().all();
    await api?.close();
  });

  const fleetctl = (...argv: string[]) =>
    runInProcess(['--endpoint', api.baseUrl, 'rollout', ...argv], {
      realDrivers: true,
      cwd: dir,
      timing: FAST_TIMING,
    });

  it('starts a rollout, lists it and aborts it, putting the previous content back', async () => {
    const state = {
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      hash: UnitFile.parse(GLOBAL('/bin/sleep 1')).hash,
      launched: true,
    };
    await client.put(api.registry.keys.unitState('g.service', M1)).value(JSON.stringify(state));
    // No engine runs here: the rollout stays running and the abort below ends it.
    const started = fleetctl('start', '--canary=1', '--healthy-deadline=1m', 'g.service');
    let id = '';
    for (let look = 0; id === '' && look < 500; look += 1) {
      const [rollout] = await api.registry.rollouts.list();
      id = rollout?.record.id ?? '';
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const listed = await fleetctl('list');
    expect(listed).toEqual({
      exitCode: 0,
      stdout: `ROLLOUT\tSTATUS\tUPDATED\tUNITS\n${id}\trunning\t0/1\tg.service\n`,
      stderr: '',
    });
    expect((await api.registry.units.get('g.service'))?.hash).toBe(
      UnitFile.parse(GLOBAL('/bin/sleep 2')).hash,
    );
    expect(await fleetctl('abort', id)).toEqual({
      exitCode: 0,
      stdout: 'Rollout aborted: every machine runs the previous content\n',
      stderr: '',
    });
    expect(await started).toEqual({
      exitCode: 1,
      stdout: `Rollout ${id} started\nRollout aborted: every machine runs the previous content\n`,
      stderr: '',
    });
    expect((await api.registry.units.get('g.service'))?.hash).toBe(
      UnitFile.parse(GLOBAL('/bin/sleep 1')).hash,
    );
  });

  it('says what is wrong with its arguments, and relays refusals', async () => {
    expect(await fleetctl()).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Usage: fleetctl rollout start|list|resume ID|abort ID\n',
    });
    expect((await fleetctl('start')).stderr).toBe('One or more unit files must be provided\n');
    expect((await fleetctl('resume')).stderr).toBe('One rollout ID must be provided\n');
    expect((await fleetctl('start', '--max-parallel=0', 'g.service')).stderr).toBe(
      'Invalid --max-parallel 0: at least 1\n',
    );
    expect((await fleetctl('start', '--min-healthy-time=soon', 'g.service')).stderr).toBe(
      'Invalid --min-healthy-time: time: invalid duration "soon"\n',
    );
    writeFileSync(join(dir, 'g.service'), GLOBAL('/bin/sleep 1'));
    expect(await fleetctl('start', 'g.service')).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'Error: googleapi: Error 409: unit g.service already has this content\n',
    });
    expect((await fleetctl('abort', 'nope')).stderr).toBe(
      'Error: googleapi: Error 404: rollout does not exist\n',
    );
  });
});

describe('fleetctl rollout progress', () => {
  const base: RolloutState = {
    id: 'r1',
    units: [{ name: 'g.service', oldHash: 'a', newHash: 'b' }],
    maxParallel: 1,
    canary: 0,
    status: 'running',
    steps: [
      { unit: 'g.service', machineID: 'm1', phase: 'waiting' },
      { unit: 'g.service', machineID: 'm2', phase: 'waiting' },
    ],
    message: 'Rollout started',
  };

  it('prints each step as it moves on, one it went through unseen too, and status changes', () => {
    const next: RolloutState = {
      ...base,
      status: 'failed',
      steps: [
        { unit: 'g.service', machineID: 'm1', phase: 'healthy' },
        { unit: 'g.service', machineID: 'm2', phase: 'reverted', reason: 'failed/failed' },
      ],
      message: 'Rollout failed: …',
    };
    expect(rolloutLines(null, base)).toEqual([]);
    expect(rolloutLines(null, { ...base, status: 'paused', message: 'Paused …' })).toEqual([
      'Paused …',
    ]);
    expect(rolloutLines(base, next)).toEqual([
      'Updating g.service on machine m1',
      'Updated g.service on machine m1: healthy',
      'Updating g.service on machine m2',
      'Reverted g.service on machine m2: failed/failed',
      'Rollout failed: …',
    ]);
    expect(rolloutLines(next, next)).toEqual([]);
    expect(listLine(next)).toBe('r1\tfailed\t1/2\tg.service');
  });
});
