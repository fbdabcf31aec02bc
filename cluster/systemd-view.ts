// What systemd on a cluster's machines says about fleet's units: which are loaded, what run of
// each is active (MainPID and activation time identify a run), and what PID 1 logged about
// them. Shared by the failure tests' guards and the chaos soak.
import type { ApiUnitState } from '../src/api/schema.js';
import type { Cluster, ClusterMachine } from './cluster.js';

/** What identifies one run of a unit: a restart changes the PID and the activation time. */
export interface UnitRun {
  activeState: string;
  subState: string;
  mainPid: string;
  activeEnterMonotonic: string;
}

/** One message PID 1 logged about a unit. */
export interface UnitEvent {
  unit: string;
  message: string;
  /** The journal's realtime timestamp, in ms since the epoch. */
  atMs: number;
}

/** unit name → machine ID, from the published states. */
export function placement(states: readonly ApiUnitState[]): Record<string, string> {
  return Object.fromEntries(states.map((s) => [s.name, s.machineID ?? '']));
}

/** Units systemd has loaded on a member whose names match the glob (`systemctl list-units`). */
export async function loadedUnits(
  cluster: Cluster,
  m: ClusterMachine,
  glob: string,
): Promise<string[]> {
  const r = await cluster.execOk(m, [
    'systemctl',
    'list-units',
    '--all',
    '--full',
    '--plain',
    '--no-legend',
    glob,
  ]);
  return r.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '')
    .sort();
}

/** systemd's view of each named unit on a member, in one `systemctl show`. */
export async function unitRuns(
  cluster: Cluster,
  m: ClusterMachine,
  names: readonly string[],
): Promise<Map<string, UnitRun>> {
  const runs = new Map<string, UnitRun>();
  if (names.length === 0) return runs;
  const r = await cluster.execOk(m, [
    'systemctl',
    'show',
    '-p',
    'Id,ActiveState,SubState,MainPID,ActiveEnterTimestampMonotonic',
    ...names,
  ]);
  for (const block of r.stdout.split(/\n\n+/)) {
    const props = Object.fromEntries(
      block
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    if (props.Id === undefined) continue;
    runs.set(props.Id, {
      activeState: props.ActiveState ?? '',
      subState: props.SubState ?? '',
      mainPid: props.MainPID ?? '',
      activeEnterMonotonic: props.ActiveEnterTimestampMonotonic ?? '',
    });
  }
  return runs;
}

/** Active units matching the glob on every live member: unit → names of the members running it. */
export async function activeEverywhere(
  cluster: Cluster,
  glob: string,
): Promise<Map<string, string[]>> {
  const where = new Map<string, string[]>();
  for (const m of cluster.live()) {
    const loaded = await loadedUnits(cluster, m, glob);
    for (const [name, run] of await unitRuns(cluster, m, loaded)) {
      if (run.activeState !== 'active') continue;
      where.set(name, [...(where.get(name) ?? []), m.name]);
    }
  }
  return where;
}

/**
 * What PID 1 logged about units that `wanted` accepts, after a journal cursor on a member (from
 * its boot without one), and the cursor of the last entry read (to read on from there).
 */
export async function unitEvents(
  cluster: Cluster,
  m: ClusterMachine,
  cursor: string | undefined,
  wanted: (unit: string) => boolean,
): Promise<{ events: UnitEvent[]; cursor: string | undefined }> {
  const text = await cluster.journal(m, {
    ...(cursor !== undefined && { afterCursor: cursor }),
    output: 'json',
  });
  const events: UnitEvent[] = [];
  let last = cursor;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (typeof entry.__CURSOR === 'string') last = entry.__CURSOR;
    const unit = typeof entry.UNIT === 'string' ? entry.UNIT : undefined;
    if (unit === undefined || !wanted(unit) || entry._PID !== '1') continue;
    const message = Array.isArray(entry.MESSAGE)
      ? Buffer.from(entry.MESSAGE as number[]).toString('utf8')
      : String(entry.MESSAGE);
    events.push({ unit, message, atMs: Number(entry.__REALTIME_TIMESTAMP) / 1000 });
  }
  return { events, cursor: last };
}
