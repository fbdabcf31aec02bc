import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobState } from '../../src/job/types.js';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { useEtcd } from '../support/etcd-suite.js';
import { GrpcDelayProxy } from '../support/grpc-delay-proxy.js';
import { waitFor } from '../support/wait.js';
import { type ApiFixture, startApi } from './support/api-fixture.js';

// A client that times out and tries again elsewhere must not see its abandoned request land
// after a later one: the later desired state would be lost without anyone being told.
const etcd = useEtcd();
let cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

const OPTIONS = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' }];

/** Two APIs on one cluster: one reaches etcd through a proxy that can hold its calls. */
async function twoApis(): Promise<{ slow: ApiFixture; fast: ApiFixture; proxy: GrpcDelayProxy }> {
  const prefix = `/abandoned-${randomUUID()}/`;
  const proxy = await GrpcDelayProxy.start(etcd.cluster.endpoints[0]!);
  cleanups.push(() => proxy.close());
  const client: Etcd3 = createEtcdClient({
    ...etcd.cluster.clientConfig(),
    endpoints: [proxy.endpoint],
    // Long enough that a held call is still waiting when the proxy lets it go.
    requestTimeoutMs: 30_000,
  });
  cleanups.push(() => client.close());
  const slow = await startApi(client, { prefix });
  cleanups.push(() => slow.close());
  const fast = await startApi(etcd.client(), { prefix });
  cleanups.push(() => fast.close());
  return { slow, fast, proxy };
}

/** Sends a PUT; hangs up when told, as a client whose timeout fired does. */
function putToHangUp(api: ApiFixture, name: string, body: object): { hangUp: () => void } {
  const url = new URL(api.baseUrl);
  const payload = JSON.stringify(body);
  const req = request({
    host: url.hostname,
    port: Number(url.port),
    method: 'PUT',
    path: `/fleet/v1/units/${name}`,
    headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    agent: false,
  });
  req.on('error', () => undefined);
  req.end(payload);
  return { hangUp: () => req.destroy() };
}

async function put(api: ApiFixture, name: string, body: object): Promise<number> {
  const response = await fetch(`${api.baseUrl}/fleet/v1/units/${name}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

const isClientGone = (line: string) => line.startsWith('Client went away');
const isDropped = (line: string) => line.startsWith('Dropped');

async function desiredStateOf(api: ApiFixture, name: string): Promise<JobState | null> {
  return (await api.registry.units.get(name))?.desiredState ?? null;
}

describe('a request whose client hung up', () => {
  it.each<[string, object, object, JobState | null]>([
    [
      'does not change the desired state after a later request did',
      { desiredState: 'launched' },
      { desiredState: 'inactive' },
      'inactive',
    ],
    [
      'does not replace a unit after a later request destroyed it',
      {
        desiredState: 'launched',
        options: [...OPTIONS, { section: 'Unit', name: 'X', value: '2' }],
      },
      { destroy: true },
      null,
    ],
  ])('%s', async (_title, abandoned, later, expected) => {
    const { slow, fast, proxy } = await twoApis();
    const name = `late-${randomUUID().slice(0, 8)}.service`;
    // Created through the slow API, whose next write then guesses from its own.
    expect(await put(slow, name, { desiredState: 'loaded', options: OPTIONS })).toBe(201);

    const stall = proxy.stall();
    const { hangUp } = putToHangUp(slow, name, abandoned);
    await waitFor(() => stall.held > 0, 10_000, 'the slow API to call etcd', 10);
    hangUp();
    await waitFor(
      () => slow.logs.some(isClientGone),
      10_000,
      'the slow API to see its client go',
      10,
    );

    if ('destroy' in later) {
      const response = await fetch(`${fast.baseUrl}/fleet/v1/units/${name}`, { method: 'DELETE' });
      expect(response.status).toBe(204);
    } else {
      expect(await put(fast, name, later)).toBe(204);
    }
    stall.lift();

    await waitFor(
      async () => slow.logs.some(isDropped) || (await desiredStateOf(fast, name)) !== expected,
      10_000,
      'the slow API to drop its write, or to make it',
      10,
    );
    expect(await desiredStateOf(fast, name)).toBe(expected);
  });
});
