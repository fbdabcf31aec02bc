import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';

import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import { type InProcessFleetd, startInProcessFleetd } from '../support/in-process-fleetd.js';
import {
  formatReport,
  machinesByName,
  type Outcome,
  replayGolden,
  type StepResult,
} from './golden-replay.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';

/** The bogus desired state the original stored needs a raw etcd v2 write to repair. */
const SKIPPED = [
  'bogus-state-create',
  'bogus-state-set',
  'bogus-state-get',
  'bogus-state-fix-attempt',
  'bogus-state-delete-attempt',
  'bogus-state-etcd-repair',
  'bogus-state-delete-after-repair',
];

const DEVIATIONS = ['units-put-create-invalid-desired-state'];

function idsWith(results: readonly StepResult[], outcome: Outcome): string[] {
  return results
    .filter((result) => result.outcome === outcome)
    .map((result) => result.id)
    .sort();
}

describe('golden API transcript', () => {
  let etcd: EtcdCluster;
  let client: Etcd3;
  let api: ApiFixture;
  const fleetds: InProcessFleetd[] = [];
  const machines: Record<string, string> = {};

  beforeAll(async () => {
    etcd = await startEtcd();
    client = createEtcdClient(etcd.clientConfig());
    api = await startApi(client);
    // The transcript's cluster: three fleetds named r1..r3 in their metadata, IP 127.0.0.1,
    // with engine and agents; only systemd is simulated.
    for (const name of ['r1', 'r2', 'r3']) {
      const id = randomUUID().replace(/-/g, '');
      machines[name] = id;
      fleetds.push(
        await startInProcessFleetd({
          etcd: client,
          prefix: api.registry.keys.prefix,
          machineID: id,
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

  it('gets the recorded answer to every step', async () => {
    expect(await machinesByName(api.baseUrl)).toEqual(machines);
    const results = await replayGolden({ baseUrl: api.baseUrl, machines, maxWaitMs: 60_000 });
    const report = formatReport(results);
    expect(idsWith(results, 'fail'), report).toEqual([]);
    expect(idsWith(results, 'warn'), report).toEqual([]);
    expect(idsWith(results, 'deviation'), report).toEqual([...DEVIATIONS].sort());
    expect(idsWith(results, 'skip'), report).toEqual([...SKIPPED].sort());
    expect(idsWith(results, 'pass').length, report).toBe(
      results.length - DEVIATIONS.length - SKIPPED.length,
    );
  }, 180_000);
});

describe('golden replay runner', () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    // Answers `{}` to everything, as a JSON API with our Server header.
    server = createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Server', 'fleetd/anything');
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.close();
  });

  it('fails wrong answers, warns on optional ones, and passes what matches', async () => {
    const results = await replayGolden({
      baseUrl,
      machines: { r1: 'm1', r2: 'm2', r3: 'm3' },
      maxWaitMs: 0,
      pollIntervalMs: 0,
    });
    const outcome = (id: string) => results.find((result) => result.id === id)?.outcome;
    expect(outcome('root')).toBe('fail');
    expect(outcome('machines-head')).toBe('warn');
    // Recorded as `{}` with fleetd's Server header: a match once the version is normalised.
    expect(outcome('units-list-final')).toBe('pass');
    expect(outcome('machines-page2-empty')).toBe('pass');
    // `{}` has no `states`, so a length predicate fails; a `bodyEquals "{}"` one holds.
    expect(outcome('wait-global-active')).toBe('fail');
    expect(outcome('wait-all-states-gone')).toBe('pass');
    expect(outcome('units-put-create-invalid-desired-state')).toBe('fail');
  }, 60_000);
});
