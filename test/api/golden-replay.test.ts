import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MachineSession } from '../../src/registry/machine-session.js';
import { type EtcdCluster, startEtcd } from '../support/etcd.js';
import {
  formatReport,
  machinesByName,
  type Outcome,
  replayGolden,
  type StepResult,
} from './golden-replay.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';
import { registerMachine } from './support/machines.js';

/**
 * Steps that cannot pass before agents run units and publish their states (with the
 * engine placing them). Without agents every unit stays `inactive` with no `machineID`,
 * and `/state` is empty. When the agent lands these start passing, and the test fails
 * until they are removed from here: the list can only shrink.
 */
const NEEDS_AGENTS = [
  // Waits for a state only an agent publishes.
  'wait-instance-launched',
  'wait-instance-active',
  'wait-global-active',
  'wait-instance-loaded',
  'wait-instance-loaded-state',
  // Bodies that show currentState launched/loaded and the machineID of a running unit.
  'units-get-instance-launched',
  'units-list-with-global',
  'units-list-exactly-100',
  'units-list-101-page2',
  'units-get-instance-loaded',
  // Published unit states.
  'state-list',
  'state-list-by-unit',
  'state-list-by-machine-and-unit',
  'state-list-first-value-wins',
  'state-get-global-any-machine',
  'state-get-instance-loaded',
];

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
  const sessions: MachineSession[] = [];
  const machines: Record<string, string> = {};

  beforeAll(async () => {
    etcd = await startEtcd();
    client = new Etcd3(etcd.clientOptions());
    api = await startApi(client);
    // The transcript's cluster: three machines named r1..r3 in their metadata, IP 127.0.0.1.
    for (const name of ['r1', 'r2', 'r3']) {
      const id = randomUUID().replace(/-/g, '');
      machines[name] = id;
      sessions.push(await registerMachine(client, api.registry.keys, id, { name }));
    }
  });

  afterAll(async () => {
    await Promise.all(sessions.map((session) => session.close()));
    await api?.close();
    client?.close();
    await etcd?.stop();
  });

  it('gets the recorded answer to every step that does not need agents', async () => {
    expect(await machinesByName(api.baseUrl)).toEqual(machines);
    // Waits that need agents cannot converge here; waits that hold without them do at once.
    const results = await replayGolden({ baseUrl: api.baseUrl, machines, maxWaitMs: 2_000 });
    const report = formatReport(results);
    expect(idsWith(results, 'fail'), report).toEqual([...NEEDS_AGENTS].sort());
    expect(idsWith(results, 'warn'), report).toEqual([]);
    expect(idsWith(results, 'deviation'), report).toEqual([...DEVIATIONS].sort());
    expect(idsWith(results, 'skip'), report).toEqual([...SKIPPED].sort());
    expect(idsWith(results, 'pass').length, report).toBe(
      results.length - NEEDS_AGENTS.length - DEVIATIONS.length - SKIPPED.length,
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
