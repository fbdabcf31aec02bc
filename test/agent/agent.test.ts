import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import type { FleetServer } from '../../src/server/fleet-server.js';
import { FakeUnitManager } from '../../src/systemd/fake-unit-manager.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { useEtcd } from '../support/etcd-suite.js';
import { type InProcessFleetd, startInProcessFleetd } from '../support/in-process-fleetd.js';
import { waitFor } from '../support/wait.js';

const etcd = useEtcd();
let servers: FleetServer[] = [];

afterEach(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  servers = [];
});

const sleeper = (seconds: number, extra = '') =>
  UnitFile.parse(`[Service]\nExecStart=/bin/sleep ${seconds}\n${extra}`);

async function startMachine(
  manager = new FakeUnitManager(),
): Promise<{ machine: InProcessFleetd; registry: Registry }> {
  const prefix = `/fleet-${randomUUID()}/`;
  const machine = await startInProcessFleetd({
    etcd: etcd.client(),
    prefix,
    machineID: 'm1',
    manager,
    waitForRegistration: true,
  });
  servers.push(machine.server);
  return { machine, registry: openRegistry(etcd.client(), prefix, () => undefined) };
}

/** Puts the units launched and waits until the agent started every one. */
async function launch(
  { machine, registry }: { machine: InProcessFleetd; registry: Registry },
  units: ReadonlyMap<string, UnitFile>,
): Promise<void> {
  await Promise.all([...units].map(([name, file]) => registry.units.put(name, file, 'launched')));
  await waitFor(
    async () => {
      const states = await machine.manager.states([...units.keys()]);
      return [...states.values()].every((state) => state.activeState === 'active');
    },
    15_000,
    'units started',
  );
}

const reloadsDuring = async (machine: InProcessFleetd, action: () => Promise<void>) => {
  const before = machine.manager.reloads;
  await action();
  return machine.manager.reloads - before;
};

describe('agent: daemon-reloads', () => {
  it('reloads once after it starts, then loads and starts new units without reloading', async () => {
    const started = await startMachine();
    await launch(started, new Map([['first.service', sleeper(1)]]));
    expect(started.machine.manager.reloads).toBe(1);
    const next = new Map(
      Array.from({ length: 10 }, (_, i) => [`u${i}.service`, sleeper(100 + i)] as const),
    );
    expect(await reloadsDuring(started.machine, () => launch(started, next))).toBe(0);
  });

  it('reloads when a unit is replaced, unloaded, or enabled by its [Install] section', async () => {
    const started = await startMachine();
    const { machine, registry } = started;
    await launch(started, new Map([['first.service', sleeper(1)]]));

    const replaced = await reloadsDuring(machine, async () => {
      await registry.units.put('first.service', sleeper(2), 'launched');
      await waitFor(
        () => machine.manager.files.get('first.service') === sleeper(2).serialized,
        15_000,
        'new content loaded',
      );
    });
    expect(replaced).toBe(1);

    const enabled = await reloadsDuring(machine, () =>
      launch(
        started,
        new Map([['enabled.service', sleeper(3, '[Install]\nWantedBy=multi-user.target\n')]]),
      ),
    );
    expect(enabled).toBe(1);

    const unloaded = await reloadsDuring(machine, async () => {
      await registry.units.destroy('first.service');
      await waitFor(() => !machine.manager.files.has('first.service'), 15_000, 'unloaded');
    });
    expect(unloaded).toBe(1);
  });
});

describe('agent: startup recovery', () => {
  it('loads again, and starts, a unit whose file a crash left written but never linked', async () => {
    const unit = sleeper(7);
    const prefix = `/fleet-${randomUUID()}/`;
    const token = randomUUID();
    const first = await startInProcessFleetd({
      etcd: etcd.client(),
      prefix,
      machineID: 'm1',
      sessionToken: token,
      waitForRegistration: true,
    });
    servers.push(first.server);
    const registry = openRegistry(etcd.client(), prefix, () => undefined);
    await launch({ machine: first, registry }, new Map([['half.service', unit]]));
    await first.server.stop();

    // fleetd stopped between writing the file and linking it: systemd does not find it.
    const manager = new FakeUnitManager({
      files: { 'half.service': unit.serialized },
      unlinked: ['half.service'],
    });
    const second = await startInProcessFleetd({
      etcd: etcd.client(),
      prefix,
      machineID: 'm1',
      manager,
      sessionToken: token,
      waitForRegistration: true,
    });
    servers.push(second.server);
    await launch({ machine: second, registry }, new Map([['half.service', unit]]));
    expect(manager.calls.filter((call) => call.method === 'load')).toEqual([
      { method: 'load', args: ['half.service'] },
    ]);
    expect(second.logs).toContain(
      'AgentReconciler completed task: type=LoadUnit job=half.service reason="unit file found but systemd does not know it"',
    );
  });
});

describe('agent: unit types beyond those fleetctl recognises', () => {
  const target = UnitFile.parse('[Unit]\nDescription=web\n');

  it('unloads a leftover .target no longer scheduled here after a restart', async () => {
    const manager = new FakeUnitManager({ files: { 'web.target': target.serialized } });
    await startMachine(manager);
    await waitFor(() => !manager.files.has('web.target'), 15_000, 'web.target unloaded');
  });

  it('purges .target, .slice and .swap units on a graceful stop, also those found at startup', async () => {
    const slice = UnitFile.parse('[Slice]\nCPUQuota=10%\n');
    const manager = new FakeUnitManager({ files: { 'old.slice': slice.serialized } });
    const started = await startMachine(manager);
    await started.registry.units.put('web.target', target, 'launched');
    await started.registry.units.put('disk.swap', UnitFile.parse('[Swap]\nWhat=/x\n'), 'loaded');
    await waitFor(
      () => manager.files.has('web.target') && manager.files.has('disk.swap'),
      15_000,
      'both loaded',
    );
    // A file the agent did not load itself, as if written just before a crash.
    manager.files.set('late.slice', slice.serialized);
    await started.machine.server.shutdown();
    expect([...manager.files.keys()]).toEqual([]);
  });
});
