// What systemd on the cluster's machines says about fleet's units, for the failure tests: proof
// that units were left alone through a fault, and that each unit runs exactly once.
import { expect } from 'vitest';
import type { Cluster, ClusterMachine } from '../../cluster/index.js';
import {
  activeEverywhere,
  loadedUnits,
  type UnitRun,
  unitEvents,
  unitRuns,
} from '../../cluster/systemd-view.js';

export { activeEverywhere, loadedUnits, placement, unitRuns } from '../../cluster/systemd-view.js';

/**
 * Each named unit is active on exactly one live member, and no other unit matching the glob is
 * active anywhere; returns unit → member name.
 */
export async function expectEachActiveOnce(
  cluster: Cluster,
  glob: string,
  names: readonly string[],
): Promise<Map<string, string>> {
  const where = await activeEverywhere(cluster, glob);
  const twice = [...where].filter(([, ms]) => ms.length > 1);
  expect(twice, 'units active on more than one machine').toEqual([]);
  expect([...where.keys()].sort()).toEqual([...names].sort());
  return new Map([...where].map(([name, ms]) => [name, ms[0]!]));
}

/** systemd's messages about one of `units` after a cursor on a member. */
async function messagesAbout(
  cluster: Cluster,
  m: ClusterMachine,
  cursor: string,
  units: ReadonlySet<string>,
): Promise<string[]> {
  const { events } = await unitEvents(cluster, m, cursor, (unit) => units.has(unit));
  return events.map((e) => `${m.name}: ${e.unit}: ${e.message}`);
}

/**
 * A record of the fleet units running on every live member, taken before a fault; `verify()`
 * proves afterwards that none of them was stopped or restarted: on its machine, systemd's
 * MainPID and ActiveEnterTimestampMonotonic are unchanged, it is still active, and PID 1
 * logged nothing about it (no `Stopping …`, `Stopped …`, `Starting …`) since the record.
 */
export class UndisturbedUnits {
  private constructor(
    private readonly cluster: Cluster,
    private readonly glob: string,
    private readonly before: ReadonlyArray<{
      member: ClusterMachine;
      cursor: string;
      runs: Map<string, UnitRun>;
    }>,
  ) {}

  static async capture(cluster: Cluster, glob: string): Promise<UndisturbedUnits> {
    const before = await Promise.all(
      cluster.live().map(async (member) => {
        // The cursor first: anything that happens to a unit after its snapshot is after it.
        const cursor = await cluster.journalCursor(member);
        const runs = await unitRuns(cluster, member, await loadedUnits(cluster, member, glob));
        return { member, cursor, runs };
      }),
    );
    return new UndisturbedUnits(cluster, glob, before);
  }

  /** How many unit runs were recorded, over all members. */
  get count(): number {
    return this.before.reduce((n, b) => n + b.runs.size, 0);
  }

  /** Units recorded on a member. */
  on(member: ClusterMachine): string[] {
    return [...(this.before.find((b) => b.member === member)?.runs.keys() ?? [])].sort();
  }

  /**
   * The proof, on `members` (default every member recorded) and for `units` (default every
   * unit recorded there). With `exact` (default), the members also load no other unit matching
   * the glob than before.
   */
  async verify(
    opts: { members?: readonly ClusterMachine[]; units?: readonly string[]; exact?: boolean } = {},
  ): Promise<void> {
    for (const { member, cursor, runs } of this.before) {
      if (opts.members !== undefined && !opts.members.includes(member)) continue;
      const names = [...runs.keys()].filter((n) => opts.units?.includes(n) ?? true);
      const was = Object.fromEntries(names.map((n) => [n, runs.get(n)!]));
      const now = await unitRuns(this.cluster, member, names);
      expect(Object.fromEntries(now), `units on ${member.name}`).toEqual(was);
      for (const n of names) expect(runs.get(n)?.activeState, n).toBe('active');
      if (opts.exact !== false) {
        expect(await loadedUnits(this.cluster, member, this.glob)).toEqual(this.on(member));
      }
      const messages = await messagesAbout(this.cluster, member, cursor, new Set(names));
      expect(messages, `systemd acted on units of ${member.name}`).toEqual([]);
    }
  }
}
