import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { type ApiFixture, startApi } from '../api/support/api-fixture.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type InProcessFleetd, startInProcessFleetd } from '../support/in-process-fleetd.js';
import { discoverMachines, loadGolden, replayGolden } from './golden-replay.js';
import { runInProcess } from './in-process.js';

/** fleetctl's own pace: attempts of 2 s, polled every 250 ms. */
const FLEET_TIMING = { pollIntervalMs: 250, attemptWindowMs: 2_000 };

/**
 * The whole recorded fleetctl transcript, end to end through our own stack: fleetctl's HTTP
 * driver, the API server, the registry on a real etcd, the engine and three agents (r1..r3).
 * Only systemd is simulated; the functional suite runs the same against real machines.
 */
describe('the recorded fleetctl transcript against fleetds with agents', () => {
  let etcd: EtcdCluster;
  let client: Etcd3;
  let api: ApiFixture;
  const fleetds: InProcessFleetd[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    client = createEtcdClient(etcd.clientConfig());
    api = await startApi(client);
    for (const name of ['r1', 'r2', 'r3']) {
      fleetds.push(
        await startInProcessFleetd({
          etcd: client,
          prefix: api.registry.keys.prefix,
          machineID: randomUUID().replace(/-/g, ''),
          metadata: { name },
        }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(fleetds.map((fleetd) => fleetd.server.shutdown()));
    await api?.close();
    client?.close();
    await etcd?.stop();
  });

  it('gets the recorded exit code, stdout and stderr for every step', async () => {
    const outcomes = await replayGolden({
      fleetctl: `fleetctl --endpoint ${api.baseUrl} --driver API`,
      machines: await discoverMachines(api.baseUrl),
      run: (command, env) =>
        runInProcess(command.slice(1), { env, realDrivers: true, timing: FLEET_TIMING }),
    });
    const failed = outcomes.filter((outcome) => !outcome.passed);
    expect(failed.map(({ id, detail }) => `${id}: ${detail}`)).toEqual([]);
    expect(outcomes).toHaveLength(loadGolden().steps.length);
  }, 600_000);
});
