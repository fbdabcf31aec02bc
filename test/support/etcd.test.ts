import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { Etcd3, type IOptions } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { type EtcdCluster, type StartEtcdOptions, startEtcd } from './etcd.js';

const execFileAsync = promisify(execFile);

const clusters: EtcdCluster[] = [];
const clients: Etcd3[] = [];

async function start(options?: StartEtcdOptions): Promise<EtcdCluster> {
  const cluster = await startEtcd(options);
  clusters.push(cluster);
  return cluster;
}

function connect(options: IOptions): Etcd3 {
  // Fail fast: a refused handshake would otherwise be retried up to the 30 s dial timeout.
  const client = new Etcd3({
    ...options,
    defaultCallOptions: () => ({ deadline: Date.now() + 5_000 }),
  });
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(clusters.splice(0).map((cluster) => cluster.stop()));
});

async function etcdCommandLines(): Promise<string[]> {
  // pgrep exits 1 when nothing matches.
  const { stdout } = await execFileAsync('pgrep', ['-a', 'etcd']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter((line) => line !== '');
}

describe('startEtcd', () => {
  it('starts a single member that answers put and get', async () => {
    const cluster = await start();
    expect(cluster.endpoints).toHaveLength(1);
    expect(cluster.endpoints[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cluster.endpoints[0]).not.toMatch(/:(2379|2380|4001)$/);

    const client = connect(cluster.clientOptions());
    await client.put('fixture/key').value('hello');
    expect(await client.get('fixture/key').string()).toBe('hello');
  });

  it('grants a 3 s lease as asked instead of raising it to the default minimum', async () => {
    const cluster = await start();
    const client = connect(cluster.clientOptions());
    const lease = client.lease(3, { autoKeepAlive: false });
    const id = await lease.grant();
    const remaining = await client.leaseClient.leaseTimeToLive({ ID: id });
    expect(remaining.grantedTTL).toBe('3');
    await lease.revoke();
  });

  it('keeps data across a restart of every member', async () => {
    const cluster = await start();
    const client = connect(cluster.clientOptions());
    await client.put('fixture/durable').value('kept');
    await cluster.restart();
    expect(await client.get('fixture/durable').string()).toBe('kept');
  });

  it('elects a leader in a 3-member cluster and keeps serving after the leader stops', async () => {
    const cluster = await start({ members: 3 });
    expect(cluster.endpoints).toHaveLength(3);
    const client = connect(cluster.clientOptions());
    await client.put('fixture/before').value('1');

    const stopped = await cluster.killLeader();
    const successor = await cluster.leaderIndex();
    expect(successor).not.toBe(stopped);
    await client.put('fixture/after').value('2');

    await cluster.startMember(stopped);
    const rejoined = connect({ ...cluster.clientOptions(), hosts: [cluster.endpoints[stopped]!] });
    expect(await rejoined.get('fixture/before').string()).toBe('1');
    expect(await rejoined.get('fixture/after').string()).toBe('2');
  });

  it('moves leadership to another member on request', async () => {
    const cluster = await start({ members: 3 });
    const leader = await cluster.leaderIndex();
    const successor = await cluster.moveLeader();
    expect(successor).not.toBe(leader);
    expect(await cluster.leaderIndex()).toBe(successor);
  });

  it('serves TLS only to clients that trust its CA and present a client certificate', async () => {
    const cluster = await start({ tls: true });
    expect(cluster.endpoints[0]).toMatch(/^https:\/\//);
    const tls = cluster.tls!;

    const withoutCa = connect({ hosts: cluster.endpoints });
    await expect(withoutCa.get('fixture/key').string()).rejects.toThrow();

    const options = cluster.clientOptions();
    const withoutClientCertificate = connect({
      hosts: cluster.endpoints,
      credentials: { rootCertificate: options.credentials!.rootCertificate },
    });
    await expect(withoutClientCertificate.get('fixture/key').string()).rejects.toThrow();

    const trusted = connect(options);
    await trusted.put('fixture/key').value('secret');
    expect(await trusted.get('fixture/key').string()).toBe('secret');

    const fromConfig = createEtcdClient(cluster.clientConfig());
    clients.push(fromConfig);
    expect(cluster.clientConfig()).toMatchObject({
      caFile: tls.caFile,
      certFile: tls.certFile,
      keyFile: tls.keyFile,
    });
    expect(await fromConfig.get('fixture/key').string()).toBe('secret');
  });

  it('enables authentication and serves only the configured user', async () => {
    const cluster = await start({ auth: { username: 'fleet', password: 'fleet-secret' } });

    const anonymous = connect({ hosts: cluster.endpoints });
    await expect(anonymous.put('fixture/key').value('x')).rejects.toThrow();

    const fromConfig = createEtcdClient(cluster.clientConfig());
    clients.push(fromConfig);
    await fromConfig.put('fixture/key').value('authorised');
    expect(await fromConfig.get('fixture/key').string()).toBe('authorised');
  });

  it('leaves no etcd process and no data behind after stop()', async () => {
    const cluster = await start({ members: 3, tls: true });
    const pids = cluster.pids();
    expect(pids).toHaveLength(3);
    const tlsFiles = Object.values(cluster.tls!);
    const running = await etcdCommandLines();
    for (const pid of pids) {
      expect(running.some((line) => line.startsWith(`${pid} `))).toBe(true);
    }

    await cluster.stop();

    expect(cluster.pids()).toEqual([]);
    const remaining = await etcdCommandLines();
    for (const pid of pids) {
      expect(remaining.filter((line) => line.startsWith(`${pid} `))).toEqual([]);
      expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    }
    for (const file of tlsFiles) expect(existsSync(file)).toBe(false);
  });
});
