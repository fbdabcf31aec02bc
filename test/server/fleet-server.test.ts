import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Etcd3, GRPCDeadlineExceededError, type WatchBuilder } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import type { FleetServer } from '../../src/server/fleet-server.js';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';
import { type InProcessFleetd, startInProcessFleetd } from '../support/in-process-fleetd.js';
import { waitFor } from '../support/wait.js';

const hello = UnitFile.parse('[Service]\nExecStart=/bin/sleep 1000\n');

const etcd = useEtcd();
let servers: FleetServer[] = [];

afterEach(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  servers = [];
});

function registryAt(prefix: string): Registry {
  return openRegistry(etcd.client(), prefix, () => undefined);
}

async function startMachine(
  prefix: string,
  id: string,
  options: {
    manager?: FakeUnitManager;
    sessionToken?: string;
    wait?: boolean;
    client?: Etcd3;
    peerAddress?: string;
  } = {},
): Promise<InProcessFleetd> {
  const machine = await startInProcessFleetd({
    etcd: options.client ?? etcd.client(),
    prefix,
    machineID: id,
    ...(options.manager !== undefined && { manager: options.manager }),
    ...(options.sessionToken !== undefined && { sessionToken: options.sessionToken }),
    waitForRegistration: options.wait ?? true,
    ...(options.peerAddress !== undefined && { peerAddress: options.peerAddress }),
  });
  servers.push(machine.server);
  return machine;
}

/**
 * A real etcd client whose lease lookups (the monitor's heartbeat) can be made to fail, as
 * they do when etcd answers too late: set `failing` to the number of lookups to fail.
 */
function withFlakyHeartbeats(client: Etcd3) {
  const leases = client.leaseClient;
  const lookup = leases.leaseTimeToLive.bind(leases);
  const heartbeats = { failing: 0, failed: 0, answered: 0 };
  leases.leaseTimeToLive = async (request, callOptions) => {
    if (heartbeats.failing > 0) {
      heartbeats.failing--;
      heartbeats.failed++;
      throw new GRPCDeadlineExceededError('injected: etcd answered too late');
    }
    const response = await lookup(request, callOptions);
    heartbeats.answered++;
    return response;
  };
  return heartbeats;
}

/**
 * A real etcd client on which no watch ever gets going (reads and writes still work): what
 * fleetd sees when etcd answers unary calls but its watch stream stalls.
 */
function withStalledWatches(client: Etcd3): void {
  const namespace = client.namespace.bind(client);
  client.namespace = (prefix) => {
    const ns = namespace(prefix);
    ns.watch = () => {
      const watcher = Object.assign(new EventEmitter(), { cancel: async () => undefined });
      const builder = {
        prefix: () => builder,
        startRevision: () => builder,
        watcher: () => watcher,
      };
      return builder as unknown as WatchBuilder;
    };
    return ns;
  };
}

const restarted = (logs: string[]) =>
  logs.some((line) => line.startsWith('Server monitor triggered'));

function freshPrefix(): string {
  return `/fleet-${randomUUID()}/`;
}

/** Waits until the unit's current state (as the API shows it) is `state`. */
async function untilCurrentState(registry: Registry, name: string, state: string): Promise<void> {
  await waitFor(
    async () => (await unitOn(registry, name))?.currentState === state,
    10_000,
    `${name} ${state}`,
  );
}

async function unitOn(registry: Registry, name: string) {
  return registry.cluster.unit(name);
}

describe('fleetd', () => {
  it('runs a submitted unit on one machine and reports it launched', async () => {
    const prefix = freshPrefix();
    const machines = [await startMachine(prefix, 'm1'), await startMachine(prefix, 'm2')];
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await untilCurrentState(registry, 'hello.service', 'launched');
    const unit = await unitOn(registry, 'hello.service');
    const host = machines.find((machine) => machine.id === unit?.machineID)!;
    expect(host.manager.files.get('hello.service')).toBe(hello.serialized);
    expect((await host.manager.states(['hello.service'])).get('hello.service')?.activeState).toBe(
      'active',
    );
    const states = await registry.states.list();
    expect(states).toEqual([
      expect.objectContaining({
        name: 'hello.service',
        machineID: host.id,
        activeState: 'active',
        launched: true,
      }),
    ]);
  });

  it('publishes its peer address in its presence record, and none without one', async () => {
    const prefix = freshPrefix();
    await startMachine(prefix, 'm1', { peerAddress: '10.0.0.1:54729' });
    await startMachine(prefix, 'm2');
    const machines = await registryAt(prefix).cluster.machines();
    expect(machines.map((machine) => [machine.id, machine.peerAddress])).toEqual([
      ['m1', '10.0.0.1:54729'],
      ['m2', undefined],
    ]);
  });

  it('stops, then unloads, then destroys as the desired state changes', async () => {
    const prefix = freshPrefix();
    const machine = await startMachine(prefix, 'm1');
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await untilCurrentState(registry, 'hello.service', 'launched');

    await registry.units.setDesiredState('hello.service', 'loaded');
    await untilCurrentState(registry, 'hello.service', 'loaded');
    expect(
      (await machine.manager.states(['hello.service'])).get('hello.service')?.activeState,
    ).toBe('inactive');

    await registry.units.setDesiredState('hello.service', 'inactive');
    await waitFor(() => !machine.manager.files.has('hello.service'), 10_000, 'unloaded');

    await registry.units.put('hello.service', hello, 'launched');
    await waitFor(() => machine.manager.files.has('hello.service'), 10_000, 'loaded again');
    await registry.units.destroy('hello.service');
    await waitFor(() => !machine.manager.files.has('hello.service'), 10_000, 'destroyed');
    await waitFor(
      async () => (await registry.states.list()).length === 0,
      10_000,
      'states withdrawn',
    );
  });

  it('replaces a unit whose content changed, in place', async () => {
    const prefix = freshPrefix();
    const machine = await startMachine(prefix, 'm1');
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await waitFor(
      () => machine.manager.files.get('hello.service') === hello.serialized,
      10_000,
      'v1',
    );
    const v2 = UnitFile.parse('[Service]\nExecStart=/bin/sleep 2000\n');
    await registry.units.put('hello.service', v2, 'launched');
    await waitFor(() => machine.manager.files.get('hello.service') === v2.serialized, 10_000, 'v2');
    await waitFor(
      async () => (await registry.states.list())[0]?.hash === v2.hash,
      10_000,
      'state with the new hash',
    );
  });

  it('unloads fifty units in one pass with one daemon-reload', async () => {
    const prefix = freshPrefix();
    const machine = await startMachine(prefix, 'm1');
    const registry = registryAt(prefix);
    const names = Array.from({ length: 50 }, (_, i) => `u${i}.service`);
    await Promise.all(names.map((name) => registry.units.put(name, hello, 'launched')));
    await waitFor(() => machine.manager.files.size === 50, 15_000, '50 loaded');
    await waitFor(async () => (await registry.states.list()).length === 50, 15_000, '50 states');
    const reloadsBefore = machine.manager.reloads;
    // The whole schedule goes at once, as when the engine moves a machine's units away.
    await registry.etcd.delete().prefix(registry.keys.schedulePrefix('m1'));
    await waitFor(() => machine.manager.files.size === 0, 15_000, '50 unloaded');
    expect(machine.manager.reloads - reloadsBefore).toBe(1);
  });

  it('unloads every destroyed unit, however the destroys arrive', async () => {
    const prefix = freshPrefix();
    const machine = await startMachine(prefix, 'm1');
    const registry = registryAt(prefix);
    const names = Array.from({ length: 20 }, (_, i) => `u${i}.service`);
    await Promise.all(names.map((name) => registry.units.put(name, hello, 'launched')));
    await waitFor(() => machine.manager.files.size === 20, 15_000, '20 loaded');
    await Promise.all(names.map((name) => registry.units.destroy(name)));
    await waitFor(() => machine.manager.files.size === 0, 15_000, '20 unloaded');
  });

  it('leaves running units running when fleetd comes back after a crash', async () => {
    const prefix = freshPrefix();
    const token = randomUUID();
    const first = await startMachine(prefix, 'm1', { sessionToken: token });
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await untilCurrentState(registry, 'hello.service', 'launched');
    await first.server.stop();

    const survivor = new FakeUnitManager({
      files: Object.fromEntries(first.manager.files),
      running: ['hello.service'],
    });
    const second = await startMachine(prefix, 'm1', { manager: survivor, sessionToken: token });
    await untilCurrentState(registry, 'hello.service', 'launched');
    expect(
      survivor.calls.filter((call) => call.method === 'start' || call.method === 'stop'),
    ).toEqual([]);
    expect(second.logs).not.toContain('Server register machine failed');
  });

  it('dumps the agent’s target states in fleet’s SIGUSR1 shape', async () => {
    const prefix = freshPrefix();
    const machine = await startMachine(prefix, 'm1');
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await untilCurrentState(registry, 'hello.service', 'launched');
    expect(machine.server.dumpState()).toEqual({
      Agent: { Cache: { TargetStates: { 'hello.service': 'launched' } } },
    });
  });

  it('refuses a second host with the same machine ID, answering unavailable until the first leaves', async () => {
    const prefix = freshPrefix();
    const first = await startMachine(prefix, 'm1');
    const duplicate = await startMachine(prefix, 'm1', { wait: false });
    await waitFor(
      () =>
        duplicate.logs.some((line) =>
          line.startsWith('Server register machine failed: machine ID m1 is already registered'),
        ),
      10_000,
      'registration refused',
    );
    expect(duplicate.server.available).toBe(false);
    await first.server.shutdown();
    await waitFor(
      () => duplicate.server.available,
      15_000,
      'duplicate registers once the first is gone',
    );
  });

  it('stops and unloads its units and withdraws its presence on a graceful stop', async () => {
    const prefix = freshPrefix();
    const machine = await startMachine(prefix, 'm1');
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await waitFor(() => machine.manager.files.has('hello.service'), 10_000, 'loaded');
    await machine.server.shutdown();
    expect(machine.manager.files.size).toBe(0);
    expect(await registry.machines.list()).toEqual([]);
    expect(await registry.states.list()).toEqual([]);
  });

  it('does not run an engine with disable_engine, yet runs what another engine schedules', async () => {
    const prefix = freshPrefix();
    const worker = await startMachine(prefix, 'm1');
    expect(worker.logs).not.toContain('Not starting engine; disable-engine is set');
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await waitFor(() => worker.manager.files.has('hello.service'), 10_000, 'loaded');
  });

  it('retries one failed heartbeat within the check time instead of restarting its components', async () => {
    const prefix = freshPrefix();
    const client = etcd.client();
    const heartbeats = withFlakyHeartbeats(client);
    const machine = await startMachine(prefix, 'm1', { client });
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await untilCurrentState(registry, 'hello.service', 'launched');

    heartbeats.failing = 1;
    const answered = heartbeats.answered;
    // The failed lookup, its retry, and the next check: the failed check's outcome is known.
    await waitFor(
      () => heartbeats.failed === 1 && heartbeats.answered >= answered + 2,
      10_000,
      'a failed heartbeat, its retry and the next check',
    );
    expect(restarted(machine.logs)).toBe(false);
    expect(machine.server.available).toBe(true);
  });

  it('keeps its lease and components while every heartbeat fails but keepalives are answered', async () => {
    const prefix = freshPrefix();
    const client = etcd.client();
    const heartbeats = withFlakyHeartbeats(client);
    const machine = await startMachine(prefix, 'm1', { client });
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await untilCurrentState(registry, 'hello.service', 'launched');
    const leaseOfPresence = async () =>
      (await registry.etcd.get(registry.keys.machine('m1')).exec()).kvs[0]?.lease;
    const lease = await leaseOfPresence();

    heartbeats.failing = Number.POSITIVE_INFINITY;
    const kept = 'Heartbeat timed out, but etcd still renews the lease; keeping it';
    // Three checks without a heartbeat span more than a TTL.
    await waitFor(
      () => machine.logs.filter((line) => line === kept).length >= 3 || restarted(machine.logs),
      10_000,
      'three checks without a heartbeat',
    );
    expect(restarted(machine.logs)).toBe(false);
    expect(machine.server.available).toBe(true);
    expect(await leaseOfPresence()).toBe(lease);
    expect(machine.manager.calls.filter((call) => call.method === 'stop')).toEqual([]);
  });

  it('stops and purges on SIGTERM while its start still waits for a watch that never gets ready', async () => {
    const prefix = freshPrefix();
    const client = etcd.client();
    withStalledWatches(client);
    // Left running by an earlier fleetd: the purge stops and removes it.
    const manager = new FakeUnitManager({
      files: { 'left.service': hello.serialized },
      running: ['left.service'],
    });
    const machine = await startMachine(prefix, 'm1', { client, manager, wait: false });
    await waitFor(
      () => manager.calls.some((call) => call.method === 'states'),
      10_000,
      'the agent starting',
    );
    await machine.server.shutdown();
    expect(manager.files.size).toBe(0);
    expect((await manager.states(['left.service'])).get('left.service')?.activeState).toBe(
      'inactive',
    );
    expect(await registryAt(prefix).machines.list()).toEqual([]);
  });

  it('leaves no change listener on the shared unit manager once stopped for a reload (SIGHUP)', async () => {
    const prefix = freshPrefix();
    const token = randomUUID();
    const manager = new FakeUnitManager();
    // As fleetd's SIGHUP does: each configuration gets a new server over the one manager.
    for (let generation = 0; generation < 3; generation++) {
      const machine = await startMachine(prefix, 'm1', { manager, sessionToken: token });
      expect(manager.listenerCount).toBe(1);
      await machine.server.stop();
    }
    expect(manager.listenerCount).toBe(0);
  });

  it('hands engine leadership over at once, leaving units running, when retired for a reload (SIGHUP)', async () => {
    const prefix = freshPrefix();
    const machine = await startMachine(prefix, 'm1');
    const registry = registryAt(prefix);
    await registry.units.put('hello.service', hello, 'launched');
    await untilCurrentState(registry, 'hello.service', 'launched');
    expect(await registry.etcd.get(registry.keys.engineLeader).string()).not.toBeNull();

    await machine.server.retire();
    expect(await registry.etcd.get(registry.keys.engineLeader).string()).toBeNull();
    expect(machine.manager.calls.filter((call) => call.method === 'stop')).toEqual([]);
    expect(machine.manager.files.has('hello.service')).toBe(true);
  });
});
