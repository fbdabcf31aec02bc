import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RegistryKeys } from '../../src/registry/keys.js';
import { EtcdUnitBodies } from '../../src/registry/unit-bodies.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';

const etcd = useEtcd();

function freshCache(maxBytes?: number) {
  const keys = new RegistryKeys(`/cache-${randomUUID()}/`);
  return { keys, cache: new EtcdUnitBodies(etcd.client(), keys, maxBytes) };
}

describe('EtcdUnitBodies', () => {
  it('holds bodies up to its size in bytes, dropping the least recently used first', () => {
    const bodies = ['a', 'b', 'c', 'd'].map((tag) =>
      UnitFile.parse(`[Service]\nExecStart=/bin/${tag}\n`),
    );
    const size = Buffer.byteLength(bodies[0]!.serialized);
    const { cache } = freshCache(3 * size);
    const [a, b, c, d] = bodies as [UnitFile, UnitFile, UnitFile, UnitFile];
    for (const body of [a, b, c]) cache.remember(body.hash, body.serialized);
    expect(cache.cached(a.hash)).toBeDefined();

    cache.remember(d.hash, d.serialized);
    expect(cache.cached(b.hash)).toBeUndefined();
    for (const kept of [a, c, d]) expect(cache.cached(kept.hash)?.hash).toBe(kept.hash);
  });

  it('serves a body larger than the whole cache without keeping it', async () => {
    const { keys, cache } = freshCache(64);
    const body = UnitFile.parse(`[Service]\nExecStart=/bin/sleep ${'1'.repeat(100)}\n`);
    await etcd.client().put(keys.unitFile(body.hash)).value(body.serialized);
    expect((await cache.get(body.hash)).hash).toBe(body.hash);
    expect(cache.cached(body.hash)).toBeUndefined();
    expect(cache.remember(body.hash, body.serialized).hash).toBe(body.hash);
    expect(cache.cached(body.hash)).toBeUndefined();
  });
});
