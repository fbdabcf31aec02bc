import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobState } from '../../src/job/types.js';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { RegistryKeys } from '../../src/registry/keys.js';
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

/**
 * Two APIs on one cluster: one reaches etcd through a proxy that can hold its calls, each for
 * at most `requestTimeoutMs` (etcd_request_timeout) before it is given up and tried again.
 */
async function twoApis(
  requestTimeoutMs = 30_000,
): Promise<{ slow: ApiFixture; fast: ApiFixture; proxy: GrpcDelayProxy; prefix: string }> {
  const prefix = `/abandoned-${randomUUID()}/`;
  const proxy = await GrpcDelayProxy.start(etcd.cluster.endpoints[0]!);
  cleanups.push(() => proxy.close());
  const client: Etcd3 = createEtcdClient({
    ...etcd.cluster.clientConfig(),
    endpoints: [proxy.endpoint],
    requestTimeoutMs,
  });
  cleanups.push(() => client.close());
  const slow = await startApi(client, { prefix });
  cleanups.push(() => slow.close());
  const fast = await startApi(etcd.client(), { prefix });
  cleanups.push(() => fast.close());
  return { slow, fast, proxy, prefix };
}

/** Sends a request; hangs up when told, as a client whose timeout fired does. */
function sendToHangUp(
  api: ApiFixture,
  method: string,
  path: string,
  body: unknown,
): { hangUp: () => void } {
  const url = new URL(api.baseUrl);
  const payload = JSON.stringify(body);
  const req = request({
    host: url.hostname,
    port: Number(url.port),
    method,
    path,
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
    // The slow API's held calls wait for the lift, however long it takes.
    const { hangUp } = sendToHangUp(slow, 'PUT', `/fleet/v1/units/${name}`, abandoned);
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

  it('does not edit machine metadata once its etcd call has timed out', async () => {
    // Calls held past their deadline fail and, before the fix, were tried again.
    const { slow, fast, proxy, prefix } = await twoApis(200);
    const edit = (value: string) => [{ op: 'add', path: '/m1/metadata/role', value: { value } }];
    const stall = proxy.stall((path) => path === '/etcdserverpb.KV/Txn');
    const { hangUp } = sendToHangUp(slow, 'PATCH', '/fleet/v1/machines', edit('abandoned'));
    await waitFor(() => stall.held > 0, 10_000, 'the slow API to call etcd', 10);
    hangUp();
    await waitFor(
      () => slow.logs.some(isClientGone),
      10_000,
      'the slow API to see its client go',
      10,
    );
    const later = await fetch(`${fast.baseUrl}/fleet/v1/machines`, {
      method: 'PATCH',
      body: JSON.stringify(edit('later')),
    });
    expect(later.status).toBe(204);

    // Either the slow API gives up once its transaction timed out (the proxy then holds
    // nothing it still waits for), or it sends the transaction again.
    await waitFor(
      () => (slow.logs.some(isDropped) && stall.waiting === 0) || stall.held > 1,
      10_000,
      'the slow API to drop its edit, or to try it again',
      10,
    );
    stall.lift();
    const reader = etcd.client();
    const role = () => reader.get(new RegistryKeys(prefix).machineMetadata('m1', 'role')).string();
    await waitFor(
      async () => slow.logs.some(isDropped) || (await role()) !== 'later',
      10_000,
      'the slow API to drop its edit, or to make it',
      10,
    );
    expect(await role()).toBe('later');
  });
  it('calls a batch off between its transactions', async () => {
    const { slow, fast, proxy } = await twoApis();
    // Two transactions' worth of new units (one body; two guards each, 64 per transaction).
    const names = Array.from({ length: 100 }, (_, i) => `batch-${i}.service`);
    const stall = proxy.stall((path) => path === '/etcdserverpb.KV/Txn');
    const { hangUp } = sendToHangUp(slow, 'POST', '/fleet/ext/v1/batch', {
      units: names.map((name) => ({ name, options: OPTIONS, desiredState: 'launched' })),
    });
    await waitFor(() => stall.held > 0, 10_000, 'the slow API to call etcd', 10);
    hangUp();
    await waitFor(
      () => slow.logs.some(isClientGone),
      10_000,
      'the slow API to see its client go',
      10,
    );
    stall.lift();
    await waitFor(() => slow.logs.some(isDropped), 10_000, 'the slow API to drop its batch', 10);
    // Only the transaction already on its way may have landed.
    const written = (await fast.registry.units.list()).length;
    expect(written).toBeLessThan(names.length);
  });
});
