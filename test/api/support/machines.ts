import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { RegistryKeys } from '../../../src/registry/keys.js';
import { EtcdPresenceLease } from '../../../src/registry/machine-presence.js';

/** Registers a machine as fleetd does; close the session to make it leave. */
export function registerMachine(
  etcd: Etcd3,
  keys: RegistryKeys,
  id: string,
  metadata: Record<string, string>,
): Promise<EtcdPresenceLease> {
  return EtcdPresenceLease.open(
    etcd,
    keys,
    {
      id,
      publicIP: '127.0.0.1',
      metadata,
      capabilities: { disableEngine: false },
      version: '1.0.0-test',
      sessionToken: randomUUID(),
    },
    30_000,
  );
}
