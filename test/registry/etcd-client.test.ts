import { afterEach, describe, expect, it } from 'vitest';
import { calledOffBy, createEtcdClient } from '../../src/registry/etcd-client.js';
import { useEtcd } from '../support/etcd-suite.js';
import { GrpcDelayProxy } from '../support/grpc-delay-proxy.js';
import { waitFor } from '../support/wait.js';

const etcd = useEtcd();
let cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** A client configured as fleetd's is, whose calls a proxy can hold until their deadline. */
async function heldClient() {
  const proxy = await GrpcDelayProxy.start(etcd.cluster.endpoints[0]!);
  cleanups.push(() => proxy.close());
  const client = createEtcdClient({
    ...etcd.cluster.clientConfig(),
    endpoints: [proxy.endpoint],
    requestTimeoutMs: 200,
  });
  cleanups.push(() => client.close());
  return { proxy, client };
}

describe('etcd client', () => {
  it('tries a call again after its deadline passed', async () => {
    const { proxy, client } = await heldClient();
    const stall = proxy.stall();
    await expect(client.get('k').string()).rejects.toThrow();
    expect(stall.held).toBeGreaterThan(1);
  });

  it('does not try a call again once its caller has called it off', async () => {
    const { proxy, client } = await heldClient();
    const stall = proxy.stall();
    const caller = new AbortController();
    const call = calledOffBy(caller.signal, () => client.get('k').string());
    const settled = call.catch(() => undefined);
    await waitFor(() => stall.held > 0, 10_000, 'the call to reach the proxy', 5);
    caller.abort(new Error('the client went away'));
    await expect(call).rejects.toThrow();
    await settled;
    expect(stall.held).toBe(1);
  });

  it('does not start a call whose caller has already called it off', async () => {
    const { proxy, client } = await heldClient();
    const caller = new AbortController();
    caller.abort(new Error('the client went away'));
    await expect(calledOffBy(caller.signal, () => client.get('k').string())).rejects.toThrow(
      'the client went away',
    );
    expect(proxy.forwarded('/etcdserverpb.KV/Range')).toBe(0);
  });
});
