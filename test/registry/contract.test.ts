import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JobState } from '../../src/job/types.js';
import { createEtcdClient } from '../../src/registry/etcd-client.js';
import { etcdMirrorSource } from '../../src/registry/etcd-mirror-source.js';
import { memoryMirrorSource } from '../../src/registry/memory/mirror-source.js';
import { openMemoryRegistry } from '../../src/registry/memory/registry.js';
import { MemoryStore } from '../../src/registry/memory/store.js';
import { MachineConflictError, type ScheduleChange } from '../../src/registry/model.js';
import { readPrefix } from '../../src/registry/paged-range.js';
import type {
  AgentSchedule,
  EngineView,
  Leadership,
  MachineRecord,
  PresenceLease,
  RegistrySeam,
  UnitChange,
} from '../../src/registry/ports.js';
import type {
  KeyValueRecord,
  MirrorHandle,
  MirrorHandlers,
} from '../../src/registry/prefix-mirror.js';
import type { RolloutRecord, UnitRecord, UnitStateRecord } from '../../src/registry/records.js';
import { openRegistry } from '../../src/registry/registry.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';
import { FakeClock } from '../support/fake-clock.js';

/**
 * The registry's contract, run against a real etcd and against the in-memory twin: the twin
 * stands in for etcd in fast tests only as long as it passes exactly what etcd passes.
 */

/** etcd's smallest TTL with the tests' election timeout; the twin's clock jumps over it. */
const TTL_MS = 1_000;
// Generous bounds for a loaded two-core machine; no test asserts how fast anything is.
const EVENTUALLY = { timeout: 25_000, interval: 20 };
const SLOW_TEST_MS = 60_000;

/** One test's registry: writers, and a reader whose watch streams the test can break. */
interface Fixture {
  writer: RegistrySeam;
  /** The same registry through another connection: its watch streams are the ones severed. */
  reader: RegistrySeam;
  prefix: string;
  /** Breaks the reader's watch streams until `restore`; writers carry on. */
  sever(): Promise<void>;
  restore(): Promise<void>;
  /** Compacts the store's history up to its current revision. */
  compact(): Promise<bigint>;
  /** Reads every key under `prefix` as of `revision`. */
  readAt(prefix: string, revision: bigint): Promise<string[]>;
  /** Lets time pass: a real wait on etcd, a clock step on the twin. */
  elapse(ms: number): Promise<void>;
  /** Revokes a lease from elsewhere, as an operator or etcd's own expiry would. */
  revoke(lease: PresenceLease): Promise<void>;
  follow(prefix: string, handlers: MirrorHandlers): MirrorHandle;
}

interface Backend {
  open(): Fixture;
}

function memoryBackend(): Backend {
  return {
    open() {
      const clock = new FakeClock();
      const store = new MemoryStore(clock);
      const prefix = '/_coreos.com/fleet/';
      return {
        writer: openMemoryRegistry(store, prefix),
        reader: openMemoryRegistry(store, prefix),
        prefix,
        sever: async () => store.severWatches(),
        restore: async () => store.restoreWatches(),
        compact: async () => {
          const revision = store.revision;
          store.compact(revision);
          return revision;
        },
        readAt: async (keyPrefix, revision) =>
          store.range(keyPrefix, revision).kvs.map((kv) => kv.key),
        elapse: async (ms) => clock.advance(ms),
        revoke: async (lease) => store.revoke(lease.leaseID),
        follow: (keyPrefix, handlers) => memoryMirrorSource(store).follow(keyPrefix, handlers),
      };
    },
  };
}

/** Three members: the reader talks to member 0 alone, writers to the others. */
function etcdBackend(): Backend {
  const etcd = useEtcd({ members: 3 });
  let writerClient: Etcd3;
  let readerClient: Etcd3;
  beforeAll(() => {
    const config = etcd.cluster.clientConfig();
    writerClient = createEtcdClient({ ...config, endpoints: etcd.cluster.endpoints.slice(1) });
    readerClient = createEtcdClient({ ...config, endpoints: [etcd.cluster.endpoints[0]!] });
  });
  afterAll(() => {
    writerClient?.close();
    readerClient?.close();
  });
  afterEach(async () => {
    // A test that failed half-way may have left member 0 down.
    if (etcd.cluster.pids().length < 3) await etcd.cluster.startMember(0);
  });
  return {
    open() {
      const prefix = `/contract-${randomUUID()}/`;
      const seam = (client: Etcd3) => openRegistry(client, prefix, () => undefined);
      return {
        writer: seam(writerClient),
        reader: seam(readerClient),
        prefix,
        sever: () => etcd.cluster.stopMember(0),
        restore: () => etcd.cluster.startMember(0),
        compact: async () => {
          const { header } = await writerClient.get(`${prefix}any`).exec();
          await writerClient.kv.compact({ revision: header.revision, physical: true });
          return BigInt(header.revision);
        },
        readAt: async (keyPrefix, revision) => {
          const { kvs } = await readPrefix(writerClient, keyPrefix, {
            revision: revision.toString(),
          });
          return kvs.map((kv) => kv.key.toString());
        },
        elapse: (ms) => sleep(ms),
        revoke: async (lease) => {
          await writerClient.leaseClient.leaseRevoke({ ID: lease.leaseID });
        },
        follow: (keyPrefix, handlers) => etcdMirrorSource(readerClient).follow(keyPrefix, handlers),
      };
    },
  };
}

const service = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');
const replacement = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
const global = UnitFile.parse('[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nGlobal=true\n');
const globalNext = UnitFile.parse('[Service]\nExecStart=/bin/false\n\n[X-Fleet]\nGlobal=true\n');

function machineRecord(id: string, sessionToken: string = randomUUID()): MachineRecord {
  return {
    id,
    publicIP: '10.0.0.1',
    metadata: { region: 'east' },
    capabilities: { disableEngine: false },
    version: 'test',
    sessionToken,
  };
}

function unitState(hash: string, launched: boolean): UnitStateRecord {
  return { loadState: 'loaded', activeState: 'active', subState: 'running', hash, launched };
}

/** `values` without repeats of the value just before. */
function distinctInTurn(values: readonly string[]): string[] {
  return values.filter((value, index) => index === 0 || values[index - 1] !== value);
}

function contract(backend: Backend): void {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  });

  function open(): Fixture {
    return backend.open();
  }

  async function register(seam: RegistrySeam, id: string, token?: string) {
    const lease = await seam.presence.open(machineRecord(id, token), TTL_MS);
    stops.push(() => lease.close());
    return lease;
  }

  function engineView(seam: RegistrySeam): EngineView {
    const view = seam.engineView(() => undefined);
    stops.push(() => view.stop());
    return view;
  }

  /** An agent's schedule feed, and the global units' names at every change it signalled. */
  async function agentSchedule(seam: RegistrySeam, machineID: string) {
    const seen: string[][] = [];
    const feed: AgentSchedule = seam.agentSchedule(machineID, () => {
      seen.push([...feed.snapshot().globals.keys()].sort());
    });
    stops.push(() => feed.stop());
    await feed.watch();
    return { feed, seen };
  }

  /** A machine that leads, with an engine view mirroring the registry state. */
  async function leader(fx: Fixture, id: string) {
    const lease = await register(fx.writer, id);
    const leadership = fx.writer.leadership(lease);
    await leadership.campaign();
    const view = engineView(fx.writer);
    await view.watch();
    await view.mirrorState({ watch: true });
    return { lease, leadership, view };
  }

  /** The change that schedules `name` to `machineID`, from what `view` shows now. */
  async function decide(
    view: EngineView,
    name: string,
    machineID: string,
  ): Promise<ScheduleChange> {
    await vi.waitFor(() => expect(view.snapshot().units.has(name)).toBe(true), EVENTUALLY);
    const snapshot = view.snapshot();
    const unit = snapshot.units.get(name)!;
    const placement = snapshot.placements.get(name);
    return {
      type: 'schedule',
      unitName: name,
      machineID,
      fromMachineID: placement?.machineID ?? null,
      entry: { hash: unit.record.hash, desiredState: unit.record.desiredState },
      unitModRevision: unit.modRevision,
      placementModRevision: placement?.modRevision ?? '0',
    };
  }

  async function scheduleTo(
    fx: Fixture,
    { leadership, view }: { leadership: Leadership; view: EngineView },
    name: string,
    machineID: string,
  ): Promise<void> {
    const result = await fx.writer.scheduleWriter.apply(leadership.fence!, [
      await decide(view, name, machineID),
    ]);
    expect(result.applied).toHaveLength(1);
    expect(await view.placementsCaughtUp(result.revision!, EVENTUALLY.timeout)).toBe(true);
  }

  async function scheduledOn(seam: RegistrySeam, machineID: string) {
    const { feed } = await agentSchedule(seam, machineID);
    return (name: string, expected: { hash: string; desiredState: JobState } | undefined) =>
      vi.waitFor(() => expect(feed.snapshot().scheduled.get(name)).toEqual(expected), EVENTUALLY);
  }

  describe('unit reads and writes', () => {
    it('create, replace, desired state and destroy keep a placed unit’s schedule entry in step', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      expect(await fx.writer.units.get('a.service')).toMatchObject({
        name: 'a.service',
        hash: service.hash,
        desiredState: 'launched',
        global: false,
      });
      expect(await fx.reader.cluster.unit('a.service')).toMatchObject({
        currentState: 'inactive',
        machineID: null,
      });

      const engine = await leader(fx, 'm1');
      await scheduleTo(fx, engine, 'a.service', 'm1');
      const entryOf = await scheduledOn(fx.reader, 'm1');
      await entryOf('a.service', { hash: service.hash, desiredState: 'launched' });
      await fx.writer
        .publications(engine.lease)
        .publish([{ name: 'a.service', state: unitState(service.hash, true) }]);
      expect(await fx.reader.cluster.unit('a.service')).toMatchObject({
        currentState: 'launched',
        machineID: 'm1',
      });

      expect(await fx.writer.units.setDesiredState('a.service', 'loaded')).toBe(true);
      await entryOf('a.service', { hash: service.hash, desiredState: 'loaded' });
      await fx.writer.units.put('a.service', replacement, 'launched');
      await entryOf('a.service', { hash: replacement.hash, desiredState: 'launched' });
      // The target still reports the replaced content.
      expect((await fx.reader.cluster.units())[0]).toMatchObject({ currentState: 'inactive' });

      expect(await fx.writer.units.setDesiredState('a.service', 'inactive')).toBe(true);
      await entryOf('a.service', undefined);
      expect(await fx.reader.cluster.unit('a.service')).toMatchObject({ machineID: null });

      expect(await fx.writer.units.destroy('a.service')).toBe(true);
      expect(await fx.writer.units.get('a.service')).toBeNull();
      expect(await fx.writer.units.destroy('a.service')).toBe(false);
      expect(await fx.writer.units.setDesiredState('a.service', 'launched')).toBe(false);
      expect(await fx.reader.cluster.units()).toEqual([]);
    });

    it('creates a unit only if absent, handing back the one that exists', async () => {
      const fx = open();
      expect(await fx.writer.units.createIfAbsent('a.service', service, 'loaded')).toBeNull();
      const existing = await fx.reader.units.createIfAbsent('a.service', replacement, 'launched');
      expect(existing).toMatchObject({ hash: service.hash, desiredState: 'loaded' });
      expect(await fx.writer.units.get('a.service')).toMatchObject({ hash: service.hash });
    });

    it('a write that lost a race is made again over what the other writer wrote', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      await fx.reader.units.put('a.service', replacement, 'launched');
      // The writer's last write is stale now: its guarded commit fails and it reads again.
      expect(await fx.writer.units.setDesiredState('a.service', 'loaded')).toBe(true);
      expect(await fx.reader.units.get('a.service')).toMatchObject({
        hash: replacement.hash,
        desiredState: 'loaded',
      });

      const states: JobState[] = ['launched', 'loaded', 'inactive', 'launched', 'loaded'];
      await Promise.all(
        states.map((state, index) =>
          (index % 2 === 0 ? fx.writer : fx.reader).units.setDesiredState('a.service', state),
        ),
      );
      const final = await fx.writer.units.get('a.service');
      expect(states).toContain(final?.desiredState);
      expect(final?.hash).toBe(replacement.hash);
    });

    it('a write called off before it commits changes nothing', async () => {
      const fx = open();
      await register(fx.writer, 'm1');
      await fx.writer.units.put('a.service', service, 'launched');
      const caller = new AbortController();
      caller.abort(new Error('the client went away'));
      const { signal } = caller;
      const writes = [
        fx.writer.units.put('a.service', replacement, 'loaded', { signal }),
        fx.writer.units.createIfAbsent('b.service', service, 'loaded', { signal }),
        fx.writer.units.setDesiredState('a.service', 'inactive', { signal }),
        fx.writer.units.destroy('a.service', { signal }),
        fx.writer.machines.editMetadata([{ machineID: 'm1', key: 'role', value: 'web' }], {
          signal,
        }),
      ];
      for (const write of writes) await expect(write).rejects.toThrow('the client went away');
      expect(await fx.reader.units.get('a.service')).toMatchObject({
        hash: service.hash,
        desiredState: 'launched',
      });
      expect(await fx.reader.units.get('b.service')).toBeNull();
      expect((await fx.reader.cluster.machines())[0]?.metadata).not.toHaveProperty('role');
    });

    it('mirrors a global unit where every agent watches it, and never places it', async () => {
      const fx = open();
      await fx.writer.units.put('g.service', global, 'launched');
      const { feed } = await agentSchedule(fx.reader, 'any-machine');
      expect(feed.snapshot().globals.get('g.service')).toEqual({
        hash: global.hash,
        desiredState: 'launched',
      });
      expect(await fx.reader.cluster.unit('g.service')).toMatchObject({
        global: true,
        currentState: null,
        machineID: null,
      });
      await fx.writer.units.destroy('g.service');
      await vi.waitFor(() => expect(feed.snapshot().globals.size).toBe(0), EVENTUALLY);
    });

    it('sweeps the bodies no unit references, and keeps those still referenced', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      await fx.writer.units.put('b.service', service, 'launched');
      await fx.writer.units.put('a.service', replacement, 'launched');
      await fx.writer.units.destroy('b.service');
      fx.writer.unitFileCollector.sweepSoon();
      await fx.writer.unitFileCollector.flush();
      const bodies = await fx.readAt(`${fx.prefix}unit-files/`, await fx.compact());
      expect(bodies).toEqual([`${fx.prefix}unit-files/${replacement.hash}`]);
    });
  });

  describe('batches of unit writes', () => {
    /** An entry that makes `change` of the unit whatever it is, noting each record it saw. */
    function entry(name: string, change: UnitChange | null, seen: Array<UnitRecord | null> = []) {
      return {
        name,
        decide: (current: UnitRecord | null) => {
          seen.push(current);
          return change;
        },
      };
    }
    const stored = async (seam: RegistrySeam, name: string) => {
      const unit = await seam.units.get(name);
      return unit === null ? null : [unit.hash, unit.desiredState];
    };

    it('creates, replaces and changes desired states, each unit by its own decision', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      await fx.writer.units.put('b.service', service, 'inactive');
      const results = await fx.writer.units.applyBatch([
        entry('c.service', { type: 'put', unitFile: service, desiredState: 'loaded' }),
        entry('a.service', { type: 'put', unitFile: replacement, desiredState: 'inactive' }),
        entry('b.service', { type: 'desired-state', desiredState: 'launched' }),
        entry('d.service', null),
        entry('g.service', { type: 'put', unitFile: global, desiredState: 'launched' }),
      ]);
      expect(results.map((result) => result.outcome)).toEqual([
        'written',
        'written',
        'written',
        'unchanged',
        'written',
      ]);
      expect(await stored(fx.reader, 'a.service')).toEqual([replacement.hash, 'inactive']);
      expect(await stored(fx.reader, 'b.service')).toEqual([service.hash, 'launched']);
      expect(await stored(fx.reader, 'c.service')).toEqual([service.hash, 'loaded']);
      expect(await stored(fx.reader, 'd.service')).toBeNull();
      const { feed } = await agentSchedule(fx.reader, 'any-machine');
      expect(feed.snapshot().globals.get('g.service')).toEqual({
        hash: global.hash,
        desiredState: 'launched',
      });
    });

    it('keeps a scheduled unit’s entry in step, as a single write does', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      const engine = await leader(fx, 'm1');
      await scheduleTo(fx, engine, 'a.service', 'm1');
      const entryOf = await scheduledOn(fx.reader, 'm1');
      await fx.writer.units.applyBatch([
        entry('a.service', { type: 'desired-state', desiredState: 'loaded' }),
      ]);
      await entryOf('a.service', { hash: service.hash, desiredState: 'loaded' });
      await fx.writer.units.applyBatch([
        entry('a.service', { type: 'desired-state', desiredState: 'inactive' }),
      ]);
      await entryOf('a.service', undefined);
      expect(await fx.reader.cluster.unit('a.service')).toMatchObject({ machineID: null });
    });

    it('decides again a unit another writer changed meanwhile, keeping the others’ writes', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      // The writer's own last write is stale now: a guard built on it fails.
      await fx.reader.units.put('a.service', replacement, 'launched');
      const seen: Array<UnitRecord | null> = [];
      const results = await fx.writer.units.applyBatch([
        entry('b.service', { type: 'put', unitFile: service, desiredState: 'loaded' }),
        entry('a.service', { type: 'desired-state', desiredState: 'loaded' }, seen),
        entry('c.service', { type: 'put', unitFile: replacement, desiredState: 'loaded' }),
      ]);
      expect(results.map((result) => result.outcome)).toEqual(['written', 'written', 'written']);
      expect(seen.at(-1)).toMatchObject({ hash: replacement.hash, desiredState: 'launched' });
      expect(await stored(fx.reader, 'a.service')).toEqual([replacement.hash, 'loaded']);
      expect(await stored(fx.reader, 'b.service')).toEqual([service.hash, 'loaded']);
      expect(await stored(fx.reader, 'c.service')).toEqual([replacement.hash, 'loaded']);
    });

    it('stays within etcd’s operations cap, however many units and bodies', async () => {
      const fx = open();
      const names = Array.from({ length: 300 }, (_, index) => `u${index}.service`);
      const unitFile = (index: number) =>
        UnitFile.parse(`[Service]\nExecStart=/bin/sleep ${index}\n`);
      const results = await fx.writer.units.applyBatch(
        names.map((name, index) =>
          entry(name, { type: 'put', unitFile: unitFile(index % 150), desiredState: 'launched' }),
        ),
      );
      expect(results.filter((result) => result.outcome !== 'written')).toEqual([]);
      const units = await fx.reader.cluster.units();
      expect(units).toHaveLength(300);
      expect(await stored(fx.reader, 'u299.service')).toEqual([unitFile(149).hash, 'launched']);
    });

    it(
      'stays under etcd’s request size with bodies of 1 MiB',
      async () => {
        const fx = open();
        // 1 MiB of unit text each, in lines short enough to be valid.
        const big = (tag: string) =>
          new UnitFile(
            Array.from({ length: 1024 }, (_, line) => ({
              section: 'Service',
              name: 'Environment',
              value: `${tag}${line}=${'x'.repeat(1010)}`,
            })),
          );
        const files = ['a', 'b', 'c'].map(big);
        expect(Buffer.byteLength(files[0]!.serialized)).toBeGreaterThan(1024 * 1024);
        const results = await fx.writer.units.applyBatch([
          ...files.map((unitFile, index) =>
            entry(`big${index}.service`, { type: 'put', unitFile, desiredState: 'launched' }),
          ),
          entry('small.service', { type: 'put', unitFile: service, desiredState: 'launched' }),
          entry('huge.service', {
            type: 'put',
            unitFile: new UnitFile([...files[0]!.options, ...files[1]!.options]),
            desiredState: 'launched',
          }),
        ]);
        // A unit no request can carry fails alone.
        expect(results.map((result) => result.outcome)).toEqual([
          'written',
          'written',
          'written',
          'written',
          'failed',
        ]);
        expect(await stored(fx.reader, 'huge.service')).toBeNull();
        expect(await stored(fx.reader, 'big2.service')).toEqual([files[2]!.hash, 'launched']);
      },
      SLOW_TEST_MS,
    );

    it('a batch called off before it commits changes nothing', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      const caller = new AbortController();
      caller.abort(new Error('the client went away'));
      await expect(
        fx.writer.units.applyBatch(
          [
            entry('a.service', { type: 'desired-state', desiredState: 'inactive' }),
            entry('b.service', { type: 'put', unitFile: service, desiredState: 'loaded' }),
          ],
          { signal: caller.signal },
        ),
      ).rejects.toThrow('the client went away');
      expect(await stored(fx.reader, 'a.service')).toEqual([service.hash, 'launched']);
      expect(await stored(fx.reader, 'b.service')).toBeNull();
    });
  });

  describe('machine presence', () => {
    it('appears on registering, refuses another session, and lets the same session take over', async () => {
      const fx = open();
      const token = randomUUID();
      const first = await register(fx.writer, 'm1', token);
      expect(first.machineID).toBe('m1');
      expect(first.grantedTtlSeconds).toBe(TTL_MS / 1000);
      expect(await fx.reader.cluster.machines()).toEqual([
        {
          id: 'm1',
          publicIP: '10.0.0.1',
          metadata: { region: 'east' },
          capabilities: { disableEngine: false },
          version: 'test',
        },
      ]);
      await expect(fx.reader.presence.open(machineRecord('m1'), TTL_MS)).rejects.toBeInstanceOf(
        MachineConflictError,
      );
      const second = await register(fx.reader, 'm1', token);
      first.abandon();
      await fx.elapse(TTL_MS * 2);
      expect(second.renewedWithin(TTL_MS)).toBe(true);
      expect((await fx.reader.cluster.machines()).map((machine) => machine.id)).toEqual(['m1']);
    });

    it(
      'stays while its lease is renewed and vanishes a TTL after it is abandoned',
      async () => {
        const fx = open();
        const lease = await register(fx.writer, 'm1');
        await fx.elapse(TTL_MS * 2);
        expect(lease.renewedWithin(TTL_MS)).toBe(true);
        // etcd rounds the time left down to whole seconds: 0 is still a live lease.
        expect(await lease.isAlive()).toBe(true);
        expect(await fx.reader.cluster.machines()).toHaveLength(1);

        lease.abandon();
        await fx.elapse(TTL_MS);
        await vi.waitFor(
          async () => expect(await fx.reader.cluster.machines()).toEqual([]),
          EVENTUALLY,
        );
        expect(await lease.isAlive()).toBe(false);
      },
      SLOW_TEST_MS,
    );

    it('carries the peer address a fleetd publishes, and none when it publishes none', async () => {
      const fx = open();
      const peered = await fx.writer.presence.open(
        { ...machineRecord('m1'), peerAddress: '10.0.0.1:54729' },
        TTL_MS,
      );
      stops.push(() => peered.close());
      await register(fx.writer, 'm2');
      const machines = await fx.reader.cluster.machines();
      expect(machines.map((machine) => [machine.id, machine.peerAddress])).toEqual([
        ['m1', '10.0.0.1:54729'],
        ['m2', undefined],
      ]);
      expect(machines[1]).not.toHaveProperty('peerAddress');
      await peered.update({ ...machineRecord('m1'), peerAddress: '10.0.0.9:54729' });
      expect((await fx.reader.cluster.machines())[0]?.peerAddress).toBe('10.0.0.9:54729');
    });

    it('merges metadata set through the API over the configured one', async () => {
      const fx = open();
      await register(fx.writer, 'm1');
      await fx.reader.machines.editMetadata([
        { machineID: 'm1', key: 'region', value: 'west' },
        { machineID: 'm1', key: 'disk', value: 'ssd' },
        { machineID: 'm1', key: 'disk', value: null },
      ]);
      expect((await fx.reader.cluster.machines())[0]?.metadata).toEqual({ region: 'west' });
    });

    it('hears that its lease was revoked elsewhere; presence, states and leadership go with it', async () => {
      const fx = open();
      const engine = await leader(fx, 'm1');
      const lost: Error[] = [];
      engine.lease.onLost((err) => lost.push(err));
      await fx.writer
        .publications(engine.lease)
        .publish([{ name: 'a.service', state: unitState(service.hash, false) }]);
      const watcher = engineView(fx.reader);
      await watcher.watch();
      expect(watcher.leaderMachineID()).toBe('m1');

      await fx.revoke(engine.lease);
      await vi.waitFor(() => expect(lost.length).toBeGreaterThan(0), EVENTUALLY);
      await vi.waitFor(() => expect(watcher.leaderMachineID()).toBeNull(), EVENTUALLY);
      expect(await fx.reader.cluster.machines()).toEqual([]);
      expect(await fx.reader.cluster.unitStates()).toEqual([]);
      expect(await engine.lease.isAlive()).toBe(false);
    });
  });

  describe('leadership', () => {
    it('goes to the first to campaign; the others learn who leads; resigning frees it at once', async () => {
      const fx = open();
      const m1 = fx.writer.leadership(await register(fx.writer, 'm1'));
      const m2 = fx.reader.leadership(await register(fx.reader, 'm2'));
      const won = await m1.campaign();
      expect(won?.machineID).toBe('m1');
      expect(m1.fence).not.toBeNull();
      expect(await m1.campaign()).toEqual(won);
      expect(await m2.campaign()).toEqual(won);
      expect(m2.fence).toBeNull();

      await m1.resign();
      expect(m1.fence).toBeNull();
      expect((await m2.campaign())?.machineID).toBe('m2');
      expect(m2.fence).not.toBeNull();
      expect((await m1.campaign())?.machineID).toBe('m2');
      m2.lose();
      expect(m2.fence).toBeNull();
    });

    it(
      'refuses every fenced write of a leader whose lease expired, once another leads',
      async () => {
        const fx = open();
        await fx.writer.units.put('a.service', service, 'launched');
        const old = await leader(fx, 'm1');
        const staleFence = old.leadership.fence!;
        const change = await decide(old.view, 'a.service', 'm1');

        old.lease.abandon();
        await fx.elapse(TTL_MS);
        const successor = fx.reader.leadership(await register(fx.reader, 'm2'));
        await vi.waitFor(
          async () => expect((await successor.campaign())?.machineID).toBe('m2'),
          EVENTUALLY,
        );

        const result = await fx.writer.scheduleWriter.apply(staleFence, [change]);
        expect(result).toEqual({ applied: [], revision: null, deposed: true });
        expect(await fx.reader.cluster.unit('a.service')).toMatchObject({ machineID: null });
        expect((await old.leadership.campaign())?.machineID).toBe('m2');
        expect(old.leadership.fence).toBeNull();
      },
      SLOW_TEST_MS,
    );

    it('leaves out a change whose unit changed after the decision, and commits the rest', async () => {
      const fx = open();
      await fx.writer.units.put('a.service', service, 'launched');
      await fx.writer.units.put('b.service', service, 'launched');
      const engine = await leader(fx, 'm1');
      const changes = [
        await decide(engine.view, 'a.service', 'm1'),
        await decide(engine.view, 'b.service', 'm1'),
      ];
      await fx.reader.units.put('a.service', replacement, 'launched');

      const result = await fx.writer.scheduleWriter.apply(engine.leadership.fence!, changes);
      expect(result.deposed).toBe(false);
      expect(result.applied.map((change) => change.unitName)).toEqual(['b.service']);
      expect(result.revision).not.toBeNull();
      expect((await fx.reader.cluster.units()).map((unit) => unit.machineID)).toEqual([null, 'm1']);
    });
  });

  describe('cordons and drains', () => {
    it('cordon, drain and uncordon as durable records that the leader’s view mirrors', async () => {
      const fx = open();
      const { view } = await leader(fx, 'm1');
      await fx.writer.cordons.cordon('m2');
      expect(await fx.reader.cordons.list()).toEqual(
        new Map([['m2', { record: { drain: null }, modRevision: expect.any(String) }]]),
      );

      await fx.writer.cordons.drain('m2', 2);
      await fx.writer.cordons.cordon('m2');
      const fresh = { maxParallel: 2, moving: [], moved: [], stayed: [], done: false };
      expect((await fx.reader.cordons.list()).get('m2')?.record).toEqual({ drain: fresh });
      await vi.waitFor(
        () => expect(view.snapshot().cordons.get('m2')?.record).toEqual({ drain: fresh }),
        EVENTUALLY,
      );

      expect(await fx.writer.cordons.uncordon('m2')).toBe(true);
      expect(await fx.writer.cordons.uncordon('m2')).toBe(false);
      expect(await fx.reader.cordons.list()).toEqual(new Map());
      await vi.waitFor(() => expect(view.snapshot().cordons.size).toBe(0), EVENTUALLY);
    });

    it('records a drain’s progress only for the leader, and only over the cordon it saw', async () => {
      const fx = open();
      const { leadership } = await leader(fx, 'm1');
      await fx.writer.cordons.drain('m2', 1);
      const seen = (await fx.reader.cordons.list()).get('m2')!;
      const progress = {
        maxParallel: 1,
        moving: ['a.service'],
        moved: [],
        stayed: [],
        done: false,
      };
      const fence = leadership.fence!;

      expect(await fx.writer.drainProgress.record(fence, 'm2', seen.modRevision, progress)).toBe(
        true,
      );
      expect((await fx.reader.cordons.list()).get('m2')?.record.drain).toEqual(progress);
      // The cordon changed since: a stale decision writes nothing.
      expect(await fx.writer.drainProgress.record(fence, 'm2', seen.modRevision, progress)).toBe(
        false,
      );
      const current = (await fx.reader.cordons.list()).get('m2')!;
      await leadership.resign();
      const other = fx.reader.leadership(await register(fx.reader, 'm3'));
      await other.campaign();
      expect(await fx.writer.drainProgress.record(fence, 'm2', current.modRevision, progress)).toBe(
        false,
      );
    });

    it('outlive the presence of the machine they name', async () => {
      const fx = open();
      const lease = await register(fx.writer, 'm2');
      await fx.writer.cordons.cordon('m2');
      await lease.close();
      expect([...(await fx.reader.cordons.list()).keys()]).toEqual(['m2']);
    });
  });

  describe('rollouts', () => {
    function rollout(id: string): RolloutRecord {
      return {
        id,
        createdAt: 1,
        units: [{ name: 'g.service', oldHash: global.hash, newHash: globalNext.hash }],
        maxParallel: 1,
        minHealthyMs: 0,
        healthyDeadlineMs: 60_000,
        autoRevert: true,
        canary: 0,
        canaryPassed: false,
        healthCmd: null,
        status: 'running',
        steps: [{ unit: 'g.service', machineID: 'm2', phase: 'waiting' }],
        message: 'Rollout started',
      };
    }

    it('holds a machine’s global unit to the pinned content while the record names another', async () => {
      const fx = open();
      await fx.writer.units.put('g.service', global, 'launched');
      const pin = { machineID: 'm2', unit: 'g.service', hash: global.hash };
      expect(await fx.writer.rollouts.create(rollout('r1'), [pin])).toBe(true);
      // The same ID, or a pin another rollout holds, is refused.
      expect(await fx.writer.rollouts.create(rollout('r1'), [])).toBe(false);
      expect(await fx.writer.rollouts.create(rollout('r2'), [pin])).toBe(false);
      await fx.writer.units.put('g.service', globalNext, 'launched');
      const { feed } = await agentSchedule(fx.reader, 'm2');
      expect(feed.snapshot().pins).toEqual(new Map([['g.service', global.hash]]));
      expect(feed.snapshot().globals.get('g.service')?.hash).toBe(globalNext.hash);
      const { feed: other } = await agentSchedule(fx.reader, 'm3');
      expect(other.snapshot().pins).toEqual(new Map());

      const [stored] = await fx.reader.rollouts.list();
      expect(stored?.record).toEqual(rollout('r1'));
      expect(await fx.reader.rollouts.get('r1')).toEqual(stored);
      expect(await fx.reader.rollouts.get('r2')).toBeNull();
      const released = { ...rollout('r1'), status: 'aborted' as const };
      expect(
        await fx.writer.rollouts.update(
          stored!.modRevision,
          released,
          [{ ...pin, hash: null }],
          null,
        ),
      ).toBe(true);
      await vi.waitFor(() => expect(feed.snapshot().pins.size).toBe(0), EVENTUALLY);
      // A stale decision writes nothing.
      expect(await fx.writer.rollouts.update(stored!.modRevision, rollout('r1'), [], null)).toBe(
        false,
      );
    });

    it('rewrites a rollout for the leader only while its fence holds', async () => {
      const fx = open();
      const { leadership } = await leader(fx, 'm1');
      expect(await fx.writer.rollouts.create(rollout('r1'), [])).toBe(true);
      const fence = leadership.fence!;
      const seen = (await fx.reader.rollouts.get('r1'))!;
      expect(await fx.writer.rollouts.update(seen.modRevision, rollout('r1'), [], fence)).toBe(
        true,
      );
      const current = (await fx.reader.rollouts.get('r1'))!;
      await leadership.resign();
      const other = fx.reader.leadership(await register(fx.reader, 'm3'));
      await other.campaign();
      expect(await fx.writer.rollouts.update(current.modRevision, rollout('r1'), [], fence)).toBe(
        false,
      );
    });

    it('carries a pin’s health command to its agent, and the result back under the lease', async () => {
      const fx = open();
      const pin = { machineID: 'm2', unit: 'g.service', hash: globalNext.hash, healthCmd: 'true' };
      expect(await fx.writer.rollouts.create(rollout('r1'), [pin])).toBe(true);
      const { feed } = await agentSchedule(fx.reader, 'm2');
      expect(feed.snapshot().healthChecks).toEqual(
        new Map([['g.service', { rollout: 'r1', hash: globalNext.hash, command: 'true' }]]),
      );
      const lease = await register(fx.writer, 'm2');
      const report = { rollout: 'r1', hash: globalNext.hash, ok: true };
      await fx.writer.publications(lease).publishHealth('g.service', report);
      expect(await fx.reader.rollouts.health()).toEqual([
        { ...report, machineID: 'm2', unit: 'g.service' },
      ]);
      await fx.writer.publications(lease).publishHealth('g.service', null);
      expect(await fx.reader.rollouts.health()).toEqual([]);
      await fx.writer.publications(lease).publishHealth('g.service', report);
      await lease.close();
      expect(await fx.reader.rollouts.health()).toEqual([]);
    });

    it('keeps the bodies a running rollout holds from the sweep, until it ends', async () => {
      const fx = open();
      await fx.writer.units.put('g.service', global, 'launched');
      expect(await fx.writer.rollouts.create(rollout('r1'), [])).toBe(true);
      await fx.writer.units.put('g.service', globalNext, 'launched');
      fx.writer.unitFileCollector.sweepSoon();
      await fx.writer.unitFileCollector.flush();
      const held = await fx.readAt(`${fx.prefix}unit-files/`, await fx.compact());
      expect(held.sort()).toEqual(
        [global.hash, globalNext.hash].map((hash) => `${fx.prefix}unit-files/${hash}`).sort(),
      );
      const stored = (await fx.reader.rollouts.get('r1'))!;
      const done = { ...rollout('r1'), status: 'completed' as const };
      expect(await fx.writer.rollouts.update(stored.modRevision, done, [], null)).toBe(true);
      fx.writer.unitFileCollector.sweepSoon();
      await fx.writer.unitFileCollector.flush();
      expect(await fx.readAt(`${fx.prefix}unit-files/`, await fx.compact())).toEqual([
        `${fx.prefix}unit-files/${globalNext.hash}`,
      ]);
    });
  });

  describe('agent schedule and publications', () => {
    it('signals the schedule’s changes in the order they were made', async () => {
      const fx = open();
      const { feed, seen } = await agentSchedule(fx.reader, 'm1');
      await fx.writer.units.put('g1.service', global, 'launched');
      await fx.writer.units.put('g2.service', global, 'launched');
      await fx.writer.units.put('g3.service', global, 'launched');
      await fx.writer.units.destroy('g1.service');
      await fx.writer.machines.editMetadata([{ machineID: 'm1', key: 'role', value: 'web' }]);
      await vi.waitFor(
        () => expect(feed.snapshot().dynamicMetadata.get('role')).toBe('web'),
        EVENTUALLY,
      );
      const history = [
        [],
        ['g1.service'],
        ['g1.service', 'g2.service'],
        ['g1.service', 'g2.service', 'g3.service'],
        ['g2.service', 'g3.service'],
      ].map((names) => names.join());
      const steps = seen.map((names) => history.indexOf(names.join()));
      expect(steps).not.toContain(-1);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
      expect(steps.at(-1)).toBe(history.length - 1);
    });

    it(
      'resumes after its watch stream broke, with the changes made meanwhile',
      async () => {
        const fx = open();
        const { feed, seen } = await agentSchedule(fx.reader, 'm1');
        await fx.writer.units.put('g1.service', global, 'launched');
        await vi.waitFor(() => expect(feed.snapshot().globals.size).toBe(1), EVENTUALLY);

        await fx.sever();
        await fx.writer.units.put('g2.service', global, 'launched');
        await fx.writer.units.destroy('g1.service');
        await fx.restore();
        await fx.writer.units.put('g3.service', global, 'launched');

        await vi.waitFor(
          () => expect([...feed.snapshot().globals.keys()]).toEqual(['g2.service', 'g3.service']),
          EVENTUALLY,
        );
        expect(distinctInTurn(seen.map((names) => names.join()))).toEqual([
          '',
          'g1.service',
          'g1.service,g2.service',
          'g2.service',
          'g2.service,g3.service',
        ]);
      },
      SLOW_TEST_MS,
    );

    it('hears every key a transaction wrote, not only its first', async () => {
      const fx = open();
      const events: string[] = [];
      const handle = fx.follow(fx.prefix, {
        onReset: () => undefined,
        onEvent: (event) => events.push(`${event.type} ${event.key.slice(fx.prefix.length)}`),
      });
      stops.push(() => handle.stop());
      await handle.ready;

      await fx.writer.units.put('g1.service', global, 'launched');
      await vi.waitFor(
        () =>
          expect([...events].sort()).toEqual([
            'put global/g1.service',
            `put unit-files/${global.hash}`,
            'put units/g1.service',
          ]),
        EVENTUALLY,
      );
    });

    it(
      'lists again when the history its watch must resume from was compacted',
      async () => {
        const fx = open();
        const globals = `${fx.prefix}global/`;
        await fx.writer.units.put('g1.service', global, 'launched');
        const resets: KeyValueRecord[][] = [];
        const events: string[] = [];
        const errors: Error[] = [];
        const handle = fx.follow(globals, {
          onReset: (records) => resets.push(records),
          onEvent: (event) => events.push(`${event.type} ${event.key}`),
          onError: (err) => errors.push(err),
        });
        stops.push(() => handle.stop());
        await handle.ready;
        const { feed } = await agentSchedule(fx.reader, 'm1');

        await fx.sever();
        await fx.writer.units.put('g2.service', global, 'launched');
        await fx.writer.units.destroy('g1.service');
        const compactedAt = await fx.compact();
        await expect(fx.readAt(globals, compactedAt - 1n)).rejects.toThrow(
          /required revision has been compacted/,
        );
        await fx.restore();

        await vi.waitFor(() => expect(resets).toHaveLength(2), EVENTUALLY);
        expect(resets[1]!.map((record) => record.key)).toEqual([`${globals}g2.service`]);
        expect(events).toEqual([]);
        expect(errors.some((err) => err.message.includes('canceled'))).toBe(true);
        await vi.waitFor(
          () => expect([...feed.snapshot().globals.keys()]).toEqual(['g2.service']),
          EVENTUALLY,
        );

        await fx.writer.units.put('g3.service', global, 'launched');
        await vi.waitFor(() => expect(events).toEqual([`put ${globals}g3.service`]), EVENTUALLY);
      },
      SLOW_TEST_MS,
    );

    it(
      'publishes states under the lease, beyond one transaction’s worth, and they vanish with it',
      async () => {
        const fx = open();
        const lease = await register(fx.writer, 'm1');
        const publications = fx.writer.publications(lease);
        const names = Array.from({ length: 300 }, (_, index) => `u${index}.service`);
        await publications.publish(
          names.map((name) => ({ name, state: unitState(service.hash, true) })),
        );
        expect(await fx.reader.cluster.unitStates()).toHaveLength(300);
        await publications.publish([{ name: 'u0.service', state: null }]);
        expect(await fx.reader.states.forUnit('u0.service')).toEqual([]);
        expect(await fx.reader.states.forUnit('u1.service')).toEqual([
          { name: 'u1.service', machineID: 'm1', ...unitState(service.hash, true) },
        ]);

        lease.abandon();
        await fx.elapse(TTL_MS);
        await vi.waitFor(
          async () => expect(await fx.reader.cluster.unitStates()).toEqual([]),
          EVENTUALLY,
        );
      },
      SLOW_TEST_MS,
    );

    it('refuses a transaction of more operations than etcd’s cap', async () => {
      const fx = open();
      const edits = (count: number) =>
        Array.from({ length: count }, (_, index) => ({
          machineID: 'm1',
          key: `k${index}`,
          value: 'v',
        }));
      await expect(fx.writer.machines.editMetadata(edits(129))).rejects.toThrow(
        /too many operations in txn request/,
      );
      await fx.writer.machines.editMetadata(edits(128));
      const { feed } = await agentSchedule(fx.reader, 'm1');
      expect(feed.snapshot().dynamicMetadata.size).toBe(128);
    });
  });
}

describe('registry contract: in-memory twin', () => {
  contract(memoryBackend());
});

describe('registry contract: etcd', () => {
  contract(etcdBackend());
});
