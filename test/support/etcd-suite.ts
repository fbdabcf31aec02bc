import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll } from 'vitest';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { type EtcdCluster, type StartEtcdOptions, startEtcd } from './etcd.js';

/** A test file's etcd: started before its tests, stopped after, with clients closed first. */
export interface EtcdSuite {
  readonly cluster: EtcdCluster;
  /** A client configured as fleetd's is; closed when the suite ends. */
  client(): Etcd3;
  /** A registry under a key prefix no other test uses. */
  freshRegistry(onBadRecord?: (key: string) => void): Registry;
}

export function useEtcd(options: StartEtcdOptions = {}): EtcdSuite {
  let cluster: EtcdCluster | undefined;
  const clients: Etcd3[] = [];
  beforeAll(async () => {
    cluster = await startEtcd(options);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await cluster?.stop();
  });
  const suite: EtcdSuite = {
    get cluster() {
      if (cluster === undefined) throw new Error('etcd is not started yet: use it inside tests');
      return cluster;
    },
    client() {
      const client = createEtcdClient(suite.cluster.clientConfig());
      clients.push(client);
      return client;
    },
    freshRegistry(onBadRecord = () => undefined) {
      return openRegistry(suite.client(), `/test-${randomUUID()}/`, onBadRecord);
    },
  };
  return suite;
}
