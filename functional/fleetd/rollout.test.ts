// Rolling updates of a global unit on four real systemd machines: with --max-parallel 1 no
// fewer than three copies are ever active (systemd asked all along), even across a SIGKILL of
// the engine leader's fleetd; a canary pause waits for resume, a health command run by each
// machine's fleetd gating every step; a version whose ExecStart fails
// stops at its first machine, which goes back to the previous content, the others untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ensureFreshBuild, waitFor } from '../../cluster/index.js';
import { harnessUnavailable, teardown } from '../../harness/index.js';
import { UnitFile } from '../../src/unit/unit-file.js';
import { expectNoLeftovers, unitDir } from './units.js';

const unavailable = harnessUnavailable();
if (unavailable !== undefined) console.warn(`functional harness skipped: ${unavailable}`);

const NAMES = ['m1', 'm2', 'm3', 'm4'] as const;

/** Version `n` of the global unit; a failing one exits at once. */
function version(n: number, execStart = `/bin/sleep ${3000 + n}`): string {
  return `[Unit]\nDescription=g v${n}\n\n[Service]\nExecStart=${execStart}\n\n[X-Fleet]\nGlobal=true\n`;
}
const hashOf = (text: string) => UnitFile.parse(text).hash;

describe.skipIf(unavailable !== undefined)('rolling updates on four machines', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    await ensureFreshBuild();
    cluster = await Cluster.start({ name: 'rollout', machines: [...NAMES] });
  });

  afterAll(async () => {
    await teardown();
  });

  /** fleetctl through a machine other than `avoid`, whose fleetd the test may kill. */
  function fleetctl(args: readonly string[], opts: { cwd?: string; avoid?: string } = {}) {
    const via = cluster.live().find((machine) => machine.id !== opts.avoid)!;
    return cluster.fleetctl('host', args, {
      via,
      timeoutMs: 90_000,
      ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    });
  }

  /** How many machines' systemd reports g.service active. */
  async function activeCopies(): Promise<number> {
    const states = await Promise.all(
      NAMES.map((name) => cluster.unitProperty(name, 'g.service', 'ActiveState')),
    );
    return states.filter((state) => state === 'active').length;
  }

  /** The hash each machine reports running, from `/fleet/v1/state`, by machine ID. */
  async function runningHashes(): Promise<string[]> {
    const states = await cluster.unitStates();
    return states
      .filter((state) => state.name === 'g.service')
      .sort((a, b) => (a.machineID ?? '').localeCompare(b.machineID ?? ''))
      .map((state) => state.hash ?? '');
  }

  it('rolls one machine at a time, keeps three copies active, and survives the leader’s SIGKILL', async () => {
    const v1 = unitDir({ 'g.service': version(1) });
    const v2 = unitDir({ 'g.service': version(2) });
    try {
      expect((await fleetctl(['start', 'g.service'], { cwd: v1.dir })).code).toBe(0);
      await cluster.waitForActiveUnits(NAMES.length);
      const leader = (await cluster.leaderMachineId())!;

      let sampling = true;
      let fewest: number = NAMES.length;
      const mixed = new Set<string>();
      const sampler = (async () => {
        while (sampling) {
          fewest = Math.min(fewest, await activeCopies());
          const hashes = await runningHashes().catch(() => []);
          if (hashes.length === NAMES.length) mixed.add(hashes.join(','));
        }
      })();
      const rolling = fleetctl(['rollout', 'start', '--min-healthy-time=1s', 'g.service'], {
        cwd: v2.dir,
        avoid: leader,
      });
      // Kill the engine leader's fleetd once the first machine is done.
      await waitFor(
        'a first machine updated',
        () => fleetctl(['rollout', 'list'], { avoid: leader }),
        (r) => /\trunning\t[1-3]\/4\t/.test(r.stdout),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      const victim = cluster.byId(leader);
      await cluster.signalFleet(victim, 'KILL');
      await cluster.restartFleet(victim);
      const rolled = await rolling;
      sampling = false;
      await sampler;

      expect(rolled.code, rolled.stderr).toBe(0);
      expect(rolled.stdout).toMatch(/^Rollout [0-9a-f]{8} started\n/);
      expect(rolled.stdout).toContain('Rollout completed: 4 of 4 updated\n');
      expect(fewest).toBeGreaterThanOrEqual(3);
      // While it ran, the machines honestly reported different versions.
      const old = hashOf(version(1));
      const next = hashOf(version(2));
      expect([...mixed].some((row) => row.includes(old) && row.includes(next))).toBe(true);
      await waitFor('every machine on v2', runningHashes, (h) => h.every((x) => x === next));
      const unit = (await cluster.units()).find((u) => u.name === 'g.service');
      expect(unit?.options).toEqual(UnitFile.parse(version(2)).options);
    } finally {
      v1.remove();
      v2.remove();
    }
  });

  it('pauses after a canary until resumed, fleetctl waiting all along; a health command gates each machine', async () => {
    const v3 = unitDir({ 'g.service': version(3) });
    try {
      const rolling = fleetctl(
        [
          'rollout',
          'start',
          '--canary=1',
          '--max-parallel=2',
          '--min-healthy-time=1s',
          '--health-cmd=systemctl is-active --quiet "$FLEET_UNIT"',
          'g.service',
        ],
        { cwd: v3.dir },
      );
      const listed = await waitFor(
        'the canary pause',
        () => fleetctl(['rollout', 'list']),
        (r) => /\tpaused\t1\/4\t/.test(r.stdout),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      const id = /^([0-9a-f]{8})\tpaused\t/m.exec(listed.stdout)![1]!;
      const hashes = await runningHashes();
      expect(hashes.filter((hash) => hash === hashOf(version(3)))).toHaveLength(1);
      const resumed = await fleetctl(['rollout', 'resume', id]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toContain('Rollout completed: 4 of 4 updated\n');
      const rolled = await rolling;
      expect(rolled.code, rolled.stderr).toBe(0);
      expect(rolled.stdout).toContain(
        `Paused after 1 canary step: resume with fleetctl rollout resume ${id}\n`,
      );
    } finally {
      v3.remove();
    }
  });

  it('stops at the first machine when the new version fails there, and reverts it', async () => {
    const bad = unitDir({ 'g.service': version(4, '/bin/false') });
    try {
      const before = await Promise.all(
        NAMES.map((name) => cluster.unitProperty(name, 'g.service', 'InvocationID')),
      );
      const failed = await fleetctl(
        ['rollout', 'start', '--min-healthy-time=1s', '--healthy-deadline=4s', 'g.service'],
        { cwd: bad.dir },
      );
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(
        /Rollout failed: g\.service on machine [0-9a-f]{32} did not become healthy within 4s \(.*\); reverted to the previous content\n/,
      );
      const v3 = hashOf(version(3));
      await waitFor('the first machine back on v3', runningHashes, (h) => h.every((x) => x === v3));
      await waitFor('four copies active', activeCopies, (n) => n === NAMES.length);
      const after = await Promise.all(
        NAMES.map((name) => cluster.unitProperty(name, 'g.service', 'InvocationID')),
      );
      const sorted = [...cluster.live()].sort((a, b) => a.id.localeCompare(b.id));
      const first = NAMES.indexOf(sorted[0]!.name as (typeof NAMES)[number]);
      after.forEach((invocation, i) => {
        if (i === first) expect(invocation).not.toBe(before[i]);
        else expect(invocation, NAMES[i]).toBe(before[i]);
      });
    } finally {
      bad.remove();
    }
  });

  it('leaves nothing behind after teardown', async () => {
    await teardown();
    expectNoLeftovers();
  });
});
