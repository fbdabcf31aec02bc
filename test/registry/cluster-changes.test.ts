import { afterEach, describe, expect, it, vi } from 'vitest';
import { RegistryKeys } from '../../src/registry/keys.js';
import { openMemoryRegistry } from '../../src/registry/memory/registry.js';
import { MemoryStore } from '../../src/registry/memory/store.js';
import type {
  ClusterChangeBatch,
  ClusterObjectChange,
  ClusterSnapshot,
  Revision,
} from '../../src/registry/model.js';
import type {
  ClusterChangeHandlers,
  ClusterChangesHandle,
  MachineRecord,
  RegistrySeam,
} from '../../src/registry/ports.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';
import { FakeClock } from '../support/fake-clock.js';

/**
 * The `ClusterChanges` contract (the API's event stream), on a real etcd and on the
 * in-memory twin alike.
 */

// Generous bounds for a loaded two-core machine; no test asserts how fast anything is.
const EVENTUALLY = { timeout: 20_000, interval: 20 };

interface Fixture {
  seam: RegistrySeam;
  keys: RegistryKeys;
  /** Writes one key as another fleetd would (a placement, a state). */
  put(key: string, value: string): Promise<void>;
  /** The store's current revision. */
  revision(): Promise<Revision>;
  /** Compacts history up to the current revision. */
  compact(): Promise<void>;
}

interface Backend {
  open(): Fixture;
}

function memoryBackend(): Backend {
  return {
    open() {
      const store = new MemoryStore(new FakeClock());
      const prefix = '/_coreos.com/fleet/';
      return {
        seam: openMemoryRegistry(store, prefix),
        keys: new RegistryKeys(prefix),
        put: async (key, value) => {
          store.txn({ compare: [], success: [{ type: 'put', key, value }] });
        },
        revision: async () => store.revision.toString(),
        compact: async () => store.compact(store.revision),
      };
    },
  };
}

function etcdBackend(): Backend {
  const etcd = useEtcd();
  return {
    open() {
      const registry = etcd.freshRegistry();
      return {
        seam: registry,
        keys: registry.keys,
        put: async (key, value) => {
          await registry.etcd.put(key).value(value);
        },
        revision: async () =>
          (await registry.etcd.get(`${registry.keys.prefix}-`).exec()).header.revision,
        compact: async () => {
          const { header } = await registry.etcd.get(`${registry.keys.prefix}-`).exec();
          await registry.etcd.kv.compact({ revision: header.revision, physical: true });
        },
      };
    },
  };
}

const service = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const other = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');

const machine: MachineRecord = {
  id: 'm1',
  publicIP: '10.0.0.1',
  metadata: { region: 'east' },
  capabilities: { disableEngine: false },
  version: 'test',
  sessionToken: 'token',
};

function stateValue(hash: string, launched: boolean): string {
  return JSON.stringify({
    loadState: 'loaded',
    activeState: launched ? 'active' : 'inactive',
    subState: launched ? 'running' : 'dead',
    hash,
    launched,
  });
}

/** What a follower was handed. */
class Follower implements ClusterChangeHandlers {
  readonly snapshots: ClusterSnapshot[] = [];
  readonly batches: ClusterChangeBatch[] = [];

  onSnapshot(snapshot: ClusterSnapshot): void {
    this.snapshots.push(snapshot);
  }

  onChanges(batch: ClusterChangeBatch): void {
    this.batches.push(batch);
  }

  /** Each change as `<revision> <type> <name>[@machine] <after's summary>`. */
  lines(): string[] {
    return this.batches.flatMap(({ revision, changes }) =>
      changes.map((change) => {
        const where = change.type === 'state' ? `${change.name}@${change.machineID}` : change.name;
        return `${revision} ${change.type} ${where} ${summary(change)}`;
      }),
    );
  }

  get lastRevision(): Revision | undefined {
    return this.batches.at(-1)?.revision ?? this.snapshots.at(-1)?.revision;
  }
}

/** What a test looks at in the object after a change. */
function summary(change: ClusterObjectChange): string {
  if (change.after === null) return 'gone';
  switch (change.type) {
    case 'unit':
      return `${change.after.desiredState}/${change.after.currentState}/${change.after.machineID}`;
    case 'state':
      return `${change.after.activeState}/${change.after.hash.slice(0, 7)}`;
    case 'machine':
      return JSON.stringify(change.after.metadata);
  }
}

function contract(backend: Backend): void {
  const handles: ClusterChangesHandle[] = [];
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((handle) => handle.stop()));
  });

  function follow(fx: Fixture, since: Revision | null): Follower {
    const follower = new Follower();
    handles.push(fx.seam.changes.follow(since, follower));
    return follower;
  }

  /** A unit submitted, placed on m1, reported loaded there, then launched. */
  async function scriptedSequence(fx: Fixture): Promise<void> {
    await fx.seam.units.put('a.service', service, 'loaded');
    await fx.put(fx.keys.placement('a.service'), 'm1');
    await fx.put(fx.keys.unitState('a.service', 'm1'), stateValue(service.hash, false));
    await fx.seam.units.setDesiredState('a.service', 'launched');
    await fx.put(fx.keys.unitState('a.service', 'm1'), stateValue(service.hash, true));
  }

  it('starts with a snapshot of every object, then hands each revision’s changes in order', async () => {
    const fx = backend.open();
    const lease = await fx.seam.presence.open(machine, 10_000);
    await fx.seam.units.put('b.service', other, 'inactive');
    const follower = follow(fx, null);
    await vi.waitFor(() => expect(follower.snapshots).toHaveLength(1), EVENTUALLY);
    const [snapshot] = follower.snapshots;
    expect(snapshot!.units.map((unit) => unit.name)).toEqual(['b.service']);
    expect(snapshot!.machines).toEqual([
      {
        id: 'm1',
        publicIP: '10.0.0.1',
        metadata: { region: 'east' },
        capabilities: { disableEngine: false },
        version: 'test',
      },
    ]);
    expect(snapshot!.states).toEqual([]);

    await scriptedSequence(fx);
    await fx.seam.units.destroy('a.service');
    await vi.waitFor(() => expect(follower.lines()).toHaveLength(8), EVENTUALLY);
    const revisions = follower.batches.map((batch) => BigInt(batch.revision));
    expect(revisions).toEqual([...revisions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(follower.lines().map((line) => line.replace(/^\d+ /, ''))).toEqual([
      'unit a.service loaded/inactive/null',
      'unit a.service loaded/inactive/m1',
      // The target's report changes the unit's current state and adds a state, together.
      'unit a.service loaded/loaded/m1',
      `state a.service@m1 inactive/${service.hash.slice(0, 7)}`,
      'unit a.service launched/loaded/m1',
      'unit a.service launched/launched/m1',
      `state a.service@m1 active/${service.hash.slice(0, 7)}`,
      // The destroy deletes record and placement in one revision: one removal.
      'unit a.service gone',
    ]);
    expect(follower.batches.at(-1)!.changes).toHaveLength(1);
    await lease.close();
  });

  it('reports only objects whose content changed', async () => {
    const fx = backend.open();
    const lease = await fx.seam.presence.open(machine, 10_000);
    const follower = follow(fx, null);
    await vi.waitFor(() => expect(follower.snapshots).toHaveLength(1), EVENTUALLY);
    // Rewrites with the same content change nothing the API shows.
    await lease.update(machine);
    await fx.put(fx.keys.unitState('x.service', 'm1'), stateValue(service.hash, true));
    await fx.put(fx.keys.unitState('x.service', 'm1'), stateValue(service.hash, true));
    await fx.seam.machines.editMetadata([{ machineID: 'm1', key: 'region', value: 'east' }]);
    await fx.seam.machines.editMetadata([{ machineID: 'm1', key: 'disk', value: 'ssd' }]);
    await vi.waitFor(() => expect(follower.lines()).toHaveLength(2), EVENTUALLY);
    // A state of a unit nobody submitted is a state all the same; the unit stays absent.
    expect(follower.lines()[0]).toMatch(/^\d+ state x\.service@m1 active\/[0-9a-f]{7}$/);
    expect(follower.lines()[1]).toMatch(/^\d+ machine m1 \{"region":"east","disk":"ssd"\}$/);
    await lease.close();
    await vi.waitFor(() => expect(follower.lines()).toHaveLength(3), EVENTUALLY);
    expect(follower.lines()[2]).toMatch(/^\d+ machine m1 gone$/);
  });

  it('resumes after a revision with nothing lost and nothing twice', async () => {
    const fx = backend.open();
    const throughout = follow(fx, null);
    await vi.waitFor(() => expect(throughout.snapshots).toHaveLength(1), EVENTUALLY);
    await fx.seam.units.put('a.service', service, 'loaded');
    await fx.put(fx.keys.placement('a.service'), 'm1');
    await vi.waitFor(() => expect(throughout.lines()).toHaveLength(2), EVENTUALLY);
    const seenUpTo = throughout.lastRevision!;

    await fx.put(fx.keys.unitState('a.service', 'm1'), stateValue(service.hash, false));
    await fx.seam.units.setDesiredState('a.service', 'launched');
    await fx.seam.units.put('a.service', other, 'launched');
    await fx.seam.units.destroy('a.service');
    await vi.waitFor(() => expect(throughout.lines()).toHaveLength(7), EVENTUALLY);

    const resumed = follow(fx, seenUpTo);
    await vi.waitFor(() => expect(resumed.lines()).toHaveLength(5), EVENTUALLY);
    expect(resumed.snapshots).toEqual([]);
    expect(resumed.lines()).toEqual(throughout.lines().slice(2));
    // And live changes after the replay.
    await fx.seam.units.put('c.service', service, 'inactive');
    await vi.waitFor(() => expect(resumed.lines()).toHaveLength(6), EVENTUALLY);
    await vi.waitFor(() => expect(throughout.lines()).toHaveLength(8), EVENTUALLY);
    expect(resumed.lines()[5]).toEqual(throughout.lines()[7]);
  });

  it('a resumed follow from the current revision waits for the next change', async () => {
    const fx = backend.open();
    await fx.seam.units.put('a.service', service, 'loaded');
    const follower = follow(fx, await fx.revision());
    await fx.seam.units.setDesiredState('a.service', 'launched');
    await vi.waitFor(() => expect(follower.lines()).toHaveLength(1), EVENTUALLY);
    expect(follower.snapshots).toEqual([]);
    expect(follower.lines()[0]).toMatch(/ unit a\.service launched\/inactive\/null$/);
  });

  it('starts from a snapshot when the revision asked for was compacted or is still ahead', async () => {
    const fx = backend.open();
    await fx.seam.units.put('a.service', service, 'loaded');
    const old = await fx.revision();
    await fx.seam.units.put('b.service', service, 'loaded');
    await fx.compact();
    const now = await fx.revision();

    const compacted = follow(fx, (BigInt(old) - 1n).toString());
    await vi.waitFor(() => expect(compacted.snapshots).toHaveLength(1), EVENTUALLY);
    expect(compacted.snapshots[0]!.revision).toBe(now);
    expect(compacted.snapshots[0]!.units.map((unit) => unit.name)).toEqual([
      'a.service',
      'b.service',
    ]);

    const ahead = follow(fx, (BigInt(now) + 1000n).toString());
    await vi.waitFor(() => expect(ahead.snapshots).toHaveLength(1), EVENTUALLY);
    expect(ahead.snapshots[0]!.revision).toBe(now);

    await fx.seam.units.destroy('a.service');
    await vi.waitFor(() => expect(compacted.lines()).toHaveLength(1), EVENTUALLY);
    expect(compacted.lines()[0]).toMatch(/ unit a\.service gone$/);
  });

  it('shows a global unit without a machine or current state, as the API does', async () => {
    const fx = backend.open();
    const global = UnitFile.parse('[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nGlobal=true\n');
    const follower = follow(fx, null);
    await vi.waitFor(() => expect(follower.snapshots).toHaveLength(1), EVENTUALLY);
    await fx.seam.units.put('g.service', global, 'launched');
    await vi.waitFor(() => expect(follower.batches).toHaveLength(1), EVENTUALLY);
    expect(follower.batches[0]!.changes[0]).toMatchObject({
      type: 'unit',
      before: null,
      after: { name: 'g.service', global: true, machineID: null, currentState: null },
    });
  });
}

describe('cluster changes: in-memory twin', () => contract(memoryBackend()));
describe('cluster changes: etcd', () => contract(etcdBackend()));
