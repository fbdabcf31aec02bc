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
