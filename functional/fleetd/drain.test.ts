// Cordon and drain on three real systemd machines: a cordoned machine takes no new unit until
// uncordoned, and a drain empties a machine one move at a time, each moved unit active at its
// new place (as systemd reports it, sampled all along) before the next one moves, MachineOf
// pairs together, a pinned unit left in place and reported.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ensureFreshBuild } from '../../cluster/index.js';
import { harnessUnavailable, teardown } from '../../harness/index.js';
import { expectNoLeftovers, sleeper, unitDir } from './units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const NAMES = ['m1', 'm2', 'm3'] as const;
/** What the drain moves, as the groups it moves together. */
const GROUPS = [['d1.service'], ['d2.service'], ['lead.service', 'follow.service']] as const;
const MOVED = GROUPS.flat();

/**
 * A unit that takes a second to become active: the time between its move and its arrival is
 * then long enough for the sampling to see two moves overlap, were they allowed to.
 */
function slowStarter(description: string, xFleet = ''): string {
  return (
    `[Unit]\nDescription=${description}\n\n[Service]\nExecStartPre=/bin/sleep 1\n` +
    `ExecStart=/bin/sleep 3000\n${xFleet === '' ? '' : `\n[X-Fleet]\n${xFleet}\n`}`
  );
}

describe.skipIf(unavailable !== undefined)('cordon and drain on three machines', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'drain', machines: [...NAMES] });
  });

  afterAll(async () => {
    await teardown();
  });

  const id = (name: string) => cluster.machine(name).id;
  const short = (name: string) => id(name).slice(0, 8);

  async function fleetctl(args: readonly string[], cwd?: string) {
    return cluster.fleetctl('host', args, { timeoutMs: 90_000, ...(cwd && { cwd }) });
  }

  /** Non-global unit name → the machine it is scheduled to, from the API. */
  async function placements(): Promise<Record<string, string | undefined>> {
    const units = await cluster.units();
    return Object.fromEntries(
      units.filter((unit) => unit.machineID !== undefined).map((u) => [u.name, u.machineID]),
    );
  }

  /** The moved units systemd reports active somewhere, asking every machine. */
  async function activeAnywhere(): Promise<Set<string>> {
    const active = new Set<string>();
    for (const name of NAMES) {
      const r = await cluster.exec(name, ['systemctl', 'is-active', ...MOVED]);
      r.stdout
        .trim()
        .split('\n')
        .forEach((state, i) => {
          if (state === 'active') active.add(MOVED[i]!);
        });
    }
    return active;
  }

  it('drains a machine one move at a time; a cordoned machine takes no new unit until uncordoned', async () => {
    const files = unitDir({
      'd1.service': slowStarter('d1'),
      'd2.service': slowStarter('d2'),
      'lead.service': slowStarter('lead'),
      'follow.service': slowStarter('follow', 'MachineOf=lead.service'),
      'pinned.service': sleeper('pinned', `MachineID=${id('m1')}`),
      'g.service': sleeper('global', 'Global=true'),
    });
    try {
      for (const name of ['m2', 'm3']) {
        const r = await fleetctl(['cordon', short(name)]);
        expect([r.code, r.stdout]).toEqual([0, `Machine ${id(name)} cordoned\n`]);
      }
      const units = ['d1', 'd2', 'lead', 'follow', 'pinned', 'g'].map((u) => `${u}.service`);
      const started = await fleetctl(['start', ...units], files.dir);
      expect(started.code, started.stderr).toBe(0);
      await cluster.waitForActiveUnits(MOVED.length + 1 + NAMES.length);
      // Least-loaded placement would have spread them; the cordons kept them all on m1.
      expect(new Set(Object.values(await placements()))).toEqual(new Set([id('m1')]));

      expect((await fleetctl(['uncordon', short('m2')])).code).toBe(0);
      let sampling = true;
      const downTogether: string[][] = [];
      const sampler = (async () => {
        while (sampling) {
          const active = await activeAnywhere();
          const down = GROUPS.filter((group) => group.some((unit) => !active.has(unit)));
          if (down.length > 1) downTogether.push(down.map((group) => group.join('+')));
        }
      })();
      const drained = await fleetctl(['drain', short('m1')]);
      sampling = false;
      await sampler;

      expect(drained.code, drained.stderr).toBe(1);
      expect(drained.stdout).toContain(`Machine ${id('m1')} drained: 4 units moved\n`);
      expect(drained.stdout).toContain(
        'Unit pinned.service stayed: pinned to this machine by MachineID\n',
      );
      expect(downTogether).toEqual([]);
      const after = await placements();
      for (const unit of MOVED) expect(after[unit], unit).toBe(id('m2'));
      expect(after['pinned.service']).toBe(id('m1'));
      expect(await activeAnywhere()).toEqual(new Set(MOVED));
      const gOn = await Promise.all(
        NAMES.map(async (name) => cluster.unitProperty(name, 'g.service', 'ActiveState')),
      );
      expect(gOn).toEqual(['active', 'active', 'active']);

      const listed = await fleetctl(['uncordon', short('m3')]);
      expect(listed.code).toBe(0);
      const late = await fleetctl(['start', 'late.service'], unitDirWith(files.dir));
      expect(late.code, late.stderr).toBe(0);
      expect((await placements())['late.service']).toBe(id('m3'));
    } finally {
      files.remove();
    }
  });

  it('leaves nothing behind after teardown', async () => {
    await teardown();
    expectNoLeftovers();
  });
});

/** The fixtures directory with one more unit file in it. */
function unitDirWith(dir: string): string {
  writeFileSync(join(dir, 'late.service'), sleeper('late'));
  return dir;
}
