import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RequirementsCache } from '../../src/reconcile/requirements-cache.js';
import { EtcdUnitBodies } from '../../src/registry/unit-bodies.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';
import { waitFor } from '../support/wait.js';

const etcd = useEtcd();

const follower = UnitFile.parse('[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineOf=a.service\n');
const global = UnitFile.parse('[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n');

describe('requirements cache', () => {
  it('knows the requirements of units whose body was read, for that body only', () => {
    const registry = etcd.freshRegistry();
    registry.bodies.remember(follower.hash, follower.serialized);
    const cache = new RequirementsCache(
      registry.bodies,
      () => undefined,
      pino({ level: 'silent' }),
    );

    const known = cache.known([
      ['b.service', follower.hash],
      ['c.service', global.hash],
    ]);
    expect(known.get('b.service')).toMatchObject({
      hash: follower.hash,
      requirements: expect.objectContaining({ peers: ['a.service'], global: false }),
    });
    expect(known.has('c.service')).toBe(false);

    // Replaced by a body not read yet: what is known is the old body's, under its hash.
    expect(cache.known([['b.service', global.hash]]).get('b.service')?.hash).toBe(follower.hash);
  });

  it('reads the bodies a pass lacked and asks for another pass once each is read', async () => {
    const registry = etcd.freshRegistry();
    await registry.units.put('c.service', global, 'launched');
    let passesAskedFor = 0;
    // Another fleetd's cache: the body is in etcd, not in this cache.
    const cache = new RequirementsCache(
      new EtcdUnitBodies(etcd.client(), registry.keys),
      () => passesAskedFor++,
      pino({ level: 'silent' }),
    );
    expect(cache.known([['c.service', global.hash]]).has('c.service')).toBe(false);

    cache.fetch([global.hash, global.hash]);
    await waitFor(() => passesAskedFor > 0, 5_000, 'the body read');
    expect(passesAskedFor).toBe(1);
    expect(cache.known([['c.service', global.hash]]).get('c.service')?.requirements.global).toBe(
      true,
    );
  });
});
